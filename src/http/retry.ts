/**
 * The retry policy of every HTTP call, in one place and free of I/O so it can be tested on its own
 * (bdk-and-obo.md §4; style-anchors lesson 11).
 *
 * - Backoff: exponential from `initialDelayMs` by `multiplier`, capped at `maxDelayMs`, with a share `jitter` of each
 *   delay drawn at random ("full jitter" when 1): delay ∈ [base·(1 − jitter), base].
 * - A server's `Retry-After` (seconds or HTTP date) replaces the computed delay, capped at `maxDelayMs`.
 * - What is retried: see {@link isRetryable}. 401 is not the policy's business: the client refreshes the token once
 *   through its auth hook.
 */
import { AllegroError, HttpStatusError, InvalidArgumentError, NetworkError, TimeoutError } from '../errors.js';
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
 * Whether a failed attempt may be repeated.
 * - 429: always — the server refused before doing anything.
 * - 5xx, timeouts, network errors: only for idempotent requests (the server may have acted).
 * - A refused connection (ECONNREFUSED): always — nothing was sent.
 * - A TLS failure (untrusted or mismatched certificate, handshake refused) or an oversized response: never — it
 *   would fail the same way.
 * - Anything else (4xx, aborts, bad arguments): never.
 */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (error instanceof HttpStatusError) {
    if (error.status === 429) return true;
    return idempotent && error.status >= 500;
  }
  if (error instanceof NetworkError) {
    const code = networkCauseCode(error);
    if (code !== undefined && (isTlsFailure(code) || DETERMINISTIC_CODES.has(code))) return false;
    return idempotent || code === 'ECONNREFUSED';
  }
  if (error instanceof TimeoutError) return idempotent;
  return false;
}

const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'HOSTNAME_MISMATCH', 'UND_ERR_PRX_TLS',
]);

/** Network failures that repeat identically. */
const DETERMINISTIC_CODES = new Set(['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_HEADERS_OVERFLOW']);

/** Whether a Node/undici error code is a TLS verification or handshake failure. */
export function isTlsFailure(code: string): boolean {
  return CERTIFICATE_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
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

/**
 * The Node/undici error code behind a {@link NetworkError} (e.g. `ECONNREFUSED`), read from its `cause` chain
 * (an AggregateError from Happy Eyeballs is read through its first error). Tells "never connected" from
 * "connection lost mid-request".
 */
export function networkCauseCode(error: unknown): string | undefined {
  let current: unknown = error instanceof AllegroError ? error.cause : error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current instanceof AggregateError ? current.errors[0] : (current as { cause?: unknown }).cause;
  }
  return undefined;
}
