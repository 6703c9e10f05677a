/**
 * `OboSession`: what an OBO app does on behalf of one user (docs/symphony-apis.md §1.7, §2.2). The pod's key-free
 * operations are {@link PodApi}'s, the same methods with the same shapes as a bot's `bot.pod`; messages go through
 * the Agent (`/agent/v4/stream/{sid}/message/create`, `…/{mid}/update`, `/agent/v4/message/blast`), which encrypts
 * them for the user; signals live there too (`/agent/v1/signals/…`): an OBO user session has no Key Manager token (docs/symphony-apis.md §1.5), so nothing here
 * holds a key. Every call sends the user's session token, renewed on 401 by a user authentication with the app's
 * cached token (auth/app-session.ts); a 403 naming a missing app permission is a {@link PermissionDeniedError}.
 */
import type { RenewableToken } from '../auth/renewable-token.js';
import { InvalidArgumentError, MalformedResponseError } from '../errors.js';
import type { HttpClient } from '../http/http-client.js';
import { encodeMultipart, type MultipartPart } from '../http/multipart.js';
import { canonicalThreadId } from '../keys/key-store.js';
import { messageMlDocument, parseMessageMl } from '../pod/messageml.js';
import { pageQuery, PodApi, userIdList, type CallOptions, type SearchPage } from '../pod/pod-api.js';
import { describeValue, requireBase64Id, requireString } from '../util/validate.js';
import { asPermissionDenied } from './permissions.js';

/** A file sent with a message. */
export interface Attachment {
  /** The file name shown to readers. */
  name: string;
  content: Uint8Array;
  /** Default `application/octet-stream`. */
  contentType?: string;
}

/** Options of {@link OboSession.send} and {@link OboSession.blast}. */
export interface SendOptions {
  /** Entity JSON the message's `data-entity-id` elements refer to. */
  data?: Record<string, unknown>;
  attachments?: readonly Attachment[];
  signal?: AbortSignal;
}

/** Options of {@link OboSession.update}. */
export interface UpdateOptions extends SendOptions {
  /** Whether readers see the update as read (the Agent's default: true). */
  silent?: boolean;
}

/** What a blast did: the message sent to each stream, and the streams it could not be sent to. */
export interface BlastResult {
  /** One per stream the message reached. */
  sent: Array<{ streamId: string; messageId: string }>;
  /** Stream id → the Agent's reason, for each stream it did not reach. */
  failed: Record<string, string>;
}

/** What a signal is (BaseSignal): a query over `hashtag:`, `cashtag:` and `author:` terms joined by AND or OR. */
export interface SignalDefinition {
  name: string;
  /** At least one hashtag or cashtag term, e.g. `hashtag:fx AND author:13469017441257`. */
  query: string;
  /** Shown on the creator's profile. Default false. */
  visibleOnProfile?: boolean;
  /** A push signal for the whole company. Default false. */
  companyWide?: boolean;
}

/** A signal (Signal). */
export interface Signal extends Required<SignalDefinition> {
  id: string;
  /** Creation time, ms since the epoch. */
  timestamp: number;
}

/** What a (un)subscription did (ChannelSubscriptionResponse). */
export interface SignalSubscription {
  requested: number;
  succeeded: number;
  failed: Array<{ userId: number; code: string; message: string }>;
}

/** One subscriber of a signal (ChannelSubscriber). */
export interface SignalSubscriber {
  userId: number;
  name: string;
  /** The signal's creator. */
  owner: boolean;
  /** Subscribed by someone else; cannot unsubscribe. */
  pushed: boolean;
  timestamp: number;
}

/** What an OBO session needs. */
export interface OboSessionOptions {
  appId: string;
  /** The user as the app named them. */
  user: number | string;
  /** The user's token, renewed through the app's session. */
  token: RenewableToken;
  pod: HttpClient;
  podUrl: string;
  agent: HttpClient;
  /** The Agent's base URL (with `/agent`). */
  agentUrl: string;
}

interface V4Message {
  messageId?: unknown;
  stream?: { streamId?: unknown };
}

const MAX_BLAST_STREAMS = 100;

