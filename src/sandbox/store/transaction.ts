/**
 * Group commit for the sandbox database (docs/sandbox.md "Persistence"): every change is a synchronous closure
 * queued with {@link WriteQueue.write}. Once per turn of the event loop the queue runs every closure queued so far in
 * one `BEGIN IMMEDIATE … COMMIT` (one fsync for all of them), each inside its own SAVEPOINT, so a closure that throws
 * rolls back only its own changes and rejects only its own caller. Only after COMMIT returns are the callers resolved
 * and their after-commit effects run (waking long polls): nothing a client can observe changes before the change is
 * durable, and a failed write leaves nothing behind. Closures see the changes of the closures before them in the
 * same batch, so the checks that must be atomic with a write (uniqueness, versions, membership, limits) run inside
 * it, against the database.
 */
import type { Db } from './sqlite.js';

/** The handle a write closure gets: proof that it runs inside a transaction, and its after-commit effects. */
export class Tx {
  readonly #effects: Array<() => void> = [];
  #open = true;

  /** Run `effect` once the transaction has committed (not if it rolls back). */
  afterCommit(effect: () => void): void {
    this.#requireOpen();
    this.#effects.push(effect);
  }

  /** Throws unless the closure this handle was given to is still running. */
  #requireOpen(): void {
    if (!this.#open) throw new Error('A write handle was used after its closure returned');
  }

  /** @internal Called by the queue: the closure returned; its effects, for after the commit. */
  static finish(tx: Tx): Array<() => void> {
    tx.#open = false;
    return tx.#effects;
  }

  /** @internal Throws unless `tx` is the handle of a running closure (the write methods of the store call it). */
  static check(tx: Tx): void {
    tx.#requireOpen();
  }
}

interface Queued {
  readonly fn: (tx: Tx) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly item: Queued; readonly ok: true; readonly value: unknown; readonly effects: Array<() => void> } | { readonly item: Queued; readonly ok: false; readonly error: unknown };

/** The write queue of one database connection. */
export class WriteQueue {
  readonly #db: Db;
  #queue: Queued[] = [];
  #scheduled = false;
  #closed = false;
  readonly #begin;
  readonly #commit;
  readonly #rollback;
  readonly #savepoint;
  readonly #release;
  readonly #rollbackTo;
  /** Effects that threw (a bug): reported, never allowed to undo a commit. */
  readonly #onEffectError: (error: unknown) => void;

  constructor(db: Db, onEffectError: (error: unknown) => void) {
    this.#db = db;
    this.#onEffectError = onEffectError;
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT w');
    this.#release = db.prepare('RELEASE w');
    this.#rollbackTo = db.prepare('ROLLBACK TO w');
  }

  /**
   * Queue `fn`; resolves to its result once its transaction has committed, rejects with what it threw (its changes
   * rolled back) or with the error that made the commit fail (nothing of the batch kept).
   */
  write<T>(fn: (tx: Tx) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The sandbox store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Run what is queued now (at close). */
  drain(): void {
    while (this.#queue.length > 0) this.#flush();
  }

  /** Refuse further writes (after {@link drain}). */
  close(): void {
    this.#closed = true;
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let outcomes: Outcome[];
    try {
      this.#begin.run();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    try {
      outcomes = batch.map((item) => this.#runOne(item));
      this.#commit.run();
    } catch (error) {
      // The commit failed (or SQLite ended the transaction itself): nothing of this batch is kept.
      if (this.#db.inTransaction) this.#rollback.run();
      for (const item of batch) item.reject(error);
      return;
    }
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        outcome.item.reject(outcome.error);
        continue;
      }
      for (const effect of outcome.effects) {
        try {
          effect();
        } catch (error) {
          this.#onEffectError(error);
        }
      }
      outcome.item.resolve(outcome.value);
    }
  }

  #runOne(item: Queued): Outcome {
    const tx = new Tx();
    this.#savepoint.run();
    try {
      const value = item.fn(tx);
      if (value instanceof Promise) throw new Error('A write closure must be synchronous');
      const effects = Tx.finish(tx);
      this.#release.run();
      return { item, ok: true, value, effects };
    } catch (error) {
      Tx.finish(tx);
      // An I/O error may have ended the whole transaction; then the batch fails at COMMIT.
      if (!this.#db.inTransaction) throw error;
      this.#rollbackTo.run();
      this.#release.run();
      return { item, ok: false, error };
    }
  }
}
