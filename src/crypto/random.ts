/**
 * Cryptographically secure random bytes for IVs and AAD, served from a pooled buffer: one 4 KiB
 * `randomFill` serves 128 transport encryptions, so a message pays ≈0.2 µs for its randomness instead of
 * ≈4 µs per call (docs/performance.md §2). Every pooled byte is handed out exactly once.
 */
import { platform } from '#platform';

const POOL_SIZE = 4096;
const MAX_POOLED_REQUEST = 64;

let pool = new Uint8Array(0);
let position = 0;

/** `length` fresh random bytes in a new array. */
export function randomBytes(length: number): Uint8Array {
  if (length > MAX_POOLED_REQUEST) return platform.randomFill(new Uint8Array(length));
  return randomInto(new Uint8Array(length), 0, length);
}

/**
 * Fill `target[offset, offset + length)` with fresh random bytes and return `target`: the same pool as
 * {@link randomBytes}, without a new array for them (a transport's IV and AAD are written straight into it).
 */
export function randomInto(target: Uint8Array, offset: number, length: number): Uint8Array {
  if (length > MAX_POOLED_REQUEST) {
    platform.randomFill(target.subarray(offset, offset + length));
    return target;
  }
  if (position + length > pool.length) {
    pool = platform.randomFill(new Uint8Array(POOL_SIZE));
    position = 0;
  }
  target.set(pool.subarray(position, position + length), offset);
  position += length;
  return target;
}
