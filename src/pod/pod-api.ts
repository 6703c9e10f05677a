/**
 * The pod's public REST API that needs no key (pod-api-public.yaml; docs/symphony-apis.md §2.2): who am I, users and
 * user search, IMs, MIMs and rooms (create, info, search, update, activation, membership), stream info and lists,
 * presence, connections, following, message suppression and the allowed file types. The bot's {@link PodClient} (which adds
 * encrypted messages) and an OBO user's session (obo/session.ts, which adds the Agent's messages) both extend it,
 * so an operation has one shape whoever calls it. Stream ids are accepted in standard and URL-safe base64 and sent
 * URL-safe; every call authenticates with the hook it is given.
 */
import { InvalidArgumentError } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { canonicalThreadId } from '../keys/key-store.js';
import { describeValue, requireBase64Id, requireString } from '../util/validate.js';

/** A user as the pod describes it (UserV2). */
export interface PodUser {
  id: number;
  username: string;
  displayName: string;
  emailAddress?: string;
  accountType?: string;
}

/** A stream in a stream list, or one stream's info. */
export interface StreamInfo {
  id: string;
  type: 'IM' | 'MIM' | 'ROOM' | 'POST';
  active: boolean;
  members: number[];
  name?: string;
}

/** A connection between the caller and another user. */
export interface Connection {
  userId: number;
  status: 'PENDING_INCOMING' | 'PENDING_OUTGOING' | 'ACCEPTED' | 'REJECTED';
  firstRequestedAt?: number;
  updatedAt?: number;
}

/** A user's presence (V2Presence). */
export interface Presence {
  category: string;
  userId: number;
  timestamp: number;
}

/** A room's attributes as they are set (V3RoomAttributes, the fields allegro-ts names). */
export interface RoomAttributes {
  name: string;
  description?: string;
  membersCanInvite?: boolean;
  discoverable?: boolean;
  readOnly?: boolean;
  public?: boolean;
  copyProtected?: boolean;
  crossPod?: boolean;
  viewHistory?: boolean;
  multiLateralRoom?: boolean;
}

/** A room (V3RoomDetail): its attributes as the pod returned them, and its system info. */
export interface RoomInfo {
  id: string;
  active: boolean;
  /** Creation time, ms since the epoch. */
  createdAt?: number;
  /** The creator's user id. */
  createdBy?: number;
  /** Every attribute the pod returned (name, description, flags, …). */
  attributes: RoomAttributes & Record<string, unknown>;
}

/** What a room search matches (V2RoomSearchCriteria, the fields allegro-ts names). */
export interface RoomSearch {
  /** Matched against the room name and description. */
  query: string;
  active?: boolean;
  private?: boolean;
  /** Rooms with this member (a user id). */
  member?: number;
  owner?: number;
  creator?: number;
}

/** What a user search matches (UserSearchQuery). */
export interface UserSearch {
  /** First name, last name, display name or email. */
  query: string;
  filters?: { title?: string; company?: string; location?: string; marketCoverage?: string; responsibility?: string; function?: string; instrument?: string; accountTypes?: string[] };
}

/** One page of search results. */
export interface SearchPage<T> {
  /** How many matched in all. */
  count: number;
  skip: number;
  limit: number;
  results: T[];
}

/** The suppression state of a message (MessageSuppressionResponse). */
export interface Suppression {
  messageId: string;
  suppressed: boolean;
  suppressionDate?: number;
}

/** What every pod operation needs: the HTTP client, the pod's base URL, and how calls authenticate. */
export interface PodApiOptions {
  http: HttpClient;
  podUrl: string;
  auth: AuthHook;
}

/** The extras of one call: a body, idempotency, what to do with the answer, a signal. */
export interface CallOptions {
  json?: unknown;
  form?: Record<string, string>;
  body?: Uint8Array;
  idempotent?: boolean;
  expect?: 'json' | 'bytes' | 'none';
  signal?: AbortSignal | undefined;
}

interface V2StreamAttributes {
  id: string;
  active: boolean;
  streamType: { type: StreamInfo['type'] };
  streamAttributes?: { members?: number[] };
  roomAttributes?: { name?: string };
}

interface V3RoomDetail {
  roomAttributes?: RoomAttributes & Record<string, unknown>;
  roomSystemInfo?: { id?: string; active?: boolean; creationDate?: number; createdByUserId?: number };
}

/** A non-empty list of positive user ids, copied; `parameter` names it in the error. */
export function userIdList(parameter: string, ids: readonly number[]): number[] {
  if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id <= 0)) {
    throw new InvalidArgumentError(parameter, 'a non-empty array of user ids', describeValue(ids));
  }
  return [...ids];
}

function oneUserId(parameter: string, id: number): number {
  return userIdList(parameter, [id])[0]!;
}

