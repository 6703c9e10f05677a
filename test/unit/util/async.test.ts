// Waiting and cancellation helpers: the two sleeps (one rejects on abort, one wakes), settleOrAbort, linkSignals
// and its dispose, and AbortGroup: members aborted together, by their outside signal only, one listener per outside
// signal however many members share it, removed when the last member leaves.
import { describe, expect, it, vi } from 'vitest';
import { AbortedError } from '../../../src/errors.js';
import { AbortGroup, linkSignals, settleOrAbort, sleepOrAbort, sleepOrWake } from '../../../src/util/async.js';

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => 'resolved', (err: unknown) => err);
}

/** The abort listeners currently on `signal`, counted through spies on its add/remove methods. */
function listenerCount(signal: AbortSignal): () => number {
  let count = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  vi.spyOn(signal, 'addEventListener').mockImplementation((type, listener, options) => {
    if (type === 'abort') count++;
    add(type, listener, options);
  });
  vi.spyOn(signal, 'removeEventListener').mockImplementation((type, listener, options) => {
    if (type === 'abort') count--;
    remove(type, listener, options);
  });
  return () => count;
}

describe('sleepOrAbort', () => {
  it('resolves after the delay, and removes its listener', async () => {
    const controller = new AbortController();
    const count = listenerCount(controller.signal);
    const started = performance.now();
    await sleepOrAbort(30, controller.signal, 'wait');
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(count()).toBe(0);
  });

  it('rejects with AbortedError naming what was aborted, at once and when the signal fires', async () => {
    expect(await outcome(sleepOrAbort(10, AbortSignal.abort(), 'GET /x'))).toEqual(new AbortedError('GET /x'));
    const controller = new AbortController();
    const pending = outcome(sleepOrAbort(10_000, controller.signal, 'GET /x'));
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
  });
});

describe('sleepOrWake', () => {
  it('resolves early (never rejects) when the signal fires, at once when it has', async () => {
    expect(await outcome(sleepOrWake(10_000, AbortSignal.abort()))).toBe('resolved');
    const controller = new AbortController();
    const count = listenerCount(controller.signal);
    const started = performance.now();
    const pending = outcome(sleepOrWake(10_000, controller.signal));
    setTimeout(() => controller.abort(), 20);
    expect(await pending).toBe('resolved');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(count()).toBe(0);
  });
});

describe('delays beyond what a timer holds', () => {
  // Node runs a setTimeout longer than 2^31 − 1 ms after 1 ms instead; both sleeps wait the longest timer instead.
  it.each([2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER, Infinity])('%d ms: neither sleep ends early', async (ms) => {
    const controller = new AbortController();
    let ended = 0;
    void sleepOrAbort(ms, controller.signal, 'wait').then(() => ended++, () => undefined);
    void sleepOrWake(ms, controller.signal).then(() => ended++);
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBe(0);
    controller.abort();
  });
});

describe('settleOrAbort', () => {
  it('settles as the promise does, or rejects with AbortedError when the signal fires first', async () => {
    expect(await settleOrAbort(Promise.resolve(7), undefined, 'x')).toBe(7);
    const boom = new Error('boom');
    expect(await outcome(settleOrAbort(Promise.reject(boom), new AbortController().signal, 'x'))).toBe(boom);
    expect(await outcome(settleOrAbort(new Promise(() => {}), AbortSignal.abort(), 'x'))).toBeInstanceOf(AbortedError);
    const controller = new AbortController();
    const pending = outcome(settleOrAbort(new Promise(() => {}), controller.signal, 'x'));
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
  });
});

describe('linkSignals', () => {
  it('fires when any source fires, is born aborted after an aborted source, and dispose() unhooks it', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkSignals(a.signal, undefined, b.signal);
    expect(linked.signal.aborted).toBe(false);
    b.abort();
    expect(linked.signal.aborted).toBe(true);
    expect(linkSignals(AbortSignal.abort()).signal.aborted).toBe(true);

    const c = new AbortController();
    const count = listenerCount(c.signal);
    const unhooked = linkSignals(c.signal);
    expect(count()).toBe(1);
    unhooked.dispose();
    unhooked.dispose();
    expect(count()).toBe(0);
    c.abort();
    expect(unhooked.signal.aborted).toBe(false);
  });

  it('abort() fires the linked signal alone, leaving its sources as they were', () => {
    const a = new AbortController();
    const linked = linkSignals(a.signal);
    linked.abort();
    expect(linked.signal.aborted).toBe(true);
    expect(a.signal.aborted).toBe(false);
    const member = new AbortGroup().join(a.signal);
    member.abort();
    expect(member.signal.aborted).toBe(true);
    expect(a.signal.aborted).toBe(false);
  });
});

describe('AbortGroup', () => {
  it('aborts every member, and members that join later start aborted', () => {
    const group = new AbortGroup();
    const members = [group.join(), group.join(), group.join()];
    members[1]!.dispose();
    group.abort();
    expect(group.aborted).toBe(true);
    expect(members.map((m) => m.signal.aborted)).toEqual([true, false, true]);
    expect(group.join().signal.aborted).toBe(true);
  });

  it('hangs one listener on an outside signal however many members share it, and removes it with the last member', () => {
    const group = new AbortGroup();
    const outside = new AbortController();
    const count = listenerCount(outside.signal);
    const members = Array.from({ length: 50 }, () => group.join(outside.signal));
    const other = group.join(new AbortController().signal);
    expect(count()).toBe(1);
    for (const m of members.slice(1)) m.dispose();
    expect(count()).toBe(1);
    members[0]!.dispose();
    expect(count()).toBe(0);

    const again = [group.join(outside.signal), group.join(outside.signal)];
    outside.abort();
    expect(again.map((m) => m.signal.aborted)).toEqual([true, true]);
    expect(other.signal.aborted).toBe(false);
    expect(group.join(outside.signal).signal.aborted).toBe(true);
  });

  it('run() joins for the duration of the operation', async () => {
    const group = new AbortGroup();
    const outside = new AbortController();
    const count = listenerCount(outside.signal);
    let seen: AbortSignal | undefined;
    expect(await group.run(async (signal) => {
      seen = signal;
      expect(count()).toBe(1);
      return 42;
    }, outside.signal)).toBe(42);
    expect(count()).toBe(0);
    group.abort();
    expect(seen!.aborted).toBe(false); // it had left the group
  });
});
