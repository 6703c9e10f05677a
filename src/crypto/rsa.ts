/**
 * RSA for Symphony's key hierarchy and login, over the platform's RSA (src/platform/platform.ts: node:crypto in
 * Node, WebCrypto with node-forge elsewhere):
 * - {@link RsaPrivateKey} / {@link RsaPublicKey}: a key parsed once (parsing a PEM per call costs more than half of
 *   each unwrap, docs/performance.md §3).
 * - {@link unwrapKey}: recover a wrapped account key with the user's private key (docs/wire-formats.md §3.1) under
 *   RSAES-OAEP with SHA-1 or SHA-256 (RFC 8017 §7.1) or RSAES-PKCS1-v1_5 (RFC 8017 §7.2).
 * - {@link signJwtRs512} / {@link verifyJwtRs512}: the RSA login JWT (RFC 7519 signed RS512, RFC 7518 §3.3),
 *   carrying only `sub` and an `exp` at most five minutes ahead.
 *
 * PKCS#1 v1.5 and the Marvin attack. Symphony wraps account keys with RSAES-PKCS1-v1_5. Any observable difference
 * between a validly and an invalidly padded ciphertext (an error, a different error, a timing difference) is a
 * Bleichenbacher oracle that lets an attacker decrypt, which is why Node 20.20 refuses `privateDecrypt` with
 * `RSA_PKCS1_PADDING` (CVE-2023-46809). This module therefore:
 * 1. computes the raw RSA value c^d mod n with the platform's blinded raw private-key operation, which always
 *    returns exactly k bytes (k = modulus length);
 * 2. checks the padding for one fixed message length L, known in advance (32 for a Symphony key):
 *    EM = 0x00 ‖ 0x02 ‖ PS ‖ 0x00 ‖ M with |PS| = k − L − 3 ≥ 8 non-zero bytes, so every byte's role is fixed
 *    before the data is read. Every byte is folded into one flag with bitwise operations only: no branch, early
 *    exit or search depends on the data;
 * 3. always computes an implicit-rejection value R = HMAC-SHA256(SHA-256(I2OSP(d, k)), ciphertext) truncated to L,
 *    after the IETF draft "Implicit Rejection for RSAES-PKCS1-v1_5" (which OpenSSL 3.2 implements; this is not
 *    byte-compatible with it), and selects M or R with a mask.
 * An invalid padding thus yields a deterministic, unpredictable key that fails later exactly as a wrong key does
 * (`KEY_ID_MISMATCH` on a version-3 transport, `DECRYPTION_FAILED` otherwise), after the same operations as a
 * valid one.
 * A well-padded message of another length is treated as invalid padding. A ciphertext that is not k bytes long or
 * is not below n raises `DECRYPTION_FAILED` at once; both depend only on public values. JavaScript promises no
 * constant-time execution, so this removes the known oracles without proving there are none; on the portable
 * platform the raw operation itself is JavaScript big-integer code (docs/threat-model.md). Where the server can
 * wrap with OAEP, use OAEP.
 *
 * Every operation that uses a key is asynchronous, because WebCrypto's are.
 */
import type { KeyObject } from 'node:crypto';
import { platform } from '#platform';
import { DecryptionFailedError, InvalidArgumentError, InvalidTokenError } from '../errors.js';
import type { OaepHash, PlatformRsaPrivateKey, PlatformRsaPublicKey, RsaKeyPairPem } from '../platform/platform.js';
import { fromUtf8, toBase64Url, tryFromBase64, utf8, wipe } from '../util/bytes.js';
import { describeValue, requireBytes, requireString } from '../util/validate.js';
import { AES_KEY_LENGTH } from './aes-key.js';

/** RSA encryption paddings Symphony uses to wrap keys. */
export type RsaPadding = 'oaep-sha1' | 'oaep-sha256' | 'pkcs1-v1_5';

/** Smallest RSA modulus accepted, in bits. */
export const MIN_RSA_MODULUS_BITS = 2048;

