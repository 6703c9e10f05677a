/**
 * The Object Store, for bots that keep encrypted state and apps that read thread objects (docs/protocol.md §4):
 * objects in partitions under sort keys, immutable versions with optimistic concurrency, logical and physical
 * deletion, paging through a partition or an object's versions (async iterators), all-or-nothing transactions.
 *
 * Payloads are encrypted here with the content key of the object's thread — the current rotation on write, the
 * rotation recorded with the object on read — in one of two formats:
 * - `envelope` (default, `ALLEGRO_TS_OBJECT_V1`): the protobuf envelope of store/envelope.ts, which binds pod,
 *   thread, rotation, partition, sort key and object type into the AEAD, derives a per-object key (HKDF) and
 *   commits to it;
 * - `allegro` (`RSA2048_AES256`): Allegro's Format B, so objects written by the Java client can be read and
 *   written (store/allegro-payload.ts).
 *
 * Partitions: made (or found) with `partition`, described with `getPartition`, their users and permissions paged
 * with `partitionUsers`, changed with `grant` and `revoke`. Feeds (store/feed.ts): `upsertFeed` subscribes a feed to
 * partitions, `deleteFeed` removes it; a {@link Feed} is read with `listen` or `for await`.
 *
 * Errors: a pod without the entitlement → {@link EntitlementError} (`ENTITLEMENT_DISABLED`) on every call; other
 * 403 → `FORBIDDEN`; 404 → `NOT_FOUND`; 410 → `GONE`; 409/412 → `CONFLICT`; a caller who is not a member of the
 * object's thread → `CONTENT_KEY_UNAVAILABLE` naming the thread.
 */
import { platform } from '#platform';
import { randomBytes } from '../crypto/random.js';
import { AllegroError, EntitlementError, HttpStatusError, InvalidArgumentError, MalformedCiphertextError, MalformedResponseError, OBJECT_STORE_DISABLED_MESSAGE } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { canonicalThreadId, type KeyStore } from '../keys/key-store.js';
import { fromUtf8, toBase64, toBase64Url, tryFromBase64, utf8 } from '../util/bytes.js';
import { describeValue, requireBase64Id, requireString } from '../util/validate.js';
import { openSource, toReadableStream, type ByteSource } from '../util/web-streams.js';
import { ALLEGRO_CIPHER_SUITE_ID, openAllegroPayload, sealAllegroPayload } from './allegro-payload.js';
import { ciphertextSize, decryptBlob, decryptRange, encryptBlob, type BlobContext } from './blob-format.js';
import { ENVELOPE_CIPHER_SUITE_ID, openObject, readObjectHeader, sealObject, type ObjectContext } from './envelope.js';
import { Feed, feedObjects, type FeedInfo, type FeedPartition, type FeedRequest } from './feed.js';

function requireNonEmpty(parameter: string, value: unknown): string {
  requireString(parameter, value);
  if (value.length === 0) throw new InvalidArgumentError(parameter, 'a non-empty string', 'an empty string');
  return value;
}

/** Most objects one transaction may write (the store's limit). */
export const MAX_TRANSACTION_OBJECTS = 6;

const STORED_TYPE = 'com.symphony.s2.model.object.StoredApplicationObject';
const DELETED_TYPE = 'com.symphony.s2.model.object.DeletedApplicationObject';

/** Payload format of an object. */
export type PayloadFormat = 'envelope' | 'allegro';

/** Identity of one version of an object. */
export interface ObjectRef {
  absoluteHash: string;
  baseHash: string;
  version: number;
  partition: string;
  sortKey: string;
  threadId: string;
  rotationId: bigint;
  objectType: string;
  /** The clear header (application-defined; visible to the store; never put secrets here). */
  header: Record<string, unknown>;
}

/** A fetched, decrypted object. */
export interface StoredObject extends ObjectRef {
  /** The decrypted payload. */
  payload: Uint8Array;
  owner: number;
  createdDate: number;
  /** The payload parsed as UTF-8 JSON. */
  json<T = unknown>(): T;
}

/** What to store. */
export interface PutObject {
  /** Partition hash (from {@link ObjectStoreClient.partition}). */
  partition: string;
  sortKey: string;
  /** The thread whose content key encrypts the payload. */
  threadId: string;
  /** Application type of the object; bound into the envelope. Default `object`. */
  objectType?: string;
  /** Clear header: never put secrets here. */
  header?: Record<string, unknown>;
  /** The payload: bytes, or any JSON value (encoded as UTF-8 JSON). */
  payload: Uint8Array | unknown;
  /** Default `envelope`. */
  format?: PayloadFormat;
}

/** One operation of a transaction. */
export type TransactionOp =
  | ({ op: 'put' } & PutObject)
  | { op: 'update'; current: ObjectRef; payload: Uint8Array | unknown; header?: Record<string, unknown>; sortKey?: string; format?: PayloadFormat }
  | { op: 'delete'; current: ObjectRef; deletionType: 'LOGICAL' | 'PHYSICAL' };

/**
 * Where a blob is and what decrypts it. The store keeps only ciphertext and no context, so the application keeps
 * this (in an object, a message, or as the string form {@link blobRefToString}).
 */
export interface BlobRef {
  blobId: string;
  threadId: string;
  rotationId: bigint;
  /** Plaintext size in bytes. */
  size: number;
}

