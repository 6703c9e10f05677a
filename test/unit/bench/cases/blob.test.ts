import { describe, expect, it } from 'vitest';
import { runBlobBench } from '../../../../src/bench/cases/blob.js';
import { platform } from '../../../../src/platform/node.js';

describe('runBlobBench (tiny: no timing is asserted)', () => {
  it('cross-validates, then reports one thread and all cores against raw node:crypto, speed-ups, memory and the targets', async () => {
    const report = await runBlobBench({ totalMiB: 1, rssMiB: 1, rounds: 1, limit: false });
    const cpus = platform.frameWorkers!.cpus;
    expect(report.name).toBe('blob');
    const [throughput, speedUps, memory, targets] = report.tables;
    const cases = ['encrypt 1 MiB', 'decrypt 1 MiB, one chunk per frame', 'decrypt 1 MiB, 64 KiB chunks'];
    expect(throughput!.rows.map((r) => [r.case, r.implementation])).toEqual(cases.flatMap((c) => [
      [c, 'raw node:crypto'], [c, 'allegro-ts blob v1, 1 thread'], [c, `allegro-ts blob v1, ${cpus} cores`],
    ]));
    for (const row of throughput!.rows) expect(row.mbPerSec as number).toBeGreaterThan(0);
    expect(throughput!.rows.filter((r) => r.implementation === 'raw node:crypto').map((r) => r.ratioToRaw)).toEqual([1, 1, 1]);
    expect(speedUps!.rows.map((r) => r.case)).toEqual(cases);
    for (const row of speedUps!.rows) expect(row.speedUp as number).toBeGreaterThan(0);
    expect(memory!.rows.map((r) => r.case)).toEqual([
      'encrypt from a generator, 1 thread', 'decrypt what an encryptor streams in, 1 thread (both)',
      `encrypt from a generator, ${cpus} cores`, `decrypt what an encryptor streams in, ${cpus} cores (both)`,
    ]);
    for (const row of memory!.rows) expect(row.mib).toBe(1);
    expect(targets!.rows.map((r) => [r.target, r.required])).toEqual([
      ['1 thread ÷ OpenSSL 1 core, encrypt 1 MiB', '≥ 0.8'], ['1 thread ÷ OpenSSL 1 core, decrypt 1 MiB, one chunk per frame', '≥ 0.8'],
      ...(cpus < 2 ? [] : [
        [`${cpus} cores ÷ 1 thread, encrypt 1 MiB`, `≥ ${(0.8 * cpus).toFixed(1)}`],
        [`${cpus} cores ÷ 1 thread, decrypt 1 MiB, one chunk per frame`, `≥ ${(0.8 * cpus).toFixed(1)}`],
      ]),
      ...memory!.rows.map((r) => [`RSS growth MiB, ${String(r.case)}`, '≤ 64']),
    ]);
    // Without the limit the share of one core is not measured, hence neither met nor missed.
    expect(targets!.rows.slice(0, 2).map((r) => [r.measured, r.met])).toEqual([[null, null], [null, null]]);
    expect(report.notes[0]).toBe('limit: not measured (turned off with --no-limit); the × limit columns are empty');
    expect(report.notes[1]).toMatch(/^load average \(1 min\) \d+\.\d\d at the start and \d+\.\d\d at the end, on \d+ CPUs$/);
  });
});
