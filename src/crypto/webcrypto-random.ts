/**
 * Secure randomness from WebCrypto's `crypto.getRandomValues`, for the portable platform (src/platform/portable.ts)
 * and node-forge's randomness (./rsa-forge-random.ts).
 */

/** getRandomValues fills at most 65,536 bytes per call. */
const RANDOM_CHUNK = 65_536;

/** Fill `target` with random bytes from `crypto.getRandomValues`, any length, and return it. */
export function getRandomValuesChunked<T extends Uint8Array>(target: T): T {
  for (let offset = 0; offset < target.length; offset += RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(target.subarray(offset, Math.min(target.length, offset + RANDOM_CHUNK)));
  }
  return target;
}