/** Longest key {@link unwrapKey} recovers and {@link RsaPublicKey.wrap} wraps, in bytes. */
export const MAX_WRAPPED_KEY_LENGTH = AES_KEY_LENGTH;

/** Longest JWT lifetime Symphony accepts, in seconds (docs/symphony-apis.md §1.2). */
export const MAX_JWT_LIFETIME_SECONDS = 300;

/** Default lifetime of a signed login JWT: 240 s, a minute below the limit to absorb clock skew (as the BDKs do). */
export const DEFAULT_JWT_LIFETIME_SECONDS = 240;

/** The OAEP hash of each OAEP padding; PKCS#1 v1.5 has none. */
const PADDINGS: Readonly<Record<RsaPadding, OaepHash | undefined>> = {
  'oaep-sha1': 'SHA-1',
  'oaep-sha256': 'SHA-256',
  'pkcs1-v1_5': undefined,
};

const PRIVATE_PEM_EXPECTED = 'a PEM-encoded RSA private key (PKCS#1 or PKCS#8)';
const PUBLIC_PEM_EXPECTED = 'a PEM-encoded RSA public key (SPKI or PKCS#1)';

function requireRsaKey<T extends { readonly modulusBits: number }>(parameter: string, key: T | undefined, expected: string, received: unknown): T {
  if (key === undefined) throw new InvalidArgumentError(parameter, expected, describeValue(received));
  if (key.modulusBits < MIN_RSA_MODULUS_BITS) {
    throw new InvalidArgumentError(parameter, `an RSA key of at least ${MIN_RSA_MODULUS_BITS} bits`, `a ${key.modulusBits}-bit RSA key`);
  }
  return key;
}

interface PrivateKeyState {
  readonly key: PlatformRsaPrivateKey;
  /** SHA-256(I2OSP(d, k)), the implicit-rejection key; derived on the first PKCS#1 v1.5 unwrap. */
  rejectionSecret?: Uint8Array;
}

/** Carries the platform's public key from {@link RsaPrivateKey.publicKey} into the RsaPublicKey constructor. */
class DerivedPublicKey {
  readonly key: PlatformRsaPublicKey;
  constructor(key: PlatformRsaPublicKey) {
    this.key = key;
  }
}

/** The platform's key behind each key object; module-private, so no other code can reach a private key. */
const privateKeyStates = new WeakMap<RsaPrivateKey, PrivateKeyState>();
const publicKeys = new WeakMap<RsaPublicKey, PlatformRsaPublicKey>();

/** An RSA private key (at least 2048 bits), parsed once. Neither `toJSON`, `toString` nor `util.inspect` reveal it. */
export class RsaPrivateKey {
  /** Length of the modulus in bytes (256 for RSA-2048): the length of every ciphertext and signature. */
  readonly modulusBytes: number;

  /**
   * @param key a PEM string (PKCS#1 `BEGIN RSA PRIVATE KEY` or unencrypted PKCS#8 `BEGIN PRIVATE KEY`) or, in
   *   Node, a private RSA `KeyObject`.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`, parameter `privateKey`) for anything else, including
   *   non-RSA keys and moduli shorter than {@link MIN_RSA_MODULUS_BITS}. The message never quotes the input.
   */
  constructor(key: string | KeyObject) {
    const native = platform.rsa.isNativeKey(key);
    const parsed = native || typeof key === 'string' ? platform.rsa.privateKey(key) : undefined;
    const checked = requireRsaKey('privateKey', parsed, native ? 'a private RSA KeyObject' : PRIVATE_PEM_EXPECTED, key);
    this.modulusBytes = Math.ceil(checked.modulusBits / 8);
    privateKeyStates.set(this, { key: checked });
  }

  /** The matching public key. */
  publicKey(): RsaPublicKey {
    return new RsaPublicKey(new DerivedPublicKey(requirePrivateKey(this).key.publicKey()) as never);
  }

  toJSON(): string {
    return '[RsaPrivateKey]';
  }

  toString(): string {
    return '[RsaPrivateKey]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RsaPrivateKey [${this.modulusBytes * 8} bits]`;
  }
}

