import { describe, expect, it } from 'vitest';
import { randomBytes } from '../../../src/crypto/random.js';
import { toHex } from '../../../src/util/bytes.js';

describe('randomBytes', () => {
  it('never hands out the same pooled bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(toHex(randomBytes(32)));
    expect(seen.size).toBe(1000);
  });

  it('returns independent arrays of the requested length, pooled or not', () => {
    const a = randomBytes(16);
    const b = randomBytes(1000);
    expect([a.length, b.length]).toEqual([16, 1000]);
    expect(a.buffer).not.toBe(randomBytes(16).buffer);
    expect(b.some((x) => x !== 0)).toBe(true);
  });
});
