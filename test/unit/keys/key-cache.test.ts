import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { KeyCache, type KeyCacheOptions } from '../../../src/keys/key-cache.js';

/** A manual clock. */
function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

let keyCounter = 0;
function newKey(): AesKey {
  keyCounter++;
  return new AesKey(new Uint8Array(32).fill(keyCounter & 0xff));
}

/** A cache of AesKeys whose loads are recorded and settled by the test. */
function pendingCache(extra: Partial<KeyCacheOptions<string, AesKey>> = {}) {
  const loads: { key: string; signal: AbortSignal; result: ReturnType<typeof deferred<AesKey>> }[] = [];
  const cache = new KeyCache<string, AesKey>({
    name: 'test keys',
    keyOf: (k) => k,
    load: (key, signal) => {
      const result = deferred<AesKey>();
      loads.push({ key, signal, result });
      return result.promise;
    },
    dispose: (k) => k.wipe(),
    ...extra,
  });
  return { cache, loads };
}

/** A cache of AesKeys loaded immediately, with a manual clock. */
function immediateCache(options: { maxEntries?: number; maxAgeMs?: number } = {}) {
  const time = clock(1_000);
  const loaded: AesKey[] = [];
  const cache = new KeyCache<string, AesKey>({
    name: 'test keys',
    ...options,
    keyOf: (k) => k,
    load: async () => {
      const key = newKey();
      loaded.push(key);
      return key;
    },
    dispose: (k) => k.wipe(),
    now: time.now,
  });
  return { cache, loaded, time };
}

const ABORTED = expect.objectContaining({ code: 'ABORTED' });

