/**
 * Allegro's Object Store payload, "Format B" (docs/protocol.md §3.5; crypto-model `AesCipherSuite`), so that
 * objects written by the Java Allegro client can be read and written:
 *
 * | offset   | length | field                                   |
 * |----------|--------|-----------------------------------------|
 * | 0        | 16     | IV (random; a 128-bit GCM nonce)        |
 * | 16       | 16     | AAD (random, stored in the clear)       |
 * | 32       | n      | AES-256-GCM ciphertext                  |
 * | 32 + n   | 16     | tag                                     |
 *
 * Key = the content key of (threadId, rotationId), both carried in the surrounding JSON with `cipherSuiteId`
 * {@link ALLEGRO_CIPHER_SUITE_ID}. There is no version, key id or context in the bytes: the random AAD binds
 * nothing, so a payload can be moved between objects of one thread and rotation undetected, and GCM does not commit
 * to its key. Prefer the object envelope (./envelope.ts) unless Java clients must read the object.
 */
import { MalformedCiphertextError, InvalidArgumentError } from '../errors.js';
import type { AeadBackend, AeadBackendName } from '../crypto/aead.js';
import { GCM_TAG_LENGTH } from '../crypto/aead.js';
import { AesKey } from '../crypto/aes-key.js';
import { getAeadBackend } from '../crypto/backends.js';
import { randomBytes } from '../crypto/random.js';
import { describeValue, optionsObject, requireBytes, requirePositiveInteger } from '../util/validate.js';

/** `cipherSuiteId` of Allegro's payloads (RSA 2048 key wrapping, AES-256-GCM payloads). */
export const ALLEGRO_CIPHER_SUITE_ID = 'RSA2048_AES256';

/** Field sizes of Format B. */
export const AllegroPayloadSizes = {
  iv: 16,
  aad: 16,
  tag: GCM_TAG_LENGTH,
  /** IV + AAD + tag: the length of an empty plaintext's payload. */
  overhead: 48,
} as const;

/** Default upper bound on the size of a payload accepted by {@link openAllegroPayload}: 64 MiB. */
export const DEFAULT_MAX_ALLEGRO_PAYLOAD_LENGTH = 64 * 1024 * 1024;

const WHAT = 'Allegro payload';
const HEADER = AllegroPayloadSizes.iv + AllegroPayloadSizes.aad;

/** Options of {@link sealAllegroPayload}. */
export interface SealAllegroPayloadOptions {
  /** AEAD backend; the runtime's default when absent. */
  backend?: AeadBackendName | AeadBackend;
}

/** Options of {@link openAllegroPayload}. */
export interface OpenAllegroPayloadOptions extends SealAllegroPayloadOptions {
  /** Refuse payloads longer than this many bytes. Default {@link DEFAULT_MAX_ALLEGRO_PAYLOAD_LENGTH}. */
  maxLength?: number;
}

function requireContentKey(key: unknown): asserts key is AesKey {
  if (!(key instanceof AesKey)) throw new InvalidArgumentError('contentKey', 'an AesKey', describeValue(key));
}

/**
 * Encrypt `plaintext` as Allegro does: fresh random 16-byte IV and 16-byte AAD, AES-256-GCM with a 16-byte tag.
 * @returns IV ‖ AAD ‖ ciphertext ‖ tag (standard-base64 it for the `encryptedPayload` JSON field).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a key that is not an AesKey or a plaintext that is not bytes.
 */
export async function sealAllegroPayload(contentKey: AesKey, plaintext: Uint8Array, options?: SealAllegroPayloadOptions): Promise<Uint8Array> {
  requireContentKey(contentKey);
  requireBytes('plaintext', plaintext);
  const backend = getAeadBackend(optionsObject('options', options).backend);
  const iv = randomBytes(AllegroPayloadSizes.iv);
  const aad = randomBytes(AllegroPayloadSizes.aad);
  const out = await backend.seal(contentKey, iv, aad, plaintext, { headroom: HEADER, tailroom: 0 });
  out.set(iv, 0);
  out.set(aad, AllegroPayloadSizes.iv);
  return out;
}

/**
 * Decrypt a Format B payload with the content key of its (threadId, rotationId).
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for input shorter than 48 bytes or longer than
 *   `maxLength`; DecryptionFailedError (`DECRYPTION_FAILED`) when the tag does not verify (wrong key or tampering).
 */
export async function openAllegroPayload(contentKey: AesKey, bytes: Uint8Array, options?: OpenAllegroPayloadOptions): Promise<Uint8Array> {
  requireContentKey(contentKey);
  requireBytes('payload', bytes);
  const opts = optionsObject('options', options);
  const maxLength = opts.maxLength === undefined ? DEFAULT_MAX_ALLEGRO_PAYLOAD_LENGTH : requirePositiveInteger('options.maxLength', opts.maxLength);
  const backend = getAeadBackend(opts.backend);
  if (bytes.length < AllegroPayloadSizes.overhead) {
    throw new MalformedCiphertextError(WHAT, `${bytes.length} bytes is shorter than the minimum of ${AllegroPayloadSizes.overhead}`);
  }
  if (bytes.length > maxLength) throw new MalformedCiphertextError(WHAT, `${bytes.length} bytes exceeds the limit of ${maxLength}`);
  return backend.open(contentKey, bytes.subarray(0, AllegroPayloadSizes.iv), bytes.subarray(AllegroPayloadSizes.iv, HEADER), bytes.subarray(HEADER));
}
