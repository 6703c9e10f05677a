// The login bounds on their own, with a fake clock: backoff per username and per address (doubling, capped,
// forgotten), fairness to addresses without failures, bounded tables, and the concurrency bound with its queue.
import { describe, expect, it } from 'vitest';
import { LoginLimits } from '../../../src/agent-host/login-limit.js';

function limits(options: ConstructorParameters<typeof LoginLimits>[0] = {}) {
  const clock = { now: 1_000_000 };
  return { clock, l: new LoginLimits({ freeFailuresPerUser: 2, freeFailuresPerAddress: 4, backoffInitialMs: 1000, backoffMaxMs: 8000, forgetAfterMs: 60_000, now: () => clock.now, ...options }) };
}

describe('login limits', () => {
  it('back a username off after its free failures, doubling up to the cap, for addresses that failed', () => {
    const { clock, l } = limits();
    l.failed('Alice', 'a1');
    expect(l.waitMs('alice', 'a1')).toBe(0);
    l.failed('ALICE', 'a1');
    expect(l.waitMs('alice', 'a1')).toBe(1000);
    // An address with no failure is not held back by the username's.
    expect(l.waitMs('alice', 'fresh')).toBe(0);
    clock.now += 1000;
    const waits = [];
    for (let i = 0; i < 5; i++) {
      l.failed('alice', 'a1');
      waits.push(l.waitMs('alice', 'a1'));
    }
    expect(waits).toEqual([2000, 4000, 8000, 8000, 8000]);
    l.succeeded('alice');
    // The address's own count (7 failures, over its 4) still holds it back; another address's does not.
    expect(l.waitMs('alice', 'a1')).toBe(8000);
    expect(l.waitMs('bob', 'a2')).toBe(0);
  });

  it('forget counts after a quiet period, and keep at most maxTracked of them', () => {
    const { clock, l } = limits({ maxTracked: 3 });
    for (let i = 0; i < 6; i++) l.failed('alice', 'a1');
    expect(l.waitMs('alice', 'a1')).toBeGreaterThan(0);
    clock.now += 60_001;
    expect(l.waitMs('alice', 'a1')).toBe(0);
    for (let i = 0; i < 6; i++) l.failed('carol', 'a9');
    for (const name of ['x', 'y', 'z']) l.failed(name, name);
    // carol's and a9's entries were the least recently failed: dropped.
    expect(l.waitMs('carol', 'a9')).toBe(0);
  });

  it('run at most maxConcurrent at once, queue maxQueued, refuse beyond, and drop a waiter whose client left', async () => {
    const { l } = limits({ maxConcurrent: 2, maxQueued: 2 });
    let running = 0;
    let peak = 0;
    const pending: Array<() => void> = [];
    const job = () => new Promise<string>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      pending.push(() => {
        running--;
        resolve('done');
      });
    });
    const tick = () => new Promise((r) => setTimeout(r, 1));
    const gone = new AbortController();
    const runs = [l.run(job), l.run(job), l.run(job, gone.signal), l.run(job)];
    expect(await l.run(job)).toBeUndefined();
    gone.abort();
    expect(await runs[2]).toBeUndefined();
    // The freed queue place takes a new one; everything queued runs, two at a time.
    runs.push(l.run(job));
    let finished = 0;
    while (finished < 4) {
      await tick();
      const next = pending.shift();
      if (next !== undefined) {
        next();
        finished++;
      }
    }
    expect(await Promise.all([runs[0], runs[1], runs[3], runs[4]])).toEqual(['done', 'done', 'done', 'done']);
    expect(peak).toBe(2);
    expect(running).toBe(0);
  });
});