/** A BaseSignal body from a definition, checked. */
function signalBody(d: SignalDefinition): Required<SignalDefinition> {
  if (typeof d !== 'object' || d === null) throw new InvalidArgumentError('definition', 'a signal definition', describeValue(d));
  requireString('definition.name', d.name);
  requireString('definition.query', d.query);
  for (const flag of ['visibleOnProfile', 'companyWide'] as const) {
    if (d[flag] !== undefined && typeof d[flag] !== 'boolean') throw new InvalidArgumentError(`definition.${flag}`, 'a boolean', describeValue(d[flag]));
  }
  return { name: d.name, query: d.query, visibleOnProfile: d.visibleOnProfile ?? false, companyWide: d.companyWide ?? false };
}

function signalOf(s: Signal): Signal {
  return { id: s.id, name: s.name, query: s.query, visibleOnProfile: s.visibleOnProfile === true, companyWide: s.companyWide === true, timestamp: s.timestamp };
}

function subscriptionOf(r: { requestedSubscription?: number; successfulSubscription?: number; subscriptionErrors?: SignalSubscription['failed'] }): SignalSubscription {
  return { requested: r.requestedSubscription ?? 0, succeeded: r.successfulSubscription ?? 0, failed: r.subscriptionErrors ?? [] };
}

/** The parts of a message: MessageML (checked here first: located errors before any request), data, attachments. */
function messageParts(message: string, options: SendOptions): MultipartPart[] {
  const data = options.data;
  parseMessageMl(message, data === undefined ? {} : { data });
  const parts: MultipartPart[] = [{ name: 'message', value: messageMlDocument(message) }];
  if (data !== undefined) parts.push({ name: 'data', value: JSON.stringify(data) });
  const attachments = options.attachments ?? [];
  if (!Array.isArray(attachments)) throw new InvalidArgumentError('options.attachments', 'an array of attachments', describeValue(attachments));
  for (const [i, a] of attachments.entries()) {
    if (typeof a?.name !== 'string' || a.name.length === 0) throw new InvalidArgumentError(`options.attachments[${i}].name`, 'a non-empty file name', describeValue(a?.name));
    if (!(a.content instanceof Uint8Array)) throw new InvalidArgumentError(`options.attachments[${i}].content`, 'a Uint8Array', describeValue(a.content));
    parts.push({ name: 'attachment', filename: a.name, content: a.content, ...(a.contentType === undefined ? {} : { contentType: a.contentType }) });
  }
  return parts;
}

function messageIdOf(route: string, reply: V4Message): string {
  if (typeof reply?.messageId !== 'string' || reply.messageId.length === 0) throw new MalformedResponseError(route, 'no messageId');
  return reply.messageId;
}

/** One user's OBO session. */
export class OboSession extends PodApi {
  /** The app acting for the user. */
  readonly appId: string;
  /** The user, as the app named them: a user id or a username. */
  readonly user: number | string;
  readonly #o: OboSessionOptions;

  /** @internal Made by OboApp.user(). */
  constructor(options: OboSessionOptions) {
    super({ http: options.pod, podUrl: options.podUrl, auth: options.token.hook('sessionToken') });
    this.appId = options.appId;
    this.user = options.user;
    this.#o = options;
  }

  /** User authentications this session performed: the first one, and one per renewal after a 401. */
  get logins(): number {
    return this.#o.token.logins;
  }

  /** @internal Every pod call: a 403 naming a missing permission becomes a PermissionDeniedError. */
  protected override async call<T>(method: string, path: string, extra: CallOptions = {}): Promise<T> {
    try {
      return await super.call<T>(method, path, extra);
    } catch (err) {
      throw asPermissionDenied(err);
    }
  }

  /**
   * Send a message as the user, through the Agent (OBO: SEND_MESSAGES): MessageML (or plain text), with optional
   * entity data and attachments. Returns the message id.
   * @throws InvalidMessageMlError before any request for a document that is not valid MessageML.
   */
  async send(streamId: string, message: string, options: SendOptions = {}): Promise<string> {
    const route = 'POST /agent/v4/stream/{sid}/message/create';
    const reply = await this.#agent<V4Message>(route, `/v4/stream/${canonicalThreadId(streamId)}/message/create`, messageParts(message, options), options.signal);
    return messageIdOf(route, reply);
  }

