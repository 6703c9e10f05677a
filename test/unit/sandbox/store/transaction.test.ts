import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../../src/sandbox/store/sqlite.js';
import { Tx, WriteQueue } from '../../../../src/sandbox/store/transaction.js';

function setup(onEffectError: (e: unknown) => void = (e) => { throw e; }): { db: Db; queue: WriteQueue; put: (tx: Tx, k: string, v: number) => void; rows: () => Record<string, number> } {
  const db = openDatabase(undefined);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  const all = db.prepare<[], { k: string; v: number }>('SELECT k, v FROM t ORDER BY k');
  return {
    db,
    queue: new WriteQueue(db, onEffectError),
    put: (tx, k, v) => {
      Tx.check(tx);
      insert.run(k, v);
    },
    rows: () => Object.fromEntries(all.all().map((r) => [r.k, r.v])),
  };
}

/** Count the transactions SQLite commits (one per flush). */
function countCommits(db: Db): () => number {
  let commits = 0;
  const changes = db.prepare<[], { n: number }>('SELECT total_changes() AS n');
  let last = changes.get()!.n;
  return () => {
    const now = changes.get()!.n;
    if (now !== last) commits++;
    last = now;
    return commits;
  };
}

describe('WriteQueue', () => {
  it('runs every closure queued in one turn in one transaction, in order, each seeing the ones before it', async () => {
    const { db, queue, put, rows } = setup();
    const seen: Array<Record<string, number>> = [];
    const commits = countCommits(db);
    const writes = [1, 2, 3].map((v) => queue.write((tx) => {
      expect(db.inTransaction).toBe(true);
      seen.push(rows());
      put(tx, `k${v}`, v);
      return v * 10;
    }));
    // Nothing runs before the flush.
    expect(rows()).toEqual({});
    expect(await Promise.all(writes)).toEqual([10, 20, 30]);
    expect(seen).toEqual([{}, { k1: 1 }, { k1: 1, k2: 2 }]);
    expect(commits()).toBe(1);
    expect(db.inTransaction).toBe(false);
    await queue.write((tx) => put(tx, 'k4', 4));
    expect(commits()).toBe(2);
  });

  it('a closure that throws rolls back only its own changes and rejects only its caller', async () => {
    const { queue, put, rows } = setup();
    const a = queue.write((tx) => put(tx, 'a', 1));
    const b = queue.write((tx) => {
      put(tx, 'b', 2);
      throw new Error('refused');
    });
    const c = queue.write((tx) => {
      expect(rows()).toEqual({ a: 1 }); // b's change is already gone
      put(tx, 'c', 3);
    });
    const d = queue.write((tx) => put(tx, 'a', 9)); // a constraint error is a closure's own failure too
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toThrow('refused');
    await expect(c).resolves.toBeUndefined();
    await expect(d).rejects.toThrow(/UNIQUE/);
    expect(rows()).toEqual({ a: 1, c: 3 });
  });

  it('runs after-commit effects after COMMIT, before resolving, and never for a closure that rolled back', async () => {
    const errors: unknown[] = [];
    const { db, queue, put, rows } = setup((e) => errors.push(e));
    const effects: string[] = [];
    const ok = queue.write((tx) => {
      put(tx, 'a', 1);
      tx.afterCommit(() => effects.push(`a committed: ${db.inTransaction ? 'in' : 'after'} transaction, rows ${JSON.stringify(rows())}`));
    });
    const failed = queue.write((tx) => {
      tx.afterCommit(() => effects.push('never'));
      throw new Error('no');
    });
    const faulty = queue.write((tx) => {
      put(tx, 'b', 2);
      tx.afterCommit(() => { throw new Error('effect bug'); });
      return 'kept';
    });
    await ok;
    expect(effects).toEqual(['a committed: after transaction, rows {"a":1,"b":2}']);
    await expect(failed).rejects.toThrow('no');
    // An effect that throws is reported; its commit stands and its caller still gets the result.
    await expect(faulty).resolves.toBe('kept');
    expect(errors).toEqual([new Error('effect bug')]);
    expect(rows()).toEqual({ a: 1, b: 2 });
  });

  it('rejects the whole batch, leaving nothing, when COMMIT fails', async () => {
    const { db, queue, put, rows } = setup();
    // A deferred foreign key is checked at COMMIT: the one way to make COMMIT itself fail in memory.
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)');
    const orphan = db.prepare('INSERT INTO child (p) VALUES (42)');
    const a = queue.write((tx) => put(tx, 'a', 1));
    const b = queue.write(() => orphan.run());
    await expect(a).rejects.toThrow(/FOREIGN KEY/);
    await expect(b).rejects.toThrow(/FOREIGN KEY/);
    expect(db.inTransaction).toBe(false);
    expect(rows()).toEqual({});
    // The queue goes on.
    await queue.write((tx) => put(tx, 'c', 3));
    expect(rows()).toEqual({ c: 3 });
  });

  it('refuses an async closure (rolled back) and a handle used after its closure', async () => {
    const { queue, put, rows } = setup();
    let kept: Tx | undefined;
    await expect(queue.write(async (tx) => put(tx, 'a', 1))).rejects.toThrow('A write closure must be synchronous');
    await queue.write((tx) => {
      kept = tx;
    });
    expect(() => Tx.check(kept!)).toThrow('A write handle was used after its closure returned');
    expect(() => kept!.afterCommit(() => {})).toThrow('A write handle was used after its closure returned');
    expect(rows()).toEqual({});
  });

  it('drain runs what is queued; after close, writes are refused', async () => {
    const { queue, put, rows } = setup();
    const queued = queue.write((tx) => put(tx, 'a', 1));
    queue.drain();
    expect(rows()).toEqual({ a: 1 });
    queue.close();
    await queued;
    await expect(queue.write((tx) => put(tx, 'b', 2))).rejects.toThrow('The sandbox store is closed');
  });

  it('keeps exactly the closures that did not throw, in order, whatever the batching (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), fails: fc.boolean(), flushAfter: fc.boolean() }), { maxLength: 30 }),
      async (ops) => {
        const { queue, put, rows } = setup();
        const model: Record<string, number> = {};
        const outcomes: Array<Promise<string>> = [];
        const expected: string[] = [];
        for (const [i, op] of ops.entries()) {
          outcomes.push(queue.write((tx) => {
            put(tx, `${op.key}${i}`, i);
            if (op.fails) throw new Error('x');
          }).then(() => 'ok', () => 'failed'));
          expected.push(op.fails ? 'failed' : 'ok');
          if (!op.fails) model[`${op.key}${i}`] = i;
          if (op.flushAfter) await new Promise((r) => setImmediate(r));
        }
        expect(await Promise.all(outcomes)).toEqual(expected);
        expect(rows()).toEqual(Object.fromEntries(Object.entries(model).sort(([x], [y]) => (x < y ? -1 : 1))));
      },
    ), { numRuns: 50 });
  });
});