/**
 * A blob being read back by {@link ObjectStoreClient.getBlob}: its plaintext, authenticated frame by frame, as an
 * async iterable (`content`) or as a web `ReadableStream` (`stream()`, e.g. for `new Response(stream)` or
 * `pipeTo`). Both read the same single download: use one of them, once.
 */
export interface BlobContent {
  /** Plaintext size in bytes (from the reference). */
  size: number;
  /** The plaintext, chunk by chunk; a frame that fails authentication is a `DECRYPTION_FAILED` error mid-stream. */
  content: AsyncIterable<Uint8Array>;
  /** The plaintext as a web `ReadableStream` (pulled on demand; cancelling it ends the download). */
  stream(): ReadableStream<Uint8Array>;
}

/** A blob reference as one URL-safe string (what `allegro blob put` prints). */
export function blobRefToString(ref: BlobRef): string {
  return toBase64Url(utf8(JSON.stringify({ b: ref.blobId, t: ref.threadId, r: ref.rotationId.toString(), s: ref.size })));
}

/**
 * Parse {@link blobRefToString} output.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for anything else.
 */
export function parseBlobRef(text: string): BlobRef {
  requireString('blobRef', text);
  try {
    const o = JSON.parse(fromUtf8(tryFromBase64(text) ?? new Uint8Array(0))) as { b?: unknown; t?: unknown; r?: unknown; s?: unknown };
    if (typeof o.b === 'string' && typeof o.t === 'string' && typeof o.r === 'string' && /^-?\d{1,19}$/.test(o.r) && typeof o.s === 'number' && Number.isSafeInteger(o.s)) {
      return { blobId: o.b, threadId: o.t, rotationId: BigInt(o.r), size: o.s };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError('blobRef', 'a blob reference printed by `allegro blob put` (blobRefToString)', describeValue(text));
}

/** An Object Store permission: READ (fetch, list, feeds), WRITE (store, update, delete; implies READ). */
export type Permission = 'READ' | 'WRITE';

/** A partition as the store describes it. */
export interface PartitionInfo {
  hash: string;
  name: string;
  /** The partition's owner, who alone changes its grants. */
  owner: number;
}

/** What one user may do in a partition. */
export interface UserPermissions {
  userId: number;
  permissions: Permission[];
}

/** What {@link ObjectStoreClient.upsertFeed} makes or finds. */
export interface UpsertFeed {
  /** The feed's name, 1–256 characters; with the owner (the bot) it names the feed. */
  name: string;
  /** The partitions to subscribe to: hashes, or hashes with a sort-key prefix. At least one. */
  partitions: ReadonlyArray<string | FeedPartition>;
  /** A feed unread for this long is deleted by the store: 60 s to 5 days (432,000 s). Default 5 days. */
  expirySeconds?: number;
}

/** What a feed saw happen to an object that was deleted. */
export interface ObjectDeletion {
  baseHash: string;
  /** The tombstone's hash (LOGICAL deletions). */
  absoluteHash?: string;
  partition: string;
  sortKey: string;
  deletionType: 'LOGICAL' | 'PHYSICAL';
}

/** What an Object Store feed message says happened: an object (or a version) written, or an object deleted. */
export type FeedChange =
  | {
    change: 'put';
    /** The object's clear fields. */
    ref: ObjectRef;
    /** The object, decrypted; absent when it cannot be (then `error` says why). */
    object?: StoredObject;
    /** Why the object cannot be decrypted (DECRYPTION_FAILED, CONTENT_KEY_UNAVAILABLE not-a-member, …). */
    error?: AllegroError;
  }
  | { change: 'delete'; deletion: ObjectDeletion };

/** An Object Store feed. */
export type ObjectFeed = Feed<FeedChange>;

/** Shortest feed expiry, in seconds. */
export const MIN_FEED_EXPIRY_SECONDS = 60;
/** Longest feed expiry, in seconds (5 days), and the default. */
export const MAX_FEED_EXPIRY_SECONDS = 5 * 24 * 3600;

/** What the client needs. */
export interface ObjectStoreClientOptions {
  http: HttpClient;
  /** Object Store base URL (the API host; `/object/v1/...` is appended). */
  baseUrl: string;
  auth: AuthHook;
  keys: KeyStore;
  podId: number;
  userId: number;
}

/** A payload as bytes: given as bytes, or any JSON value encoded as UTF-8 JSON (objects and records). */
export function payloadBytes(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  let text: string | undefined;
  try {
    text = JSON.stringify(payload) as string | undefined;
  } catch {
    // A bigint or a cycle somewhere inside: refused below like undefined.
  }
  if (text === undefined) throw new InvalidArgumentError('payload', 'bytes or a JSON value', describeValue(payload));
  return utf8(text);
}

function newHash(body: Record<string, unknown>): string {
  // Objects are immutable and named by a hash of their content (plus randomness, as the payload's IV already is).
  return toBase64Url(platform.sha256(utf8(JSON.stringify(body)), randomBytes(16)));
}

interface RawObject {
  absoluteHash: string;
  baseHash: string;
  version: number;
  partitionHash: string;
  sortKey: string;
  threadId: string;
  rotationId: number;
  cipherSuiteId?: string;
  encryptedPayload: string;
  header?: Record<string, unknown>;
  owner: number;
  createdDate: number;
}

interface Page<T = RawObject> {
  pagination?: { cursors?: { after?: string | null } };
  data?: T[];
}

interface RawPartition {
  id?: { name?: unknown; userId?: unknown };
  hash?: unknown;
}

interface RawFeed {
  id?: { name?: unknown; userId?: unknown };
  hash?: unknown;
  partitionSelections?: Array<{ partitionHash?: unknown; sortKeyPrefix?: unknown }>;
  expiryTime?: unknown;
}

const PERMISSIONS: readonly Permission[] = ['READ', 'WRITE'];

function requirePermissions(parameter: string, value: unknown): Permission[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((p) => !PERMISSIONS.includes(p as Permission))) {
    throw new InvalidArgumentError(parameter, '"READ", "WRITE" or a non-empty array of them', describeValue(value));
  }
  return list as Permission[];
}

function requireUserId(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  throw new InvalidArgumentError(parameter, 'a user id (a positive integer)', describeValue(value));
}

/** The Object Store of one bot. */
export class ObjectStoreClient {
  readonly #o: ObjectStoreClientOptions;
  readonly #consuming = new Set<ObjectFeed>();

  /** @internal Made by AllegroClient. */
  constructor(options: ObjectStoreClientOptions) {
    this.#o = options;
  }

  #call<T>(method: string, path: string, routePath: string, extra: { json?: unknown; idempotent?: boolean; onRetry?: () => void } = {}): Promise<T> {
    const route = `${method} ${routePath}`;
    return this.#mapEntitlement(route, () => this.#o.http.request<T>({ method, url: `${this.#o.baseUrl}${path}`, route, auth: this.#o.auth, ...extra }));
  }

  /**
   * PUT one write — a new object, a new version, or a deletion — under its absolute hash. Writes are retried after a
   * lost answer (a PUT is idempotent), and the retry of a write that did succeed meets the store's refusal of a
   * duplicate: 409 (that hash exists, or `prevHash` is no longer the latest version), or for a deletion 410 (already
   * deleted logically) or 404 (already deleted physically). After a retry, such an answer is checked against what the
   * store holds: if the write at `hash` is there with the content sent, it succeeded and is reported so; otherwise
   * the store's error stands (docs/errors.md, "Retries").
   */
  async #write(hash: string, body: Record<string, unknown>): Promise<RawObject | undefined> {
    let retried = false;
    try {
      return await this.#call<RawObject | undefined>('PUT', `/object/v1/objects/${hash}`, '/object/v1/objects/{hash}', { json: body, onRetry: () => { retried = true; } });
    } catch (err) {
      if (!retried || !(err instanceof HttpStatusError) || ![404, 409, 410].includes(err.status)) throw err;
      const landed = body._type === DELETED_TYPE ? await this.#deletionLanded(hash, body, err.status) : await this.#versionLanded(hash, body, err.status);
      if (landed === false) throw err;
      return landed;
    }
  }

  /** Whether the object version `body` is stored at `hash` (the raw object if so; false if not, or unknown). */
  async #versionLanded(hash: string, body: Record<string, unknown>, status: number): Promise<RawObject | false> {
    if (status !== 409) return false;
    const stored = await this.#call<RawObject>('GET', `/object/v1/objects/${hash}?currentVersion=false`, '/object/v1/objects/{hash}').catch(() => undefined);
    if (stored === undefined) return false;
    const fields = ['partitionHash', 'sortKey', 'threadId', 'rotationId', 'encryptedPayload', ...(body.baseHash === undefined ? [] : ['baseHash'])] as const;
    const same = stored.absoluteHash === hash && fields.every((f) => (stored as unknown as Record<string, unknown>)[f] === body[f]);
    return same ? stored : false;
  }

  /** Whether the deletion `body` took effect: its tombstone is the object's latest version, or (physical) the object is gone. */
  async #deletionLanded(hash: string, body: Record<string, unknown>, status: number): Promise<undefined | false> {
    const baseHash = String(body.baseHash);
    const latest = await this.#call<Page>('GET', `/object/v1/objects/${baseHash}/versions?limit=1&scanForwards=false`, '/object/v1/objects/{hash}/versions').then(
      (page) => page.data?.[0] ?? null,
      (err: unknown) => (err instanceof HttpStatusError && err.status === 404 ? null : undefined),
    );
    if (body.deletionType === 'PHYSICAL') return status === 404 && latest === null ? undefined : false;
    const tombstone = latest as (RawObject & { prevHash?: unknown; deletionType?: unknown }) | null | undefined;
    return tombstone?.absoluteHash === hash && tombstone.prevHash === body.prevHash && tombstone.deletionType === 'LOGICAL' ? undefined : false;
  }

  /**
   * Create a partition owned by the bot, or find it; returns its hash. With `access`, the partition's grants become
   * exactly `readers` (READ) and `writers` (READ and WRITE); without it, existing grants are kept.
   */
  async partition(name: string, access?: { readers?: number[]; writers?: number[] }): Promise<string> {
    requireString('name', name);
    const userPermissions = access === undefined ? undefined : [
      ...(access.readers ?? []).map((userId) => ({ userId, permissions: ['READ'] })),
      ...(access.writers ?? []).map((userId) => ({ userId, permissions: ['READ', 'WRITE'] })),
    ];
    const reply = await this.#call<{ hash: string }>('POST', '/object/v1/partitions/upsert', '/object/v1/partitions/upsert', {
      json: { partitionId: { name, userId: this.#o.userId }, ...(userPermissions === undefined ? {} : { userPermissions }) }, idempotent: true,
    });
    return reply.hash;
  }

  async #encrypt(threadId: string, partition: string, sortKey: string, objectType: string, payload: Uint8Array, format: PayloadFormat) {
    const { key, rotationId } = await this.#o.keys.currentContentKey(threadId);
    const ctx: ObjectContext = { podId: this.#o.podId, threadId, rotationId, partition, sortKey, objectType };
    const sealed = format === 'allegro' ? await sealAllegroPayload(key, payload) : await sealObject(key, ctx, payload);
    return { rotationId, encryptedPayload: toBase64(sealed), cipherSuiteId: format === 'allegro' ? ALLEGRO_CIPHER_SUITE_ID : ENVELOPE_CIPHER_SUITE_ID };
  }

  async #body(put: PutObject, previous?: ObjectRef): Promise<Record<string, unknown>> {
    if (typeof put !== 'object' || put === null) throw new InvalidArgumentError('object', 'an object description', describeValue(put));
    requireString('partition', put.partition);
    requireString('sortKey', put.sortKey);
    if (put.sortKey.length === 0) throw new InvalidArgumentError('sortKey', 'a non-empty string', 'an empty string');
    const threadId = canonicalThreadId(put.threadId);
    const objectType = put.objectType ?? 'object';
    const sealed = await this.#encrypt(threadId, put.partition, put.sortKey, objectType, payloadBytes(put.payload), put.format ?? 'envelope');
    const body: Record<string, unknown> = {
      _type: STORED_TYPE, hashType: 1, partitionHash: put.partition, sortKey: put.sortKey, threadId, rotationId: Number(sealed.rotationId),
      cipherSuiteId: sealed.cipherSuiteId, encryptedPayload: sealed.encryptedPayload, header: { ...(put.header ?? {}), objectType },
    };
    if (previous !== undefined) {
      body.baseHash = previous.baseHash;
      body.prevHash = previous.absoluteHash;
      body.prevSortKey = previous.sortKey;
    }
    return body;
  }

  #ref(raw: RawObject): ObjectRef {
    const { objectType, ...header } = raw.header ?? {};
    return {
      absoluteHash: raw.absoluteHash, baseHash: raw.baseHash, version: raw.version, partition: raw.partitionHash, sortKey: raw.sortKey,
      threadId: raw.threadId, rotationId: BigInt(raw.rotationId), objectType: String(objectType ?? 'object'), header,
    };
  }

  /**
   * Store a new object. A live object with the same sort key in the partition → `CONFLICT`. A retry after a lost
   * answer reports the write that succeeded, not a `CONFLICT` with itself.
   */
  async put(object: PutObject): Promise<ObjectRef> {
    const body = await this.#body(object);
    return this.#ref((await this.#write(newHash(body), body))!);
  }

  /**
   * Store a new version of `current`. Fails with `CONFLICT` (writing nothing) if `current` is no longer the latest
   * version — someone else updated the object since it was read.
   */
  async update(current: ObjectRef, change: { payload: Uint8Array | unknown; header?: Record<string, unknown>; sortKey?: string; format?: PayloadFormat }): Promise<ObjectRef> {
    const body = await this.#body({
      partition: current.partition, sortKey: change.sortKey ?? current.sortKey, threadId: current.threadId, objectType: current.objectType,
      payload: change.payload, header: change.header ?? current.header, ...(change.format === undefined ? {} : { format: change.format }),
    }, current);
    return this.#ref((await this.#write(newHash(body), body))!);
  }

  /** Delete an object: LOGICAL keeps history and answers 410 afterwards; PHYSICAL removes every version. */
  async delete(current: ObjectRef, deletionType: 'LOGICAL' | 'PHYSICAL' = 'LOGICAL'): Promise<void> {
    const body = { _type: DELETED_TYPE, baseHash: current.baseHash, prevHash: current.absoluteHash, deletionType };
    await this.#write(newHash(body), body);
  }

  /** Fetch an object by hash: that version, or with `current` the latest version of its series. */
  async get(hash: string, options: { current?: boolean } = {}): Promise<StoredObject> {
    const raw = await this.#call<RawObject>('GET', `/object/v1/objects/${requireBase64Id('hash', hash)}?currentVersion=${options.current === true}`, '/object/v1/objects/{hash}');
    return this.#decrypt(raw);
  }

  /** Fetch the current object with `sortKey` in `partition`. */
  async getBySortKey(partition: string, sortKey: string): Promise<StoredObject> {
    const raw = await this.#call<RawObject>('GET', `/object/v1/partitions/${encodeURIComponent(partition)}/${encodeURIComponent(sortKey)}`, '/object/v1/partitions/{hash}/{sortKey}');
    return this.#decrypt(raw);
  }

  /** Every current object of a partition in sort-key order, page by page. */
  async *list(partition: string, options: { sortKeyPrefix?: string; scanForwards?: boolean; pageSize?: number } = {}): AsyncGenerator<StoredObject> {
    const base = `/object/v1/partitions/${encodeURIComponent(partition)}/page?limit=${options.pageSize ?? 100}&scanForwards=${options.scanForwards ?? true}` +
      (options.sortKeyPrefix === undefined ? '' : `&sortKeyPrefix=${encodeURIComponent(options.sortKeyPrefix)}`);
    yield* this.#pages(base, '/object/v1/partitions/{hash}/page');
  }

  /** Every version of an object, oldest first (or newest first with scanForwards false). */
  async *versions(baseHash: string, options: { scanForwards?: boolean; pageSize?: number } = {}): AsyncGenerator<StoredObject> {
    const base = `/object/v1/objects/${requireBase64Id('baseHash', baseHash)}/versions?limit=${options.pageSize ?? 100}&scanForwards=${options.scanForwards ?? true}`;
    yield* this.#pages(base, '/object/v1/objects/{hash}/versions');
  }

  async *#pages(base: string, route: string): AsyncGenerator<StoredObject> {
    for await (const raw of this.#pageItems<RawObject>(base, route)) yield await this.#decrypt(raw);
  }

  /** The items of every page of `base` (which has a query string), following the `after` cursors. */
  async *#pageItems<T>(base: string, route: string): AsyncGenerator<T> {
    let after: string | undefined;
    do {
      const page = await this.#call<Page<T>>('GET', after === undefined ? base : `${base}&after=${encodeURIComponent(after)}`, route);
      yield* page.data ?? [];
      after = page.pagination?.cursors?.after ?? undefined;
    } while (after !== undefined);
  }

  /**
   * A partition's name and owner.
   * @throws HttpStatusError `NOT_FOUND` for no such partition, `FORBIDDEN` without READ permission on it.
   */
  async getPartition(hash: string): Promise<PartitionInfo> {
    const route = '/object/v1/partitions/{hash}';
    const raw = await this.#call<RawPartition>('GET', `/object/v1/partitions/${encodeURIComponent(requireNonEmpty('hash', hash))}`, route);
    const owner = raw.id?.userId;
    if (typeof raw.hash !== 'string' || typeof raw.id?.name !== 'string' || typeof owner !== 'number') throw new MalformedResponseError(`GET ${route}`, 'a partition without hash, id.name or id.userId');
    return { hash: raw.hash, name: raw.id.name, owner };
  }

  /** Who may use a partition, page by page: its owner first (READ and WRITE), then every user granted something. */
  async *partitionUsers(hash: string, options: { pageSize?: number } = {}): AsyncGenerator<UserPermissions> {
    const base = `/object/v1/partitions/${encodeURIComponent(requireNonEmpty('hash', hash))}/users?limit=${options.pageSize ?? 100}`;
    for await (const raw of this.#pageItems<{ userId?: unknown; permissions?: unknown }>(base, '/object/v1/partitions/{hash}/users')) {
      const userId = Number(raw.userId);
      if (!Number.isSafeInteger(userId) || !Array.isArray(raw.permissions)) throw new MalformedResponseError('GET /object/v1/partitions/{hash}/users', 'an entry without userId or permissions');
      yield { userId, permissions: raw.permissions.filter((p): p is Permission => PERMISSIONS.includes(p as Permission)) };
    }
  }

  /**
   * Give `userId` permissions on a partition the bot owns (WRITE includes READ); what the user had is kept.
   *
   * The Object Store changes grants only by replacing them all (`POST /object/v1/partitions/upsert`), so this reads
   * the partition's users and writes them back with the change: two changes to one partition's grants made at the
   * same time (by two processes of the owner) can lose one. Make them from one place.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a partition another user owns (`partition`), bad
   *   permissions or user id; HttpStatusError as {@link getPartition}.
   */
  async grant(partition: string, userId: number, permissions: Permission | readonly Permission[]): Promise<void> {
    const adding = requirePermissions('permissions', permissions);
    await this.#changeGrants(partition, requireUserId('userId', userId), (had) => new Set([...had, ...adding, ...(adding.includes('WRITE') ? ['READ' as const] : [])]));
  }

  /**
   * Take permissions away from `userId` on a partition the bot owns; by default both. Taking READ takes WRITE too
   * (there is no writing without reading). Same caveat as {@link grant}.
   */
  async revoke(partition: string, userId: number, permissions: Permission | readonly Permission[] = PERMISSIONS): Promise<void> {
    const removing = requirePermissions('permissions', permissions);
    await this.#changeGrants(partition, requireUserId('userId', userId), (had) => {
      const left = new Set(had);
      for (const p of removing) left.delete(p);
      if (removing.includes('READ')) left.delete('WRITE');
      return left;
    });
  }

  async #changeGrants(partition: string, userId: number, change: (had: ReadonlySet<Permission>) => Set<Permission>): Promise<void> {
    const info = await this.getPartition(partition);
    if (info.owner !== this.#o.userId) {
      throw new InvalidArgumentError('partition', 'a partition this bot owns (only the owner changes grants)', `a partition of user ${info.owner}`);
    }
    if (userId === info.owner) throw new InvalidArgumentError('userId', 'a user other than the partition\'s owner, who always has READ and WRITE', `the owner ${userId}`);
    const grants = new Map<number, Set<Permission>>();
    for await (const u of this.partitionUsers(info.hash)) if (u.userId !== info.owner) grants.set(u.userId, new Set(u.permissions));
    const next = change(grants.get(userId) ?? new Set());
    if (next.size === 0) grants.delete(userId);
    else grants.set(userId, next);
    const userPermissions = [...grants].map(([id, p]) => ({ userId: id, permissions: PERMISSIONS.filter((x) => p.has(x)) }));
    await this.#call('POST', '/object/v1/partitions/upsert', '/object/v1/partitions/upsert', {
      json: { partitionId: { name: info.name, userId: info.owner }, userPermissions }, idempotent: true,
    });
  }

  /**
   * Create a feed owned by the bot, or find it and set its subscriptions and expiry (idempotent): from now on it
   * receives a message for every object created, updated or deleted in `partitions` (the bot needs READ on each).
   * Read it with `listen` or `for await`; a feed left unread for `expirySeconds` is deleted by the store.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the field; HttpStatusError `FORBIDDEN` without READ on
   *   a partition.
   */
  async upsertFeed(spec: UpsertFeed): Promise<ObjectFeed> {
    if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError('spec', 'an UpsertFeed', describeValue(spec));
    requireNonEmpty('name', spec.name);
    if (spec.name.length > 256) throw new InvalidArgumentError('name', 'at most 256 characters', describeValue(spec.name));
    if (!Array.isArray(spec.partitions) || spec.partitions.length === 0) throw new InvalidArgumentError('partitions', 'a non-empty array of partition hashes or { partition, sortKeyPrefix }', describeValue(spec.partitions));
    const partitionSelections = (spec.partitions as ReadonlyArray<unknown>).map((p, i) => {
      const selection = typeof p === 'string' ? { partition: p } : p as FeedPartition;
      if (typeof selection !== 'object' || selection === null) throw new InvalidArgumentError(`partitions[${i}]`, 'a partition hash or { partition, sortKeyPrefix }', describeValue(p));
      requireNonEmpty(`partitions[${i}].partition`, selection.partition);
      if (selection.sortKeyPrefix !== undefined) requireString(`partitions[${i}].sortKeyPrefix`, selection.sortKeyPrefix);
      return { partitionHash: selection.partition, ...(selection.sortKeyPrefix === undefined || selection.sortKeyPrefix === '' ? {} : { sortKeyPrefix: selection.sortKeyPrefix }) };
    });
    const expirySeconds = spec.expirySeconds ?? MAX_FEED_EXPIRY_SECONDS;
    if (!Number.isInteger(expirySeconds) || expirySeconds < MIN_FEED_EXPIRY_SECONDS || expirySeconds > MAX_FEED_EXPIRY_SECONDS) {
      throw new InvalidArgumentError('expirySeconds', `an integer from ${MIN_FEED_EXPIRY_SECONDS} to ${MAX_FEED_EXPIRY_SECONDS}`, describeValue(spec.expirySeconds));
    }
    const route = '/object/v1/feeds/upsert';
    // Allegro sends the expiry as a duration in milliseconds (docs/protocol.md §4.6).
    const raw = await this.#call<RawFeed>('POST', route, route, {
      json: { feedId: { name: spec.name, userId: this.#o.userId }, partitionSelections, expiryTime: expirySeconds * 1000 }, idempotent: true,
    });
    return this.#feed(this.#feedInfo(`POST ${route}`, raw));
  }

  #feedInfo(route: string, raw: RawFeed): FeedInfo {
    const owner = raw.id?.userId;
    if (typeof raw.hash !== 'string' || typeof raw.id?.name !== 'string' || typeof owner !== 'number' || !Array.isArray(raw.partitionSelections) || typeof raw.expiryTime !== 'number') {
      throw new MalformedResponseError(route, 'a feed without hash, id, partitionSelections or expiryTime');
    }
    const partitions = raw.partitionSelections.map((p) => ({
      partition: String(p.partitionHash), ...(typeof p.sortKeyPrefix === 'string' && p.sortKeyPrefix !== '' ? { sortKeyPrefix: p.sortKeyPrefix } : {}),
    }));
    return { hash: raw.hash, name: raw.id.name, owner, partitions, expirySeconds: Math.round(raw.expiryTime / 1000) };
  }

  #feed(info: FeedInfo): ObjectFeed {
    const route = 'POST /object/v1/feeds/{hash}/objects';
    return new Feed<FeedChange>({
      info,
      request: async (body: FeedRequest, signal, timeoutMs) => feedObjects(route, await this.#mapEntitlement(route, () => this.#o.http.request<unknown>({
        method: 'POST', url: `${this.#o.baseUrl}/object/v1/feeds/${encodeURIComponent(info.hash)}/objects`, route, auth: this.#o.auth, json: body,
        // A read repeated after a lost answer leaves its messages invisible until their timeout, then they come back;
        // deletes and extends of a receipt handle are idempotent.
        idempotent: true, timeoutMs, ...(signal === undefined ? {} : { signal }),
      }))),
      decode: (payload, signal) => this.#feedChange(payload, signal),
      onRunning: (feed, running) => {
        if (running) this.#consuming.add(feed);
        else this.#consuming.delete(feed);
      },
    });
  }

  /** The object (decrypted) or deletion a feed message carries. Throws for what may pass (retried), or is no object. */
  async #feedChange(payload: unknown, signal: AbortSignal): Promise<FeedChange> {
    let raw = payload;
    if (typeof raw === 'string') {
      try {
        raw = JSON.parse(raw) as unknown;
      } catch {
        raw = undefined;
      }
    }
    const route = 'POST /object/v1/feeds/{hash}/objects';
    if (typeof raw !== 'object' || raw === null) throw new MalformedResponseError(route, 'a feed message whose payload is not an object');
    const o = raw as Record<string, unknown>;
    if (o._type === DELETED_TYPE) {
      const deletionType = o.deletionType === 'PHYSICAL' ? 'PHYSICAL' : 'LOGICAL';
      const deletion: ObjectDeletion = { baseHash: String(o.baseHash), partition: String(o.partitionHash), sortKey: String(o.sortKey), deletionType };
      if (typeof o.absoluteHash === 'string') deletion.absoluteHash = o.absoluteHash;
      return { change: 'delete', deletion };
    }
    if (typeof o.absoluteHash !== 'string' || typeof o.partitionHash !== 'string' || typeof o.threadId !== 'string') {
      throw new MalformedResponseError(route, 'a feed message whose payload is neither an object nor a deletion');
    }
    const object = o as unknown as RawObject;
    const ref = this.#ref(object);
    try {
      return { change: 'put', ref, object: await this.#decrypt(object, signal) };
    } catch (err) {
      // A failure that may pass (a Key Manager outage) is retried; one that will not reaches the handler.
      if (err instanceof AllegroError && !err.retryable) return { change: 'put', ref, error: err };
      throw err;
    }
  }

  /**
   * Delete a feed (by its {@link Feed} or hash): its messages go with it, and its consumers end with `NOT_FOUND`.
   * A retry after a lost answer that finds the feed gone reports success.
   * @throws HttpStatusError `NOT_FOUND` for no such feed.
   */
  async deleteFeed(feed: ObjectFeed | string): Promise<void> {
    const hash = typeof feed === 'string' ? requireNonEmpty('feed', feed) : feed instanceof Feed ? feed.hash : requireNonEmpty('feed', feed);
    let retried = false;
    try {
      await this.#call('DELETE', `/object/v1/feeds/${encodeURIComponent(hash)}`, '/object/v1/feeds/{hash}', { onRetry: () => { retried = true; } });
    } catch (err) {
      if (!(retried && err instanceof HttpStatusError && err.status === 404)) throw err;
    }
  }

  /** @internal Stop every feed consumer of this client and wait for them to end (AllegroClient.close). */
  async stopFeeds(): Promise<void> {
    await Promise.all([...this.#consuming].map((feed) => feed.stop()));
  }

  /**
   * Write several objects all or nothing. More than {@link MAX_TRANSACTION_OBJECTS} → InvalidArgumentError before
   * anything is sent; a conflict on any of them → `CONFLICT` and nothing written.
   */
  async transaction(ops: readonly TransactionOp[]): Promise<ObjectRef[]> {
    if (!Array.isArray(ops) || ops.length === 0 || ops.length > MAX_TRANSACTION_OBJECTS) {
      throw new InvalidArgumentError('ops', `an array of 1 to ${MAX_TRANSACTION_OBJECTS} operations (the Object Store's limit)`, describeValue(ops));
    }
    const bodies: Record<string, unknown>[] = [];
    for (const op of ops) {
      let body: Record<string, unknown>;
      if (op.op === 'put') body = await this.#body(op);
      else if (op.op === 'update') {
        body = await this.#body({
          partition: op.current.partition, sortKey: op.sortKey ?? op.current.sortKey, threadId: op.current.threadId, objectType: op.current.objectType,
          payload: op.payload, header: op.header ?? op.current.header, ...(op.format === undefined ? {} : { format: op.format }),
        }, op.current);
      } else body = { _type: DELETED_TYPE, baseHash: op.current.baseHash, prevHash: op.current.absoluteHash, deletionType: op.deletionType };
      bodies.push({ ...body, absoluteHash: newHash(body) });
    }
    const written = await this.#call<Array<RawObject | { deletionType: string }>>('POST', '/object/v1/objects/transaction', '/object/v1/objects/transaction', { json: bodies });
    return written.filter((w): w is RawObject => 'absoluteHash' in w && (w as RawObject).encryptedPayload !== undefined).map((w) => this.#ref(w));
  }

  #blobContext(ref: Pick<BlobRef, 'blobId' | 'threadId' | 'rotationId'>): BlobContext {
    return { podId: this.#o.podId, threadId: canonicalThreadId(ref.threadId), rotationId: ref.rotationId, blobId: ref.blobId };
  }

  #blobPath(blobId: string): string {
    return `/object/v1/blobs/${encodeURIComponent(blobId)}`;
  }

  async #mapEntitlement<T>(route: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 403 && err.serverMessage === OBJECT_STORE_DISABLED_MESSAGE) throw new EntitlementError(route, err);
      throw err;
    }
  }

  /**
   * Stream a large payload into the store, encrypted in 64 KiB frames (store/blob-format.ts) with the thread's
   * current content key, in constant memory. `size` (plaintext bytes), when known, is sent as Content-Length (a
   * `Blob` source gives its own). In a browser the encrypted body is collected before it is sent (fetch streams
   * request bodies over HTTP/2 only, and not in every browser: docs/architecture.md "Browsers").
   * @returns the blob's reference; keep it to read the blob back.
   * @param input the plaintext: an async iterable or iterable of `Uint8Array` chunks (a Node stream, a generator), a
   *   web `ReadableStream` (a `Response` body, `file.stream()`), or a `Blob` (a `File` from `<input type="file">`),
   *   whose size is then sent unless `size` says otherwise.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a source that is none of these.
   */
  async putBlob(input: ByteSource | Blob, options: { threadId: string; size?: number; onProgress?: (bytes: number) => void; signal?: AbortSignal }): Promise<BlobRef & { ref: string }> {
    const threadId = canonicalThreadId(options.threadId);
    const isBlob = typeof Blob !== 'undefined' && input instanceof Blob;
    const knownSize = options.size ?? (isBlob ? input.size : undefined);
    const source = openSource(isBlob ? input.stream() : input as ByteSource);
    try {
      const { key, rotationId } = await this.#o.keys.currentContentKey(threadId, options.signal);
      const blobId = toBase64Url(randomBytes(18));
      let size = 0;
      const onProgress = options.onProgress;
      async function* counted(): AsyncGenerator<Uint8Array> {
        // Chunks are checked by encryptBlob, which refuses anything but Uint8Arrays.
        for await (const chunk of source.chunks as AsyncIterable<Uint8Array>) {
          size += chunk.length;
          onProgress?.(chunk.length);
          yield chunk;
        }
      }
      const route = 'PUT /object/v1/blobs/{id}';
      // Uploads cannot be replayed after a 401, so make sure the bearer token is fresh first.
      await this.#o.auth.headers();
      await this.#mapEntitlement(route, () => this.#o.http.upload({
        method: 'PUT', url: `${this.#o.baseUrl}${this.#blobPath(blobId)}`, route, auth: this.#o.auth,
        body: encryptBlob(key, this.#blobContext({ blobId, threadId, rotationId }), counted()),
        ...(knownSize === undefined ? {} : { contentLength: ciphertextSize(knownSize) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }));
      const ref: BlobRef = { blobId, threadId, rotationId, size };
      return { ...ref, ref: blobRefToString(ref) };
    } finally {
      await source.close();
    }
  }

  /** Stream a blob back, decrypting and authenticating each frame: as an async iterable or a web `ReadableStream`. */
  async getBlob(ref: BlobRef | string, options: { signal?: AbortSignal } = {}): Promise<BlobContent> {
    const blob = typeof ref === 'string' ? parseBlobRef(ref) : ref;
    const key = await this.#o.keys.contentKey(blob.threadId, blob.rotationId, options.signal);
    const route = 'GET /object/v1/blobs/{id}';
    const response = await this.#mapEntitlement(route, () => this.#o.http.download({
      method: 'GET', url: `${this.#o.baseUrl}${this.#blobPath(blob.blobId)}`, route, auth: this.#o.auth,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }));
    const content = decryptBlob(key, this.#blobContext(blob), response.body);
    return { size: blob.size, content, stream: () => toReadableStream(content) };
  }

  /**
   * Decrypt bytes [start, end) of a blob, fetching only the frames that hold them (HTTP range requests).
   * @throws MalformedResponseError (`MALFORMED_RESPONSE`) when the store answers a range request with another status
   *   than 206, or with more or fewer bytes than the range.
   */
  async getBlobRange(ref: BlobRef | string, start: number, endExclusive: number): Promise<Uint8Array> {
    const blob = typeof ref === 'string' ? parseBlobRef(ref) : ref;
    const key = await this.#o.keys.contentKey(blob.threadId, blob.rotationId);
    const route = 'GET /object/v1/blobs/{id}';
    const read = (offset: number, length: number) => this.#mapEntitlement(route, async () => {
      const response = await this.#o.http.download({
        method: 'GET', url: `${this.#o.baseUrl}${this.#blobPath(blob.blobId)}`, route, auth: this.#o.auth,
        headers: { range: `bytes=${offset}-${offset + length - 1}` },
      });
      if (response.status !== 206) {
        response.cancel();
        throw new MalformedResponseError(route, `the store answered ${response.status} instead of 206 to a range request`);
      }
      const out = new Uint8Array(length);
      let at = 0;
      for await (const chunk of response.body) {
        // Leaving the loop by throwing closes the connection, so the rest of an oversized answer is not read.
        if (chunk.length > length - at) throw new MalformedResponseError(route, `the store sent more than the ${length} bytes of the range it was asked for`);
        out.set(chunk, at);
        at += chunk.length;
      }
      if (at !== length) throw new MalformedResponseError(route, `the store sent ${at} of the ${length} bytes of the range it was asked for`);
      return out;
    });
    return decryptRange(key, this.#blobContext(blob), read, ciphertextSize(blob.size), start, endExclusive);
  }

  /** Delete a blob. */
  async deleteBlob(ref: BlobRef | string): Promise<void> {
    const blob = typeof ref === 'string' ? parseBlobRef(ref) : ref;
    await this.#call('DELETE', this.#blobPath(blob.blobId), '/object/v1/blobs/{id}', { idempotent: true });
  }

  async #decrypt(raw: RawObject, signal?: AbortSignal): Promise<StoredObject> {
    const ref = this.#ref(raw);
    const sealed = tryFromBase64(raw.encryptedPayload ?? '');
    if (sealed === undefined) throw new MalformedCiphertextError('object payload', 'encryptedPayload is not base64');
    let payload: Uint8Array;
    if (raw.cipherSuiteId === ENVELOPE_CIPHER_SUITE_ID) {
      const header = readObjectHeader(sealed);
      const key = await this.#o.keys.contentKey(ref.threadId, header.rotationId, signal);
      payload = await openObject(key, {
        podId: this.#o.podId, threadId: canonicalThreadId(ref.threadId), rotationId: ref.rotationId, partition: ref.partition, sortKey: ref.sortKey, objectType: ref.objectType,
      }, sealed);
    } else {
      // Allegro's Format B (cipherSuiteId RSA2048_AES256, or absent as in older objects): the key of (thread, rotation).
      payload = await openAllegroPayload(await this.#o.keys.contentKey(ref.threadId, ref.rotationId, signal), sealed);
    }
    return { ...ref, payload, owner: raw.owner, createdDate: raw.createdDate, json: <T>() => JSON.parse(fromUtf8(payload)) as T };
  }
}

