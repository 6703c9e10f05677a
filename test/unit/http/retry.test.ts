// The retry policy on its own: backoff growth and cap, jitter bounds, Retry-After parsing and precedence, and which
// failures are retried for idempotent and non-idempotent requests (transport failures as the table of
// transport-errors.ts maps them). No I/O.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AbortedError, AllegroError, AppNotInstalledError, ContentKeyUnavailableError, HttpStatusError, InvalidArgumentError, MalformedResponseError, NetworkError, PermissionDeniedError, RETRY_TABLE, TimeoutError,
  type ContentKeyUnavailableReason, type ErrorCode, type NetworkFailureReason,
} from '../../../src/errors.js';
import { DEFAULT_RETRY_POLICY, delayFor, isRetryable, parseRetryAfter, retryPolicy, type RetryPolicy } from '../../../src/http/retry.js';
import { codedError, tooLarge, transportError, TRANSPORT_CODES } from '../../../src/http/transport-errors.js';

const noJitter: RetryPolicy = { ...DEFAULT_RETRY_POLICY, jitter: 0 };
const context = { route: 'GET /x', signal: undefined, timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 } };
const netError = (code: string) => transportError(Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code }), context);

describe('retryPolicy', () => {
  it('has the documented defaults', () => {
    expect(retryPolicy()).toEqual({ maxAttempts: 5, initialDelayMs: 250, multiplier: 2, maxDelayMs: 30_000, jitter: 0.5 });
  });

  it('merges overrides and ignores undefined ones', () => {
    expect(retryPolicy({ maxAttempts: 2, jitter: undefined as unknown as number })).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 2 });
  });

  it.each([
    { maxAttempts: 0 }, { maxAttempts: 1.5 }, { initialDelayMs: -1 }, { multiplier: 0.5 }, { maxDelayMs: Number.NaN },
    { jitter: 1.1 }, { jitter: -0.1 }, { maxAttempts: '3' as unknown as number },
  ])('refuses %o', (bad) => {
    expect(() => retryPolicy(bad)).toThrow(InvalidArgumentError);
  });
});

describe('delayFor', () => {
  const failure = new HttpStatusError(503, 'GET /x');

  it('grows exponentially from initialDelayMs and caps at maxDelayMs', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((a) => delayFor(a, failure, noJitter));
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(delayFor(3, failure, { ...noJitter, initialDelayMs: 100, multiplier: 3, maxDelayMs: 500 })).toBe(500);
    expect(delayFor(2, failure, { ...noJitter, initialDelayMs: 100, multiplier: 3, maxDelayMs: 500 })).toBe(300);
  });

  it('does not overflow for huge attempt numbers', () => {
    expect(delayFor(10_000, failure, noJitter)).toBe(30_000);
  });

  it('jitter removes at most its share of the delay, drawn from the injected random', () => {
    expect(delayFor(1, failure, DEFAULT_RETRY_POLICY, () => 0)).toBe(250);
    expect(delayFor(1, failure, DEFAULT_RETRY_POLICY, () => 0.999_999)).toBe(125);
    expect(delayFor(3, failure, DEFAULT_RETRY_POLICY, () => 0.5)).toBe(750);
    expect(delayFor(3, failure, { ...DEFAULT_RETRY_POLICY, jitter: 1 }, () => 0.999_999)).toBe(0);
  });

  it('stays within [base·(1 − jitter), base] for any random value and attempt', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, jitter, r) => {
      const policy = { ...DEFAULT_RETRY_POLICY, jitter };
      const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
      const d = delayFor(attempt, failure, policy, () => r);
      return d >= Math.floor(base * (1 - jitter)) && d <= base;
    }));
  });

  it('clamps a misbehaving random source', () => {
    expect(delayFor(1, failure, DEFAULT_RETRY_POLICY, () => 7)).toBe(125);
    expect(delayFor(1, failure, DEFAULT_RETRY_POLICY, () => -3)).toBe(250);
  });

  it('uses Retry-After as is, without jitter, capped at maxDelayMs', () => {
    const limited = new HttpStatusError(429, 'GET /x', { retryAfterMs: 1000 });
    expect(delayFor(1, limited, DEFAULT_RETRY_POLICY, () => 0.9)).toBe(1000);
    expect(delayFor(6, limited, DEFAULT_RETRY_POLICY, () => 0.9)).toBe(1000);
    expect(delayFor(1, new HttpStatusError(503, 'GET /x', { retryAfterMs: 3_600_000 }), DEFAULT_RETRY_POLICY)).toBe(30_000);
    expect(delayFor(1, new HttpStatusError(429, 'GET /x', { retryAfterMs: 0 }), DEFAULT_RETRY_POLICY)).toBe(0);
  });

  it('falls back to backoff for a 429 without Retry-After', () => {
    expect(delayFor(2, new HttpStatusError(429, 'GET /x'), noJitter)).toBe(500);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent and unreadable values', () => {
    for (const bad of [undefined, null, '', '  ', '-1', '1.5', '+3', 'soon', '1e3', '0x10']) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  it('does not overflow on absurd seconds', () => {
    expect(parseRetryAfter('9'.repeat(40), now)).toBe(Number.MAX_SAFE_INTEGER);
    expect(delayFor(1, new HttpStatusError(429, 'GET /x', { retryAfterMs: parseRetryAfter('9'.repeat(40), now) }), DEFAULT_RETRY_POLICY)).toBe(30_000);
  });
});

