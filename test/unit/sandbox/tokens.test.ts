import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenIssuer, unverifiedSubject, type TokenKind } from '../../../src/sandbox/tokens.js';
import { fromUtf8, toBase64Url, tryFromBase64, utf8 } from '../../../src/util/bytes.js';

const SECRET = new Uint8Array(32).fill(7);
const NOW = Date.UTC(2030, 0, 1);
const KINDS: TokenKind[] = ['session', 'km', 'datafeed', 'api', 'app'];

function parts(token: string): [string, string, string] {
  const p = token.split('.');
  expect(p).toHaveLength(3);
  return p as [string, string, string];
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(fromUtf8(tryFromBase64(parts(token)[1])!)) as Record<string, unknown>;
}

describe('TokenIssuer', () => {
  it('issues a JWT (HS256 header, claims sub/kind/exp/jti/sid/iat) that verifies for its own kind', () => {
    const issuer = new TokenIssuer(SECRET);
    for (const kind of KINDS) {
      const token = issuer.issue(13469017440257, kind, 60, NOW);
      expect(JSON.parse(fromUtf8(tryFromBase64(parts(token)[0])!))).toEqual({ alg: 'HS256', typ: 'JWT' });
      const claims = issuer.verify(token, [kind], NOW);
      expect(claims).toEqual({
        sub: 13469017440257, kind, exp: NOW / 1000 + 60, jti: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/), sid: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
        iat: expect.any(Number),
      });
      expect(payloadOf(token)).toEqual(claims);
      expect(issuer.verify(token, KINDS, NOW)).toEqual(claims);
    }
  });

  it('carries the OBO app of an app token and of a session the app opened for a user, and nothing otherwise', () => {
    const issuer = new TokenIssuer(SECRET);
    expect(issuer.verify(issuer.issue(0, 'app', 60, NOW, undefined, 'crm'), ['app'], NOW)).toMatchObject({ sub: 0, kind: 'app', app: 'crm' });
    expect(issuer.verify(issuer.issue(7, 'session', 60, NOW, undefined, 'crm'), ['session'], NOW)).toMatchObject({ sub: 7, app: 'crm' });
    expect('app' in issuer.verify(issuer.issue(7, 'session', 60, NOW), ['session'], NOW)!).toBe(false);
    expect(issuer.verify(issuer.issue(0, 'app', 60, NOW, undefined, 'crm'), ['session'], NOW)).toBeUndefined();
  });

  it('rejects a token of another kind', () => {
    const issuer = new TokenIssuer(SECRET);
    for (const kind of KINDS) {
      const token = issuer.issue(1, kind, 60, NOW);
      expect(issuer.verify(token, KINDS.filter((k) => k !== kind), NOW)).toBeUndefined();
      expect(issuer.verify(token, [], NOW)).toBeUndefined();
    }
  });

  it('expires exactly at exp', () => {
    const issuer = new TokenIssuer(SECRET);
    const token = issuer.issue(1, 'session', 60, NOW);
    expect(issuer.verify(token, ['session'], NOW + 59_999)).toBeDefined();
    expect(issuer.verify(token, ['session'], NOW + 60_000)).toBeUndefined();
    expect(issuer.verify(token, ['session'], NOW + 3_600_000)).toBeUndefined();
    expect(issuer.verify(issuer.issue(1, 'session', 0, NOW), ['session'], NOW)).toBeUndefined();
  });

  it('lives at least its TTL whatever the millisecond it is issued at (exp is rounded up to the second)', () => {
    // Regression: exp = floor(now / 1000) + ttl let a 1 s session token issued late in a second expire within
    // milliseconds, so a client that had just renewed it got a 401 on its very next request.
    const issuer = new TokenIssuer(SECRET);
    fc.assert(fc.property(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1, max: 3600 }), (ms, ttl) => {
      const at = NOW + ms;
      const token = issuer.issue(1, 'session', ttl, at);
      expect(issuer.verify(token, ['session'], at + ttl * 1000 - 1)).toBeDefined();
      expect(issuer.verify(token, ['session'], at + (ttl + 1) * 1000)).toBeUndefined();
    }));
  });

  it('gives every token a distinct jti', () => {
    const issuer = new TokenIssuer(SECRET);
    const jtis = new Set(Array.from({ length: 200 }, () => issuer.verify(issuer.issue(1, 'km', 60, NOW), ['km'], NOW)!.jti));
    expect(jtis.size).toBe(200);
  });

  it('rejects a token under another secret', () => {
    const token = new TokenIssuer(SECRET).issue(1, 'session', 60, NOW);
    const other = new TokenIssuer(new Uint8Array(32).fill(8));
    expect(other.verify(token, ['session'], NOW)).toBeUndefined();
    // The same secret in another issuer (a restart) still verifies it.
    expect(new TokenIssuer(Uint8Array.from(SECRET)).verify(token, ['session'], NOW)).toBeDefined();
  });

  it('rejects a tampered header, payload or signature', () => {
    const issuer = new TokenIssuer(SECRET);
    const token = issuer.issue(1, 'session', 60, NOW);
    const [h, p, s] = parts(token);
    const claims = payloadOf(token);
    const forged = toBase64Url(utf8(JSON.stringify({ ...claims, sub: 2 })));
    const otherKind = toBase64Url(utf8(JSON.stringify({ ...claims, kind: 'api' })));
    const noneHeader = toBase64Url(utf8('{"alg":"none","typ":"JWT"}'));
    const flip = (text: string, i: number) => text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
    const tampered = [
      `${h}.${forged}.${s}`,
      `${h}.${otherKind}.${s}`,
      `${noneHeader}.${p}.${s}`,
      `${noneHeader}.${p}.`,
      `${h}.${p}.`,
      `${h}.${p}.${flip(s, 0)}`,
      `${h}.${p}.${flip(s, s.length - 1)}`,
      `${h}.${p}.${s}A`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${h}.${flip(p, 5)}.${s}`,
      `${h}.${p}=.${s}`,
      `${h}.${p}.${s}.`,
      `${h}.${p}`,
      `${h}.${p}.${'é'.repeat((s.length - 1) / 2)}A`, // same byte length, not ASCII
      `${token}${'A'.repeat(2048)}`,
    ];
    for (const t of tampered) expect(issuer.verify(t, KINDS, NOW), t).toBeUndefined();
    expect(issuer.verify(token, ['session'], NOW)).toBeDefined();
  });

  it('carries a session id (new per login, kept by the tokens of a session) and a strictly increasing time of issue', () => {
    const issuer = new TokenIssuer(SECRET);
    const now = Date.now();
    const a = issuer.verify(issuer.issue(1, 'session', 60, now), ['session'], now)!;
    const b = issuer.verify(issuer.issue(1, 'session', 60, now), ['session'], now)!;
    const ofA = issuer.verify(issuer.issue(1, 'datafeed', 60, now, a.sid), ['datafeed'], now)!;
    expect(a.sid).not.toBe(b.sid);
    expect(ofA.sid).toBe(a.sid);
    expect(a.iat).toBeGreaterThanOrEqual(now);
    expect(b.iat).toBeGreaterThan(a.iat);
    expect(ofA.iat).toBeGreaterThan(b.iat);
  });

  it('fence separates every token issued so far from every later one', () => {
    const issuer = new TokenIssuer(SECRET);
    const now = Date.now();
    const issued = [1, 2, 3].map(() => issuer.verify(issuer.issue(1, 'km', 60, now + 1000), ['km'], now)!);
    const fence = issuer.fence(now);
    const later = issuer.verify(issuer.issue(1, 'km', 60, now), ['km'], now)!;
    expect(issued.every((c) => c.iat < fence)).toBe(true);
    expect(later.iat).toBeGreaterThanOrEqual(fence);
  });

  it('reads a wave-1 token (no session id, no time of issue) as its own session, issued at 0', () => {
    const issuer = new TokenIssuer(SECRET);
    const header = toBase64Url(utf8('{"alg":"HS256","typ":"JWT"}'));
    const payload = toBase64Url(utf8(JSON.stringify({ sub: 5, kind: 'session', exp: Math.floor(Date.now() / 1000) + 60, jti: 'old-jti' })));
    const signature = toBase64Url(createHmac('sha256', SECRET).update(`${header}.${payload}`).digest());
    expect(issuer.verify(`${header}.${payload}.${signature}`, ['session'])).toMatchObject({ sub: 5, sid: 'old-jti', iat: 0 });
  });

  it('rejects undefined, empty and over-long tokens', () => {
    const issuer = new TokenIssuer(SECRET);
    expect(issuer.verify(undefined, KINDS, NOW)).toBeUndefined();
    expect(issuer.verify('', KINDS, NOW)).toBeUndefined();
    expect(issuer.verify('a.b.c', KINDS, NOW)).toBeUndefined();
  });

  it('returns undefined for junk and never throws', () => {
    const issuer = new TokenIssuer(SECRET);
    const [h, p] = parts(issuer.issue(1, 'session', 60, NOW));
    const junk = fc.oneof(
      fc.string({ maxLength: 300, unit: 'binary' }),
      fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 5 }).map((a) => a.join('.')),
      fc.string({ maxLength: 60 }).map((s) => `${h}.${s}`),
      fc.tuple(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 })).map(([a, b]) => `${h}.${a}.${b}`),
      fc.string({ maxLength: 60 }).map((s) => `${h}.${p}.${s}`),
    );
    fc.assert(fc.property(junk, (token) => {
      expect(issuer.verify(token, KINDS, NOW)).toBeUndefined();
      expect(() => unverifiedSubject(token)).not.toThrow();
    }), { numRuns: 500 });
  });
});

describe('unverifiedSubject', () => {
  const jwt = (payload: unknown) => `${toBase64Url(utf8('{"alg":"RS512"}'))}.${toBase64Url(utf8(JSON.stringify(payload)))}.sig`;

  it('reads a string sub claim without verifying anything', () => {
    expect(unverifiedSubject(jwt({ sub: 'sandbox-bot', exp: 1 }))).toBe('sandbox-bot');
    expect(unverifiedSubject(`x.${toBase64Url(utf8('{"sub":"alice"}'))}`)).toBe('alice');
  });

  it('is undefined for a missing or non-string sub, and for junk', () => {
    for (const token of [
      jwt({ exp: 1 }), jwt({ sub: 42 }), jwt({ sub: null }), jwt(null), jwt('sub'), jwt([1]),
      '', 'abc', 'a..c', 'a.!!!.c', `a.${toBase64Url(utf8('not json'))}.c`, 'a.A.c',
    ]) expect(unverifiedSubject(token), token).toBeUndefined();
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), fc.jsonValue(), (s, payload) => {
      const out1 = unverifiedSubject(s);
      expect(out1 === undefined || typeof out1 === 'string').toBe(true);
      const out2 = unverifiedSubject(jwt(payload));
      const sub = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as { sub?: unknown }).sub : undefined;
      expect(out2).toBe(typeof sub === 'string' ? sub : undefined);
    }));
  });
});
