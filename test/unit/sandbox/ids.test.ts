import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newId, podIdOf, standardBase64Id, userIdOf } from '../../../src/sandbox/ids.js';
import { toBase64, tryFromBase64 } from '../../../src/util/bytes.js';

const TWO_36 = 2 ** 36;

describe('userIdOf / podIdOf', () => {
  it('matches the PodAndUserId layout (pod id in bits 36.., user number in bits 0..35)', () => {
    expect(userIdOf(196, 1000)).toBe(196 * TWO_36 + 1000);
    expect(BigInt(userIdOf(196, 1000))).toBe((196n << 36n) | 1000n);
    expect(podIdOf(userIdOf(196, 1000))).toBe(196);
    expect(podIdOf(13469017440257)).toBe(196); // a user id as a 196 pod hands it out
  });

  it('round-trips exactly at the extremes of the safe range', () => {
    const max = userIdOf(2 ** 17 - 1, TWO_36 - 1);
    expect(max).toBe(Number.MAX_SAFE_INTEGER);
    expect(podIdOf(max)).toBe(2 ** 17 - 1);
    expect(max - podIdOf(max) * TWO_36).toBe(TWO_36 - 1);
    expect(podIdOf(userIdOf(1, 0))).toBe(1);
    expect(podIdOf(TWO_36 - 1)).toBe(0);
  });

  it('is exact for every pod id 1..131071 and user number below 2^36', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 17 - 1 }), fc.integer({ min: 0, max: TWO_36 - 1 }), (pod, n) => {
      const id = userIdOf(pod, n);
      expect(Number.isSafeInteger(id)).toBe(true);
      expect(BigInt(id)).toBe((BigInt(pod) << 36n) | BigInt(n));
      expect(podIdOf(id)).toBe(pod);
      expect(id - podIdOf(id) * TWO_36).toBe(n);
    }), { numRuns: 2000 });
  });

  it('gives distinct ids to distinct (pod, user) pairs', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 17 - 1 }), fc.integer({ min: 0, max: TWO_36 - 1 }),
      fc.integer({ min: 1, max: 2 ** 17 - 1 }), fc.integer({ min: 0, max: TWO_36 - 1 }),
      (p1, n1, p2, n2) => {
        fc.pre(p1 !== p2 || n1 !== n2);
        expect(userIdOf(p1, n1)).not.toBe(userIdOf(p2, n2));
      },
    ));
  });
});

describe('newId', () => {
  it('is URL-safe base64 without padding of the requested number of random bytes', () => {
    for (const bytes of [1, 2, 3, 9, 16, 24, 32]) {
      const id = newId(bytes);
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(id).toHaveLength(Math.ceil((bytes * 4) / 3));
      expect(tryFromBase64(id)).toHaveLength(bytes);
    }
    expect(newId()).toHaveLength(32); // 24 bytes by default
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newId()));
    expect(ids.size).toBe(2000);
    // Short ids still use the whole alphabet (randomness, not a counter).
    const firstChars = new Set(Array.from({ length: 2000 }, () => newId(3)[0]));
    expect(firstChars.size).toBeGreaterThan(50);
  });
});

describe('standardBase64Id', () => {
  it('converts URL-safe ids (padded or not) to padded standard base64', () => {
    expect(standardBase64Id('-_8')).toBe('+/8=');
    expect(standardBase64Id('+/8=')).toBe('+/8=');
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
      const id = newIdOf(bytes);
      expect(standardBase64Id(id)).toBe(toBase64(bytes));
    }));
  });

  it('maps what is not base64 to the empty string', () => {
    expect(standardBase64Id('A')).toBe('');
    expect(standardBase64Id('not base64!')).toBe('');
    expect(standardBase64Id('')).toBe('');
  });
});

function newIdOf(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}
