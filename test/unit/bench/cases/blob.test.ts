import { describe, expect, it } from 'vitest';
import { runBlobBench } from '../../../../src/bench/cases/blob.js';

describe('runBlobBench (tiny: no timing is asserted)', () => {
  it('cross-validates, then reports throughput against raw node:crypto, memory and the targets', async () => {
    const report = await runBlobBench({ totalMiB: 1, rssMiB: 1, rounds: 1, limit: false });
    expect(report.name).toBe('blob');
    const [throughput, memory, targets] = report.tables;
    expect(throughput!.rows.map((r) => [r.case, r.implementation])).toEqual([
      ['encrypt 1 MiB', 'raw node:crypto'], ['encrypt 1 MiB', 'allegro-ts blob v1'],
      ['decrypt 1 MiB, one chunk per frame', 'raw node:crypto'], ['decrypt 1 MiB, one chunk per frame', 'allegro-ts blob v1'],
      ['decrypt 1 MiB, 64 KiB chunks', 'raw node:crypto'], ['decrypt 1 MiB, 64 KiB chunks', 'allegro-ts blob v1'],
    ]);
    for (const row of throughput!.rows) expect(row.mbPerSec as number).toBeGreaterThan(0);
    expect(throughput!.rows.filter((r) => r.implementation === 'raw node:crypto').map((r) => r.ratioToRaw)).toEqual([1, 1, 1]);
    expect(memory!.rows.map((r) => r.measure)).toEqual(['plaintext encrypted from a generator', 'RSS before', 'RSS peak', 'RSS peak growth', 'time']);
    expect(targets!.rows.map((r) => [r.target, r.required, typeof r.met])).toEqual([
      ['allegro-ts encrypt MB/s', '≥ 1000', 'boolean'], ['RSS growth MiB for 1 MiB', '≤ 64', 'boolean'],
    ]);
    expect(report.notes[0]).toBe('limit: not measured (turned off with --no-limit); the × limit columns are empty');
  });
});
