// Test data for the streaming formats: deterministic pseudo-random bytes (fast to make, and shrinkable by fast-check
// through the seed and the size) and bytes cut into chunks.

/** `size` pseudo-random bytes from `seed` (xorshift32). */
export function bytesFrom(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed | 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `data` cut into views of `size` bytes (the last may be shorter). */
export function cut(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}
