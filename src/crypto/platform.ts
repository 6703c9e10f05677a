/**
 * The primitives allegro-ts takes from its runtime, behind one interface: SHA-256, HMAC-SHA256, secure
 * randomness, AES-256-CBC without padding (legacy Symphony formats only) and the default AEAD backend.
 *
 * Node resolves `./platform-node.js` (node:crypto, the fastest backend here: ../shared/reference/perf-baseline.md);
 * browser bundles follow the package.json `browser` field to `./platform-portable.js` (WebCrypto + noble).
 */
import type { AeadBackend } from './aead.js';
import type { FrameCipher } from './frame-cipher.js';
import { platform as nodePlatform } from './platform-node.js';

/** Synchronous primitives every runtime must provide. */
export interface Platform {
  /** Name of the runtime flavour, `node` or `portable`. */
  readonly name: 'node' | 'portable';
  /** The AEAD backend used when the caller does not choose one. */
  readonly defaultAead: AeadBackend;
  /** AES-256-GCM for one frame of a streaming format (store/blob-format.ts): node:crypto in Node, else WebCrypto. */
  readonly frameCipher: FrameCipher;
  sha256(...parts: readonly Uint8Array[]): Uint8Array;
  hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array;
  /** Fill `target` with cryptographically secure random bytes and return it. */
  randomFill<T extends Uint8Array>(target: T): T;
  /** AES-256-CBC decryption without padding; `data.length` must be a multiple of 16. */
  aesCbcDecryptNoPadding(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** AES-256-CBC encryption without padding; `data.length` must be a multiple of 16. */
  aesCbcEncryptNoPadding(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
}

/** The platform of the running process. */
export const platform: Platform = nodePlatform;
