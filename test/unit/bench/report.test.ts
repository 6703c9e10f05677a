import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  currentEnvironment, formatCell, formatSize, loadErrors, loadTable, measuresTable, REPORT_SCHEMA, saveReport, toJson, toMarkdown,
  type BenchReport, type Column,
} from '../../../src/bench/report.js';
import { sampleReport } from '../../helpers/bench-report.js';

const col = (format: Column['format'], digits?: number): Column => ({ key: 'k', label: 'k', format, ...(digits === undefined ? {} : { digits }) });

describe('cells', () => {
  it('format as their column says; null, undefined and non-finite numbers print a dash; booleans yes/no', () => {
    expect(formatCell(64, col('bytes'))).toBe('64 B');
    expect(formatCell(16384, col('bytes'))).toBe('16 KiB');
    expect(formatCell(1024 * 1024 * 1.5, col('bytes'))).toBe('1.5 MiB');
    expect(formatCell(123456.7, col('rate'))).toBe('123,457');
    expect(formatCell(12.3456, col('rate'))).toBe('12.3');
    expect(formatCell(0.004567, col('rate'))).toBe('0.00457');
    expect(formatCell(0.956, col('ratio'))).toBe('0.96');
    expect(formatCell(0.0046, col('ratio'))).toBe('0.0046');
    expect(formatCell(0, col('ratio'))).toBe('0.00');
    expect(formatCell(3.14159, col('fixed', 2))).toBe('3.14');
    expect(formatCell(3.14159, col('fixed'))).toBe('3.1');
    expect(formatCell(0.2296, col('percent'))).toBe('23.0 %');
    expect(formatCell(9389.4, col('count'))).toBe('9,389');
    expect(formatCell('text', col('rate'))).toBe('text');
    expect(formatCell(null, col('rate'))).toBe('—');
    expect(formatCell(undefined, col('rate'))).toBe('—');
    expect(formatCell(Number.POSITIVE_INFINITY, col('fixed'))).toBe('—');
    expect(formatCell(true, col('text'))).toBe('yes');
    expect(formatCell(false, col('text'))).toBe('no');
    expect(formatSize(1000)).toBe('1000 B');
  });
});

describe('reports', () => {
  it('carry the schema and the environment', () => {
    const report = sampleReport();
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(Object.keys(report)).toEqual(['schema', 'name', 'title', 'method', 'environment', 'tables', 'notes']);
    expect(report.environment).toMatchObject({ node: process.version, platform: `${process.platform}-${process.arch}`, openssl: null });
    expect(report.environment.cpus).toBeGreaterThan(0);
    expect(currentEnvironment('OpenSSL 3').openssl).toBe('OpenSSL 3');
    expect(Number.isNaN(Date.parse(report.environment.time))).toBe(false);
  });

  it('render as Markdown: heading, environment, method, tables with aligned columns, escaped pipes, notes', () => {
    const md = toMarkdown(sampleReport());
    const lines = md.split('\n');
    expect(lines[0]).toBe('# allegro bench crypto: a \\| title');
    expect(lines[2]).toMatch(/^Node v\d+/);
    expect(lines[4]).toBe('how it was measured');
    expect(md).toContain('## table one\n\n| name | size | MB/s | × raw | ok |\n|---|---:|---:|---:|---|\n');
    expect(md).toContain('| raw \\| node | 1 KiB | 1,235 | 1.00 | yes |');
    expect(md).toContain('| noble | 64 B | 12.3 | — | no |');
    expect(lines.at(-1)).toBe('- limit: not measured');
  });

  it('render as JSON with rounded numbers and null for missing values', () => {
    const report = sampleReport();
    const parsed = JSON.parse(toJson(report)) as BenchReport;
    expect(parsed.schema).toBe(REPORT_SCHEMA);
    expect(parsed.tables[0]!.rows).toEqual([
      { name: 'raw | node', size: 1024, rate: 1235, ratio: 1, ok: true },
      { name: 'noble', size: 64, rate: 12.35, ratio: null, ok: false },
    ]);
    expect(toJson(report)).not.toContain('\n');
    expect(toJson(report, 2)).toContain('\n  "schema"');
    const tiny = { ...report, tables: [{ ...report.tables[0]!, rows: [{ name: 'x', size: 1, rate: 0.000123456, ratio: Number.NaN, ok: true }] }] };
    expect((JSON.parse(toJson(tiny)) as BenchReport).tables[0]!.rows[0]).toMatchObject({ rate: 0.0001235, ratio: null });
  });

  it('are saved as NAME.json and NAME.md', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allegro-bench-report-'));
    try {
      const report = sampleReport();
      const [json, md] = await saveReport(join(dir, 'results'), report);
      expect(json).toBe(join(dir, 'results', 'crypto.json'));
      expect(JSON.parse(await readFile(json, 'utf8'))).toEqual(JSON.parse(toJson(report)));
      expect(await readFile(md, 'utf8')).toBe(`${toMarkdown(report)}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('table builders', () => {
  it('measuresTable has one row per measure', () => {
    const t = measuresTable('memory', [['RSS peak', 114.6, 'MiB'], ['time', 0.65, 's']]);
    expect(t.columns.map((c) => c.key)).toEqual(['measure', 'value', 'unit']);
    expect(t.rows).toEqual([{ measure: 'RSS peak', value: 114.6, unit: 'MiB' }, { measure: 'time', value: 0.65, unit: 's' }]);
    expect(t.chart).toBeUndefined();
  });

  it('loadTable has one row per operation, charted by ops/s; loadErrors names the first error of each failing one', () => {
    const ok = { concurrency: 8, seconds: 3, ok: 300, failed: 0, opsPerSec: 100, p50Ms: 1, p99Ms: 5 };
    const cases = [{ name: 'put', result: ok }, { name: 'get', result: { ...ok, failed: 2, firstError: 'Error: HTTP 500' } }];
    const t = loadTable('operations', cases);
    expect(t.rows[1]).toEqual({ operation: 'get', inFlight: 8, opsPerSec: 100, p50Ms: 1, p99Ms: 5, ok: 300, failed: 2 });
    expect(t.chart).toEqual({ value: 'opsPerSec', unit: 'ops/s', label: ['operation'] });
    expect(loadErrors(cases)).toEqual(['first error of get: Error: HTTP 500']);
  });
});
