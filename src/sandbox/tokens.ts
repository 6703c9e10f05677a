/**
 * Bearer tokens the sandbox issues: session tokens (pod), Key Manager tokens, Datafeed 2.0 service tokens and
 * Object Store API tokens. Like Symphony's, they are JWTs (HS256 here, under a per-pod secret kept in the
 * journal, so tokens stay valid across a restart) carrying the user id, the token kind and an expiry; clients
 * treat them as opaque. Logout revokes a token until it expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromUtf8, toBase64Url, tryFromBase64, utf8 } from '../util/bytes.js';

/** What a token may be used for. */
export type TokenKind = 'session' | 'km' | 'datafeed' | 'api';

/** Verified content of a token. */
export interface TokenClaims {
  sub: number;
  kind: TokenKind;
  exp: number;
  jti: string;
}

const VERIFIED_CACHE_SIZE = 4096;
const HEADER = toBase64Url(utf8('{"alg":"HS256","typ":"JWT"}'));

/** Issues and verifies tokens under one secret. */
export class TokenIssuer {
  readonly #secret: Buffer;
  readonly #revoked = new Map<string, number>();
  /** Tokens whose signature verified, with their claims (bounded; expiry and revocation are still checked). */
  readonly #verified = new Map<string, TokenClaims>();

  constructor(secret: Uint8Array) {
    this.#secret = Buffer.from(secret);
  }

  /** A new token for `userId`, valid for `ttlSeconds`. */
  issue(userId: number, kind: TokenKind, ttlSeconds: number, nowMs = Date.now()): string {
    const claims: TokenClaims = { sub: userId, kind, exp: Math.floor(nowMs / 1000) + ttlSeconds, jti: toBase64Url(randomBytes(9)) };
    const input = `${HEADER}.${toBase64Url(utf8(JSON.stringify(claims)))}`;
    return `${input}.${this.#sign(input)}`;
  }

  /** The claims of a valid, unexpired, unrevoked token of one of `kinds`, else undefined. */
  verify(token: string | undefined, kinds: readonly TokenKind[], nowMs = Date.now()): TokenClaims | undefined {
    if (token === undefined || token.length > 2048) return undefined;
    // Tokens are presented on every request: remember the ones whose signature already verified.
    const known = this.#verified.get(token) ?? this.#checkSignature(token);
    if (known === undefined) return undefined;
    if (!kinds.includes(known.kind) || known.exp * 1000 <= nowMs || this.#revoked.has(known.jti)) return undefined;
    return known;
  }

  /** The claims of a token whose signature verifies under this issuer's secret (cached), else undefined. */
  #checkSignature(token: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
    const expected = Buffer.from(this.#sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const payload = tryFromBase64(parts[1]!);
    if (payload === undefined) return undefined;
    const claims = JSON.parse(fromUtf8(payload)) as TokenClaims;
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, claims);
    return claims;
  }

  /** Revoke a valid token (logout). */
  revoke(claims: TokenClaims): void {
    this.#revoked.set(claims.jti, claims.exp);
    const nowSeconds = Date.now() / 1000;
    for (const [jti, exp] of this.#revoked) if (exp < nowSeconds) this.#revoked.delete(jti);
  }

  #sign(input: string): string {
    return toBase64Url(createHmac('sha256', this.#secret).update(input).digest());
  }
}

/** The unverified `sub` claim of a JWT, to find whose key must verify it. */
export function unverifiedSubject(jwt: string): string | undefined {
  const payload = tryFromBase64(jwt.split('.')[1] ?? '');
  if (payload === undefined) return undefined;
  try {
    const sub = (JSON.parse(fromUtf8(payload)) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
