/**
 * The Object Store (`/object/v1`, docs/protocol.md §4): encrypted objects in partitions under unique sort keys,
 * immutable versions chained by `baseHash`/`prevHash` with optimistic concurrency, logical and physical deletion,
 * all-or-nothing transactions of at most 6 objects, and paging through a partition or an object's versions
 * (streamed from the database). Authorised by the Object Store bearer token (`/login/idm/tokens`) or the session
 * token, as Allegro falls back to. The store holds only ciphertext: `encryptedPayload` must be base64 of at least
 * 32 bytes and a clear `payload` is refused. Hashes are the client's (Allegro computes them over Canon JSON); the
 * sandbox keeps them as opaque ids. A partition that does not exist yet can be created only by its owner, the user
 * its hash names (./store/objects.ts): by an upsert, or by the owner's first write to it; anyone else gets 403.
 * A pod without the Object Store entitlement gets 403 "This feature is disabled for your pod." on every call
 * (enforced in server.ts before routing).
 */
import { OBJECT_STORE_DISABLED_MESSAGE } from '../../errors.js';
import { toBase64Url, tryFromBase64, fromUtf8, utf8 } from '../../util/bytes.js';
import { canonicalId, intQuery, optionalField, parseUserId, requireArray, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest, SandboxResponse } from '../http.js';
import { partitionHashOf, partitionOwnerOf, type ObjectRecord, type Partition } from '../store/objects.js';
import type { Tx } from '../store/transaction.js';
import type { User } from '../store/users.js';

/** The message of Symphony's entitlement refusal, verbatim. */
export const OBJECT_STORE_DISABLED = OBJECT_STORE_DISABLED_MESSAGE;
/** Most objects one transaction may write (25 DynamoDB items, 4 rows per object). */
export const MAX_TRANSACTION_OBJECTS = 6;

const STORED_TYPE = 'com.symphony.s2.model.object.StoredApplicationObject';
/** `_type` of a deletion (a logical tombstone, or a physical deletion's feed message). */
export const DELETED_TYPE = 'com.symphony.s2.model.object.DeletedApplicationObject';
const MIN_PAYLOAD_BYTES = 32;
const MAX_SORT_KEY = 1024;

function apiUser(ctx: SandboxContext, req: SandboxRequest): User {
  return ctx.bearerUser(req, ['api', 'session']);
}

/**
 * Whether `userId` may `need` in a partition (WRITE includes READ); a partition nobody has created is open for
 * reading (it is empty).
 */
export function permitted(partition: Partition | undefined, userId: number, need: 'READ' | 'WRITE'): boolean {
  if (partition === undefined) return need === 'READ';
  if (partition.owner === userId) return true;
  const granted = partition.permissions[String(userId)] ?? [];
  return granted.includes(need) || (need === 'READ' && granted.includes('WRITE'));
}

function requirePermission(ctx: SandboxContext, user: User, partitionHash: string, need: 'READ' | 'WRITE'): void {
  if (!permitted(ctx.store.objects.partition(partitionHash), user.id, need)) throw new HttpError(403, `No ${need} permission on this partition`);
}

/** An object version as the Object Store answers it: the stored body plus the server's fields. */
export function objectJson(o: ObjectRecord): Record<string, unknown> {
  return { ...o.body, absoluteHash: o.absoluteHash, baseHash: o.baseHash, version: o.version, createdDate: o.createdDate, owner: o.owner };
}

/** A write as other parts of the store see it: a version stored (a tombstone too), or an object purged. */
export type ObjectWrite = { kind: 'put'; object: ObjectRecord } | { kind: 'purge'; baseHash: string; partitionHash: string; sortKey: string };

/**
 * What else a write does in its transaction (routes/feeds.ts queues a message in every feed that subscribes to the
 * written partition). Runs inside the write closure, after the write.
 */
export type WriteHook = (tx: Tx, write: ObjectWrite, at: number) => void;

/**
 * One transaction's writes, applied in order inside one write closure: each write is checked against the database
 * as the earlier writes of the transaction left it, and a failure rolls all of them back.
 */
class Transaction {
  readonly #ctx: SandboxContext;
  readonly #tx: Tx;
  readonly #user: User;
  readonly #at: number;
  readonly #touched = new Set<string>();
  readonly #onWrite: WriteHook;

