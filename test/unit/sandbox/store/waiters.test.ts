// Long-poll waiters by key: woken by their key only, by their time running out, or by their signal; counted while
// they wait and forgotten after.
import { describe, expect, it } from 'vitest';
import { Waiters } from '../../../../src/sandbox/store/waiters.js';

describe('Waiters', () => {
  it('wakes the waiters of a key, and only those', async () => {
    const waiters = new Waiters<string>();
    const signal = new AbortController().signal;
    const woken: string[] = [];
    const a = waiters.wait('a', 10_000, signal).then(() => woken.push('a'));
    const b = waiters.wait('b', 10_000, signal).then(() => woken.push('b'));
    expect(waiters.count()).toBe(2);
    waiters.wake(['a', 'nobody']);
    await a;
    expect(woken).toEqual(['a']);
    expect(waiters.count()).toBe(1);
    waiters.wake(['b']);
    await b;
    expect(waiters.count()).toBe(0);
  });

  it('resolves when the time runs out or the signal fires, at once for a signal that already has', async () => {
    const waiters = new Waiters<number>();
    const started = Date.now();
    await waiters.wait(1, 30, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    const pending = waiters.wait(1, 10_000, controller.signal);
    controller.abort();
    await pending;
    await waiters.wait(1, 10_000, controller.signal);
    expect(waiters.count()).toBe(0);
  });
});