function requirePrivateKey(value: unknown): PrivateKeyState {
  const state = value instanceof RsaPrivateKey ? privateKeyStates.get(value) : undefined;
  if (state === undefined) throw new InvalidArgumentError('privateKey', 'an RsaPrivateKey', describeValue(value));
  return state;
}

function requirePadding(value: unknown): asserts value is RsaPadding {
  if (typeof value !== 'string' || !Object.hasOwn(PADDINGS, value)) {
    throw new InvalidArgumentError('padding', "'oaep-sha1', 'oaep-sha256' or 'pkcs1-v1_5'", describeValue(value));
  }
}

function requireKeyLength(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_WRAPPED_KEY_LENGTH) return value;
  throw new InvalidArgumentError(parameter, `an integer from 1 to ${MAX_WRAPPED_KEY_LENGTH}`, describeValue(value));
}

/** An RSA public key (at least 2048 bits), parsed once. */
export class RsaPublicKey {
  /** Length of the modulus in bytes: the length of every ciphertext and signature. */
  readonly modulusBytes: number;

  /**
   * @param key a PEM string (SPKI `BEGIN PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`) or, in Node, a public RSA
   *   `KeyObject`.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`, parameter `publicKey`) for anything else, including private
   *   keys, non-RSA keys and moduli shorter than {@link MIN_RSA_MODULUS_BITS}.
   */
  constructor(key: string | KeyObject) {
    const native = platform.rsa.isNativeKey(key);
    const parsed = key instanceof DerivedPublicKey ? key.key
      : native || typeof key === 'string' ? platform.rsa.publicKey(key) : undefined;
    const checked = requireRsaKey('publicKey', parsed, native ? 'a public RSA KeyObject' : PUBLIC_PEM_EXPECTED, key);
    this.modulusBytes = Math.ceil(checked.modulusBits / 8);
    publicKeys.set(this, checked);
  }

  /**
   * Wrap (encrypt) a key of 1 to {@link MAX_WRAPPED_KEY_LENGTH} bytes, as the Key Manager does; the output is
   * randomized and {@link modulusBytes} long. PKCS#1 v1.5 is offered for tests and the sandbox only: new data
   * should use OAEP.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a key of another length or an unknown padding.
   */
  async wrap(key: Uint8Array, padding: RsaPadding): Promise<Uint8Array> {
    const publicKey = requirePublicKey(this);
    requireBytes('key', key);
    requireKeyLength('key.length', key.length);
    requirePadding(padding);
    const hash = PADDINGS[padding];
    return hash === undefined ? publicKey.encryptPkcs1(key) : publicKey.encryptOaep(hash, key);
  }

  toJSON(): string {
    return '[RsaPublicKey]';
  }

  toString(): string {
    return '[RsaPublicKey]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RsaPublicKey [${this.modulusBytes * 8} bits]`;
  }
}

function requirePublicKey(value: unknown): PlatformRsaPublicKey {
  const key = value instanceof RsaPublicKey ? publicKeys.get(value) : undefined;
  if (key === undefined) throw new InvalidArgumentError('publicKey', 'an RsaPublicKey', describeValue(value));
  return key;
}

function rejectionSecret(state: PrivateKeyState, modulusBytes: number): Uint8Array {
  if (state.rejectionSecret === undefined) {
    const d = state.key.privateExponent();
    const padded = new Uint8Array(modulusBytes);
    padded.set(d, padded.length - d.length);
    state.rejectionSecret = platform.sha256(padded);
    wipe(d, padded);
  }
  return state.rejectionSecret;
}

/**
 * Constant-time RSAES-PKCS1-v1_5 unpadding for a message of exactly `length` bytes; returns M if EM is valid,
 * else `rejection`. The work and the memory accesses depend only on `em.length` and `length`.
 */
