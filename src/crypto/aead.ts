/**
 * AES-256-GCM backends behind one asynchronous interface (NIST SP 800-38D). Symphony uses 16-byte IVs and a
 * 16-byte tag; every backend accepts any IV length of at least 12 bytes and must produce identical bytes
 * (test/cross/aead-backends.test.ts proves it).
 *
 * | backend     | where                         | speed here at 1 KiB (perf-baseline.md §1) |
 * |-------------|-------------------------------|-------------------------------------------|
 * | `node`      | Node (default)                | 1.00                                      |
 * | `webcrypto` | browsers, Deno, Node          | ≈0.04 sequential; batch if you must       |
 * | `noble`     | anywhere, pure JS, synchronous| ≈0.13                                     |
 */
import type { AesKey } from './aes-key.js';

/** Names of the built-in AEAD backends. */
export type AeadBackendName = 'node' | 'webcrypto' | 'noble';

/** GCM authentication tag length used by every Symphony format. */
export const GCM_TAG_LENGTH = 16;

/** One implementation of AES-256-GCM. */
export interface AeadBackend {
  readonly name: AeadBackendName;
  /**
   * Encrypt and authenticate.
   * @returns ciphertext followed by the 16-byte tag.
   */
  seal(key: AesKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /**
   * Verify and decrypt `ciphertextAndTag` (ciphertext followed by the 16-byte tag).
   * @throws DecryptionFailedError (`DECRYPTION_FAILED`) when the tag does not verify; no plaintext is released.
   */
  open(key: AesKey, iv: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array>;
}
