/**
 * Metadata of the Object Store's blobs (docs/sandbox.md "Object Store"); their bytes are files that
 * ../routes/blobs.ts writes and reads.
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** A committed blob. */
export interface Blob {
  id: string;
  owner: number;
  /** Bytes. */
  size: number;
  createdAt: number;
}

/** The `blobs` table. */
export class BlobTable {
  readonly #get;
  readonly #all;
  readonly #insert;
  readonly #delete;

  constructor(db: Db) {
    this.#get = db.prepare<[string], { id: string; owner: number; size: number; created_at: number }>('SELECT * FROM blobs WHERE id = ?');
    this.#all = db.prepare<[], { id: string }>('SELECT id FROM blobs');
    this.#insert = db.prepare('INSERT INTO blobs (id, owner, size, created_at) VALUES (?, ?, ?, ?)');
    this.#delete = db.prepare('DELETE FROM blobs WHERE id = ?');
  }

  get(id: string): Blob | undefined {
    const r = this.#get.get(id);
    return r === undefined ? undefined : { id: r.id, owner: r.owner, size: r.size, createdAt: r.created_at };
  }

  /** The ids of every committed blob (the start-up clean-up of stray files). */
  ids(): Set<string> {
    return new Set(this.#all.all().map((r) => r.id));
  }

  insert(tx: Tx, b: Blob): void {
    Tx.check(tx);
    this.#insert.run(b.id, b.owner, b.size, b.createdAt);
  }

  delete(tx: Tx, id: string): void {
    Tx.check(tx);
    this.#delete.run(id);
  }
}
