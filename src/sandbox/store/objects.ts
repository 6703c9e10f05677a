/**
 * The Object Store's data (docs/sandbox.md "Object Store"): partitions with their permissions, objects (one row
 * per object: its current version, partition and sort key, and whether it is logically deleted) and their
 * immutable versions. At most one live object holds a (partition, sort key), enforced by a unique index as well as
 * by the route's check; tombstones keep their sort key so that a fetch by sort key can answer "deleted".
 *
 * Partition hashes (the sandbox's own, not Symphony's Canon hash): `base64url(owner ‖ SHA-256("partition\0" ‖
 * owner ‖ "\0" ‖ name))`, the owner's user id as 8 bytes big-endian first, so that the owner of a partition nobody
 * has created yet can be read from its hash ({@link partitionOwnerOf}) and only they may create it.
 *
 * Sort keys are ordered by code point (SQLite's BINARY collation of UTF-8).
 */
import { createHash } from 'node:crypto';
import { readInt64BE, toBase64Url, tryFromBase64, writeInt64BE } from '../../util/bytes.js';
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** One version of an Object Store object (StoredApplicationObject or DeletedApplicationObject). */
export interface ObjectRecord {
  absoluteHash: string;
  baseHash: string;
  /** 1 for the first version. */
  version: number;
  partitionHash: string;
  sortKey: string;
  owner: number;
  createdDate: number;
  /** Set on the tombstone of a logically deleted object. */
  deletionType?: 'LOGICAL';
  /** The object as stored (client fields plus the server's). */
  body: Record<string, unknown>;
}

/** An Object Store partition and who may use it. */
export interface Partition {
  hash: string;
  /** Empty for a partition created by its owner's first write rather than by an upsert. */
  name: string;
  owner: number;
  /** Permissions of users other than the owner, by user id. */
  permissions: Record<string, Array<'READ' | 'WRITE'>>;
}

const PARTITION_HASH_BYTES = 8 + 32;

/** The hash of the partition `name` of `userId`. */
export function partitionHashOf(name: string, userId: number): string {
  const hash = new Uint8Array(PARTITION_HASH_BYTES);
  writeInt64BE(hash, 0, BigInt(userId));
  hash.set(createHash('sha256').update(`partition\u0000${userId}\u0000${name}`).digest(), 8);
  return toBase64Url(hash);
}

/** The owner a partition hash names (undefined for a hash of another form). */
export function partitionOwnerOf(hash: string): number | undefined {
  const bytes = tryFromBase64(hash);
  if (bytes?.length !== PARTITION_HASH_BYTES) return undefined;
  const owner = readInt64BE(bytes, 0);
  return owner > 0n && owner <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(owner) : undefined;
}

/**
 * The least string greater than every string that starts with `prefix`, in code-point order; undefined when there is
 * none (a prefix of U+10FFFF only).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

interface VersionRow {
  id: number;
  absolute_hash: string;
  base_hash: string;
  version: number;
  partition_hash: string;
  sort_key: string;
  owner: number;
  created_date: number;
  deleted: number;
  body: string;
}

function record(r: VersionRow): ObjectRecord {
  return {
    absoluteHash: r.absolute_hash, baseHash: r.base_hash, version: r.version, partitionHash: r.partition_hash, sortKey: r.sort_key, owner: r.owner,
    createdDate: r.created_date, ...(r.deleted === 1 ? { deletionType: 'LOGICAL' as const } : {}), body: JSON.parse(r.body) as Record<string, unknown>,
  };
}

/** Rows fetched per batch of a listing. */
const LIST_BATCH = 16;

/** The `partitions`, `objects` and `versions` tables. */
export class ObjectTable {
  readonly #version;
  readonly #current;
  readonly #bySortKey;
  readonly #liveHolder;
  readonly #versionsUp;
  readonly #versionsDown;
  readonly #liveUp;
  readonly #liveDown;
  readonly #insertVersion;
  readonly #upsertObject;
  readonly #deleteVersions;
  readonly #deleteObject;
  readonly #countVersions;
  readonly #allVersions;
  readonly #partition;
  readonly #partitionByName;
  readonly #upsertPartition;
  readonly #countPartitions;

