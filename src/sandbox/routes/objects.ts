/**
 * The Object Store (`/object/v1`, docs/protocol.md §4): encrypted objects in partitions under unique sort keys,
 * immutable versions chained by `baseHash`/`prevHash` with optimistic concurrency, logical and physical deletion,
 * all-or-nothing transactions of at most 6 objects, and paging through a partition or an object's versions.
 * Authorised by the Object Store bearer token (`/login/idm/tokens`) or the session token, as Allegro falls back to.
 * The store holds only ciphertext: `encryptedPayload` must be base64 of at least 32 bytes and a clear `payload` is
 * refused. Hashes are the client's (Allegro computes them over Canon JSON); the sandbox keeps them as opaque ids.
 * A pod without the Object Store entitlement gets 403 "This feature is disabled for your pod." on every call
 * (enforced in server.ts before routing).
 */
import { createHash } from 'node:crypto';
import { OBJECT_STORE_DISABLED_MESSAGE } from '../../errors.js';
import { toBase64Url, tryFromBase64, fromUtf8, utf8 } from '../../util/bytes.js';
import { canonicalId, intQuery, optionalField, parseUserId, requireArray, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError, type Router, type SandboxRequest } from '../http.js';
import { objectJson, type ObjectWrite, type PartitionState, type StateRecord, type ObjectRecord, type UserState } from '../state.js';

/** The message of Symphony's entitlement refusal, verbatim. */
export const OBJECT_STORE_DISABLED = OBJECT_STORE_DISABLED_MESSAGE;
/** Most objects one transaction may write (25 DynamoDB items, 4 rows per object). */
export const MAX_TRANSACTION_OBJECTS = 6;

const STORED_TYPE = 'com.symphony.s2.model.object.StoredApplicationObject';
/** `_type` of a deletion (a logical tombstone, or a physical deletion's feed message). */
export const DELETED_TYPE = 'com.symphony.s2.model.object.DeletedApplicationObject';
const MIN_PAYLOAD_BYTES = 32;
const MAX_SORT_KEY = 1024;

function apiUser(ctx: SandboxContext, req: SandboxRequest): UserState {
  return ctx.bearerUser(req, ['api', 'session']);
}

/** Whether `userId` may `need` in `partition` (anyone, in a partition that does not exist yet); WRITE includes READ. */
export function permitted(partition: PartitionState | undefined, userId: number, need: 'READ' | 'WRITE'): boolean {
  if (partition === undefined || partition.owner === userId) return true;
  const granted = partition.permissions[String(userId)] ?? [];
  return granted.includes(need) || (need === 'READ' && granted.includes('WRITE'));
}

function requirePermission(ctx: SandboxContext, user: UserState, partitionHash: string, need: 'READ' | 'WRITE'): void {
  if (!permitted(ctx.state.partitions.get(partitionHash), user.id, need)) throw new HttpError(403, `No ${need} permission on this partition`);
}

/** Tracks what a transaction has written so far, so later writes in it see earlier ones. */
class Draft {
  readonly writes: ObjectWrite[] = [];
  readonly partitions: PartitionState[] = [];
  readonly #touched = new Set<string>();
  readonly #claimed = new Map<string, string>();
  readonly #newHashes = new Set<string>();

  readonly ctx: SandboxContext;
  readonly user: UserState;
  readonly at: number;

  constructor(ctx: SandboxContext, user: UserState, at: number) {
    this.ctx = ctx;
    this.user = user;
    this.at = at;
  }

