/**
 * KeyCache: the one bounded, expiring, single-flight async cache behind every key kind allegro-ts fetches (user
 * keys, account keys, content keys per (thread, rotation), a thread's current rotation id, the entity key).
 *
 * - Bounds: at most `maxEntries` values (least recently used evicted first) and a mandatory finite `maxAgeMs`, so
 *   nothing is cached forever. Defaults follow oss-allegro's Guava caches: 1000 entries, 60 minutes
 *   (docs/protocol.md §3.2; docs/architecture.md "Design rationale").
 * - Single flight: concurrent `get`s of one key share one `load`. A failed load rejects every waiter with its error
 *   and starts a cooldown during which `get` of that key rethrows the same error without calling `load`, so a Key
 *   Manager outage or a thread the user left does not turn into a request storm.
 * - Ownership: the cache owns its values. `dispose` (for keys, `AesKey.wipe()`) runs exactly once when a value
 *   leaves the cache — evicted, expired, deleted, replaced, cleared, or arriving from a load that was cancelled —
 *   and its errors are swallowed. A value returned by `get` is borrowed: use it promptly and do not keep it, since it
 *   is disposed when it leaves the cache.
 * - No timers: expired values are dropped when touched and by an amortised O(1) sweep on every insert, so an idle
 *   cache never keeps the process alive. The default clock is the monotonic `performance.now()`.
 */
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { describeValue, requirePositiveInteger, requireString } from '../util/validate.js';

/** Default capacity: oss-allegro's `maximumSize(1000)`. */
export const DEFAULT_MAX_ENTRIES = 1000;
/** Default lifetime of a cached value: oss-allegro's `expireAfterWrite(60 min)`. */
export const DEFAULT_MAX_AGE_MS = 60 * 60 * 1000;
/** Default time during which a key whose load failed fails fast. */
export const DEFAULT_FAILURE_COOLDOWN_MS = 5_000;

/** Construction options of {@link KeyCache}. */
export interface KeyCacheOptions<K, V> {
  /** Human-readable name used in stats and error messages, e.g. `'content keys'`. */
  name: string;
  /** Capacity, a positive integer. Default {@link DEFAULT_MAX_ENTRIES}. */
  maxEntries?: number | undefined;
  /** Lifetime of a value from the moment it was stored, positive and finite. Default {@link DEFAULT_MAX_AGE_MS}. */
  maxAgeMs?: number | undefined;
  /**
   * After a failed load, `get` of that key rethrows the load's error without loading again until this many
   * milliseconds have passed. Zero disables the cooldown. Default {@link DEFAULT_FAILURE_COOLDOWN_MS}.
   */
  failureCooldownMs?: number | undefined;
  /** Stable string identity of a key; two keys with the same string are the same cache entry. */
  keyOf: (key: K) => string;
  /** Fetch the value of a key. `signal` aborts once no caller waits for the result any more. */
  load: (key: K, signal: AbortSignal) => Promise<V>;
  /** Release a value that leaves the cache, e.g. `(key) => key.wipe()`. Called once per value; errors are ignored. */
  dispose?: ((value: V) => void) | undefined;
  /** Clock in milliseconds, for tests. Default `performance.now()` (monotonic). */
  now?: (() => number) | undefined;
}

/** Options of one {@link KeyCache.get} call. */
export interface KeyCacheGetOptions {
  /** Aborts this caller's wait only; a shared load goes on while another caller still waits for it. */
  signal?: AbortSignal | undefined;
  /**
   * Stricter freshness for this call: a cached value older than this is reloaded (once, shared with concurrent
   * callers). Zero forces a reload. Values above the cache's `maxAgeMs` have no effect.
   */
  maxAgeMs?: number | undefined;
}

/** A read-only snapshot of a {@link KeyCache}'s state and counters (counters are cumulative, `clear()` keeps them). */
export interface KeyCacheStats {
  /** The cache's `name`. */
  readonly name: string;
  /** Values held, including expired ones not yet swept. */
  readonly size: number;
  /** `get` calls answered from the cache. */
  readonly hits: number;
  /** `get` calls not answered from the cache: they started or joined a load, or failed fast during a cooldown. */
  readonly misses: number;
  /** Calls made to `load`. */
  readonly loads: number;
  /** Loads that failed (cancelled loads are not counted). */
  readonly loadFailures: number;
  /** Loads in progress. */
  readonly inFlight: number;
  /** Values dropped to stay within `maxEntries`. */
  readonly evictions: number;
  /** Values dropped because they outlived `maxAgeMs`. */
  readonly expirations: number;
  /** Keys whose last load failed and that currently fail fast. */
  readonly coolingDown: number;
}