  constructor(db: Db) {
    this.#version = db.prepare<[string], VersionRow>('SELECT * FROM versions WHERE absolute_hash = ?');
    this.#current = db.prepare<[string], VersionRow>('SELECT v.* FROM objects o JOIN versions v ON v.id = o.current WHERE o.base_hash = ?');
    this.#bySortKey = db.prepare<[string, string], VersionRow>(`SELECT v.* FROM objects o JOIN versions v ON v.id = o.current
      WHERE o.partition_hash = ? AND o.sort_key = ? ORDER BY o.deleted, o.current DESC LIMIT 1`);
    this.#liveHolder = db.prepare<[string, string], { base_hash: string }>('SELECT base_hash FROM objects WHERE partition_hash = ? AND sort_key = ? AND deleted = 0');
    const versions = (op: '>' | '<', order: 'ASC' | 'DESC') => db.prepare<[string, number, number], VersionRow>(
      `SELECT * FROM versions WHERE base_hash = ? AND version ${op} ? ORDER BY version ${order} LIMIT ?`);
    this.#versionsUp = versions('>', 'ASC');
    this.#versionsDown = versions('<', 'DESC');
    const live = (op: '>' | '<', order: 'ASC' | 'DESC') => db.prepare<{ p: string; from: string; to: string | null; after: string | null; limit: number }, VersionRow>(
      `SELECT v.* FROM objects o JOIN versions v ON v.id = o.current
       WHERE o.partition_hash = @p AND o.deleted = 0 AND o.sort_key >= @from AND (@to IS NULL OR o.sort_key < @to) AND (@after IS NULL OR o.sort_key ${op} @after)
       ORDER BY o.sort_key ${order} LIMIT @limit`);
    this.#liveUp = live('>', 'ASC');
    this.#liveDown = live('<', 'DESC');
    this.#insertVersion = db.prepare(`INSERT INTO versions (absolute_hash, base_hash, version, partition_hash, sort_key, owner, created_date, deleted, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#upsertObject = db.prepare(`INSERT INTO objects (base_hash, partition_hash, sort_key, current, deleted) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (base_hash) DO UPDATE SET partition_hash = excluded.partition_hash, sort_key = excluded.sort_key, current = excluded.current, deleted = excluded.deleted`);
    this.#deleteVersions = db.prepare('DELETE FROM versions WHERE base_hash = ?');
    this.#deleteObject = db.prepare('DELETE FROM objects WHERE base_hash = ?');
    this.#countVersions = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM versions');
    this.#allVersions = db.prepare<[], VersionRow>('SELECT * FROM versions ORDER BY id');
    this.#partition = db.prepare<[string], { hash: string; name: string; owner: number; permissions: string }>('SELECT * FROM partitions WHERE hash = ?');
    this.#partitionByName = db.prepare<[number, string], { hash: string }>('SELECT hash FROM partitions WHERE owner = ? AND name = ? ORDER BY hash LIMIT 1');
    this.#upsertPartition = db.prepare(`INSERT INTO partitions (hash, name, owner, permissions) VALUES (?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET name = excluded.name, permissions = excluded.permissions`);
    this.#countPartitions = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM partitions');
  }

  /** A version by its absolute hash. */
  version(absoluteHash: string): ObjectRecord | undefined {
    const r = this.#version.get(absoluteHash);
    return r === undefined ? undefined : record(r);
  }

  /** The current (latest) version of an object, by base hash. */
  current(baseHash: string): ObjectRecord | undefined {
    const r = this.#current.get(baseHash);
    return r === undefined ? undefined : record(r);
  }

  /** The current version of the live object with this sort key, else of the latest tombstone holding it. */
  bySortKey(partitionHash: string, sortKey: string): ObjectRecord | undefined {
    const r = this.#bySortKey.get(partitionHash, sortKey);
    return r === undefined ? undefined : record(r);
  }

  /** The base hash of the live object holding a sort key. */
  liveHolder(partitionHash: string, sortKey: string): string | undefined {
    return this.#liveHolder.get(partitionHash, sortKey)?.base_hash;
  }

  /**
   * An object's versions after (or, backwards, before) version `after`, read in small batches as the caller
   * iterates.
   */
  *versions(baseHash: string, after: number | undefined, forwards: boolean): Generator<ObjectRecord> {
    let from = after ?? (forwards ? 0 : Number.MAX_SAFE_INTEGER);
    for (;;) {
      const rows = (forwards ? this.#versionsUp : this.#versionsDown).all(baseHash, from, LIST_BATCH);
      for (const r of rows) yield record(r);
      if (rows.length < LIST_BATCH) return;
      from = rows.at(-1)!.version;
    }
  }

  /**
   * The live objects of a partition whose sort key starts with `prefix`, in sort-key order (or reversed) after
   * `after`, read in small batches as the caller iterates.
   */
  *live(partitionHash: string, prefix: string, after: string | undefined, forwards: boolean): Generator<ObjectRecord> {
    const params = { p: partitionHash, from: prefix, to: prefixEnd(prefix) ?? null, after: after ?? null, limit: LIST_BATCH };
    for (;;) {
      const rows = (forwards ? this.#liveUp : this.#liveDown).all(params);
      for (const r of rows) yield record(r);
      if (rows.length < LIST_BATCH) return;
      params.after = rows.at(-1)!.sort_key;
    }
  }

  /** Store a new version and make it the object's current one. */
  put(tx: Tx, o: ObjectRecord): void {
    Tx.check(tx);
    const deleted = o.deletionType === undefined ? 0 : 1;
    const id = this.#insertVersion.run(o.absoluteHash, o.baseHash, o.version, o.partitionHash, o.sortKey, o.owner, o.createdDate, deleted, JSON.stringify(o.body)).lastInsertRowid;
    this.#upsertObject.run(o.baseHash, o.partitionHash, o.sortKey, id, deleted);
  }

  /** Remove an object and every version of it. */
  deletePhysically(tx: Tx, baseHash: string): void {
    Tx.check(tx);
    this.#deleteVersions.run(baseHash);
    this.#deleteObject.run(baseHash);
  }

  countVersions(): number {
    return this.#countVersions.get()!.n;
  }

  /** Every stored version, oldest first (inspection). */
  allVersions(): ObjectRecord[] {
    return this.#allVersions.all().map(record);
  }

  partition(hash: string): Partition | undefined {
    const r = this.#partition.get(hash);
    return r === undefined ? undefined : { hash: r.hash, name: r.name, owner: r.owner, permissions: JSON.parse(r.permissions) as Partition['permissions'] };
  }

  /** The partition an owner created under this name (a migrated one may have a hash of another form). */
  partitionNamed(owner: number, name: string): Partition | undefined {
    const found = this.#partitionByName.get(owner, name);
    return found === undefined ? undefined : this.partition(found.hash);
  }

  setPartition(tx: Tx, p: Partition): void {
    Tx.check(tx);
    this.#upsertPartition.run(p.hash, p.name, p.owner, JSON.stringify(p.permissions));
  }

  countPartitions(): number {
    return this.#countPartitions.get()!.n;
  }
}
