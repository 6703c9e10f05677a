/**
 * Bearer tokens the sandbox issues: session tokens (pod), Key Manager tokens, Datafeed 2.0 service tokens and
 * Object Store API tokens (docs/sandbox.md "Tokens"). Like Symphony's, they are JWTs (HS256 here, under a per-pod
 * secret kept in the database, so tokens stay valid across a restart) carrying the user id, the token kind, an
 * expiry, the time of issue and a session id: a login starts a session, and the tokens obtained with a session
 * token (datafeed, Object Store) carry its id, so that logout can revoke them all (./store/revocations.ts). Clients
 * treat tokens as opaque.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromUtf8, toBase64Url, tryFromBase64, utf8 } from '../util/bytes.js';

/** What a token may be used for: `app` is an OBO app's own session (docs/sandbox.md "OBO apps"). */
export type TokenKind = 'session' | 'km' | 'datafeed' | 'api' | 'app';

/** Verified content of a token. */
export interface TokenClaims {
  sub: number;
  kind: TokenKind;
  /** Expiry, seconds since the epoch. */
  exp: number;
  jti: string;
  /** The login session the token belongs to. */
  sid: string;
  /** Time of issue, milliseconds since the epoch (strictly increasing per process). */
  iat: number;
  /** The OBO app: of an `app` token (whose `sub` is 0), or of a user's session the app opened on the user's behalf. */
  app?: string;
}

const VERIFIED_CACHE_SIZE = 4096;
const HEADER = toBase64Url(utf8('{"alg":"HS256","typ":"JWT"}'));

/** Issues and verifies tokens under one secret. */
export class TokenIssuer {
  readonly #secret: Buffer;
  /** Tokens whose signature verified, with their claims (bounded; expiry is still checked). */
  readonly #verified = new Map<string, TokenClaims>();
  #lastIssuedAt = 0;

  constructor(secret: Uint8Array) {
    this.#secret = Buffer.from(secret);
  }

  /**
   * A new token for `userId`, valid for `ttlSeconds`, of session `sid` (default: a new session), on behalf of the OBO
   * app `app` when given.
   */
  issue(userId: number, kind: TokenKind, ttlSeconds: number, nowMs = Date.now(), sid = newSessionId(), app?: string): string {
    this.#lastIssuedAt = Math.max(nowMs, this.#lastIssuedAt + 1);
    const claims: TokenClaims = {
      sub: userId, kind, exp: Math.ceil(nowMs / 1000) + ttlSeconds, jti: toBase64Url(randomBytes(9)), sid, iat: this.#lastIssuedAt,
      ...(app === undefined ? {} : { app }),
    };
    const input = `${HEADER}.${toBase64Url(utf8(JSON.stringify(claims)))}`;
    return `${input}.${this.#sign(input)}`;
  }

  /**
   * A time T such that every token issued so far has `iat` < T and every later one `iat` ≥ T (a logout revokes
   * what was issued before it, not a token of a login right after it).
   */
  fence(nowMs = Date.now()): number {
    const fence = Math.max(nowMs, this.#lastIssuedAt + 1);
    this.#lastIssuedAt = fence - 1;
    return fence;
  }

  /** The claims of a valid, unexpired token of one of `kinds`, else undefined (revocation is the caller's check). */
  verify(token: string | undefined, kinds: readonly TokenKind[], nowMs = Date.now()): TokenClaims | undefined {
    if (token === undefined || token.length > 2048) return undefined;
    // Tokens are presented on every request: remember the ones whose signature already verified.
    const known = this.#verified.get(token) ?? this.#checkSignature(token);
    if (known === undefined) return undefined;
    if (!kinds.includes(known.kind) || known.exp * 1000 <= nowMs) return undefined;
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
    const parsed = JSON.parse(fromUtf8(payload)) as Omit<TokenClaims, 'sid' | 'iat'> & Partial<TokenClaims>;
    // Tokens of a wave-1 sandbox have no session id and time of issue: each is its own session, issued at 0.
    const claims: TokenClaims = { ...parsed, sid: parsed.sid ?? parsed.jti, iat: parsed.iat ?? 0 };
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, claims);
    return claims;
  }

  #sign(input: string): string {
    return toBase64Url(createHmac('sha256', this.#secret).update(input).digest());
  }
}

/** A new random session id. */
function newSessionId(): string {
  return toBase64Url(randomBytes(12));
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
