import { describe, expect, it } from 'vitest';
import { runCryptoBench } from '../../../../src/bench/cases/crypto.js';
import { REPORT_SCHEMA } from '../../../../src/bench/report.js';
import { aeadBackendNames } from '../../../../src/crypto/backends.js';
import { useFakeOpenssl } from '../../../helpers/fake-openssl.js';

describe.skipIf(process.platform === 'win32')('runCryptoBench (tiny: no timing is asserted)', () => {
  const openssl = useFakeOpenssl();

  it('cross-validates, then reports per direction one row per size and implementation, with the limit\'s rows', async () => {
    const progress: string[] = [];
    const report = await runCryptoBench({ sizes: [64, 1024], rounds: 1, roundMs: 2, openssl: openssl().command, progress: (l) => progress.push(l) });
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.name).toBe('crypto');
    expect(report.environment.openssl).toBe('OpenSSL 9.9.9 fake');
    expect(report.tables.map((t) => t.title)).toEqual(['encrypt + base64', 'base64 + decrypt']);
    const implementations = ['raw node:crypto', ...aeadBackendNames().map((b) => `allegro-ts ${b}`), 'OpenSSL, 1 core', 'OpenSSL, 2 cores'];
    const cores = report.environment.cpus;
    for (const table of report.tables) {
      const expected = [64, 1024].flatMap((size) => implementations.filter((i) => cores > 1 || i !== 'OpenSSL, 2 cores').map((i) => [size, i]));
      expect(table.rows.map((r) => [r.size, r.implementation])).toEqual(expected);
      for (const row of table.rows) {
        expect(row.opsPerSec as number).toBeGreaterThan(0);
        expect(row.mbPerSec as number).toBeCloseTo(((row.opsPerSec as number) * (row.size as number)) / 1e6, 6);
        expect(row.ratioToLimit as number).toBeGreaterThan(0);
      }
      expect(table.rows.find((r) => r.implementation === 'OpenSSL, 1 core' && r.size === 64)!.mbPerSec).toBe(0.064); // the fake's 64,000 B/s
    }
    expect(progress.filter((l) => l.startsWith('measured '))).toHaveLength(4);
    expect(report.notes[0]).toMatch(/^limit: OpenSSL 9\.9\.9 fake, `openssl speed/);
  });

  it('measures only the backends asked, and says when the limit is turned off', async () => {
    const report = await runCryptoBench({ sizes: [64], backends: ['noble'], rounds: 1, roundMs: 1, limit: false });
    expect(report.tables[0]!.rows.map((r) => r.implementation)).toEqual(['raw node:crypto', 'allegro-ts noble']);
    expect(report.tables[0]!.rows[1]!.ratioToLimit).toBeNull();
    expect(report.notes).toEqual(['limit: not measured (turned off with --no-limit); the × limit columns are empty']);
  });
});
