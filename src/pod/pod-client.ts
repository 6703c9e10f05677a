/**
 * The pod, as a bot uses it without an API Agent (pod-api-public.yaml; docs/protocol.md §5): the key-free REST
 * operations of pod-api.ts (who am I, users, IMs, MIMs and rooms, stream lists, membership, presence, connections),
 * and encrypted messages and attachments on the native path (`/webcontroller/ingestor/v2/MessageService`, `/dataquery/api/v3/messages/thread`,
 * `/webcontroller/dataquery/retrieveMessagePayload`). Messages are encrypted and decrypted here, in-process, with
 * keys from the {@link KeyStore}; the pod only ever receives ciphertext. Stream and message ids are accepted in
 * standard and URL-safe base64 and returned URL-safe.
 */
import { encryptTransport, decryptTransport } from '../crypto/transport.js';
import { AbortedError, MalformedResponseError } from '../errors.js';
import { canonicalThreadId, type KeyStore } from '../keys/key-store.js';
import { toBase64, tryFromBase64 } from '../util/bytes.js';
import { requireBase64Id, requireBytes, requireString } from '../util/validate.js';
import { decodeMessage, encodeMessage, undecryptedMessage, type DecodedMessage, type HistoryMessage } from './message-codec.js';
import { PodApi, type PodApiOptions } from './pod-api.js';

/** What the pod client needs. */
export interface PodClientOptions extends PodApiOptions {
  keys: KeyStore;
  /** The bot's own user id. */
  userId: number;
  /** The bot's wall thread (salt of hashtag search tokens). */
  wallThreadId: string;
  clientVersion: string;
}

/** Pod operations of one bot: those of {@link PodApi}, and encrypted messages and attachments. */
export class PodClient extends PodApi {
  readonly #o: PodClientOptions;

  /** @internal Made by AllegroClient. */
  constructor(options: PodClientOptions) {
    super(options);
    this.#o = options;
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
    const reply = await this.call<{ messageId: string }>('POST', '/webcontroller/ingestor/v2/MessageService', {
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
    const envelopes = await this.call<unknown>('GET', `/dataquery/api/v3/messages/thread${query}`, { signal: options.signal });
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
    const payload = await this.call<Record<string, unknown>>('GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${requireBase64Id('messageId', messageId)}`, { signal });
    return this.decrypt(payload, signal);
  }

  /** Upload an attachment, encrypted client-side with the thread's current content key; returns its file id. */
  async uploadAttachment(streamId: string, data: Uint8Array, signal?: AbortSignal): Promise<string> {
    requireBytes('data', data);
    const threadId = canonicalThreadId(streamId);
    const { key, rotationId } = await this.#o.keys.currentContentKey(threadId, signal);
    const sealed = await encryptTransport(key, data, { rotationId });
    const reply = await this.call<{ fileId: string }>('POST', `/webcontroller/ingestor/v1/attachments?threadId=${threadId}`, { body: sealed, signal });
    return reply.fileId;
  }

  /** Download and decrypt an attachment. */
  async downloadAttachment(streamId: string, fileId: string, signal?: AbortSignal): Promise<Uint8Array> {
    const threadId = canonicalThreadId(streamId);
    const sealed = await this.call<Uint8Array>('GET', `/webcontroller/ingestor/v1/attachments/${requireBase64Id('fileId', fileId)}`, { expect: 'bytes', signal });
    return decryptTransport((rotationId) => this.#o.keys.contentKey(threadId, rotationId, signal), sealed);
  }
}