function pkcs1UnpadFixedLength(em: Uint8Array, length: number, rejection: Uint8Array): Uint8Array {
  const separator = em.length - length - 1;
  // Non-zero iff EM[0] != 0x00, EM[1] != 0x02 or the separator byte != 0x00.
  let bad = em[0]! | (em[1]! ^ 0x02) | em[separator]!;
  // (b − 1) >>> 31 is 1 exactly when the byte b is 0: a zero anywhere in PS (the first 8 bytes included).
  for (let i = 2; i < separator; i++) bad |= (em[i]! - 1) >>> 31;
  // 0xff when any check failed, 0x00 otherwise (bad is 0..255, so −bad is negative exactly when bad is not 0).
  const rejectMask = -((-bad) >>> 31) & 0xff;
  const keepMask = ~rejectMask & 0xff;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (em[separator + 1 + i]! & keepMask) | (rejection[i]! & rejectMask);
  return out;
}

async function unwrapPkcs1(state: PrivateKeyState, wrapped: Uint8Array, length: number): Promise<Uint8Array> {
  let em: Uint8Array;
  try {
    em = await state.key.decryptRaw(wrapped);
  } catch {
    // Only a ciphertext not below the (public) modulus gets here.
    throw new DecryptionFailedError();
  }
  const rejection = platform.hmacSha256(rejectionSecret(state, wrapped.length /* k, checked by unwrapKey */), wrapped);
  const key = pkcs1UnpadFixedLength(em, length, rejection);
  wipe(em, rejection);
  return key;
}

async function unwrapOaep(state: PrivateKeyState, wrapped: Uint8Array, hash: OaepHash, length: number): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    out = await state.key.decryptOaep(hash, wrapped);
  } catch {
    throw new DecryptionFailedError();
  }
  // Copied so that the caller's array never shares an ArrayBuffer with the platform's output, which is then wiped.
  const key = out.length === length ? new Uint8Array(out) : undefined;
  wipe(out);
  if (key === undefined) throw new DecryptionFailedError();
  return key;
}

/**
 * Unwrap (RSA-decrypt) a wrapped key, such as a Symphony account key (docs/wire-formats.md §3.1).
 *
 * In Node the private-key operation runs on the calling thread and blocks it for ≈0.9 ms (RSA-2048), so unwrap
 * once and cache the result.
 *
 * With `'pkcs1-v1_5'`, a ciphertext of the right length and range whose padding is invalid does not fail: it
 * yields a pseudo-random key of `expectedLength` bytes that is the same on every call (implicit rejection, see
 * the module comment), and the failure appears when that key is used.
 *
 * @param privateKey the user's private key.
 * @param wrapped the wrapped key, exactly {@link RsaPrivateKey.modulusBytes} long.
 * @param padding the padding the key was wrapped with.
 * @param expectedLength length of the key to recover, 1 to {@link MAX_WRAPPED_KEY_LENGTH}; default 32.
 * @returns a new array of `expectedLength` bytes owned by the caller.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad private key, ciphertext type, padding or length.
 * @throws DecryptionFailedError (`DECRYPTION_FAILED`) for a ciphertext of the wrong size or not below the modulus;
 *   for OAEP also for a failed decryption or a recovered key of another length than `expectedLength`.
 * @example
 * ```ts
 * const userKey = new RsaPrivateKey(userKeys.privateKey);
 * const accountKey = new AesKey(await unwrapKey(userKey, Buffer.from(wrappedAccountKey, 'base64'), 'pkcs1-v1_5'));
 * ```
 */
export async function unwrapKey(
  privateKey: RsaPrivateKey,
  wrapped: Uint8Array,
  padding: RsaPadding,
  expectedLength: number = AES_KEY_LENGTH,
): Promise<Uint8Array> {
  const state = requirePrivateKey(privateKey);
  requireBytes('wrapped', wrapped);
  requirePadding(padding);
  const length = requireKeyLength('expectedLength', expectedLength);
  if (wrapped.length !== privateKey.modulusBytes) throw new DecryptionFailedError();
  const hash = PADDINGS[padding];
  return hash === undefined ? unwrapPkcs1(state, wrapped, length) : unwrapOaep(state, wrapped, hash, length);
}