describe('KeyCache', () => {
  it('makes one load for 1,000 concurrent first gets and gives all the same value', async () => {
    let calls = 0;
    const cache = new KeyCache<string, object>({
      name: 'content keys',
      keyOf: (k) => k,
      load: async () => { calls++; await new Promise((r) => setTimeout(r, 5)); return {}; },
    });
    const values = await Promise.all(Array.from({ length: 1000 }, () => cache.get('thread:1')));
    expect(calls).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(cache.stats()).toMatchObject({ name: 'content keys', size: 1, loads: 1, misses: 1000, hits: 0, inFlight: 0 });
  });

  it('reloads a stale value once for concurrent callers and disposes the old one', async () => {
    const { cache, loaded, time } = immediateCache({ maxAgeMs: 1000 });
    const first = await cache.get('a');
    time.advance(1000);
    const again = await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    expect(loaded).toHaveLength(2);
    expect(again.every((v) => v === loaded[1])).toBe(true);
    expect(first.wiped).toBe(true);
    expect(cache.stats()).toMatchObject({ expirations: 1, size: 1 });
  });

  it('fails fast during the cooldown after a failed load, then loads again', async () => {
    const time = clock();
    const failure = new Error('key manager down');
    let calls = 0;
    const cache = new KeyCache<string, string>({
      name: 'account keys',
      failureCooldownMs: 5_000,
      keyOf: (k) => k,
      load: async (k) => {
        calls++;
        if (calls === 1) throw failure;
        return `value of ${k}`;
      },
      now: time.now,
    });
    const waiters = [cache.get('r0'), cache.get('r0')];
    for (const waiter of waiters) await expect(waiter).rejects.toBe(failure);
    expect(cache.stats()).toMatchObject({ loads: 1, loadFailures: 1, coolingDown: 1 });

    time.advance(4_999);
    await expect(cache.get('r0')).rejects.toBe(failure);
    expect(calls).toBe(1);
    await expect(cache.get('other')).resolves.toBe('value of other');

    time.advance(1);
    expect(cache.stats().coolingDown).toBe(0);
    await expect(cache.get('r0')).resolves.toBe('value of r0');
    expect(calls).toBe(3);
  });

  it('turns a synchronous throw of load into a rejection', async () => {
    const cache = new KeyCache<string, string>({ name: 'n', keyOf: (k) => k, load: () => { throw new Error('sync'); } });
    await expect(cache.get('a')).rejects.toThrow('sync');
    expect(cache.stats()).toMatchObject({ loadFailures: 1, inFlight: 0 });
  });

  it('evicts the least recently used value beyond maxEntries and wipes it', async () => {
    const { cache } = immediateCache({ maxEntries: 3 });
    const a = await cache.get('a');
    const b = await cache.get('b');
    const c = await cache.get('c');
    expect(await cache.get('a')).toBe(a); // a is now the most recently used
    expect(cache.peek('b')).toBe(b); // peek does not bump b
    const d = await cache.get('d');
    expect(b.wiped).toBe(true);
    expect([a, c, d].some((k) => k.wiped)).toBe(false);
    expect(cache.peek('b')).toBeUndefined();
    await cache.get('e');
    expect(c.wiped).toBe(true);
    expect(a.wiped).toBe(false);
    expect(cache.stats()).toMatchObject({ size: 3, evictions: 2, hits: 1 });
  });

  it('disposes a replaced value, but not when the same value is set again', () => {
    const { cache } = immediateCache();
    const first = newKey();
    const second = newKey();
    cache.set('a', first);
    cache.set('a', first);
    expect(first.wiped).toBe(false);
    cache.set('a', second);
    expect(first.wiped).toBe(true);
    expect(cache.peek('a')).toBe(second);
    expect(cache.delete('a')).toBe(true);
    expect(second.wiped).toBe(true);
    expect(cache.delete('a')).toBe(false);
  });

  it('expires values after maxAgeMs, lazily on access and by the sweep on insert', async () => {
    const { cache, loaded, time } = immediateCache({ maxAgeMs: 1000 });
    const a = await cache.get('a');
    time.advance(999);
    expect(await cache.get('a')).toBe(a);
    expect(cache.peek('a')).toBe(a);
    time.advance(1);
    expect(cache.peek('a')).toBeUndefined();
    expect(a.wiped).toBe(false); // peek changes nothing

    await cache.get('b'); // the insert sweeps a
    expect(a.wiped).toBe(true);
    expect(cache.stats()).toMatchObject({ size: 1, expirations: 1 });

    time.advance(1000);
    const b2 = await cache.get('b'); // expired on access
    expect(loaded[1]!.wiped).toBe(true);
    expect(b2).toBe(loaded[2]);
    expect(cache.stats().expirations).toBe(2);
  });

  it('reloads when a value is older than the per-call maxAgeMs', async () => {
    const { cache, loaded, time } = immediateCache();
    const first = await cache.get('rotation');
    time.advance(100);
    expect(await cache.get('rotation', { maxAgeMs: 200 })).toBe(first);
    const fresh = await cache.get('rotation', { maxAgeMs: 50 });
    expect(fresh).not.toBe(first);
    expect(first.wiped).toBe(true);
    expect(await cache.get('rotation', { maxAgeMs: 0 })).toBe(loaded[2]);
    expect(fresh.wiped).toBe(true);
  });

  it('aborting one waiter leaves the shared load and the other waiters alone', async () => {
    const { cache, loads } = pendingCache();
    const controller = new AbortController();
    const leaving = cache.get('a', { signal: controller.signal });
    const staying = cache.get('a');
    controller.abort();
    await expect(leaving).rejects.toEqual(ABORTED);
    expect(loads).toHaveLength(1);
    expect(loads[0]!.signal.aborted).toBe(false);
    const key = newKey();
    loads[0]!.result.resolve(key);
    await expect(staying).resolves.toBe(key);
    expect(key.wiped).toBe(false);
    expect(cache.peek('a')).toBe(key);
  });

  it('aborts the load when every waiter has left, and disposes its late value', async () => {
    const { cache, loads } = pendingCache();
    const c1 = new AbortController();
    const c2 = new AbortController();
    const w1 = cache.get('a', { signal: c1.signal });
    const w2 = cache.get('a', { signal: c2.signal });
    c1.abort();
    expect(loads[0]!.signal.aborted).toBe(false);
    c2.abort();
    expect(loads[0]!.signal.aborted).toBe(true);
    await expect(w1).rejects.toEqual(ABORTED);
    await expect(w2).rejects.toEqual(ABORTED);
    expect(cache.stats().inFlight).toBe(0);

    const next = cache.get('a');
    expect(loads).toHaveLength(2);
    const late = newKey();
    loads[0]!.result.resolve(late);
    const current = newKey();
    loads[1]!.result.resolve(current);
    await expect(next).resolves.toBe(current);
    expect(late.wiped).toBe(true);
    expect(cache.stats()).toMatchObject({ size: 1, loadFailures: 0 });
  });

  it('rejects an already aborted caller without loading', async () => {
    const { cache, loads } = pendingCache();
    await expect(cache.get('a', { signal: AbortSignal.abort() })).rejects.toEqual(ABORTED);
    expect(loads).toHaveLength(0);
  });

  it('clear() during a load rejects its waiters, aborts it and disposes the late value', async () => {
    const { cache, loads } = pendingCache();
    const cached = newKey();
    cache.set('b', cached);
    const waiter = cache.get('a');
    cache.clear();
    expect(cached.wiped).toBe(true);
    await expect(waiter).rejects.toEqual(ABORTED);
    expect(loads[0]!.signal.aborted).toBe(true);
    const late = newKey();
    loads[0]!.result.resolve(late);
    await Promise.resolve();
    await Promise.resolve();
    expect(late.wiped).toBe(true);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ size: 0, inFlight: 0 });
  });

  it('delete() during a load disposes the late value and loads again for the waiters', async () => {
    const { cache, loads } = pendingCache();
    const waiter = cache.get('a');
    expect(cache.delete('a')).toBe(true);
    expect(loads).toHaveLength(2);
    expect(loads[0]!.signal.aborted).toBe(true);
    const late = newKey();
    loads[0]!.result.resolve(late);
    const fresh = newKey();
    loads[1]!.result.resolve(fresh);
    await expect(waiter).resolves.toBe(fresh);
    expect(late.wiped).toBe(true);
    expect(cache.peek('a')).toBe(fresh);
  });

  it('set() during a load hands the set value to the waiters and disposes the late one', async () => {
    const { cache, loads } = pendingCache();
    const waiter = cache.get('a');
    const given = newKey();
    cache.set('a', given);
    await expect(waiter).resolves.toBe(given);
    const late = newKey();
    loads[0]!.result.resolve(late);
    await Promise.resolve();
    await Promise.resolve();
    expect(late.wiped).toBe(true);
    expect(given.wiped).toBe(false);
    expect(cache.peek('a')).toBe(given);
  });

  it('swallows dispose errors', async () => {
    const cache = new KeyCache<string, number>({
      name: 'n', maxEntries: 1, keyOf: (k) => k, load: async () => 1, dispose: () => { throw new Error('boom'); },
    });
    cache.set('a', 1);
    expect(() => cache.set('b', 2)).not.toThrow();
    expect(cache.delete('b')).toBe(true);
    cache.set('c', 3);
    expect(() => cache.clear()).not.toThrow();
  });

  it('counts hits, misses, loads and failures', async () => {
    const time = clock();
    const cache = new KeyCache<string, string>({
      name: 'user keys',
      keyOf: (k) => k,
      load: async (k) => { if (k === 'bad') throw new Error('no'); return k; },
      now: time.now,
    });
    await cache.get('a');
    await cache.get('a');
    await cache.get('b');
    await expect(cache.get('bad')).rejects.toThrow('no');
    await expect(cache.get('bad')).rejects.toThrow('no');
    expect(cache.stats()).toEqual({
      name: 'user keys', size: 2, hits: 1, misses: 4, loads: 3, loadFailures: 1, inFlight: 0, evictions: 0, expirations: 0, coolingDown: 1,
    });
  });

  it('close() disposes everything and refuses later gets and sets', async () => {
    const { cache, loads } = pendingCache();
    const cached = newKey();
    cache.set('a', cached);
    const waiter = cache.get('b');
    cache.close();
    cache.close();
    expect(cached.wiped).toBe(true);
    await expect(waiter).rejects.toEqual(ABORTED);
    await expect(cache.get('a')).rejects.toThrow(/closed test keys cache/);
    const afterClose = newKey();
    cache.set('c', afterClose);
    expect(afterClose.wiped).toBe(true);
    expect(cache.stats()).toMatchObject({ size: 0, inFlight: 0 });
    expect(loads).toHaveLength(1);
  });

  it('refuses invalid options with INVALID_ARGUMENT', async () => {
    const base = { name: 'n', keyOf: (k: string) => k, load: async () => 1 };
    const bad: [Partial<KeyCacheOptions<string, number>>, string][] = [
      [{ maxEntries: 0 }, 'options.maxEntries'],
      [{ maxEntries: 1.5 }, 'options.maxEntries'],
      [{ maxAgeMs: Infinity }, 'options.maxAgeMs'],
      [{ maxAgeMs: 0 }, 'options.maxAgeMs'],
      [{ maxAgeMs: NaN }, 'options.maxAgeMs'],
      [{ failureCooldownMs: -1 }, 'options.failureCooldownMs'],
      [{ name: '' }, 'options.name'],
      [{ load: 'x' as never }, 'options.load'],
    ];
    for (const [override, parameter] of bad) {
      let thrown: unknown;
      try { new KeyCache({ ...base, ...override }); } catch (error) { thrown = error; }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT', parameter });
    }
    expect(() => new KeyCache({ ...base, failureCooldownMs: 0 })).not.toThrow();
    const cache = new KeyCache(base);
    await expect(cache.get('a', { maxAgeMs: -1 })).rejects.toMatchObject({ parameter: 'options.maxAgeMs' });
    await expect(cache.get('a', { signal: {} as AbortSignal })).rejects.toMatchObject({ parameter: 'options.signal' });
  });

  it('matches a reference model under random get/set/delete/clear/advance sequences', async () => {
    const MAX_ENTRIES = 3;
    const MAX_AGE = 100;
    const COOLDOWN = 30;
    const keyArb = fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key: keyArb, maxAgeMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }), fail: fc.boolean() }),
      fc.record({ kind: fc.constant('getMany' as const), key: keyArb }),
      fc.record({ kind: fc.constant('set' as const), key: keyArb }),
      fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
      fc.record({ kind: fc.constant('clear' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );

    interface Value { readonly serial: number; disposals: number }
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        let t = 0;
        let serial = 0;
        let failNext = false;
        const made: Value[] = [];
        const make = (): Value => { const v = { serial: serial++, disposals: 0 }; made.push(v); return v; };
        const cache = new KeyCache<string, Value>({
          name: 'model', maxEntries: MAX_ENTRIES, maxAgeMs: MAX_AGE, failureCooldownMs: COOLDOWN,
          keyOf: (k) => k,
          load: async () => { if (failNext) throw new Error('load failed'); return make(); },
          dispose: (v) => { v.disposals++; },
          now: () => t,
        });

        // Reference model: LRU order = Map order; expiry lazy on get, swept on insert; cooldown per key.
        const model = new Map<string, { value: Value; storedAt: number }>();
        const cooldownUntil = new Map<string, number>();
        const insert = (key: string, value: Value): void => {
          model.delete(key);
          for (const [k, e] of model) if (t - e.storedAt >= MAX_AGE) model.delete(k);
          model.set(key, { value, storedAt: t });
          while (model.size > MAX_ENTRIES) model.delete(model.keys().next().value!);
        };
        const startCooldown = (key: string): void => {
          // The cache keeps at most maxEntries cooldowns, dropping expired ones and then the oldest.
          for (const [k, until] of cooldownUntil) {
            if (until > t && cooldownUntil.size < MAX_ENTRIES) break;
            cooldownUntil.delete(k);
          }
          cooldownUntil.set(key, t + COOLDOWN);
        };
        const returned = (v: Value): void => { expect(v.disposals).toBe(0); };

        for (const o of ops) {
          switch (o.kind) {
            case 'get': {
              failNext = o.fail;
              const entry = model.get(o.key);
              const age = entry === undefined ? Infinity : t - entry.storedAt;
              if (entry !== undefined && age >= MAX_AGE) model.delete(o.key);
              const hit = entry !== undefined && age < MAX_AGE && (o.maxAgeMs === undefined || age < o.maxAgeMs);
              const before = serial;
              const coolingDown = (cooldownUntil.get(o.key) ?? -Infinity) > t;
              const result = await cache.get(o.key, { maxAgeMs: o.maxAgeMs }).then((v) => ({ v }), (e: unknown) => ({ e }));
              if (hit) {
                expect(result).toEqual({ v: entry.value });
                model.delete(o.key);
                model.set(o.key, entry);
              } else if (coolingDown || o.fail) {
                expect(result).toHaveProperty('e');
                expect(serial).toBe(before);
                if (!coolingDown) startCooldown(o.key);
              } else {
                expect(serial).toBe(before + 1);
                expect(result).toEqual({ v: made[before] });
                cooldownUntil.delete(o.key);
                insert(o.key, made[before]!);
              }
              if ('v' in result) returned(result.v);
              break;
            }
            case 'getMany': {
              failNext = false;
              const values = await Promise.all([cache.get(o.key), cache.get(o.key), cache.get(o.key)]).catch(() => undefined);
              const entry = model.get(o.key);
              if (entry !== undefined && t - entry.storedAt < MAX_AGE) {
                expect(values).toEqual([entry.value, entry.value, entry.value]);
                model.delete(o.key);
                model.set(o.key, entry);
              } else if ((cooldownUntil.get(o.key) ?? -Infinity) > t) {
                expect(values).toBeUndefined();
                if (entry !== undefined) model.delete(o.key);
              } else {
                const fresh = made[made.length - 1]!;
                expect(values).toEqual([fresh, fresh, fresh]);
                insert(o.key, fresh);
              }
              for (const v of values ?? []) returned(v);
              break;
            }
            case 'set': {
              const v = make();
              cache.set(o.key, v);
              cooldownUntil.delete(o.key);
              insert(o.key, v);
              break;
            }
            case 'delete':
              expect(cache.delete(o.key)).toBe(model.has(o.key));
              model.delete(o.key);
              cooldownUntil.delete(o.key);
              break;
            case 'clear':
              cache.clear();
              model.clear();
              cooldownUntil.clear();
              break;
            case 'advance':
              t += o.ms;
              break;
          }
          const stats = cache.stats();
          expect(stats.size).toBeLessThanOrEqual(MAX_ENTRIES);
          expect(stats.size).toBe(model.size);
          expect(stats.inFlight).toBe(0);
          for (const key of ['k0', 'k1', 'k2', 'k3', 'k4']) {
            const entry = model.get(key);
            expect(cache.peek(key)).toBe(entry !== undefined && t - entry.storedAt < MAX_AGE ? entry.value : undefined);
          }
          // Exactly the values the model holds are alive; every other value was disposed exactly once.
          const live = new Set([...model.values()].map((e) => e.value));
          for (const v of made) expect(v.disposals).toBe(live.has(v) ? 0 : 1);
        }
        cache.close();
        for (const v of made) expect(v.disposals).toBe(1);
      }),
      { numRuns: 300 },
    );
  });
});
