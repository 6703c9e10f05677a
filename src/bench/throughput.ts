/**
 * Throughput tables shared by the crypto and blob benchmarks: each measured implementation with its MB/s, its
 * ratio to raw node:crypto (the reference of its interleaved rounds) and its ratio to the OpenSSL limit of the same
 * direction and size (./openssl.ts), followed by the limit's own rows. docs/cli.md "Benchmarks".
 */
import { availableParallelism } from 'node:os';
import type { Standing } from './harness.js';
import { limitAt, measureLimit, speedArgs, type Limit, type LimitPoint } from './openssl.js';
import type { Cell, Chart, Column } from './report.js';

/** How a throughput benchmark takes its limit. */
export interface LimitChoice {
  /** Measure the OpenSSL limit (default true). */
  limit?: boolean;
  /** The OpenSSL executable (default `openssl` on the PATH). */
  openssl?: string;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** The limit at `points` on one core and on all the CPUs available, or a limit marked as turned off. */
export async function takeLimit(points: readonly LimitPoint[], choice: LimitChoice): Promise<Limit> {
  const cores = availableParallelism();
  if (choice.limit === false) return { version: null, skipped: 'turned off with --no-limit', cores, values: [] };
  return measureLimit(points, {
    cores, ...(choice.openssl === undefined ? {} : { command: choice.openssl }), ...(choice.progress === undefined ? {} : { progress: choice.progress }),
  });
}

/** The columns after the leading ones: ops/s when `perOp`, MB/s, × raw, × limit on one core and on all cores. */
export function throughputColumns(leading: Column[], limit: Limit, perOp: boolean): Column[] {
  return [
    ...leading,
    { key: 'implementation', label: 'implementation', format: 'text' },
    ...(perOp ? [{ key: 'opsPerSec', label: 'ops/s', format: 'rate' } as const] : []),
    { key: 'mbPerSec', label: 'MB/s', format: 'rate' },
    { key: 'ratioToRaw', label: '× raw', format: 'ratio' },
    { key: 'ratioToLimit', label: '× limit, 1 core', format: 'ratio' },
    { key: 'ratioToLimitAllCores', label: `× limit, ${limit.cores} cores`, format: 'ratio' },
  ];
}

/** The chart of a throughput table: MB/s on a log scale, one chart per value of `group` (if any), one colour per implementation. */
export function throughputChart(group?: string): Chart {
  return { value: 'mbPerSec', unit: 'MB/s', label: ['implementation'], ...(group === undefined ? {} : { group }), series: 'implementation', scale: 'log' };
}

/**
 * The rows of one comparison: every standing (the reference first) under its label, then the limit at `point` on
 * one core and on all cores (when measured). `leading` holds the cells of the leading columns. Rates are bytes/s,
 * or ops/s of `perOp` bytes each when `perOp` is given (which adds the ops/s column).
 */
export function throughputRows(
  leading: Record<string, Cell>, standings: readonly Standing[], labels: ReadonlyMap<string, string>,
  limit: Limit, point: LimitPoint, perOp?: number,
): Array<Record<string, Cell>> {
  const value = limitAt(limit, point);
  const reference = standings[0]!.rate * (perOp ?? 1);
  const row = (implementation: string, bytesPerSec: number, ratioToRaw: number) => ({
    ...leading,
    implementation,
    ...(perOp === undefined ? {} : { opsPerSec: bytesPerSec / perOp }),
    mbPerSec: bytesPerSec / 1e6,
    ratioToRaw,
    ratioToLimit: value === undefined ? null : bytesPerSec / value.oneCore,
    ratioToLimitAllCores: value?.allCores == null ? null : bytesPerSec / value.allCores,
  });
  return [
    ...standings.map((s) => row(labels.get(s.id) ?? s.id, s.rate * (perOp ?? 1), s.ratio)),
    ...(value === undefined ? [] : [row('OpenSSL, 1 core', value.oneCore, value.oneCore / reference)]),
    ...(value?.allCores == null ? [] : [row(`OpenSSL, ${limit.cores} cores`, value.allCores, value.allCores / reference)]),
  ];
}

/** The notes that say how the limit was measured, or why it is missing. */
export function limitNotes(limit: Limit): string[] {
  if (limit.skipped !== null) return [`limit: not measured (${limit.skipped}); the × limit columns are empty`];
  const args = speedArgs({ direction: 'encrypt', bytes: 0 }, 1).join(' ').replace('-bytes 0', '-bytes N');
  return [
    `limit: ${limit.version}, \`openssl ${args}\` (\`-decrypt\` for decryption; \`-multi ${limit.cores}\` for all cores), ` +
      'measured before the Node rounds; its ratios are not interleaved',
    ...(limit.cores > 1 ? [] : ['limit: one CPU, so no all-cores measurement']),
  ];
}