describe('isRetryable', () => {
  it('retries 429 for any request, 5xx only for idempotent ones', () => {
    expect(isRetryable(new HttpStatusError(429, 'POST /x'), false)).toBe(true);
    expect(isRetryable(new HttpStatusError(429, 'GET /x'), true)).toBe(true);
    for (const status of [500, 502, 503, 504]) {
      expect(isRetryable(new HttpStatusError(status, 'GET /x'), true)).toBe(true);
      expect(isRetryable(new HttpStatusError(status, 'POST /x'), false)).toBe(false);
    }
  });

  it('never retries other client errors (401 is the auth hook’s business)', () => {
    for (const status of [400, 401, 403, 404, 409, 410, 412]) expect(isRetryable(new HttpStatusError(status, 'GET /x'), true)).toBe(false);
  });

  it('retries network errors and timeouts only for idempotent requests', () => {
    expect(isRetryable(netError('ECONNRESET'), true)).toBe(true);
    expect(isRetryable(netError('ECONNRESET'), false)).toBe(false);
    expect(isRetryable(netError('UND_ERR_SOCKET'), false)).toBe(false);
    expect(isRetryable(new NetworkError('POST /x', 'other', 'no cause'), false)).toBe(false);
    expect(isRetryable(new TimeoutError('GET /x', 10), true)).toBe(true);
    expect(isRetryable(new TimeoutError('POST /x', 10), false)).toBe(false);
  });

  it('retries a refused connection for any method: nothing was sent', () => {
    expect(isRetryable(netError('ECONNREFUSED'), false)).toBe(true);
    const aggregate = transportError(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), { ...context, route: 'POST /x' });
    expect(codedError(aggregate)?.code).toBe('ECONNREFUSED');
    expect(isRetryable(aggregate, false)).toBe(true);
  });

  it('never retries certificate and TLS handshake failures, or oversized responses, even for GET', () => {
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'UND_ERR_RES_EXCEEDED_MAX_SIZE']) {
      expect(isRetryable(netError(code), true)).toBe(false);
    }
  });

  it('never retries aborts, bad arguments or foreign errors', () => {
    expect(isRetryable(new AbortedError('GET /x'), true)).toBe(false);
    expect(isRetryable(new InvalidArgumentError('x', 'y', 'z'), true)).toBe(false);
    expect(isRetryable(new Error('boom'), true)).toBe(false);
    expect(isRetryable(undefined, true)).toBe(false);
  });
});

describe('one classification table behind retryable and the retry policy', () => {
  /** The flag and the policy agree: an idempotent request is repeated iff retryable; any request iff retryWhen is 'always'. */
  const expectAgreement = (err: AllegroError) => {
    expect(isRetryable(err, true), `${err.code} ${err.message}`).toBe(err.retryable);
    expect(isRetryable(err, false), `${err.code} ${err.message}`).toBe(err.retryWhen === 'always');
    expect(err.retryable).toBe(err.retryWhen !== 'never');
  };

  it('for every error code, and every reason of the codes whose reasons differ', () => {
    const codes = Object.keys(RETRY_TABLE) as ErrorCode[];
    expect(codes).toHaveLength(26);
    for (const code of codes) {
      const entry = RETRY_TABLE[code];
      const reasons = typeof entry === 'string' ? [undefined] : Object.keys(entry);
      for (const reason of reasons) {
        const err = new AllegroError(code, 'x', reason === undefined ? {} : { reason });
        expect(err.retryWhen).toBe(typeof entry === 'string' ? entry : entry[reason!]);
        expectAgreement(err);
      }
    }
  });

  it('for the errors as their classes make them', () => {
    for (let status = 100; status < 600; status++) expectAgreement(new HttpStatusError(status, 'GET /x'));
    for (const reason of Object.keys(RETRY_TABLE.NETWORK_ERROR) as NetworkFailureReason[]) expectAgreement(new NetworkError('GET /x', reason, 'x'));
    for (const reason of Object.keys(RETRY_TABLE.CONTENT_KEY_UNAVAILABLE) as ContentKeyUnavailableReason[]) expectAgreement(new ContentKeyUnavailableError('t', 1n, reason));
    expectAgreement(new TimeoutError('GET /x', 10));
    expectAgreement(new MalformedResponseError('GET /x', 'no token'));
    expectAgreement(new AbortedError('GET /x'));
    expectAgreement(new PermissionDeniedError('SEND_MESSAGES', 'POST /x'));
    expectAgreement(new AppNotInstalledError('crm', 'bob', 'POST /x'));
  });

  it('for every transport failure in the table of transport-errors.ts', () => {
    for (const code of [...Object.keys(TRANSPORT_CODES), 'ERR_SSL_WRONG_VERSION_NUMBER', 'EUNKNOWN']) {
      expectAgreement(transportError(Object.assign(new Error(code), { code }), { route: 'GET /x', signal: undefined, timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 } }));
    }
  });

  it('including the two that used to disagree: an oversized body and oversized headers are neither retryable nor retried', () => {
    for (const err of [tooLarge('GET /x', 64), netError('UND_ERR_HEADERS_OVERFLOW')]) {
      expect(err.retryable).toBe(false);
      expect(isRetryable(err, true)).toBe(false);
    }
  });
});