/** Claims of a Symphony login JWT. */
export interface JwtClaims {
  /** Subject: the username of the bot or user, or the app id for app authentication. */
  sub: string;
  /** Expiry, in seconds since the epoch. */
  exp: number;
}

/** Claims given to {@link signJwtRs512}: `sub`, and at most one of `exp` and `lifetimeSeconds`. */
export interface JwtSignClaims {
  sub: string;
  /** Expiry in seconds since the epoch; at most {@link MAX_JWT_LIFETIME_SECONDS} after `now`. */
  exp?: number;
  /** Lifetime in seconds, 1 to {@link MAX_JWT_LIFETIME_SECONDS}; default {@link DEFAULT_JWT_LIFETIME_SECONDS}. */
  lifetimeSeconds?: number;
}

/** Options of {@link verifyJwtRs512}. */
export interface JwtVerifyOptions {
  /** Current time in milliseconds since the epoch; default `Date.now()`. */
  now?: number;
  /** Reject a token whose `exp` is further ahead than this many seconds; default {@link MAX_JWT_LIFETIME_SECONDS}. */
  maxLifetimeSeconds?: number;
}

const JWT_HEADER_SEGMENT = toBase64Url(utf8('{"alg":"RS512","typ":"JWT"}'));
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

function requireNowSeconds(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value / 1000);
  throw new InvalidArgumentError(parameter, 'a time in milliseconds since the epoch', describeValue(value));
}

/**
 * Sign a Symphony login JWT: header `{"alg":"RS512","typ":"JWT"}`, payload `{"sub","exp"}`, RSASSA-PKCS1-v1_5
 * with SHA-512, base64url segments without padding. Symphony refuses an `exp` more than five minutes ahead of its
 * own clock, so the default lifetime is 240 s, as in the BDKs, leaving a minute for clock skew.
 * @param now current time in milliseconds since the epoch; default `Date.now()`.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad key, an empty `sub`, both `exp` and
 *   `lifetimeSeconds`, or an `exp` that is not an integer within (now, now + 300 s].
 * @example
 * ```ts
 * const jwt = await signJwtRs512(botKey, { sub: 'my-bot', lifetimeSeconds: 240 });
 * await fetch(`${pod}/login/pubkey/authenticate`, { method: 'POST', body: JSON.stringify({ token: jwt }) });
 * ```
 */
export async function signJwtRs512(privateKey: RsaPrivateKey, claims: JwtSignClaims, now: number = Date.now()): Promise<string> {
  const state = requirePrivateKey(privateKey);
  const nowSeconds = requireNowSeconds('now', now);
  requireString('claims.sub', claims?.sub);
  if (claims.sub.length === 0) throw new InvalidArgumentError('claims.sub', 'a non-empty string', describeValue(claims.sub));
  let exp: number;
  if (claims.exp !== undefined) {
    if (claims.lifetimeSeconds !== undefined) {
      throw new InvalidArgumentError('claims', 'either exp or lifetimeSeconds', 'both');
    }
    exp = claims.exp;
    if (!Number.isSafeInteger(exp) || exp <= nowSeconds || exp > nowSeconds + MAX_JWT_LIFETIME_SECONDS) {
      throw new InvalidArgumentError(
        'claims.exp',
        `whole seconds since the epoch, after now and at most ${MAX_JWT_LIFETIME_SECONDS} s ahead`,
        describeValue(exp),
      );
    }
  } else {
    const lifetime = claims.lifetimeSeconds ?? DEFAULT_JWT_LIFETIME_SECONDS;
    if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_JWT_LIFETIME_SECONDS) {
      throw new InvalidArgumentError('claims.lifetimeSeconds', `an integer from 1 to ${MAX_JWT_LIFETIME_SECONDS}`, describeValue(lifetime));
    }
    exp = nowSeconds + lifetime;
  }
  const signingInput = `${JWT_HEADER_SEGMENT}.${toBase64Url(utf8(JSON.stringify({ sub: claims.sub, exp })))}`;
  return `${signingInput}.${toBase64Url(await state.key.signRs512(utf8(signingInput)))}`;
}