  /** Replace a message the user sent (OBO: SEND_MESSAGES); returns the id of the new version. */
  async update(streamId: string, messageId: string, message: string, options: UpdateOptions = {}): Promise<string> {
    const route = 'POST /agent/v4/stream/{sid}/message/{mid}/update';
    const parts = messageParts(message, options);
    if (options.silent !== undefined) {
      if (typeof options.silent !== 'boolean') throw new InvalidArgumentError('options.silent', 'a boolean', describeValue(options.silent));
      parts.push({ name: 'silent', value: String(options.silent) });
    }
    const path = `/v4/stream/${canonicalThreadId(streamId)}/message/${requireBase64Id('messageId', messageId)}/update`;
    return messageIdOf(route, await this.#agent<V4Message>(route, path, parts, options.signal));
  }

  /** Send one message to up to 100 streams (POST /agent/v4/message/blast; OBO: SEND_MESSAGES). */
  async blast(streamIds: readonly string[], message: string, options: SendOptions = {}): Promise<BlastResult> {
    if (!Array.isArray(streamIds) || streamIds.length === 0 || streamIds.length > MAX_BLAST_STREAMS) {
      throw new InvalidArgumentError('streamIds', `an array of 1 to ${MAX_BLAST_STREAMS} stream ids`, describeValue(streamIds));
    }
    const route = 'POST /agent/v4/message/blast';
    const ids = streamIds.map((id) => canonicalThreadId(id));
    const parts: MultipartPart[] = [{ name: 'sids', value: ids.join(',') }, ...messageParts(message, options)];
    const reply = await this.#agent<{ messages?: V4Message[]; errors?: Record<string, { message?: unknown }> }>(route, '/v4/message/blast', parts, options.signal);
    const sent = (reply.messages ?? []).map((m) => {
      const streamId = m.stream?.streamId;
      if (typeof streamId !== 'string') throw new MalformedResponseError(route, 'a message without stream.streamId');
      return { streamId: canonicalThreadId(streamId), messageId: messageIdOf(route, m) };
    });
    const failed: Record<string, string> = {};
    for (const [id, error] of Object.entries(reply.errors ?? {})) failed[canonicalThreadId(id)] = typeof error?.message === 'string' ? error.message : 'not delivered';
    return { sent, failed };
  }

  /** The user's signals: those they created and those they subscribe to (GET /agent/v1/signals/list; OBO: MANAGE_SIGNALS). */
  async signals(options: { skip?: number; limit?: number } = {}): Promise<Signal[]> {
    const list = await this.#agentJson<Signal[] | undefined>('GET', `/v1/signals/list?${pageQuery(options, 500)}`, 'GET /agent/v1/signals/list');
    return (list ?? []).map(signalOf);
  }

  /** One signal (GET /agent/v1/signals/{id}/get; OBO: MANAGE_SIGNALS). */
  async signal(signalId: string): Promise<Signal> {
    return signalOf(await this.#agentJson<Signal>('GET', `/v1/signals/${requireBase64Id('signalId', signalId)}/get`, 'GET /agent/v1/signals/{id}/get'));
  }

  /** Create a signal (POST /agent/v1/signals/create; OBO: MANAGE_SIGNALS). */
  async createSignal(definition: SignalDefinition): Promise<Signal> {
    return signalOf(await this.#agentJson<Signal>('POST', '/v1/signals/create', 'POST /agent/v1/signals/create', signalBody(definition)));
  }

  /** Replace a signal's definition (POST /agent/v1/signals/{id}/update; the owner only; OBO: MANAGE_SIGNALS). */
  async updateSignal(signalId: string, definition: SignalDefinition): Promise<Signal> {
    const path = `/v1/signals/${requireBase64Id('signalId', signalId)}/update`;
    return signalOf(await this.#agentJson<Signal>('POST', path, 'POST /agent/v1/signals/{id}/update', signalBody(definition)));
  }

  /** Delete a signal (POST /agent/v1/signals/{id}/delete; the owner only; OBO: MANAGE_SIGNALS). */
  async deleteSignal(signalId: string): Promise<void> {
    await this.#agentJson('POST', `/v1/signals/${requireBase64Id('signalId', signalId)}/delete`, 'POST /agent/v1/signals/{id}/delete');
  }

  /**
   * Subscribe the user to a signal, or (the owner, with `userIds`) other users, `pushed` so that they cannot leave it
   * (POST /agent/v1/signals/{id}/subscribe; OBO: MANAGE_SIGNALS).
   */
  async subscribeSignal(signalId: string, options: { userIds?: readonly number[]; pushed?: boolean } = {}): Promise<SignalSubscription> {
    const query = options.pushed === undefined ? '' : `?pushed=${options.pushed === true}`;
    const path = `/v1/signals/${requireBase64Id('signalId', signalId)}/subscribe${query}`;
    const json = options.userIds === undefined ? undefined : userIdList('options.userIds', options.userIds);
    return subscriptionOf(await this.#agentJson('POST', path, 'POST /agent/v1/signals/{id}/subscribe', json));
  }

  /** Unsubscribe the user, or (the owner) `userIds` (POST /agent/v1/signals/{id}/unsubscribe; OBO: MANAGE_SIGNALS). */
  async unsubscribeSignal(signalId: string, options: { userIds?: readonly number[] } = {}): Promise<SignalSubscription> {
    const path = `/v1/signals/${requireBase64Id('signalId', signalId)}/unsubscribe`;
    const json = options.userIds === undefined ? undefined : userIdList('options.userIds', options.userIds);
    return subscriptionOf(await this.#agentJson('POST', path, 'POST /agent/v1/signals/{id}/unsubscribe', json));
  }

  /** A page of a signal's subscribers, its creator first (GET /agent/v1/signals/{id}/subscribers; OBO: MANAGE_SIGNALS). */
  async signalSubscribers(signalId: string, options: { skip?: number; limit?: number } = {}): Promise<SearchPage<SignalSubscriber>> {
    const path = `/v1/signals/${requireBase64Id('signalId', signalId)}/subscribers?${pageQuery(options, 1000)}`;
    const reply = await this.#agentJson<{ offset?: number; total?: number; data?: Array<{ userId: number; subscriberName?: string; owner?: boolean; pushed?: boolean; timestamp?: number }> }>(
      'GET', path, 'GET /agent/v1/signals/{id}/subscribers');
    const results = (reply.data ?? []).map((s) => ({ userId: s.userId, name: s.subscriberName ?? '', owner: s.owner === true, pushed: s.pushed === true, timestamp: s.timestamp ?? 0 }));
    return { count: reply.total ?? results.length, skip: reply.offset ?? options.skip ?? 0, limit: options.limit ?? 100, results };
  }

  /** One multipart POST to the Agent with the user's token. */
  async #agent<T>(route: string, path: string, parts: MultipartPart[], signal: AbortSignal | undefined): Promise<T> {
    const { body, contentType } = encodeMultipart(parts);
    return this.#agentRequest<T>({ method: 'POST', path, route, headers: { 'content-type': contentType }, body, ...(signal === undefined ? {} : { signal }) });
  }

  /** One JSON call to the Agent with the user's token. */
  #agentJson<T>(method: string, path: string, route: string, json?: unknown): Promise<T> {
    return this.#agentRequest<T>({ method, path, route, ...(json === undefined ? {} : { json }), idempotent: method === 'GET' });
  }

  async #agentRequest<T>(r: { method: string; path: string; route: string; headers?: Record<string, string>; body?: Uint8Array; json?: unknown; idempotent?: boolean; signal?: AbortSignal }): Promise<T> {
    const { path, ...rest } = r;
    try {
      return await this.#o.agent.request<T>({ ...rest, url: `${this.#o.agentUrl}${path}`, auth: this.#o.token.hook('sessionToken') });
    } catch (err) {
      throw asPermissionDenied(err);
    }
  }
}