  touch(baseHash: string): void {
    if (this.#touched.has(baseHash)) throw new HttpError(400, 'A transaction may write each object only once');
    this.#touched.add(baseHash);
  }

  newHash(hash: string): void {
    if (this.ctx.state.objects.has(hash) || this.#newHashes.has(hash)) throw new HttpError(409, 'An object with this absoluteHash already exists (objects are immutable)');
    this.#newHashes.add(hash);
  }

  claimSortKey(partitionHash: string, sortKey: string, baseHash: string): void {
    const key = `${partitionHash}\u0000${sortKey}`;
    const holder = this.#claimed.get(key) ?? this.ctx.state.partitionIndex.get(partitionHash)?.get(sortKey);
    const holderObject = holder === undefined ? undefined : this.ctx.state.currentObject(holder);
    const live = holder !== undefined && (this.#claimed.has(key) || (holderObject !== undefined && holderObject.deletionType === undefined));
    if (live && holder !== baseHash) throw new HttpError(409, 'Another object in this partition has that sort key');
    this.#claimed.set(key, baseHash);
  }

  writable(partitionHash: string): void {
    const partition = this.ctx.state.partitions.get(partitionHash) ?? this.partitions.find((p) => p.hash === partitionHash);
    if (partition === undefined) {
      // First use of a partition: the writer owns it (as an upsert would have made it).
      this.partitions.push({ hash: partitionHash, name: '', owner: this.user.id, permissions: {} });
      return;
    }
    if (!permitted(partition, this.user.id, 'WRITE')) throw new HttpError(403, 'No WRITE permission on this partition');
  }

  records(): StateRecord[] {
    return [...this.partitions.map((partition): StateRecord => ({ t: 'partition', partition })), { t: 'objects', writes: this.writes }];
  }
}

function idField(o: Record<string, unknown>, name: string): string {
  return canonicalId(requiredField(o, name, 'string'), name);
}

function addWrite(draft: Draft, raw: unknown, pathHash: string | undefined): void {
  const body = requireObject(raw, 'object');
  const absoluteHash = pathHash ?? idField(body, 'absoluteHash');
  const type = optionalField(body, '_type', 'string') ?? STORED_TYPE;
  if (type === DELETED_TYPE) return addDeletion(draft, body, absoluteHash);
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
  draft.writable(partitionHash);
  const baseField = optionalField(body, 'baseHash', 'string');
  let baseHash = absoluteHash;
  let version = 1;
  if (baseField !== undefined && canonicalId(baseField, 'baseHash') !== absoluteHash) {
    baseHash = canonicalId(baseField, 'baseHash');
    const current = draft.ctx.state.currentObject(baseHash);
    if (current === undefined) throw new HttpError(404, 'No object has that baseHash');
    if (current.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
    const prevHash = optionalField(body, 'prevHash', 'string');
    if (prevHash === undefined || canonicalId(prevHash, 'prevHash') !== current.absoluteHash) {
      throw new HttpError(409, 'Conflict: prevHash is not the current version of this object (optimistic concurrency)');
    }
    if (current.partitionHash !== partitionHash) throw new HttpError(400, 'An update cannot move an object to another partition');
    version = current.version + 1;
  }
  draft.touch(baseHash);
  draft.newHash(absoluteHash);
  draft.claimSortKey(partitionHash, sortKey, baseHash);
  const stored = { ...body, _type: STORED_TYPE, partitionHash, baseHash };
  delete (stored as Record<string, unknown>).absoluteHash;
  draft.writes.push({ kind: 'put', object: { absoluteHash, baseHash, version, partitionHash, sortKey, owner: draft.user.id, createdDate: draft.at, body: stored } });
}

function addDeletion(draft: Draft, body: Record<string, unknown>, absoluteHash: string): void {
  const baseHash = idField(body, 'baseHash');
  const deletionType = requiredField(body, 'deletionType', 'string');
  if (deletionType !== 'LOGICAL' && deletionType !== 'PHYSICAL') throw new HttpError(400, 'Field "deletionType" must be LOGICAL or PHYSICAL');
  const current = draft.ctx.state.currentObject(baseHash);
  if (current === undefined) throw new HttpError(404, 'No object has that baseHash');
  if (current.deletionType !== undefined && deletionType === 'LOGICAL') throw new HttpError(410, 'That object has already been deleted');
  const prevHash = optionalField(body, 'prevHash', 'string');
  if (prevHash !== undefined && canonicalId(prevHash, 'prevHash') !== current.absoluteHash) {
    throw new HttpError(409, 'Conflict: prevHash is not the current version of this object (optimistic concurrency)');
  }
  draft.writable(current.partitionHash);
  draft.touch(baseHash);
  if (deletionType === 'PHYSICAL') {
    draft.writes.push({ kind: 'delete', baseHash, deletionType });
    return;
  }
  draft.newHash(absoluteHash);
  const tombstone: ObjectRecord = {
    absoluteHash, baseHash, version: current.version + 1, partitionHash: current.partitionHash, sortKey: current.sortKey,
    owner: draft.user.id, createdDate: draft.at, deletionType: 'LOGICAL',
    body: { _type: DELETED_TYPE, baseHash, prevHash: current.absoluteHash, partitionHash: current.partitionHash, sortKey: current.sortKey, deletionType },
  };
  draft.writes.push({ kind: 'delete', baseHash, deletionType, tombstone });
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

function page<T>(items: T[], keyOf: (item: T) => string | number, req: SandboxRequest): { items: T[]; after?: string; before?: string } {
  const limit = intQuery(req.query, 'limit', 100, 1, 1000);
  const forwards = (req.query.get('scanForwards') ?? 'true') !== 'false';
  const after = fromCursor(req.query.get('after'));
  const ordered = forwards ? items : [...items].reverse();
  const compare = (a: string | number, b: string) => (typeof a === 'number' ? a - Number(b) : a < b ? -1 : a > b ? 1 : 0);
  const start = after === undefined ? 0 : ordered.findIndex((i) => (forwards ? compare(keyOf(i), after) > 0 : compare(keyOf(i), after) < 0));
  const slice = start < 0 ? [] : ordered.slice(start, start + limit);
  const hasMore = start >= 0 && start + limit < ordered.length;
  const result: { items: T[]; after?: string; before?: string } = { items: slice };
  if (hasMore && slice.length > 0) result.after = cursor(keyOf(slice.at(-1)!));
  if (slice.length > 0 && after !== undefined) result.before = cursor(keyOf(slice[0]!));
  return result;
}

function pageJson<T>(p: { items: T[]; after?: string; before?: string }, toJson: (item: T) => unknown): Record<string, unknown> {
  return { pagination: { cursors: { before: p.before ?? null, after: p.after ?? null }, ...(p.after === undefined ? {} : { next: p.after }) }, data: p.items.map(toJson) };
}

function partitionHashOf(name: string, userId: number): string {
  return toBase64Url(createHash('sha256').update(`partition\u0000${userId}\u0000${name}`).digest());
}

/**
 * What else a set of writes commits with them, made before they are applied (routes/feeds.ts queues a message in
 * every feed that subscribes to a written partition).
 */
export type WritesHook = (writes: readonly ObjectWrite[], writer: UserState, at: number) => StateRecord[];

/** Register the Object Store routes. */
export function objectRoutes(router: Router, ctx: SandboxContext, withWrites: WritesHook = () => []): void {
  const { state } = ctx;
  router
    .add('PUT', '/object/v1/objects/:hash', async (req) => {
      const user = apiUser(ctx, req);
      const draft = new Draft(ctx, user, Date.now());
      addWrite(draft, req.json(), canonicalId(req.params.hash!, 'hash'));
      await ctx.commit(...draft.records(), ...withWrites(draft.writes, user, draft.at));
      const written = draft.writes[0]!;
      return written.kind === 'put' ? { json: objectJson(written.object) } : written.deletionType === 'LOGICAL' ? { json: objectJson(written.tombstone) } : { status: 204 };
    })
    .add('POST', '/object/v1/objects/transaction', async (req) => {
      const user = apiUser(ctx, req);
      const list = requireArray(req.json());
      if (list.length === 0) throw new HttpError(400, 'A transaction needs at least one object');
      if (list.length > MAX_TRANSACTION_OBJECTS) throw new HttpError(400, `A transaction may write at most ${MAX_TRANSACTION_OBJECTS} objects; nothing was written`);
      const draft = new Draft(ctx, user, Date.now());
      for (const item of list) addWrite(draft, item, undefined);
      await ctx.commit(...draft.records(), ...withWrites(draft.writes, user, draft.at));
      return { json: draft.writes.map((w) => (w.kind === 'put' ? objectJson(w.object) : w.deletionType === 'LOGICAL' ? objectJson(w.tombstone) : { baseHash: w.baseHash, deletionType: 'PHYSICAL' })) };
    })
    .add('GET', '/object/v1/objects/:hash/versions', (req) => {
      const user = apiUser(ctx, req);
      const baseHash = canonicalId(req.params.hash!, 'hash');
      const versions = (state.objectVersions.get(baseHash) ?? []).map((h) => state.objects.get(h)!);
      if (versions.length === 0) throw new HttpError(404, 'No object has that baseHash');
      requirePermission(ctx, user, versions[0]!.partitionHash, 'READ');
      return { json: pageJson(page(versions, (o) => o.version, req), objectJson) };
    })
    .add('GET', '/object/v1/objects/:hash', (req) => {
      const user = apiUser(ctx, req);
      const found = state.objects.get(canonicalId(req.params.hash!, 'hash'));
      if (found === undefined) throw new HttpError(404, 'No object has that hash');
      requirePermission(ctx, user, found.partitionHash, 'READ');
      const currentVersion = req.query.get('currentVersion') === 'true';
      const object = currentVersion ? state.currentObject(found.baseHash)! : found;
      if (object.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
      return { json: objectJson(object) };
    })
    .add('POST', '/object/v1/partitions/upsert', async (req) => {
      const user = apiUser(ctx, req);
      const body = requireObject(req.json());
      const id = requireObject(requiredField(body, 'partitionId', 'object'), 'partitionId');
      const name = requiredField(id, 'name', 'string');
      if (name.length === 0 || name.length > 256) throw new HttpError(400, 'Field "partitionId.name" must be 1 to 256 characters');
      const owner = id.userId === undefined ? user.id : parseUserId(id.userId, 'partitionId.userId');
      if (owner !== user.id) throw new HttpError(403, 'A partition id must carry the caller\'s own user id');
      const permissions: PartitionState['permissions'] = {};
      const listed = optionalField(body, 'userPermissions', 'array');
      for (const [i, entry] of (listed ?? []).entries()) {
        const e = requireObject(entry, `userPermissions[${i}]`);
        const who = parseUserId(e.userId, `userPermissions[${i}].userId`);
        const granted = requiredField(e, 'permissions', 'array');
        if (granted.some((g) => g !== 'READ' && g !== 'WRITE')) throw new HttpError(400, `userPermissions[${i}].permissions may hold only READ and WRITE`);
        permissions[String(who)] = granted as Array<'READ' | 'WRITE'>;
      }
      const hash = partitionHashOf(name, owner);
      const existing = state.partitions.get(hash);
      if (existing !== undefined && existing.owner !== user.id) throw new HttpError(403, 'This partition belongs to another user');
      // Without userPermissions an upsert keeps the partition's grants; with them it replaces them.
      await ctx.commit({ t: 'partition', partition: { hash, name, owner, permissions: listed === undefined && existing !== undefined ? existing.permissions : permissions } });
      return { json: { id: { name, userId: owner }, hash } };
    })
    .add('GET', '/object/v1/partitions/:hash/page', (req) => {
      const user = apiUser(ctx, req);
      const partitionHash = canonicalId(req.params.hash!, 'hash');
      requirePermission(ctx, user, partitionHash, 'READ');
      const prefix = req.query.get('sortKeyPrefix') ?? '';
      const current = [...(state.partitionIndex.get(partitionHash) ?? new Map<string, string>()).entries()]
        .filter(([sortKey]) => sortKey.startsWith(prefix))
        .map(([, baseHash]) => state.currentObject(baseHash)!)
        .filter((o) => o.deletionType === undefined)
        .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
      return { json: pageJson(page(current, (o) => o.sortKey, req), objectJson) };
    })
    .add('GET', '/object/v1/partitions/:hash/users', (req) => {
      const user = apiUser(ctx, req);
      const partition = state.partitions.get(canonicalId(req.params.hash!, 'hash'));
      if (partition === undefined) throw new HttpError(404, 'No such partition');
      if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, 'No READ permission on this partition');
      // The owner first, then the others by user id; the cursor is a position in that list.
      const others = Object.entries(partition.permissions).map(([id, p]) => ({ userId: Number(id), permissions: p })).filter((u) => u.userId !== partition.owner && u.permissions.length > 0);
      const users = [{ userId: partition.owner, permissions: ['READ', 'WRITE'] }, ...others.sort((a, b) => a.userId - b.userId)].map((u, position) => ({ u, position }));
      return { json: pageJson(page(users, (e) => e.position, req), (e) => e.u) };
    })
    .add('GET', '/object/v1/partitions/:hash', (req) => {
      const user = apiUser(ctx, req);
      const partition = state.partitions.get(canonicalId(req.params.hash!, 'hash'));
      if (partition === undefined) throw new HttpError(404, 'No such partition');
      if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, 'No READ permission on this partition');
      return { json: { id: { name: partition.name, userId: partition.owner }, hash: partition.hash } };
    })
    .add('GET', '/object/v1/partitions/:hash/:sortKey', (req) => {
      const user = apiUser(ctx, req);
      const partitionHash = canonicalId(req.params.hash!, 'hash');
      requirePermission(ctx, user, partitionHash, 'READ');
      const baseHash = state.partitionIndex.get(partitionHash)?.get(req.params.sortKey!);
      const object = baseHash === undefined ? undefined : state.currentObject(baseHash);
      if (object === undefined) throw new HttpError(404, 'No object has that sort key in this partition');
      if (object.deletionType !== undefined) throw new HttpError(410, 'That object has been deleted');
      return { json: objectJson(object) };
    });
}
