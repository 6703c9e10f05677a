/**
 * {@link Platform} for runtimes without node:crypto (browsers): WebCrypto for AES-GCM and randomness,
 * @noble/hashes for the synchronous SHA-256 and HMAC that Symphony's deterministic formats need, and
 * @noble/ciphers for unpadded AES-CBC.
 */
import { nobleCbc } from './aead-noble.js';
import { webCryptoAead } from './aead-webcrypto.js';
import { frameCipherOver } from './frame-cipher.js';
import { hmacSha256, sha256 } from './hash-noble.js';
import type { Platform } from './platform.js';

/** The portable platform. */
export const platform: Platform = {
  name: 'portable',
  defaultAead: webCryptoAead,
  frameCipher: frameCipherOver(webCryptoAead),
  sha256,
  hmacSha256,
  randomFill: (target) => {
    // getRandomValues fills at most 65,536 bytes per call.
    for (let offset = 0; offset < target.length; offset += 65_536) {
      globalThis.crypto.getRandomValues(target.subarray(offset, Math.min(target.length, offset + 65_536)));
    }
    return target;
  },
  aesCbcDecryptNoPadding: (key, iv, data) => nobleCbc('decrypt', key, iv, data),
  aesCbcEncryptNoPadding: (key, iv, data) => nobleCbc('encrypt', key, iv, data),
};
