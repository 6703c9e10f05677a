/**
 * Long polls waiting on the store, by key (a user for datafeed events, a feed hash for Object Store feeds): each
 * waits until a commit wakes its key, its time runs out or its signal fires. Kept in memory; the tables that queue
 * what the waiters read wake them after their transaction has committed (./transaction.ts `afterCommit`).
 */
export class Waiters<K> {
  readonly #waiters = new Map<K, Set<() => void>>();

  /** Wait until `key` is woken, `ms` pass or `signal` aborts; resolves in every case, never rejects. */
  wait(key: K, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let set = this.#waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(key, set);
      }
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /** Wake every waiter of these keys. */
  wake(keys: Iterable<K>): void {
    for (const key of keys) for (const done of [...(this.#waiters.get(key) ?? [])]) done();
  }

  /** How many wait (inspection). */
  count(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }
}
