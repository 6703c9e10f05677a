/**
 * AES-256-GCM backends behind one asynchronous interface (NIST SP 800-38D). Symphony uses 16-byte IVs and a
 * 16-byte tag; every backend accepts any IV length of at least 12 bytes and must produce identical bytes
 * (test/cross/aead-backends.test.ts proves it).
 *
 * | backend     | where                         | speed at 1 KiB (docs/performance.md §1)   |
 * |-------------|-------------------------------|-------------------------------------------|
 * | `node`      | Node (default)                | 1.00                                      |
 * | `webcrypto` | browsers, Deno, Node          | ≈0.04 sequential; batch if you must       |
 * | `noble`     | anywhere, pure JS, synchronous| ≈0.13                                     |
 */
/** Names of the built-in AEAD backends. */
export type AeadBackendName = 'node' | 'webcrypto' | 'noble';

/** GCM authentication tag length used by every Symphony format. */
export const GCM_TAG_LENGTH = 16;

/**
 * Free space a caller wants around sealed output, so that a container format can write its header and trailer
 * in place instead of copying the ciphertext once more.
 */
export interface SealLayout {
  /** Bytes left before the ciphertext. */
  headroom: number;
  /** Bytes left after the tag. */
  tailroom: number;
}

/**
 * The key an AEAD backend works with. {@link AesKey} is the implementation every caller passes; this interface names
 * only what a backend may use, so that backends (and the runtime platform that bundles them) do not depend on the
 * key class, which itself depends on the platform for its key id.
 */
export interface AeadKey {
  /** The 32 raw key bytes; zeroed when the key is wiped. */
  readonly bytes: Uint8Array;
  /** A backend-specific form of the key (for example an imported WebCrypto `CryptoKey`), made once by `make`. */
  handle<T>(backend: string, make: (bytes: Uint8Array) => T): T;
}

/** One implementation of AES-256-GCM. */
export interface AeadBackend {
  readonly name: AeadBackendName;
  /**
   * Encrypt and authenticate.
   * @returns ciphertext followed by the 16-byte tag, preceded and followed by the zeroed room `layout` asks for.
   */
  seal(key: AeadKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, layout?: SealLayout): Promise<Uint8Array>;
  /**
   * Verify and decrypt `ciphertextAndTag` (ciphertext followed by the 16-byte tag).
   * @throws DecryptionFailedError (`DECRYPTION_FAILED`) when the tag does not verify; no plaintext is released.
   */
  open(key: AeadKey, iv: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array>;
}

/** Copy sealed bytes into a new array with the room `layout` asks for (backends that cannot write in place). */
export function placeSealed(sealed: Uint8Array, layout: SealLayout | undefined): Uint8Array {
  if (layout === undefined || (layout.headroom === 0 && layout.tailroom === 0)) return sealed;
  const out = new Uint8Array(layout.headroom + sealed.length + layout.tailroom);
  out.set(sealed, layout.headroom);
  return out;
}
