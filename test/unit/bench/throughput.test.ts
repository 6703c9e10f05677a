import { describe, expect, it } from 'vitest';
import type { Standing } from '../../../src/bench/harness.js';
import type { Limit } from '../../../src/bench/openssl.js';
import { limitNotes, takeLimit, throughputChart, throughputColumns, throughputRows } from '../../../src/bench/throughput.js';
import { useFakeOpenssl } from '../../helpers/fake-openssl.js';

const limit: Limit = {
  version: 'OpenSSL 3.0.19', skipped: null, cores: 2,
  values: [{ direction: 'encrypt', bytes: 1000, oneCore: 4e9, allCores: 8e9 }, { direction: 'decrypt', bytes: 1000, oneCore: 5e9, allCores: null }],
};
const standings: Standing[] = [
  { id: 'raw', rates: [1e6, 1e6], rate: 1e6, ratio: 1 },
  { id: 'node', rates: [0.9e6], rate: 0.9e6, ratio: 0.95 },
];
const labels = new Map([['raw', 'raw node:crypto'], ['node', 'allegro-ts node']]);

describe('throughput rows', () => {
  it('ops/s rates: MB/s = ops × bytes; × raw is the standing\'s ratio; × limit = bytes/s over OpenSSL\'s; then the limit\'s rows', () => {
    const rows = throughputRows({ size: 1000 }, standings, labels, limit, { direction: 'encrypt', bytes: 1000 }, 1000);
    expect(rows).toEqual([
      { size: 1000, implementation: 'raw node:crypto', opsPerSec: 1e6, mbPerSec: 1000, ratioToRaw: 1, ratioToLimit: 0.25, ratioToLimitAllCores: 0.125 },
      { size: 1000, implementation: 'allegro-ts node', opsPerSec: 0.9e6, mbPerSec: 900, ratioToRaw: 0.95, ratioToLimit: 0.225, ratioToLimitAllCores: 0.1125 },
      { size: 1000, implementation: 'OpenSSL, 1 core', opsPerSec: 4e6, mbPerSec: 4000, ratioToRaw: 4, ratioToLimit: 1, ratioToLimitAllCores: 0.5 },
      { size: 1000, implementation: 'OpenSSL, 2 cores', opsPerSec: 8e6, mbPerSec: 8000, ratioToRaw: 8, ratioToLimit: 2, ratioToLimitAllCores: 1 },
    ]);
  });

  it('bytes/s rates without ops/s; no all-cores figure and no all-cores row where it was not measured', () => {
    const bytes: Standing[] = [{ id: 'raw', rates: [2e9], rate: 2e9, ratio: 1 }];
    const rows = throughputRows({ case: 'decrypt' }, bytes, labels, limit, { direction: 'decrypt', bytes: 1000 });
    expect(rows).toEqual([
      { case: 'decrypt', implementation: 'raw node:crypto', mbPerSec: 2000, ratioToRaw: 1, ratioToLimit: 0.4, ratioToLimitAllCores: null },
      { case: 'decrypt', implementation: 'OpenSSL, 1 core', mbPerSec: 5000, ratioToRaw: 2.5, ratioToLimit: 1, ratioToLimitAllCores: null },
    ]);
  });

  it('a limit not measured leaves the × limit cells null and adds no rows; the notes say why', () => {
    const skipped: Limit = { version: null, skipped: 'openssl not found on the PATH', cores: 2, values: [] };
    const rows = throughputRows({ size: 1000 }, standings, labels, skipped, { direction: 'encrypt', bytes: 1000 }, 1000);
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => [r.ratioToLimit, r.ratioToLimitAllCores])).toEqual([[null, null], [null, null]]);
    expect(limitNotes(skipped)).toEqual(['limit: not measured (openssl not found on the PATH); the × limit columns are empty']);
    expect(limitNotes(limit)[0]).toBe('limit: OpenSSL 3.0.19, `openssl speed -evp aes-256-gcm -aead -bytes N -seconds 1 -elapsed -mr` ' +
      '(`-decrypt` for decryption; `-multi 2` for all cores), measured before the Node rounds; its ratios are not interleaved');
  });

  it('columns name every row field; the chart draws MB/s on a log scale', () => {
    const columns = throughputColumns([{ key: 'size', label: 'size', format: 'bytes' }], limit, true);
    const rows = throughputRows({ size: 1000 }, standings, labels, limit, { direction: 'encrypt', bytes: 1000 }, 1000);
    expect(columns.map((c) => c.key)).toEqual(Object.keys(rows[0]!));
    expect(columns.at(-1)!.label).toBe('× limit, 2 cores');
    expect(throughputColumns([], limit, false).map((c) => c.key)).not.toContain('opsPerSec');
    expect(throughputChart('size')).toEqual({ value: 'mbPerSec', unit: 'MB/s', label: ['implementation'], group: 'size', series: 'implementation', scale: 'log' });
  });
});

describe.skipIf(process.platform === 'win32')('takeLimit', () => {
  const openssl = useFakeOpenssl();

  it('measures with the given openssl, or not at all when turned off', async () => {
    const measured = await takeLimit([{ direction: 'encrypt', bytes: 64 }], { openssl: openssl().command });
    expect(measured.version).toBe('OpenSSL 9.9.9 fake');
    expect(measured.values[0]!.oneCore).toBe(64_000);
    const before = (await openssl().calls()).length;
    const off = await takeLimit([{ direction: 'encrypt', bytes: 64 }], { limit: false, openssl: openssl().command });
    expect(off).toMatchObject({ version: null, skipped: 'turned off with --no-limit', values: [] });
    expect(await openssl().calls()).toHaveLength(before);
  });
});
