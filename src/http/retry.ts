/**
 * The retry policy of every HTTP call, in one place and free of I/O so it can be tested on its own
 * (docs/errors.md, "Retries").
 *
 * - Backoff: exponential from `initialDelayMs` by `multiplier`, capped at `maxDelayMs`, with a share `jitter` of each
 *   delay drawn at random ("full jitter" when 1): delay ∈ [base·(1 − jitter), base].
 * - A server's `Retry-After` (seconds or HTTP date) replaces the computed delay, capped at `maxDelayMs`.
 * - What is retried: see {@link isRetryable}, which reads the classification table of src/errors.ts and adds the
 *   idempotency rule. 401 is not the policy's business: the client refreshes the token once through its auth hook.
 */
import { AllegroError, HttpStatusError, InvalidArgumentError } from '../errors.js';
import { describeValue } from '../util/validate.js';

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Attempts in total, the first included; 1 = never retry. */
  maxAttempts: number;
  /** Delay before the second attempt, in milliseconds. */
  initialDelayMs: number;
  /** Factor applied to the delay after each further failure (≥ 1). */
  multiplier: number;
  /** Longest delay, Retry-After included, in milliseconds. */
  maxDelayMs: number;
  /** Share of each delay drawn at random, 0 (none) to 1 (full jitter). */
  jitter: number;
}

/** The default policy: 5 attempts, 250 ms doubling to at most 30 s, half of each delay jittered. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  initialDelayMs: 250,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.5,
});

/** Merge `overrides` into the default policy and check every field; throws {@link InvalidArgumentError}. */
export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof RetryPolicy, unknown]>) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_RETRY_POLICY)) throw new InvalidArgumentError(`retry.${key}`, 'no such option', describeValue(value));
    p[key] = value as number;
  }
  const check = (key: keyof RetryPolicy, ok: (v: number) => boolean, expected: string) => {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InvalidArgumentError(`retry.${key}`, expected, describeValue(v));
  };
  check('maxAttempts', (v) => Number.isSafeInteger(v) && v >= 1, 'an integer ≥ 1');
  check('initialDelayMs', (v) => v >= 0, 'a number ≥ 0');
  check('multiplier', (v) => v >= 1, 'a number ≥ 1');
  check('maxDelayMs', (v) => v >= 0, 'a number ≥ 0');
  check('jitter', (v) => v >= 0 && v <= 1, 'a number from 0 to 1');
  return p;
}

/**
 * Whether a failed attempt may be repeated: the error's classification (`retryWhen`, from `RETRY_TABLE` in
 * src/errors.ts) plus the idempotency of the request. `always` failures (429, a refused connection: the server did
 * nothing) are repeated for any request; `idempotent` ones (5xx, timeouts, a connection lost mid-exchange: the server
 * may have acted) only when repeating is harmless; `never` ones (TLS, a response too large, 4xx, aborts, bad
 * arguments, malformed answers) and anything that is not an allegro-ts error are not. So for an idempotent request
 * this is exactly `error.retryable`.
 */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (!(error instanceof AllegroError)) return false;
  return error.retryWhen === 'always' || (error.retryWhen === 'idempotent' && idempotent);
}

/**
 * Delay before the next attempt, in milliseconds, after attempt number `attempt` (1-based) failed with `error`.
 * Honours the server's Retry-After (`HttpStatusError.retryAfterMs`) as is, capped at `maxDelayMs`; otherwise
 * `min(maxDelayMs, initialDelayMs · multiplier^(attempt−1))`, of which a share `jitter` is random.
 */
export function delayFor(attempt: number, error: unknown, policy: RetryPolicy, random: () => number = Math.random): number {
  if (error instanceof HttpStatusError && error.retryAfterMs !== undefined) {
    return Math.min(Math.max(0, error.retryAfterMs), policy.maxDelayMs);
  }
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - policy.jitter * r));
}

/**
 * Parse a Retry-After header: delay-seconds (`120`) or an HTTP date, relative to `now` (ms since the epoch).
 * Returns milliseconds (≥ 0), or undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | undefined | null, now: number = Date.now()): number | undefined {
  if (header === undefined || header === null) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : Number.MAX_SAFE_INTEGER;
  }
  // An HTTP date names a weekday and a month; refuse bare numbers with signs or decimals that Date.parse would take.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