  constructor(ctx: SandboxContext, tx: Tx, user: User, at: number, onWrite: WriteHook) {
    this.#ctx = ctx;
    this.#tx = tx;
    this.#user = user;
    this.#at = at;
    this.#onWrite = onWrite;
  }

  /** Check and apply one write; returns what it answers (the stored version; for a physical delete, its summary). */
  apply(raw: unknown, pathHash: string | undefined): { stored: ObjectRecord } | { physical: string } {
    const body = requireObject(raw, 'object');
    const absoluteHash = pathHash ?? idField(body, 'absoluteHash');
    const type = optionalField(body, '_type', 'string') ?? STORED_TYPE;
    if (type === DELETED_TYPE) return this.#delete(body, absoluteHash);
    if (type !== STORED_TYPE) throw new HttpError(400, `Field "_type" must be ${STORED_TYPE} or ${DELETED_TYPE}`);
    if ('payload' in body) throw new HttpError(400, 'Field "payload" is not accepted: the Object Store holds only encryptedPayload');
    const partitionHash = idField(body, 'partitionHash');
    const sortKey = requiredField(body, 'sortKey', 'string');
    if (sortKey.length === 0 || sortKey.length > MAX_SORT_KEY) throw new HttpError(400, `Field "sortKey" must be 1 to ${MAX_SORT_KEY} characters`);
    idField(body, 'threadId');
    const rotationId = requiredField(body, 'rotationId', 'number');
    if (!Number.isSafeInteger(rotationId)) throw new HttpError(400, 'Field "rotationId" must be an integer');
    const payload = tryFromBase64(requiredField(body, 'encryptedPayload', 'string'));
    if (payload === undefined || payload.length < MIN_PAYLOAD_BYTES) throw new HttpError(400, `Field "encryptedPayload" must be base64 ciphertext of at least ${MIN_PAYLOAD_BYTES} bytes`);
    optionalField(body, 'header', 'object');
    this.#writable(partitionHash);
    const { objects } = this.#ctx.store;
    const baseField = optionalField(body, 'baseHash', 'string');
    let baseHash = absoluteHash;
    let version = 1;
    if (baseField !== undefined && canonicalId(baseField, 'baseHash') !== absoluteHash) {
      baseHash = canonicalId(baseField, 'baseHash');
      const current = objects.current(baseHash);
      if (current === undefined) throw new HttpError(404, 'No object has that baseHash');
      if (current.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
      const prevHash = optionalField(body, 'prevHash', 'string');
      if (prevHash === undefined || canonicalId(prevHash, 'prevHash') !== current.absoluteHash) {
        throw new HttpError(409, 'Conflict: prevHash is not the current version of this object (optimistic concurrency)');
      }
      if (current.partitionHash !== partitionHash) throw new HttpError(400, 'An update cannot move an object to another partition');
      version = current.version + 1;
    }
    this.#touch(baseHash);
    this.#newHash(absoluteHash);
    const holder = objects.liveHolder(partitionHash, sortKey);
    if (holder !== undefined && holder !== baseHash) throw new HttpError(409, 'Another object in this partition has that sort key');
    const stored: Record<string, unknown> = { ...body, _type: STORED_TYPE, partitionHash, baseHash };
    delete stored.absoluteHash;
    const object: ObjectRecord = { absoluteHash, baseHash, version, partitionHash, sortKey, owner: this.#user.id, createdDate: this.#at, body: stored };
    objects.put(this.#tx, object);
    this.#onWrite(this.#tx, { kind: 'put', object }, this.#at);
    return { stored: object };
  }

  #delete(body: Record<string, unknown>, absoluteHash: string): { stored: ObjectRecord } | { physical: string } {
    const { objects } = this.#ctx.store;
    const baseHash = idField(body, 'baseHash');
    const deletionType = requiredField(body, 'deletionType', 'string');
    if (deletionType !== 'LOGICAL' && deletionType !== 'PHYSICAL') throw new HttpError(400, 'Field "deletionType" must be LOGICAL or PHYSICAL');
    const current = objects.current(baseHash);
    if (current === undefined) throw new HttpError(404, 'No object has that baseHash');
    if (current.deletionType !== undefined && deletionType === 'LOGICAL') throw new HttpError(410, 'That object has already been deleted');
    const prevHash = optionalField(body, 'prevHash', 'string');
    if (prevHash !== undefined && canonicalId(prevHash, 'prevHash') !== current.absoluteHash) {
      throw new HttpError(409, 'Conflict: prevHash is not the current version of this object (optimistic concurrency)');
    }
    this.#writable(current.partitionHash);
    this.#touch(baseHash);
    if (deletionType === 'PHYSICAL') {
      objects.deletePhysically(this.#tx, baseHash);
      this.#onWrite(this.#tx, { kind: 'purge', baseHash, partitionHash: current.partitionHash, sortKey: current.sortKey }, this.#at);
      return { physical: baseHash };
    }
    this.#newHash(absoluteHash);
    const tombstone: ObjectRecord = {
      absoluteHash, baseHash, version: current.version + 1, partitionHash: current.partitionHash, sortKey: current.sortKey,
      owner: this.#user.id, createdDate: this.#at, deletionType: 'LOGICAL',
      body: { _type: DELETED_TYPE, baseHash, prevHash: current.absoluteHash, partitionHash: current.partitionHash, sortKey: current.sortKey, deletionType },
    };
    objects.put(this.#tx, tombstone);
    this.#onWrite(this.#tx, { kind: 'put', object: tombstone }, this.#at);
    return { stored: tombstone };
  }

  #touch(baseHash: string): void {
    if (this.#touched.has(baseHash)) throw new HttpError(400, 'A transaction may write each object only once');
    this.#touched.add(baseHash);
  }

  #newHash(hash: string): void {
    if (this.#ctx.store.objects.version(hash) !== undefined) throw new HttpError(409, 'An object with this absoluteHash already exists (objects are immutable)');
  }

  /** WRITE permission on a partition; a partition nobody has created yet is created for its owner's first write. */
  #writable(partitionHash: string): void {
    const partition = this.#ctx.store.objects.partition(partitionHash);
    if (partition !== undefined) {
      if (!permitted(partition, this.#user.id, 'WRITE')) throw new HttpError(403, 'No WRITE permission on this partition');
      return;
    }
    if (partitionOwnerOf(partitionHash) !== this.#user.id) {
      throw new HttpError(403, 'No such partition: only its owner can create it (with an upsert or a first write)');
    }
    this.#ctx.store.objects.setPartition(this.#tx, { hash: partitionHash, name: '', owner: this.#user.id, permissions: {} });
  }
}

/**
 * The `NamedUserIdObject` in `body[field]` (a partition's or a feed's id, docs/protocol.md §4.3): `name` of 1 to
 * 256 characters and `userId`, which defaults to the caller and must be the caller (403 otherwise: no squatting).
 */
export function callersNamedId(body: Record<string, unknown>, field: string, user: User): { name: string; owner: number } {
  const id = requireObject(requiredField(body, field, 'object'), field);
  const name = requiredField(id, 'name', 'string');
  if (name.length === 0 || name.length > 256) throw new HttpError(400, `Field "${field}.name" must be 1 to 256 characters`);
  const owner = id.userId === undefined ? user.id : parseUserId(id.userId, `${field}.userId`);
  if (owner !== user.id) throw new HttpError(403, `A ${field} must carry the caller's own user id`);
  return { name, owner };
}

function idField(o: Record<string, unknown>, name: string): string {
  return canonicalId(requiredField(o, name, 'string'), name);
}

function answerOf(written: { stored: ObjectRecord } | { physical: string }): Record<string, unknown> {
  return 'stored' in written ? objectJson(written.stored) : { baseHash: written.physical, deletionType: 'PHYSICAL' };
}

function cursor(value: string | number): string {
  return toBase64Url(utf8(String(value)));
}

function fromCursor(raw: string | null): string | undefined {
  if (raw === null || raw === '') return undefined;
  const bytes = raw.length <= 2800 ? tryFromBase64(raw) : undefined;
  if (bytes === undefined) throw new HttpError(400, 'Query parameter "after" is not a cursor this store returned');
  return fromUtf8(bytes);
}

/** The paging parameters of a listing. */
function paging(req: SandboxRequest): { limit: number; forwards: boolean; after: string | undefined } {
  return {
    limit: intQuery(req.query, 'limit', 100, 1, 1000),
    forwards: (req.query.get('scanForwards') ?? 'true') !== 'false',
    after: fromCursor(req.query.get('after')),
  };
}

/**
 * A page streamed as `{"data":[…],"pagination":{"cursors":{"before","after"},"next"?}}`: up to `limit` items, one
 * more read to know whether another page follows.
 */
function* pageStream(items: Iterable<ObjectRecord>, limit: number, keyOf: (o: ObjectRecord) => string | number, resumed: boolean): Generator<string> {
  let first: string | number | undefined;
  let last: string | number | undefined;
  let count = 0;
  let more = false;
  for (const o of items) {
    if (count === limit) {
      more = true;
      break;
    }
    yield `${count === 0 ? '{"data":[' : ','}${JSON.stringify(objectJson(o))}`;
    first ??= keyOf(o);
    last = keyOf(o);
    count++;
  }
  const after = more && last !== undefined ? cursor(last) : undefined;
  const pagination = { cursors: { before: resumed && first !== undefined ? cursor(first) : null, after: after ?? null }, ...(after === undefined ? {} : { next: after }) };
  yield `${count === 0 ? '{"data":[' : ''}],"pagination":${JSON.stringify(pagination)}}`;
}

function streamed(body: Generator<string>): SandboxResponse {
  return { stream: body, contentType: 'application/json' };
}

/** Register the Object Store routes; `onWrite` runs in the transaction of every write. */
export function objectRoutes(router: Router, ctx: SandboxContext, onWrite: WriteHook = () => {}): void {
  const { store } = ctx;
  router
    .add('PUT', '/object/v1/objects/:hash', async (req) => {
      const user = apiUser(ctx, req);
      const hash = canonicalId(req.params.hash!, 'hash');
      const written = await store.write((tx) => new Transaction(ctx, tx, user, Date.now(), onWrite).apply(req.json(), hash));
      return 'stored' in written ? { json: objectJson(written.stored) } : { status: 204 };
    }, { largeFields: ['encryptedPayload'] })
    .add('POST', '/object/v1/objects/transaction', async (req) => {
      const user = apiUser(ctx, req);
      const list = requireArray(req.json());
      if (list.length === 0) throw new HttpError(400, 'A transaction needs at least one object');
      if (list.length > MAX_TRANSACTION_OBJECTS) throw new HttpError(400, `A transaction may write at most ${MAX_TRANSACTION_OBJECTS} objects; nothing was written`);
      const written = await store.write((tx) => {
        const transaction = new Transaction(ctx, tx, user, Date.now(), onWrite);
        return list.map((item) => transaction.apply(item, undefined));
      });
      return { json: written.map(answerOf) };
    }, { largeFields: ['encryptedPayload'] })
    .add('GET', '/object/v1/objects/:hash/versions', (req) => {
      const user = apiUser(ctx, req);
      const baseHash = canonicalId(req.params.hash!, 'hash');
      const first = store.objects.versions(baseHash, undefined, true).next();
      if (first.done === true) throw new HttpError(404, 'No object has that baseHash');
      requirePermission(ctx, user, first.value.partitionHash, 'READ');
      const { limit, forwards, after } = paging(req);
      const from = after === undefined ? undefined : Number(after);
      if (from !== undefined && !Number.isSafeInteger(from)) throw new HttpError(400, 'Query parameter "after" is not a cursor this store returned');
      return streamed(pageStream(store.objects.versions(baseHash, from, forwards), limit, (o) => o.version, after !== undefined));
    })
    .add('GET', '/object/v1/objects/:hash', (req) => {
      const user = apiUser(ctx, req);
      const found = store.objects.version(canonicalId(req.params.hash!, 'hash'));
      if (found === undefined) throw new HttpError(404, 'No object has that hash');
      requirePermission(ctx, user, found.partitionHash, 'READ');
      const currentVersion = req.query.get('currentVersion') === 'true';
      const object = currentVersion ? store.objects.current(found.baseHash)! : found;
      if (object.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
      return { json: objectJson(object) };
    })
    .add('POST', '/object/v1/partitions/upsert', async (req) => {
      const user = apiUser(ctx, req);
      const body = requireObject(req.json());
      const { name, owner } = callersNamedId(body, 'partitionId', user);
      const permissions: Partition['permissions'] = {};
      const listed = optionalField(body, 'userPermissions', 'array');
      for (const [i, entry] of (listed ?? []).entries()) {
        const e = requireObject(entry, `userPermissions[${i}]`);
        const who = parseUserId(e.userId, `userPermissions[${i}].userId`);
        const granted = requiredField(e, 'permissions', 'array');
        if (granted.some((g) => g !== 'READ' && g !== 'WRITE')) throw new HttpError(400, `userPermissions[${i}].permissions may hold only READ and WRITE`);
        permissions[String(who)] = granted as Array<'READ' | 'WRITE'>;
      }
      const hash = await store.write((tx) => {
        // A partition migrated from a wave-1 data directory keeps the hash it had.
        const existing = store.objects.partition(partitionHashOf(name, owner)) ?? store.objects.partitionNamed(owner, name);
        const partition: Partition = {
          hash: existing?.hash ?? partitionHashOf(name, owner), name, owner,
          // Without userPermissions an upsert keeps the partition's grants; with them it replaces them.
          permissions: listed === undefined && existing !== undefined ? existing.permissions : permissions,
        };
        store.objects.setPartition(tx, partition);
        return partition.hash;
      });
      return { json: { id: { name, userId: owner }, hash } };
    })
    .add('GET', '/object/v1/partitions/:hash/page', (req) => {
      const user = apiUser(ctx, req);
      const partitionHash = canonicalId(req.params.hash!, 'hash');
      requirePermission(ctx, user, partitionHash, 'READ');
      const prefix = req.query.get('sortKeyPrefix') ?? '';
      const { limit, forwards, after } = paging(req);
      return streamed(pageStream(store.objects.live(partitionHash, prefix, after, forwards), limit, (o) => o.sortKey, after !== undefined));
    })
    .add('GET', '/object/v1/partitions/:hash/users', (req) => {
      const user = apiUser(ctx, req);
      const partition = store.objects.partition(canonicalId(req.params.hash!, 'hash'));
      if (partition === undefined) throw new HttpError(404, 'No such partition');
      if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, 'No READ permission on this partition');
      // The owner first, then the others by user id; the cursor is a position in that list.
      const others = Object.entries(partition.permissions).map(([id, p]) => ({ userId: Number(id), permissions: p }))
        .filter((u) => u.userId !== partition.owner && u.permissions.length > 0).sort((a, b) => a.userId - b.userId);
      const users = [{ userId: partition.owner, permissions: ['READ', 'WRITE'] }, ...others];
      const { limit, after } = paging(req);
      const start = after === undefined ? 0 : Number(after);
      if (!Number.isSafeInteger(start) || start < 0) throw new HttpError(400, 'Query parameter "after" is not a cursor this store returned');
      const data = users.slice(start, start + limit);
      const next = start + limit < users.length ? cursor(start + limit) : undefined;
      return { json: { data, pagination: { cursors: { before: start > 0 ? cursor(start) : null, after: next ?? null }, ...(next === undefined ? {} : { next }) } } };
    })
    .add('GET', '/object/v1/partitions/:hash', (req) => {
      const user = apiUser(ctx, req);
      const partition = store.objects.partition(canonicalId(req.params.hash!, 'hash'));
      if (partition === undefined) throw new HttpError(404, 'No such partition');
      if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, 'No READ permission on this partition');
      return { json: { id: { name: partition.name, userId: partition.owner }, hash: partition.hash } };
    })
    .add('GET', '/object/v1/partitions/:hash/:sortKey', (req) => {
      const user = apiUser(ctx, req);
      const partitionHash = canonicalId(req.params.hash!, 'hash');
      requirePermission(ctx, user, partitionHash, 'READ');
      const object = store.objects.bySortKey(partitionHash, req.params.sortKey!);
      if (object === undefined) throw new HttpError(404, 'No object has that sort key in this partition');
      if (object.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
      return { json: objectJson(object) };
    });
}
