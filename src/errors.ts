/**
 * Error model of allegro-ts: one base class, {@link AllegroError}, with a stable machine-readable `code` drawn
 * from the closed union {@link ErrorCode}. Callers match on `code` (or use `instanceof` on the subclasses);
 * messages are for humans and may change.
 *
 * Security rules (docs/threat-model.md, docs/errors.md):
 * - Cryptographic failures are all one code, `DECRYPTION_FAILED`, with one fixed message, so that an error
 *   never tells an attacker which check failed (tag, padding, key unwrap, length of a recovered key).
 * - No message or property of an error ever carries key bytes, tokens or plaintext. Invalid-argument messages
 *   describe what was received by type and length only, never by content.
 *
 * `instanceof` survives duplicate installs of this package: every class is branded with a `Symbol.for` key
 * and overrides `Symbol.hasInstance`.
 */

/** Every error code allegro-ts can raise. Closed: adding one is a documented change (docs/errors.md). */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DECRYPTION_FAILED'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_MODE'
  | 'MALFORMED_CIPHERTEXT'
  | 'KEY_ID_MISMATCH'
  | 'INVALID_TOKEN';

const BRAND = Symbol.for('allegro-ts.error');

/**
 * Base class of every error allegro-ts throws on purpose.
 *
 * @example
 * ```ts
 * try { await decryptTransport(key, bytes); }
 * catch (err) { if (err instanceof AllegroError && err.code === 'DECRYPTION_FAILED') { ... } }
 * ```
 */
export class AllegroError extends Error {
  /** Stable identifier of the failure; see docs/errors.md. */
  readonly code: ErrorCode;
  /** Whether repeating the same operation later may succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    // A copy of this class from a duplicate install is recognised by its brand and its name.
    return this === AllegroError || Function.prototype[Symbol.hasInstance].call(this, value) ||
      (value as unknown as Error).name === this.name;
  }
}

/** A caller passed a value of the wrong type, size or range. The message names the parameter. */
export class InvalidArgumentError extends AllegroError {
  /** Name of the offending parameter, e.g. `key` or `options.rotationId`. */
  readonly parameter: string;
  constructor(parameter: string, expected: string, received: string) {
    super('INVALID_ARGUMENT', `Invalid ${parameter}: expected ${expected}, received ${received}.`);
    this.parameter = parameter;
  }
}

/**
 * Authenticated decryption failed, or a wrapped key could not be recovered. Deliberately says nothing else:
 * wrong key, tampered bytes, bad tag and bad padding are indistinguishable.
 */
export class DecryptionFailedError extends AllegroError {
  constructor() {
    super('DECRYPTION_FAILED', 'Decryption failed.');
  }
}

/** The input is a well-formed container of a version this library does not read (or does not write). */
export class UnsupportedVersionError extends AllegroError {
  /** The version byte found in the input. */
  readonly version: number;
  constructor(what: string, version: number, supported: readonly number[]) {
    super('UNSUPPORTED_VERSION', `Unsupported ${what} version ${version}; supported: ${supported.join(', ')}.`);
    this.version = version;
  }
}

/** The ciphertext names an encryption mode that is unknown, or that the caller has not opted in to. */
export class UnsupportedModeError extends AllegroError {
  /** The mode byte found in the input. */
  readonly mode: number;
  constructor(mode: number, hint: string) {
    super('UNSUPPORTED_MODE', `Unsupported encryption mode ${mode}: ${hint}`);
    this.mode = mode;
  }
}

/** The input cannot be a ciphertext of the claimed format: wrong length, bad framing or bad encoding. */
export class MalformedCiphertextError extends AllegroError {
  constructor(what: string, problem: string) {
    super('MALFORMED_CIPHERTEXT', `Malformed ${what}: ${problem}.`);
  }
}

/**
 * The ciphertext's key id (HMAC-SHA256(key, "KeyFingerprint")) is not the one of the key supplied: the caller
 * picked the wrong key (for example the wrong thread or rotation). Raised before any decryption is attempted.
 */
export class KeyIdMismatchError extends AllegroError {
  constructor() {
    super('KEY_ID_MISMATCH', 'The ciphertext was made with a different key than the one supplied (key id mismatch).');
  }
}

/** Why a login JWT was refused. */
export type InvalidTokenReason = 'malformed' | 'unsupported-header' | 'bad-signature' | 'bad-claims' | 'expired' | 'lifetime-too-long';

/**
 * A login JWT was refused: malformed, not signed by the expected key, expired, or expiring further ahead than
 * allowed. `reason` says which; the message never quotes the token.
 */
export class InvalidTokenError extends AllegroError {
  /** Which check failed. */
  readonly reason: InvalidTokenReason;
  constructor(reason: InvalidTokenReason, detail: string) {
    super('INVALID_TOKEN', `Invalid token (${reason}): ${detail}.`);
    this.reason = reason;
  }
}