interface Entry<V> {
  readonly value: V;
  readonly storedAt: number;
}

interface Flight<K, V> {
  readonly id: string;
  readonly key: K;
  readonly controller: AbortController;
  readonly waiters: Set<Waiter<K, V>>;
  /** Set when the load's result must no longer reach the cache or the waiters. */
  cancelled: boolean;
}

interface Waiter<K, V> {
  /** The load this caller waits for; changes when `delete()` restarts the load. */
  flight: Flight<K, V>;
  resolve(value: V): void;
  reject(error: unknown): void;
}

interface Cooldown {
  readonly error: unknown;
  readonly until: number;
}

/**
 * A bounded async cache with LRU eviction, expiry, single-flight loading, failure cooldown and disposal of values.
 *
 * @example
 * ```ts
 * const contentKeys = new KeyCache<{ threadId: string; rotationId: bigint }, AesKey>({
 *   name: 'content keys',
 *   keyOf: ({ threadId, rotationId }) => `${threadId}:${rotationId}`,
 *   load: (k, signal) => fetchContentKey(k, signal),
 *   dispose: (key) => key.wipe(),
 * });
 * const key = await contentKeys.get({ threadId, rotationId }, { signal });
 * ```
 */
export class KeyCache<K, V> {
  readonly #name: string;
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #keyOf: (key: K) => string;
  readonly #load: (key: K, signal: AbortSignal) => Promise<V>;
  readonly #dispose: ((value: V) => void) | undefined;
  readonly #now: () => number;

  /** Values in least-recently-used-first order (a hit moves its entry to the end). */
  readonly #entries = new Map<string, Entry<V>>();
  /** The same values in the order they were stored, so expired ones form a prefix the sweep can stop after. */
  readonly #byAge = new Map<string, Entry<V>>();
  readonly #flights = new Map<string, Flight<K, V>>();
  /** Keys whose last load failed, in the order they failed (so also in order of `until`). */
  readonly #cooldowns = new Map<string, Cooldown>();
  #closed = false;

  #hits = 0;
  #misses = 0;
  #loads = 0;
  #loadFailures = 0;
  #evictions = 0;
  #expirations = 0;

