import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  interleave, load, median, opsPerSecond, percentile, timedContender, unitsPerSecond, warmUpSecondsFor, workContender, type Contender,
} from '../../../src/bench/harness.js';

describe('median and percentile', () => {
  it('median: the middle value, the mean of the two middle ones, NaN when empty; the input is not reordered', () => {
    const values = [5, 1, 3];
    expect(median(values)).toBe(3);
    expect(values).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('median lies between the smallest and the largest value and ignores order', () => {
    fc.assert(fc.property(fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1, maxLength: 50 }), (values) => {
      const m = median(values);
      expect(m).toBeGreaterThanOrEqual(Math.min(...values));
      expect(m).toBeLessThanOrEqual(Math.max(...values));
      expect(median([...values].reverse())).toBe(m);
    }));
  });

  it('percentile: nearest rank of sorted values, clamped to the last, 0 when empty', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(51);
    expect(percentile(sorted, 99)).toBe(100);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile([3], 99)).toBe(3);
    expect(percentile([], 50)).toBe(0);
  });

  it('percentile is monotone in p and always one of the values', () => {
    fc.assert(fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (values, a, b) => {
      const sorted = [...values].sort((x, y) => x - y);
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      expect(percentile(sorted, lo)).toBeLessThanOrEqual(percentile(sorted, hi));
      expect(sorted).toContain(percentile(sorted, lo));
    }));
  });
});

describe('timing', () => {
  it('opsPerSecond runs the operation at least twice and returns a positive rate', async () => {
    let calls = 0;
    const rate = await opsPerSecond(() => { calls++; }, 0);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(rate).toBeGreaterThan(0);
  });

  it('unitsPerSecond divides the units a run reports by its time', async () => {
    const rate = await unitsPerSecond(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return 1000;
    });
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(1000 / 0.015); // at most 1000 units in ≥ 15 ms (timer slack)
  });
});

/** A contender with a scripted rate per round that logs every call. */
function scripted(id: string, rates: number[], log: string[], rounds?: number): Contender {
  let round = 0;
  return {
    id,
    warmUp: async () => { log.push(`warm ${id}`); },
    round: async () => {
      log.push(`round ${id}`);
      return rates[round++]!;
    },
    ...(rounds === undefined ? {} : { rounds }),
  };
}

describe('interleave', () => {
  it('warms up the reference and every contender before the first timed round, then alternates them', async () => {
    const log: string[] = [];
    await interleave(scripted('raw', [1, 1], log), [scripted('a', [1, 1], log), scripted('b', [1, 1], log)], 2);
    expect(log).toEqual(['warm raw', 'warm a', 'warm b', 'round raw', 'round a', 'round b', 'round raw', 'round a', 'round b']);
  });

  it('rates are medians of the rounds; ratios the medians of the per-round ratios to the same round\'s reference', async () => {
    const log: string[] = [];
    // The machine slows down in round 2: the reference and the contender both halve, the ratio stays 0.5.
    const [raw, a] = await interleave(scripted('raw', [100, 50, 100], log), [scripted('a', [50, 25, 50], log)], 3);
    expect(raw).toEqual({ id: 'raw', rates: [100, 50, 100], rate: 100, ratio: 1 });
    expect(a).toEqual({ id: 'a', rates: [50, 25, 50], rate: 50, ratio: 0.5 });
  });

  it('a contender with fewer rounds is timed only in the first ones, against those rounds\' reference', async () => {
    const log: string[] = [];
    const [, slow] = await interleave(scripted('raw', [10, 20, 30], log), [scripted('slow', [5], log, 1)], 3);
    expect(slow).toEqual({ id: 'slow', rates: [5], rate: 5, ratio: 0.5 });
    expect(log.filter((l) => l === 'round slow')).toHaveLength(1);
  });

  it('refuses a round count that is not a positive integer', async () => {
    await expect(interleave(scripted('raw', [], []), [], 0)).rejects.toThrow(/rounds/);
    await expect(interleave(scripted('raw', [], []), [], 1.5)).rejects.toThrow(/rounds/);
  });

  it('timedContender and workContender warm up with the operation itself', async () => {
    let ops = 0;
    const timed = timedContender('t', () => { ops++; }, { roundMs: 0, warmUpMs: 0, rounds: 2 });
    await timed.warmUp();
    expect(ops).toBeGreaterThanOrEqual(2);
    expect(timed.rounds).toBe(2);
    let runs = 0;
    const work = workContender('w', async () => { runs++; return 10; });
    await work.warmUp();
    expect(runs).toBe(1);
    expect(await work.round()).toBeGreaterThan(0);
    expect(runs).toBe(2);
    expect(work.rounds).toBeUndefined();
  });
});

describe('load', () => {
  it('warms up first, then counts successes and failures with the first error; sequence numbers are unique', async () => {
    const seen: number[] = [];
    const result = await load(async (n) => {
      seen.push(n);
      await new Promise((r) => setTimeout(r, 1));
      if (n % 4 === 3) throw new TypeError(`bad ${n}`);
    }, { concurrency: 3, seconds: 0.06, warmUpSeconds: 0.03 });
    expect(new Set(seen).size).toBe(seen.length);
    expect(result.ok + result.failed).toBeLessThan(seen.length); // the warm-up's calls are not counted
    expect(result.failed).toBeGreaterThan(0);
    expect(result.firstError).toMatch(/^TypeError: bad \d+$/);
    expect(result.concurrency).toBe(3);
    expect(result.opsPerSec).toBeCloseTo(result.ok / result.seconds, 6);
    expect(result.p50Ms).toBeLessThanOrEqual(result.p99Ms);
  });

  it('reports no firstError when nothing failed; the default warm-up is a third of the time, at most 1 s', async () => {
    const result = await load(async () => undefined, { concurrency: 1, seconds: 0.01 });
    expect(result.failed).toBe(0);
    expect(result).not.toHaveProperty('firstError');
    expect(warmUpSecondsFor(0.3)).toBeCloseTo(0.1);
    expect(warmUpSecondsFor(30)).toBe(1);
  });
});