/** `skip=…&limit=…` of a page (default 0 and 50), checked; `maxLimit` is the largest limit the endpoint takes. */
export function pageQuery(options: { skip?: number; limit?: number }, maxLimit: number): string {
  const skip = options.skip ?? 0;
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(skip) || skip < 0) throw new InvalidArgumentError('options.skip', 'a non-negative integer', describeValue(skip));
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxLimit) throw new InvalidArgumentError('options.limit', `an integer from 1 to ${maxLimit}`, describeValue(limit));
  return `skip=${skip}&limit=${limit}`;
}

function streamOf(s: V2StreamAttributes): StreamInfo {
  return {
    id: s.id, type: s.streamType.type, active: s.active, members: s.streamAttributes?.members ?? [],
    ...(s.roomAttributes?.name === undefined ? {} : { name: s.roomAttributes.name }),
  };
}

function roomOf(detail: V3RoomDetail, fallbackId: string): RoomInfo {
  const system = detail.roomSystemInfo ?? {};
  return {
    id: system.id ?? fallbackId, active: system.active ?? true,
    ...(system.creationDate === undefined ? {} : { createdAt: system.creationDate }),
    ...(system.createdByUserId === undefined ? {} : { createdBy: system.createdByUserId }),
    attributes: { name: '', ...detail.roomAttributes },
  };
}

/** The pod operations that need no key, for whoever the auth hook authenticates. */
export class PodApi {
  readonly #api: PodApiOptions;

  /** @internal Made by AllegroClient and OboApp. */
  constructor(options: PodApiOptions) {
    this.#api = options;
  }

