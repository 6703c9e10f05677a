/**
 * One-frame AES-256-GCM for framed streaming formats (store/blob-format.ts): seal returns the ciphertext and the
 * tag as two arrays, so that a backend which produces them separately (node:crypto) hands them over without
 * copying each 64 KiB frame into a fresh `ciphertext ‖ tag` array (a second large allocation per frame, which
 * cut framed encryption to ≈0.5–0.6× raw node:crypto here; without it blob v1 runs at ≈0.95×). Node's
 * implementation is synchronous; backends built on {@link AeadBackend} (WebCrypto, noble) return promises, so
 * callers `await` the result either way.
 *
 * The runtime's implementation is `platform.frameCipher` (node:crypto in Node, WebCrypto in browsers);
 * {@link frameCipherOver} adapts any {@link AeadBackend}. Nonces are 12 bytes in every framed format; any length of
 * at least 12 bytes works (CiphertextTransport decryption uses it with Symphony's 16-byte IVs).
 */
import { GCM_TAG_LENGTH, type AeadBackend, type AeadKey } from './aead.js';

/** The output of sealing one frame: `ciphertext ‖ tag` is the frame on the wire. */
export interface SealedFrame {
  /** Same length as the plaintext. */
  readonly ciphertext: Uint8Array;
  /** The 16-byte GCM tag. */
  readonly tag: Uint8Array;
}

/** AES-256-GCM over one frame, synchronous where the runtime allows it. */
export interface FrameCipher {
  /** Name of the underlying backend (`node`, `webcrypto`, `noble` or a custom backend's). */
  readonly name: string;
  /**
   * Encrypt and authenticate one frame. The implementation reads `plaintext` before it returns (or before its
   * promise settles) and keeps no reference to it afterwards, so the caller may reuse the buffer.
   */
  seal(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): SealedFrame | Promise<SealedFrame>;
  /**
   * Verify and decrypt `ciphertextAndTag`; returns a new array (never a view of the input).
   * @throws DecryptionFailedError (`DECRYPTION_FAILED`) when the tag does not verify; no plaintext is released.
   */
  open(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A {@link FrameCipher} over any {@link AeadBackend} (one combined `ciphertext ‖ tag` array, split by views). */
export function frameCipherOver(backend: AeadBackend): FrameCipher {
  return {
    name: backend.name,
    seal: async (key, nonce, aad, plaintext) => {
      const sealed = await backend.seal(key, nonce, aad, plaintext);
      const split = sealed.length - GCM_TAG_LENGTH;
      return { ciphertext: sealed.subarray(0, split), tag: sealed.subarray(split) };
    },
    open: (key, nonce, aad, ciphertextAndTag) => backend.open(key, nonce, aad, ciphertextAndTag),
  };
}
