/**
 * The pod, as a bot uses it without an API Agent (pod-api-public.yaml; docs/protocol.md §5): who am I, users,
 * IMs, MIMs and rooms, stream lists, membership, presence, connections, and encrypted messages and attachments on
 * the native path (`/webcontroller/ingestor/v2/MessageService`, `/dataquery/api/v3/messages/thread`,
 * `/webcontroller/dataquery/retrieveMessagePayload`). Messages are encrypted and decrypted here, in-process, with
 * keys from the {@link KeyStore}; the pod only ever receives ciphertext. Stream and message ids are accepted in
 * standard and URL-safe base64 and returned URL-safe.
 */
import { encryptTransport, decryptTransport } from '../crypto/transport.js';
import { AbortedError, InvalidArgumentError, MalformedResponseError } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { canonicalThreadId, type KeyStore } from '../keys/key-store.js';
import { toBase64, tryFromBase64 } from '../util/bytes.js';
import { describeValue, requireBase64Id, requireBytes, requireString } from '../util/validate.js';
import { decodeMessage, encodeMessage, undecryptedMessage, type DecodedMessage, type HistoryMessage } from './message-codec.js';

/** A user as the pod describes it (UserV2). */
export interface PodUser {
  id: number;
  username: string;
  displayName: string;
  emailAddress?: string;
  accountType?: string;
}

/** A stream in a stream list. */
export interface StreamInfo {
  id: string;
  type: 'IM' | 'MIM' | 'ROOM' | 'POST';
  active: boolean;
  members: number[];
  name?: string;
}

/** A connection between the bot and another user. */
export interface Connection {
  userId: number;
  status: 'PENDING_INCOMING' | 'PENDING_OUTGOING' | 'ACCEPTED' | 'REJECTED';
  firstRequestedAt?: number;
  updatedAt?: number;
}

/** What the pod client needs. */
export interface PodClientOptions {
  http: HttpClient;
  podUrl: string;
  auth: AuthHook;
  keys: KeyStore;
  /** The bot's own user id. */
  userId: number;
  /** The bot's wall thread (salt of hashtag search tokens). */
  wallThreadId: string;
  clientVersion: string;
}

function userIdList(parameter: string, ids: readonly number[]): number[] {
  if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id <= 0)) {
    throw new InvalidArgumentError(parameter, 'a non-empty array of user ids', describeValue(ids));
  }
  return [...ids];
}

/** Pod operations of one bot. */
export class PodClient {
  readonly #o: PodClientOptions;

  /** @internal Made by AllegroClient. */
  constructor(options: PodClientOptions) {
    this.#o = options;
  }

