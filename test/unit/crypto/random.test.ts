import { describe, expect, it } from 'vitest';
import { randomBytes, randomInto } from '../../../src/crypto/random.js';
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

describe('randomInto', () => {
  it('fills exactly the range asked for, pooled or not, and never repeats pooled bytes', () => {
    for (const length of [1, 32, 64, 65, 500]) {
      const target = new Uint8Array(length + 20).fill(0xaa);
      expect(randomInto(target, 10, length)).toBe(target);
      expect([...target.subarray(0, 10), ...target.subarray(10 + length)].every((x) => x === 0xaa)).toBe(true);
      expect(target.subarray(10, 10 + length).some((x) => x !== 0xaa)).toBe(true);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      seen.add(toHex(randomInto(new Uint8Array(32), 0, 32)));
      seen.add(toHex(randomBytes(32)));
    }
    expect(seen.size).toBe(1000);
  });
});