  /** @internal One call to the pod: `path` under the pod's URL; errors name it with long ids as `{id}`. */
  protected call<T>(method: string, path: string, extra: CallOptions = {}): Promise<T> {
    const { signal, ...rest } = extra;
    return this.#api.http.request<T>({
      method, url: `${this.#api.podUrl}${path}`, route: `${method} ${path.split('?')[0]!.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/{id}')}`,
      auth: this.#api.auth, ...rest, ...(signal === undefined ? {} : { signal }),
    });
  }

  /** The caller's own user (GET /pod/v2/sessioninfo; OBO: GET_BASIC_USER_INFO). */
  me(): Promise<PodUser> {
    return this.call('GET', '/pod/v2/sessioninfo');
  }

  /**
   * Users by id, username or email (GET /pod/v3/users; OBO: GET_BASIC_CONTACT_INFO); unknown ones are left out (the
   * pod's 204: none known).
   */
  async users(query: { ids: readonly number[] } | { usernames: readonly string[] } | { emails: readonly string[] }): Promise<PodUser[]> {
    const [param, values] = 'ids' in query ? ['uid', userIdList('query.ids', query.ids).map(String)] : 'usernames' in query ? ['username', [...query.usernames]] : ['email', [...query.emails]];
    if (values.length === 0 || values.some((v) => typeof v !== 'string' || v.length === 0 || v.includes(','))) {
      throw new InvalidArgumentError(`query.${param}`, 'a non-empty list of values without commas', describeValue(values));
    }
    const reply = await this.call<{ users?: PodUser[] } | undefined>('GET', `/pod/v3/users?${param}=${encodeURIComponent(values.join(','))}&local=true`);
    return reply?.users ?? [];
  }

  /** Search users by name or email (POST /pod/v1/user/search; OBO: GET_BASIC_CONTACT_INFO); the pod's 204 is no result. */
  async searchUsers(search: UserSearch, options: { skip?: number; limit?: number; local?: boolean } = {}): Promise<SearchPage<PodUser>> {
    requireString('search.query', search?.query);
    const reply = await this.call<{ count?: number; skip?: number; limit?: number; users?: PodUser[] } | undefined>(
      'POST', `/pod/v1/user/search?${pageQuery(options, 1000)}&local=${options.local ?? true}`, { json: search, idempotent: true });
    const users = reply?.users ?? [];
    return { count: reply?.count ?? users.length, skip: reply?.skip ?? options.skip ?? 0, limit: reply?.limit ?? options.limit ?? 50, results: users };
  }

  /** Create (or find) the IM or MIM of the caller with `userIds`; returns the stream id (OBO: SEND_MESSAGES). */
  async createIm(userIds: readonly number[]): Promise<string> {
    const reply = await this.call<{ id: string }>('POST', '/pod/v1/im/create', { json: userIdList('userIds', userIds), idempotent: true });
    return reply.id;
  }

  /** Create a room owned by the caller; returns the stream id (OBO: MANAGE_ROOMS and CREATE_USER_STREAM). */
  async createRoom(attributes: RoomAttributes): Promise<string> {
    requireString('attributes.name', attributes?.name);
    const reply = await this.call<{ roomSystemInfo: { id: string } }>('POST', '/pod/v3/room/create', { json: attributes });
    return reply.roomSystemInfo.id;
  }

  /** A room's attributes and system info (GET /pod/v3/room/{id}/info; OBO: MANAGE_ROOMS). */
  async roomInfo(streamId: string): Promise<RoomInfo> {
    const id = canonicalThreadId(streamId);
    return roomOf(await this.call<V3RoomDetail>('GET', `/pod/v3/room/${id}/info`), id);
  }

  /** Search rooms (POST /pod/v3/room/search; OBO: MANAGE_ROOMS). */
  async searchRooms(search: RoomSearch, options: { skip?: number; limit?: number } = {}): Promise<SearchPage<RoomInfo>> {
    requireString('search.query', search?.query);
    const reply = await this.call<{ count?: number; skip?: number; limit?: number; rooms?: V3RoomDetail[] } | undefined>(
      'POST', `/pod/v3/room/search?${pageQuery(options, 100)}`, { json: search, idempotent: true });
    const rooms = (reply?.rooms ?? []).map((r) => roomOf(r, ''));
    return { count: reply?.count ?? rooms.length, skip: reply?.skip ?? options.skip ?? 0, limit: reply?.limit ?? options.limit ?? 50, results: rooms };
  }

  /** Change a room's attributes (POST /pod/v3/room/{id}/update; owners only; OBO: MANAGE_ROOMS). */
  async updateRoom(streamId: string, attributes: Partial<RoomAttributes>): Promise<RoomInfo> {
    if (typeof attributes !== 'object' || attributes === null) throw new InvalidArgumentError('attributes', 'an object of room attributes', describeValue(attributes));
    const id = canonicalThreadId(streamId);
    return roomOf(await this.call<V3RoomDetail>('POST', `/pod/v3/room/${id}/update`, { json: attributes, idempotent: true }), id);
  }

  /** Deactivate or reactivate a room (POST /pod/v1/room/{id}/setActive; owners only; OBO: MANAGE_ROOMS). */
  async setRoomActive(streamId: string, active: boolean): Promise<void> {
    if (typeof active !== 'boolean') throw new InvalidArgumentError('active', 'a boolean', describeValue(active));
    await this.call('POST', `/pod/v1/room/${canonicalThreadId(streamId)}/setActive?active=${active}`, { idempotent: true });
  }

  /** Add a member to a room (OBO: MANAGE_ROOMS). */
  async addMember(streamId: string, userId: number): Promise<void> {
    await this.#membership(streamId, 'add', userId);
  }

  /** Remove a member from a room (OBO: MANAGE_ROOMS). */
  async removeMember(streamId: string, userId: number): Promise<void> {
    await this.#membership(streamId, 'remove', userId);
  }

  /** Make a member an owner of a room (OBO: MANAGE_ROOMS). */
  async promoteOwner(streamId: string, userId: number): Promise<void> {
    await this.#membership(streamId, 'promoteOwner', userId);
  }

  /** Make an owner a plain member of a room (OBO: MANAGE_ROOMS). */
  async demoteOwner(streamId: string, userId: number): Promise<void> {
    await this.#membership(streamId, 'demoteOwner', userId);
  }

  async #membership(streamId: string, action: 'add' | 'remove' | 'promoteOwner' | 'demoteOwner', userId: number): Promise<void> {
    await this.call('POST', `/pod/v1/room/${canonicalThreadId(streamId)}/membership/${action}`, { json: { id: oneUserId('userId', userId) }, idempotent: true });
  }

  /** Members of a room (OBO: MANAGE_ROOMS or LIST_USER_STREAMS). */
  members(streamId: string): Promise<Array<{ id: number; owner: boolean; joinDate: number }>> {
    return this.call('GET', `/pod/v2/room/${canonicalThreadId(streamId)}/membership/list`);
  }

  /** The caller's streams (POST /pod/v1/streams/list; its 204, no stream, is an empty list; OBO: LIST_USER_STREAMS). */
  async streams(filter: { types?: ReadonlyArray<StreamInfo['type']>; includeInactive?: boolean; skip?: number; limit?: number } = {}): Promise<StreamInfo[]> {
    const body = { streamTypes: (filter.types ?? []).map((type) => ({ type })), includeInactiveStreams: filter.includeInactive ?? false };
    const list = await this.call<V2StreamAttributes[] | undefined>('POST', `/pod/v1/streams/list?${pageQuery(filter, 1000)}`, { json: body, idempotent: true });
    return (list ?? []).map(streamOf);
  }

  /** One stream the caller is a member of (GET /pod/v2/streams/{sid}/info; OBO: SEND_MESSAGES). */
  async streamInfo(streamId: string): Promise<StreamInfo> {
    return streamOf(await this.call<V2StreamAttributes>('GET', `/pod/v2/streams/${canonicalThreadId(streamId)}/info`));
  }

  /** The caller's presence (OBO: GET_PRESENCE). */
  presence(): Promise<Presence> {
    return this.call('GET', '/pod/v2/user/presence');
  }

  /** Another user's presence (GET /pod/v3/user/{uid}/presence; OBO: GET_PRESENCE). */
  userPresence(userId: number): Promise<Presence> {
    return this.call('GET', `/pod/v3/user/${oneUserId('userId', userId)}/presence`);
  }

  /** Register interest in other users' presence (POST /pod/v1/user/presence/register; OBO: GET_PRESENCE). */
  async registerPresenceInterest(userIds: readonly number[]): Promise<void> {
    await this.call('POST', '/pod/v1/user/presence/register', { json: userIdList('userIds', userIds), idempotent: true });
  }

  /** Set the caller's presence (AVAILABLE, BUSY, AWAY, ...; OBO: SET_PRESENCE). */
  setPresence(category: string): Promise<Presence> {
    requireString('category', category);
    return this.call('POST', '/pod/v2/user/presence', { json: { category }, idempotent: true });
  }

  /** The caller's connections, optionally of one status (OBO: GET_USER_CONNECTIONS). */
  connections(status?: Connection['status'] | 'ALL'): Promise<Connection[]> {
    return this.call('GET', `/pod/v1/connection/list${status === undefined ? '' : `?status=${status}`}`);
  }

  /** The connection with one user (GET /pod/v1/connection/user/{userId}/info; OBO: GET_USER_CONNECTIONS). */
  connection(userId: number): Promise<Connection> {
    return this.call('GET', `/pod/v1/connection/user/${oneUserId('userId', userId)}/info`);
  }

  /** Ask another user to connect (OBO: REQUEST_USER_CONNECTIONS). */
  requestConnection(userId: number): Promise<Connection> {
    return this.call('POST', '/pod/v1/connection/create', { json: { userId: oneUserId('userId', userId) }, idempotent: true });
  }

  /** Accept a connection request (OBO: REQUEST_USER_CONNECTIONS). */
  acceptConnection(userId: number): Promise<Connection> {
    return this.call('POST', '/pod/v1/connection/accept', { json: { userId: oneUserId('userId', userId) }, idempotent: true });
  }

  /** Reject a connection request (OBO: REQUEST_USER_CONNECTIONS). */
  rejectConnection(userId: number): Promise<Connection> {
    return this.call('POST', '/pod/v1/connection/reject', { json: { userId: oneUserId('userId', userId) }, idempotent: true });
  }

  /** Remove an accepted connection (POST /pod/v1/connection/user/{uid}/remove; OBO: REQUEST_USER_CONNECTIONS). */
  async removeConnection(userId: number): Promise<void> {
    await this.call('POST', `/pod/v1/connection/user/${oneUserId('userId', userId)}/remove`, { idempotent: true });
  }

  /** Make `followers` follow a user (POST /pod/v1/user/{uid}/follow; OBO: MANAGE_USER_FOLLOWING, the session's user among them). */
  async follow(userId: number, followers: readonly number[]): Promise<void> {
    await this.call('POST', `/pod/v1/user/${oneUserId('userId', userId)}/follow`, { json: { followers: userIdList('followers', followers) }, idempotent: true });
  }

  /** Make `followers` stop following a user (POST /pod/v1/user/{uid}/unfollow; OBO: MANAGE_USER_FOLLOWING). */
  async unfollow(userId: number, followers: readonly number[]): Promise<void> {
    await this.call('POST', `/pod/v1/user/${oneUserId('userId', userId)}/unfollow`, { json: { followers: userIdList('followers', followers) }, idempotent: true });
  }

  /** The followers of a user (GET /pod/v1/user/{uid}/followers; not OBO-enabled). */
  async followers(userId: number): Promise<number[]> {
    const reply = await this.call<{ followers?: number[] } | undefined>('GET', `/pod/v1/user/${oneUserId('userId', userId)}/followers`);
    return reply?.followers ?? [];
  }

  /** Suppress a message (POST /pod/v1/admin/messagesuppression/{id}/suppress; OBO: SUPPRESS_MESSAGES). */
  suppress(messageId: string): Promise<Suppression> {
    return this.call('POST', `/pod/v1/admin/messagesuppression/${requireBase64Id('messageId', messageId)}/suppress`, { idempotent: true });
  }

  /** The file extensions the pod accepts as attachments (GET /pod/v1/files/allowedTypes; OBO: SEND_MESSAGES). */
  allowedFileTypes(): Promise<string[]> {
    return this.call('GET', '/pod/v1/files/allowedTypes');
  }
}
