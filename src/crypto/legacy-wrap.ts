/**
 * Symphony's legacy 48-byte key wrap (docs/protocol.md §3.1, `ContentKeyCache.unwrapContentKey`): a content or
 * entity key wrapped under the account key of rotation 0 as IV(16) ‖ AES-256-CBC without padding (32 bytes).
 * A wrapped key of exactly 48 bytes is in this format; any other length is a CiphertextTransport (./transport.ts).
 *
 * CBC gives confidentiality only. There is no MAC: a wrong account key or a tampered wrap unwraps to 32 other
 * bytes instead of failing, and flipping a bit of the IV flips the same bit of the key's first 16 bytes. The
 * failure appears only when the unwrapped key is used (`KEY_ID_MISMATCH` or `DECRYPTION_FAILED`). Read this format
 * for existing data; write it only for tests and the sandbox.
 */
import { InvalidArgumentError, MalformedCiphertextError } from '../errors.js';
import { concatBytes } from '../util/bytes.js';
import { describeValue, requireBytes } from '../util/validate.js';
import { AES_KEY_LENGTH, AesKey } from './aes-key.js';
import { platform } from '#platform';
import { randomBytes } from './random.js';

const IV_LENGTH = 16;

/** Length of a legacy wrapped key: IV 16 + one 32-byte key in two CBC blocks. */
export const LEGACY_WRAPPED_KEY_LENGTH = IV_LENGTH + AES_KEY_LENGTH;

function requireAccountKey(value: unknown): asserts value is AesKey {
  if (!(value instanceof AesKey)) throw new InvalidArgumentError('accountKey', 'an AesKey', describeValue(value));
}

/**
 * Unwrap a legacy 48-byte wrapped key. Unauthenticated: a wrong account key returns wrong bytes, not an error.
 * @param accountKey the account key of rotation 0.
 * @param wrapped IV(16) ‖ AES-256-CBC-nopad(key), exactly {@link LEGACY_WRAPPED_KEY_LENGTH} bytes.
 * @returns the 32-byte key, a new array owned by the caller.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if `accountKey` is not a live AesKey or `wrapped` not a Uint8Array.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) if `wrapped` is not exactly 48 bytes.
 * @example
 * ```ts
 * const contentKey = new AesKey(unwrapLegacyKey(accountKey0, wrappedContentKey));
 * ```
 */
export function unwrapLegacyKey(accountKey: AesKey, wrapped: Uint8Array): Uint8Array {
  requireAccountKey(accountKey);
  requireBytes('wrapped', wrapped);
  if (wrapped.length !== LEGACY_WRAPPED_KEY_LENGTH) {
    throw new MalformedCiphertextError('legacy wrapped key', `${wrapped.length} bytes instead of ${LEGACY_WRAPPED_KEY_LENGTH}`);
  }
  return platform.aesCbcDecryptNoPadding(accountKey.bytes, wrapped.subarray(0, IV_LENGTH), wrapped.subarray(IV_LENGTH));
}

/**
 * Wrap a 32-byte key in the legacy format with a fresh random IV (for tests and the sandbox; new data should use
 * a CiphertextTransport).
 * @returns IV(16) ‖ AES-256-CBC-nopad(key), {@link LEGACY_WRAPPED_KEY_LENGTH} bytes.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if `accountKey` is not a live AesKey or `key` not 32 bytes.
 */
export function wrapLegacyKey(accountKey: AesKey, key: Uint8Array): Uint8Array {
  requireAccountKey(accountKey);
  requireBytes('key', key, AES_KEY_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  return concatBytes(iv, platform.aesCbcEncryptNoPadding(accountKey.bytes, iv, key));
}
