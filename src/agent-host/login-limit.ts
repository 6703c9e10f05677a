/**
 * Bounds on the cost of logging in to the agent host (docs/agent-host.md "Authentication"): every
 * `POST /Authentication/V1/Tokens` verifies a password with scrypt (16 MiB, tens of milliseconds, on libuv's thread
 * pool), so without bounds a client could pin the CPU, the memory and the thread pool the rest of the host needs.
 *
 * - **Concurrency**: at most {@link LoginLimitOptions.maxConcurrent} verifications run at once; up to
 *   {@link LoginLimitOptions.maxQueued} more wait in turn; beyond that a login is refused at once (the host answers
 *   503 with Retry-After).
 * - **Failed attempts**: counted per username (case-insensitively, whether the user exists or not: the answer never
 *   tells) and per remote address. After `freeFailures` failures in a row, each further attempt must wait a backoff —
 *   `backoffInitialMs`, doubling with every failure, capped at `backoffMaxMs` — and is refused before any scrypt runs
 *   (429 with Retry-After). A username's backoff holds back only addresses that have failed themselves: a client whose
 *   address has no failure on record still logs in while another address guesses its password (so an attacker gets
 *   one guess per fresh address, and cannot lock the user out). A success clears its username's count; an address's
 *   count is forgotten `forgetAfterMs` after its last failure. Both tables are bounded (the least recently failed
 *   entries are dropped first) and keep only a SHA-256 of the username.
 */
import { createHash } from 'node:crypto';

/** How logins are bounded; every field has a default ({@link DEFAULT_LOGIN_LIMITS}). */
export interface LoginLimitOptions {
  /** Password verifications running at once. */
  maxConcurrent: number;
  /** Verifications waiting for a turn; beyond them a login is refused as busy. */
  maxQueued: number;
  /** Failures in a row a username may have before its attempts back off. */
  freeFailuresPerUser: number;
  /** Failures in a row a remote address may have before its attempts back off. */
  freeFailuresPerAddress: number;
  /** The first backoff, doubled with each further failure, and its cap. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How long a count is kept after its last failure. */
  forgetAfterMs: number;
  /** Usernames and addresses tracked at most (each table). */
  maxTracked: number;
  now: () => number;
}

/** The defaults: two verifications at once (libuv's pool has four threads for all of the host), 32 waiting. */
export const DEFAULT_LOGIN_LIMITS: Readonly<LoginLimitOptions> = Object.freeze({
  maxConcurrent: 2, maxQueued: 32, freeFailuresPerUser: 5, freeFailuresPerAddress: 20, backoffInitialMs: 1000, backoffMaxMs: 300_000,
  forgetAfterMs: 15 * 60_000, maxTracked: 10_000, now: Date.now,
});

interface Failures {
  count: number;
  /** Until when attempts wait (epoch ms); 0 while within the free failures. */
  until: number;
  last: number;
}

/** The counts of one kind of key, bounded, least recently failed first. */
class FailureTable {
  readonly #entries = new Map<string, Failures>();
  readonly #free: number;
  readonly #o: LoginLimitOptions;

  constructor(free: number, options: LoginLimitOptions) {
    this.#free = free;
    this.#o = options;
  }

  get(key: string, now: number): Failures | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && now - entry.last > this.#o.forgetAfterMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  fail(key: string, now: number): void {
    const count = (this.get(key, now)?.count ?? 0) + 1;
    const over = count - this.#free;
    const until = over < 0 ? 0 : now + Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** Math.min(over, 40));
    this.#entries.delete(key);
    this.#entries.set(key, { count, until, last: now });
    if (this.#entries.size > this.#o.maxTracked) this.#entries.delete(this.#entries.keys().next().value!);
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }
}

/** The login bounds of one host process. */
export class LoginLimits {
  readonly #o: LoginLimitOptions;
  readonly #users: FailureTable;
  readonly #addresses: FailureTable;
  #running = 0;
  readonly #queue: Array<() => void> = [];

  constructor(options: Partial<LoginLimitOptions> = {}) {
    this.#o = { ...DEFAULT_LOGIN_LIMITS, ...options };
    this.#users = new FailureTable(this.#o.freeFailuresPerUser, this.#o);
    this.#addresses = new FailureTable(this.#o.freeFailuresPerAddress, this.#o);
  }

  /** The milliseconds an attempt for `username` from `address` must still wait (0: it may try now). */
  waitMs(username: string, address: string): number {
    const now = this.#o.now();
    const byAddress = this.#addresses.get(address, now);
    const byUser = this.#users.get(userKey(username), now);
    let until = byAddress?.until ?? 0;
    // A username's backoff holds back only addresses that have failed themselves.
    if (byAddress !== undefined && byUser !== undefined) until = Math.max(until, byUser.until);
    return Math.max(0, until - now);
  }

  /** A refused attempt. */
  failed(username: string, address: string): void {
    const now = this.#o.now();
    this.#users.fail(userKey(username), now);
    this.#addresses.fail(address, now);
  }

  /** A successful login: its username's failures are forgotten. */
  succeeded(username: string): void {
    this.#users.clear(userKey(username));
  }

  /**
   * Run `verify` when a turn is free. Resolves `undefined` without running it when the queue is full, or when
   * `signal` fires while it waits (the client went away).
   */
  async run<T>(verify: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    if (this.#running >= this.#o.maxConcurrent) {
      if (this.#queue.length >= this.#o.maxQueued || signal?.aborted === true) return undefined;
      const turn = await new Promise<boolean>((resolve) => {
        const go = () => {
          signal?.removeEventListener('abort', leave);
          resolve(true);
        };
        const leave = () => {
          const at = this.#queue.indexOf(go);
          if (at >= 0) this.#queue.splice(at, 1);
          resolve(false);
        };
        this.#queue.push(go);
        signal?.addEventListener('abort', leave, { once: true });
      });
      if (!turn) return undefined;
    } else this.#running++;
    // A turn handed over by a finished verification keeps the running count as it is.
    try {
      return await verify();
    } finally {
      const next = this.#queue.shift();
      if (next === undefined) this.#running--;
      else next();
    }
  }
}

function userKey(username: string): string {
  return createHash('sha256').update(username.toLowerCase()).digest('base64url');
}