/** Decode one canonical unpadded base64url segment. */
function decodeSegment(segment: string): Uint8Array | undefined {
  if (!BASE64URL_SEGMENT.test(segment)) return undefined;
  const bytes = tryFromBase64(segment);
  return bytes !== undefined && toBase64Url(bytes) === segment ? bytes : undefined;
}

/** A signature that cannot be checked (say, of the wrong length for WebCrypto) does not verify. */
async function verifySignature(key: PlatformRsaPublicKey, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    return await key.verifyRs512(data, signature);
  } catch {
    return false;
  }
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(fromUtf8(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verify a login JWT made by {@link signJwtRs512} (or by a BDK): RS512 signature by `publicKey`, a non-empty
 * string `sub`, and an integer `exp` after `now` and at most `maxLifetimeSeconds` ahead. No clock tolerance.
 * Every refusal is an InvalidTokenError whose `reason` says which check failed; its message never quotes the token.
 * @returns the `sub` and `exp` claims.
 * @throws InvalidTokenError (`INVALID_TOKEN`) for a malformed token, a header other than RS512, a signature that
 *   does not verify, missing claims, or an `exp` in the past or too far ahead.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a `token` that is not a string or bad options.
 */
export async function verifyJwtRs512(publicKey: RsaPublicKey, token: string, options: JwtVerifyOptions = {}): Promise<JwtClaims> {
  const key = requirePublicKey(publicKey);
  requireString('token', token);
  const nowSeconds = requireNowSeconds('options.now', options.now ?? Date.now());
  const maxLifetime = options.maxLifetimeSeconds ?? MAX_JWT_LIFETIME_SECONDS;
  if (!Number.isInteger(maxLifetime) || maxLifetime < 1) {
    throw new InvalidArgumentError('options.maxLifetimeSeconds', 'a positive integer', describeValue(maxLifetime));
  }
  const segments = token.split('.');
  const decoded = segments.length === 3 ? segments.map(decodeSegment) : [];
  const [headerBytes, payloadBytes, signature] = decoded;
  if (headerBytes === undefined || payloadBytes === undefined || signature === undefined) {
    throw new InvalidTokenError('malformed', 'expected a compact JWT of three base64url segments');
  }
  const header = parseJsonObject(headerBytes);
  if (header === undefined || header.alg !== 'RS512' || 'crit' in header || (header.typ !== undefined && header.typ !== 'JWT')) {
    throw new InvalidTokenError('unsupported-header', 'expected header alg RS512 (and typ JWT if present)');
  }
  const signingInput = token.slice(0, token.length - segments[2]!.length - 1);
  if (!(await verifySignature(key, utf8(signingInput), signature))) {
    throw new InvalidTokenError('bad-signature', 'the signature does not verify with the registered public key');
  }
  const claims = parseJsonObject(payloadBytes);
  const sub = claims?.sub;
  const exp = claims?.exp;
  if (typeof sub !== 'string' || sub.length === 0 || typeof exp !== 'number' || !Number.isSafeInteger(exp)) {
    throw new InvalidTokenError('bad-claims', 'expected a non-empty string sub and an integer exp');
  }
  if (exp <= nowSeconds) {
    throw new InvalidTokenError('expired', `it expired ${nowSeconds - exp} s ago`);
  }
  if (exp - nowSeconds > maxLifetime) {
    throw new InvalidTokenError('lifetime-too-long', `it expires ${exp - nowSeconds} s ahead, more than the allowed ${maxLifetime} s`);
  }
  return { sub, exp };
}

export type { RsaKeyPairPem } from '../platform/platform.js';

/**
 * Generate an RSA-2048 key pair (public exponent 65537) for tests and the sandbox; off the main thread in Node,
 * where it takes ≈100 ms.
 * @example
 * ```ts
 * const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair();
 * const key = new RsaPrivateKey(privateKeyPem);
 * ```
 */
export async function generateRsaKeyPair(): Promise<RsaKeyPairPem> {
  return platform.rsa.generateKeyPair(MIN_RSA_MODULUS_BITS);
}