  /**
   * @param options see {@link KeyCacheOptions}.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if an option is missing or out of range, in particular a
   *   `maxEntries` below 1 or a `maxAgeMs` that is not positive and finite (caching forever is refused).
   */
  constructor(options: KeyCacheOptions<K, V>) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'an options object', describeValue(options));
    requireString('options.name', options.name);
    if (options.name === '') throw new InvalidArgumentError('options.name', 'a non-empty string', 'an empty string');
    this.#name = options.name;
    this.#maxEntries = requirePositiveInteger('options.maxEntries', options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#maxAgeMs = requireDuration('options.maxAgeMs', options.maxAgeMs ?? DEFAULT_MAX_AGE_MS, false);
    this.#cooldownMs = requireDuration('options.failureCooldownMs', options.failureCooldownMs ?? DEFAULT_FAILURE_COOLDOWN_MS, true);
    this.#keyOf = requireFunction('options.keyOf', options.keyOf);
    this.#load = requireFunction('options.load', options.load);
    this.#dispose = options.dispose === undefined ? undefined : requireFunction('options.dispose', options.dispose);
    this.#now = options.now === undefined ? () => performance.now() : requireFunction('options.now', options.now);
  }

  /**
   * The value of `key`: from the cache when it is fresh, otherwise from `load`, shared with every concurrent call
   * for the same key.
   *
   * @param key the key to look up.
   * @param options `signal` to stop waiting, `maxAgeMs` to demand a fresher value than the cache's default.
   * @returns the value, borrowed from the cache (see the module notes on disposal).
   * @throws AbortedError (`ABORTED`) if `signal` aborts, if the cache is cleared or closed while loading, or if it is
   *   already closed.
   * @throws whatever `load` rejected with, both for the callers of a failed load and, during the cooldown that
   *   follows, for later callers (the same error object).
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a malformed `options`.
   */
  get(key: K, options: KeyCacheGetOptions = {}): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      if (this.#closed) throw new AbortedError(`Lookup in the closed ${this.#name} cache`);
      const { signal, maxAgeMs } = options;
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('options.signal', 'an AbortSignal', describeValue(signal));
      if (maxAgeMs !== undefined) requireDuration('options.maxAgeMs', maxAgeMs, true);
      if (signal?.aborted === true) throw new AbortedError(`Lookup in the ${this.#name} cache`);

      const id = this.#keyOf(key);
      const now = this.#now();
      const entry = this.#entries.get(id);
      if (entry !== undefined) {
        const age = now - entry.storedAt;
        if (age >= this.#maxAgeMs) {
          this.#remove(id, entry);
          this.#expirations++;
        } else if (maxAgeMs === undefined || age < maxAgeMs) {
          this.#entries.delete(id);
          this.#entries.set(id, entry);
          this.#hits++;
          resolve(entry.value);
          return;
        }
      }
      this.#misses++;

      let flight = this.#flights.get(id);
      if (flight === undefined) {
        const cooldown = this.#cooldowns.get(id);
        if (cooldown !== undefined) {
          if (now < cooldown.until) throw cooldown.error;
          this.#cooldowns.delete(id);
        }
        flight = this.#startLoad(id, key);
      }

      const onAbort = (): void => {
        const waiters = waiter.flight.waiters;
        waiters.delete(waiter);
        if (waiters.size === 0) this.#cancel(waiter.flight);
        waiter.reject(new AbortedError(`Lookup in the ${this.#name} cache`));
      };
      const waiter: Waiter<K, V> = {
        flight,
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      flight.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The cached value of `key` if it is there and not expired, without loading, counting or changing LRU order.
   *
   * @returns the value (borrowed), or `undefined`.
   */
  peek(key: K): V | undefined {
    const entry = this.#entries.get(this.#keyOf(key));
    return entry !== undefined && this.#now() - entry.storedAt < this.#maxAgeMs ? entry.value : undefined;
  }

  /**
   * Store `value` under `key`; the cache takes ownership of it. A value it replaces is disposed, the key's cooldown
   * ends, and a load in progress for the key is cancelled: its callers receive `value` and its result, when it
   * arrives, is disposed. On a closed cache, `value` is disposed at once and nothing is stored.
   */
  set(key: K, value: V): void {
    if (this.#closed) {
      this.#disposeValue(value);
      return;
    }
    const id = this.#keyOf(key);
    this.#cooldowns.delete(id);
    this.#store(id, value);
    const flight = this.#flights.get(id);
    if (flight !== undefined) {
      this.#cancel(flight);
      for (const waiter of flight.waiters) waiter.resolve(value);
    }
  }

  /**
   * Forget `key`: dispose its value, end its cooldown, and cancel a load in progress (its result will be disposed).
   * Callers waiting for that load are not failed: a new load is started for them.
   *
   * @returns whether a value or a load in progress was dropped.
   */
  delete(key: K): boolean {
    const id = this.#keyOf(key);
    this.#cooldowns.delete(id);
    const entry = this.#entries.get(id);
    if (entry !== undefined) this.#remove(id, entry);
    const flight = this.#flights.get(id);
    if (flight !== undefined) {
      this.#cancel(flight);
      const restarted = this.#startLoad(id, flight.key);
      for (const waiter of flight.waiters) {
        waiter.flight = restarted;
        restarted.waiters.add(waiter);
      }
    }
    return entry !== undefined || flight !== undefined;
  }

  /**
   * Dispose every value and forget every cooldown. Loads in progress are cancelled: their signals abort, their
   * callers are rejected with `AbortedError` (`ABORTED`), and values that still arrive are disposed.
   */
  clear(): void {
    this.#abortAll(`Loading from the ${this.#name} cache (cleared meanwhile)`);
  }

  /** A snapshot of sizes and counters; changes nothing. */
  stats(): KeyCacheStats {
    const now = this.#now();
    let coolingDown = 0;
    for (const cooldown of this.#cooldowns.values()) if (now < cooldown.until) coolingDown++;
    return {
      name: this.#name,
      size: this.#entries.size,
      hits: this.#hits,
      misses: this.#misses,
      loads: this.#loads,
      loadFailures: this.#loadFailures,
      inFlight: this.#flights.size,
      evictions: this.#evictions,
      expirations: this.#expirations,
      coolingDown,
    };
  }

  /**
   * Clear the cache for good: like {@link clear}, and every later `get` rejects with `AbortedError` (`ABORTED`).
   * Idempotent.
   */
  close(): void {
    this.#closed = true;
    this.#abortAll(`Loading from the ${this.#name} cache (closed meanwhile)`);
  }

  #startLoad(id: string, key: K): Flight<K, V> {
    const flight: Flight<K, V> = { id, key, controller: new AbortController(), waiters: new Set(), cancelled: false };
    this.#flights.set(id, flight);
    this.#loads++;
    let loading: Promise<V>;
    try {
      loading = Promise.resolve(this.#load(key, flight.controller.signal));
    } catch (error) {
      loading = Promise.reject(error);
    }
    // Settling is always asynchronous, so the caller registers its waiter before either handler runs.
    loading.then(
      (value) => {
        if (flight.cancelled) {
          this.#disposeValue(value);
          return;
        }
        this.#flights.delete(id);
        this.#store(id, value);
        for (const waiter of flight.waiters) waiter.resolve(value);
      },
      (error: unknown) => {
        if (flight.cancelled) return;
        this.#flights.delete(id);
        this.#loadFailures++;
        if (this.#cooldownMs > 0) this.#startCooldown(id, error);
        for (const waiter of flight.waiters) waiter.reject(error);
      },
    );
    return flight;
  }

  /** Detach a load from its key: its signal aborts and its result will be disposed or ignored. Waiters are left to the caller. */
  #cancel(flight: Flight<K, V>): void {
    flight.cancelled = true;
    if (this.#flights.get(flight.id) === flight) this.#flights.delete(flight.id);
    flight.controller.abort(new AbortedError(`Loading from the ${this.#name} cache`));
  }

  #abortAll(what: string): void {
    const flights = [...this.#flights.values()];
    const values = [...this.#entries.values()].map((entry) => entry.value);
    this.#flights.clear();
    this.#entries.clear();
    this.#byAge.clear();
    this.#cooldowns.clear();
    for (const flight of flights) {
      this.#cancel(flight);
      for (const waiter of flight.waiters) waiter.reject(new AbortedError(what));
    }
    for (const value of values) this.#disposeValue(value);
  }

  #store(id: string, value: V): void {
    const now = this.#now();
    const old = this.#entries.get(id);
    if (old !== undefined) {
      this.#entries.delete(id);
      this.#byAge.delete(id);
      if (old.value !== value) this.#disposeValue(old.value);
    }
    this.#sweep(now);
    const entry: Entry<V> = { value, storedAt: now };
    this.#entries.set(id, entry);
    this.#byAge.set(id, entry);
    for (const [lruId, lru] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#remove(lruId, lru);
      this.#evictions++;
    }
  }

  /**
   * Drop expired values. `#byAge` is in storage order, so with a monotonic clock the expired values are a prefix and
   * each value is visited once over its life: O(1) amortised per insert.
   */
  #sweep(now: number): void {
    for (const [id, entry] of this.#byAge) {
      if (now - entry.storedAt < this.#maxAgeMs) break;
      this.#remove(id, entry);
      this.#expirations++;
    }
  }

  #startCooldown(id: string, error: unknown): void {
    const now = this.#now();
    for (const [oldId, cooldown] of this.#cooldowns) {
      if (now < cooldown.until && this.#cooldowns.size < this.#maxEntries) break;
      this.#cooldowns.delete(oldId);
    }
    this.#cooldowns.delete(id);
    this.#cooldowns.set(id, { error, until: now + this.#cooldownMs });
  }

  #remove(id: string, entry: Entry<V>): void {
    this.#entries.delete(id);
    this.#byAge.delete(id);
    this.#disposeValue(entry.value);
  }

  #disposeValue(value: V): void {
    try {
      this.#dispose?.(value);
    } catch {
      // A failing dispose must not break the cache operation that triggered it; the value is gone either way.
    }
  }
}

/** Require a finite duration in milliseconds: positive, or also zero when `zeroAllowed`. */
function requireDuration(parameter: string, value: unknown, zeroAllowed: boolean): number {
  if (typeof value === 'number' && Number.isFinite(value) && (value > 0 || (zeroAllowed && value === 0))) return value;
  throw new InvalidArgumentError(parameter, `a finite ${zeroAllowed ? 'non-negative' : 'positive'} number of milliseconds`, describeValue(value));
}

/** Require a function. */
function requireFunction<F>(parameter: string, value: F): F {
  if (typeof value !== 'function') throw new InvalidArgumentError(parameter, 'a function', describeValue(value));
  return value;
}