  #call<T>(method: string, path: string, extra: { json?: unknown; form?: Record<string, string>; body?: Uint8Array; idempotent?: boolean; expect?: 'json' | 'bytes' | 'none'; signal?: AbortSignal | undefined } = {}): Promise<T> {
    const { signal, ...rest } = extra;
    return this.#o.http.request<T>({
      method, url: `${this.#o.podUrl}${path}`, route: `${method} ${path.split('?')[0]!.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/{id}')}`,
      auth: this.#o.auth, ...rest, ...(signal === undefined ? {} : { signal }),
    });
  }

  /** The bot's own user (GET /pod/v2/sessioninfo). */
  me(): Promise<PodUser> {
    return this.#call('GET', '/pod/v2/sessioninfo');
  }

  /** Users by id, username or email (GET /pod/v3/users); unknown ones are left out (the pod's 204: none known). */
  async users(query: { ids: readonly number[] } | { usernames: readonly string[] } | { emails: readonly string[] }): Promise<PodUser[]> {
    const [param, values] = 'ids' in query ? ['uid', userIdList('query.ids', query.ids).map(String)] : 'usernames' in query ? ['username', [...query.usernames]] : ['email', [...query.emails]];
    if (values.length === 0 || values.some((v) => typeof v !== 'string' || v.length === 0 || v.includes(','))) {
      throw new InvalidArgumentError(`query.${param}`, 'a non-empty list of values without commas', describeValue(values));
    }
    const reply = await this.#call<{ users?: PodUser[] } | undefined>('GET', `/pod/v3/users?${param}=${encodeURIComponent(values.join(','))}&local=true`);
    return reply?.users ?? [];
  }

  /** Create (or find) the IM or MIM of the bot with `userIds`; returns the stream id. */
  async createIm(userIds: readonly number[]): Promise<string> {
    const reply = await this.#call<{ id: string }>('POST', '/pod/v1/im/create', { json: userIdList('userIds', userIds), idempotent: true });
    return reply.id;
  }

  /** Create a room owned by the bot; returns the stream id. */
  async createRoom(attributes: { name: string; description?: string; membersCanInvite?: boolean; discoverable?: boolean; readOnly?: boolean }): Promise<string> {
    requireString('attributes.name', attributes?.name);
    const reply = await this.#call<{ roomSystemInfo: { id: string } }>('POST', '/pod/v3/room/create', { json: attributes });
    return reply.roomSystemInfo.id;
  }

  /** Add a member to a room. */
  async addMember(streamId: string, userId: number): Promise<void> {
    await this.#call('POST', `/pod/v1/room/${canonicalThreadId(streamId)}/membership/add`, { json: { id: userIdList('userId', [userId])[0] }, idempotent: true });
  }

  /** Remove a member from a room. */
  async removeMember(streamId: string, userId: number): Promise<void> {
    await this.#call('POST', `/pod/v1/room/${canonicalThreadId(streamId)}/membership/remove`, { json: { id: userIdList('userId', [userId])[0] }, idempotent: true });
  }

  /** Members of a room. */
  members(streamId: string): Promise<Array<{ id: number; owner: boolean; joinDate: number }>> {
    return this.#call('GET', `/pod/v2/room/${canonicalThreadId(streamId)}/membership/list`);
  }

  /** The bot's streams (POST /pod/v1/streams/list; its 204, no stream, is an empty list). */
  async streams(filter: { types?: ReadonlyArray<StreamInfo['type']>; includeInactive?: boolean; skip?: number; limit?: number } = {}): Promise<StreamInfo[]> {
    const query = `?skip=${filter.skip ?? 0}&limit=${filter.limit ?? 50}`;
    const body = { streamTypes: (filter.types ?? []).map((type) => ({ type })), includeInactiveStreams: filter.includeInactive ?? false };
    const list = await this.#call<Array<{ id: string; active: boolean; streamType: { type: StreamInfo['type'] }; streamAttributes?: { members?: number[] }; roomAttributes?: { name?: string } }> | undefined>(
      'POST', `/pod/v1/streams/list${query}`, { json: body, idempotent: true });
    return (list ?? []).map((s) => ({
      id: s.id, type: s.streamType.type, active: s.active, members: s.streamAttributes?.members ?? [],
      ...(s.roomAttributes?.name === undefined ? {} : { name: s.roomAttributes.name }),
    }));
  }

  /** The bot's presence. */
  presence(): Promise<{ category: string; userId: number; timestamp: number }> {
    return this.#call('GET', '/pod/v2/user/presence');
  }

  /** Set the bot's presence (AVAILABLE, BUSY, AWAY, ...). */
  setPresence(category: string): Promise<{ category: string; userId: number; timestamp: number }> {
    requireString('category', category);
    return this.#call('POST', '/pod/v2/user/presence', { json: { category }, idempotent: true });
  }

  /** The bot's connections, optionally of one status. */
  connections(status?: Connection['status'] | 'ALL'): Promise<Connection[]> {
    return this.#call('GET', `/pod/v1/connection/list${status === undefined ? '' : `?status=${status}`}`);
  }

  /** Ask another user to connect. */
  requestConnection(userId: number): Promise<Connection> {
    return this.#call('POST', '/pod/v1/connection/create', { json: { userId: userIdList('userId', [userId])[0] }, idempotent: true });
  }

  /** Accept a connection request. */
  acceptConnection(userId: number): Promise<Connection> {
    return this.#call('POST', '/pod/v1/connection/accept', { json: { userId: userIdList('userId', [userId])[0] }, idempotent: true });
  }

  /** Reject a connection request. */
  rejectConnection(userId: number): Promise<Connection> {
    return this.#call('POST', '/pod/v1/connection/reject', { json: { userId: userIdList('userId', [userId])[0] }, idempotent: true });
  }

  /**
   * Send a message: MessageML (or plain text) in, encrypted with the thread's current content key, hashtags with the
   * entity key, search tokens computed; posted on the native path. Returns the message id. `options.data` is the
   * message's entity JSON (the Agent's `data` part: the targets of `data-entity-id`, or any structured data the
   * readers get back as `entityJson`), encrypted with the message.
   */
  async send(streamId: string, message: string, options: { signal?: AbortSignal; data?: Record<string, unknown> } = {}): Promise<string> {
    requireString('message', message);
    const threadId = canonicalThreadId(streamId);
    const { key, rotationId } = await this.#o.keys.currentContentKey(threadId, options.signal);
    const wall = await this.#o.keys.currentContentKey(this.#o.wallThreadId, options.signal);
    const payload = await encodeMessage(message, {
      threadId: toBase64(tryFromBase64(threadId)!), contentKey: key, rotationId,
      entityKey: await this.#o.keys.entityKey(options.signal), wallKey: wall.key, clientVersion: this.#o.clientVersion,
      ...(options.data === undefined ? {} : { data: options.data }),
    });
    const reply = await this.#call<{ messageId: string }>('POST', '/webcontroller/ingestor/v2/MessageService', {
      form: { messagepayload: JSON.stringify(payload) }, signal: options.signal,
    });
    return reply.messageId;
  }

  /** Decrypt a SocialMessage the pod stored (from history, one message, or a datafeed event). */
  decrypt(payload: Record<string, unknown>, signal?: AbortSignal): Promise<DecodedMessage> {
    const threadId = canonicalThreadId(String(payload.threadId ?? ''));
    return decodeMessage(payload, (rotationId) => this.#o.keys.contentKey(threadId, rotationId, signal));
  }

  /**
   * The most recent messages of a stream (oldest first), decrypted. `before` pages backwards (ms timestamp).
   * Every message of the page is returned: one that cannot be decrypted (any member can post a well-formed
   * ciphertext under another key) has `error` set and empty content, as a datafeed event does (docs/errors.md).
   * @throws the request's errors, and AbortedError (`ABORTED`) when `signal` fires or the client closes.
   */
  async history(streamId: string, options: { limit?: number; before?: number; signal?: AbortSignal } = {}): Promise<HistoryMessage[]> {
    const threadId = canonicalThreadId(streamId);
    const query = `?id=${threadId}&from=0&limit=${options.limit ?? 50}&excludeFields=tokenIds${options.before === undefined ? '' : `&before=${options.before}`}`;
    const envelopes = await this.#call<unknown>('GET', `/dataquery/api/v3/messages/thread${query}`, { signal: options.signal });
    if (!Array.isArray(envelopes)) throw new MalformedResponseError('GET /dataquery/api/v3/messages/thread', 'expected a list of messages');
    return Promise.all(envelopes.map(async (envelope: { message?: unknown } | null): Promise<HistoryMessage> => {
      const payload = typeof envelope?.message === 'object' && envelope.message !== null ? (envelope.message as Record<string, unknown>) : {};
      try {
        return await this.decrypt(payload, options.signal);
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        return undecryptedMessage(payload, err);
      }
    }));
  }

  /** One message by id, decrypted. */
  async message(messageId: string, signal?: AbortSignal): Promise<DecodedMessage> {
    const payload = await this.#call<Record<string, unknown>>('GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${requireBase64Id('messageId', messageId)}`, { signal });
    return this.decrypt(payload, signal);
  }

  /** Upload an attachment, encrypted client-side with the thread's current content key; returns its file id. */
  async uploadAttachment(streamId: string, data: Uint8Array, signal?: AbortSignal): Promise<string> {
    requireBytes('data', data);
    const threadId = canonicalThreadId(streamId);
    const { key, rotationId } = await this.#o.keys.currentContentKey(threadId, signal);
    const sealed = await encryptTransport(key, data, { rotationId });
    const reply = await this.#call<{ fileId: string }>('POST', `/webcontroller/ingestor/v1/attachments?threadId=${threadId}`, { body: sealed, signal });
    return reply.fileId;
  }

  /** Download and decrypt an attachment. */
  async downloadAttachment(streamId: string, fileId: string, signal?: AbortSignal): Promise<Uint8Array> {
    const threadId = canonicalThreadId(streamId);
    const sealed = await this.#call<Uint8Array>('GET', `/webcontroller/ingestor/v1/attachments/${requireBase64Id('fileId', fileId)}`, { expect: 'bytes', signal });
    return decryptTransport((rotationId) => this.#o.keys.contentKey(threadId, rotationId, signal), sealed);
  }
}
