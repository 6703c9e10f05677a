// Token buckets: Threshold calls per interval, refilled continuously; every throttle naming the agent applies.
import { describe, expect, it } from 'vitest';
import { Throttles } from '../../../src/agent-host/throttle.js';

describe('Throttles', () => {
  it('allow Threshold calls, then say how long to wait, and refill over the interval', () => {
    let now = 1_000_000;
    const throttles = new Throttles(() => now);
    const t = [{ id: 't', type: 1, threshold: 3, intervalMs: 3000, agents: ['a'] }];
    expect([1, 2, 3].map(() => throttles.take('a', t))).toEqual([0, 0, 0]);
    expect(throttles.take('a', t)).toBe(1000);
    now += 999;
    expect(throttles.take('a', t)).toBe(1);
    now += 1;
    expect(throttles.take('a', t)).toBe(0);
    expect(throttles.take('b', t)).toBe(0);
  });

  it('take from every bucket only when all allow, and forget a changed or deleted throttle', () => {
    const now = 0;
    const throttles = new Throttles(() => now);
    const both = [{ id: 'wide', type: 1, threshold: 10, intervalMs: 1000, agents: ['a'] }, { id: 'narrow', type: 1, threshold: 1, intervalMs: 1000, agents: ['a'] }];
    expect(throttles.take('a', both)).toBe(0);
    expect(throttles.take('a', both)).toBe(1000);
    // The refused call took nothing from the wide bucket: 9 left.
    expect([...Array(9)].map(() => throttles.take('a', [both[0]!]))).toEqual(Array(9).fill(0));
    expect(throttles.take('a', [both[0]!])).toBeGreaterThan(0);
    throttles.forget({ throttleId: 'wide' });
    expect(throttles.take('a', [both[0]!])).toBe(0);
    // A redefined threshold starts a new bucket.
    expect(throttles.take('a', [{ ...both[1]!, threshold: 5 }])).toBe(0);
  });
});
