/**
 * The one report format of every benchmark: a {@link BenchReport} (title, method, environment, tables of rows,
 * notes), rendered as Markdown (the console output and `NAME.md`), as JSON (`--json`, `NAME.json`; shape versioned
 * by {@link REPORT_SCHEMA} and documented in docs/cli.md "Benchmarks") and as HTML (./html.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './harness.js';

/** The `schema` of every report: bumped whenever a field changes meaning or goes away. */
export const REPORT_SCHEMA = 'allegro-bench-report/1';

/** One cell of a row: `null` where a value does not apply or was not measured (printed `—`). */
export type Cell = string | number | boolean | null;

/**
 * How a column prints: `text` as is; `bytes` a size (64 B, 16 KiB, 1 MiB); `rate` ≥ 100 as an integer with
 * separators, else 3 significant digits; `ratio` 2 decimals (2 significant digits below 0.1); `fixed` `digits` decimals (default 1); `percent` a
 * fraction as a percentage; `count` an integer with separators. Booleans print `yes`/`no`.
 */
export type CellFormat = 'text' | 'bytes' | 'rate' | 'ratio' | 'fixed' | 'percent' | 'count';

/** One column of a table: `key` names the row field (also in JSON), `label` heads the column. */
export interface Column {
  key: string;
  label: string;
  format: CellFormat;
  /** Decimals of a `fixed` column. */
  digits?: number;
}

/** Which numeric column the HTML page draws as horizontal bars, and how it labels and groups them. */
export interface Chart {
  /** The numeric column drawn. */
  value: string;
  /** Its unit, shown after each value. */
  unit: string;
  /** Columns whose cells, joined by spaces, label a bar. */
  label: string[];
  /** Rows with equal cells in this column share one chart (and one scale), e.g. one chart per message size. */
  group?: string;
  /** Bars with equal cells in this column share a colour across the page, e.g. one colour per implementation. */
  series?: string;
  /** `log` for values spanning decades, as the throughput of 64 B messages and of OpenSSL (default `linear`). */
  scale?: 'linear' | 'log';
}

/** One table of a report. */
export interface BenchTable {
  title: string;
  columns: Column[];
  rows: Array<Record<string, Cell>>;
  chart?: Chart;
}

/** Where a report was measured. */
export interface BenchEnvironment {
  /** `process.version`. */
  node: string;
  /** `platform-arch`. */
  platform: string;
  /** Logical CPUs available to the process. */
  cpus: number;
  cpuModel: string;
  /** `openssl version` when the OpenSSL limit was measured, else null. */
  openssl: string | null;
  /** ISO time of the end of the run. */
  time: string;
}

/** The result of one benchmark, whatever it measured. */
export interface BenchReport {
  schema: typeof REPORT_SCHEMA;
  /** File name stem and bench kind: `crypto`, `sandbox`, `sandbox-memory`, `e2e`, `blob`, `objects`. */
  name: string;
  title: string;
  /** How it was measured, in a paragraph. */
  method: string;
  environment: BenchEnvironment;
  tables: BenchTable[];
  /** Remarks: a skipped limit, missed targets, first errors. */
  notes: string[];
}

/** The environment of this process now. */
export function currentEnvironment(openssl: string | null = null): BenchEnvironment {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    openssl,
    time: new Date().toISOString(),
  };
}

/** A report with the schema and the current environment. */
export function makeReport(fields: Omit<BenchReport, 'schema' | 'environment'> & { openssl?: string | null }): BenchReport {
  return {
    schema: REPORT_SCHEMA, name: fields.name, title: fields.title, method: fields.method,
    environment: currentEnvironment(fields.openssl ?? null), tables: fields.tables, notes: fields.notes,
  };
}

/** A table of single measures: one row per `[measure, value, unit]`. */
export function measuresTable(title: string, entries: ReadonlyArray<readonly [string, number, string]>): BenchTable {
  return {
    title,
    columns: [{ key: 'measure', label: 'measure', format: 'text' }, { key: 'value', label: 'value', format: 'rate' }, { key: 'unit', label: 'unit', format: 'text' }],
    rows: entries.map(([measure, value, unit]) => ({ measure, value, unit })),
  };
}

/** A table of load measurements ({@link LoadResult}s, one per operation), charted by ops/s. */
export function loadTable(title: string, cases: ReadonlyArray<{ name: string; result: LoadResult }>): BenchTable {
  return {
    title,
    columns: [
      { key: 'operation', label: 'operation', format: 'text' }, { key: 'inFlight', label: 'in flight', format: 'count' },
      { key: 'opsPerSec', label: 'ops/s', format: 'rate' }, { key: 'p50Ms', label: 'p50 ms', format: 'fixed', digits: 2 },
      { key: 'p99Ms', label: 'p99 ms', format: 'fixed', digits: 2 }, { key: 'ok', label: 'ok', format: 'count' },
      { key: 'failed', label: 'failed', format: 'count' },
    ],
    rows: cases.map(({ name, result: r }) => ({ operation: name, inFlight: r.concurrency, opsPerSec: r.opsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ok: r.ok, failed: r.failed })),
    chart: { value: 'opsPerSec', unit: 'ops/s', label: ['operation'] },
  };
}

/** The first error of each load case that had failures, as notes. */
export function loadErrors(cases: ReadonlyArray<{ name: string; result: LoadResult }>): string[] {
  return cases.flatMap(({ name, result }) => (result.firstError === undefined ? [] : [`first error of ${name}: ${result.firstError}`]));
}

/** A byte count as the benchmarks name sizes: 64 B, 16 KiB, 1 MiB, 1.5 MiB. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / 1024 / 1024).toFixed(2))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(2))} KiB`;
  return `${bytes} B`;
}

/** A measured value: ≥ 100 as an integer with thousands separators, else 3 significant digits. */
export function formatRate(value: number): string {
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

/** A cell as the column's format prints it (the same text in Markdown and HTML). */
export function formatCell(value: Cell | undefined, column: Column): string {
  if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  switch (column.format) {
    case 'bytes': return formatSize(value);
    case 'rate': return formatRate(value);
    case 'ratio': return Math.abs(value) >= 0.1 || value === 0 ? value.toFixed(2) : value.toPrecision(2);
    case 'fixed': return value.toFixed(column.digits ?? 1);
    case 'percent': return `${(value * 100).toFixed(1)} %`;
    case 'count': return Math.round(value).toLocaleString('en-US');
    case 'text': return String(value);
  }
}

/** One line naming the machine: Node, platform, CPUs, OpenSSL, time. */
export function describeEnvironment(e: BenchEnvironment): string {
  return [`Node ${e.node}`, e.platform, `${e.cpus} CPUs (${e.cpuModel})`, ...(e.openssl === null ? [] : [e.openssl]), e.time].join(', ');
}

function markdownText(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** The report as Markdown: heading, environment, method, one table per table, notes as a list. */
export function toMarkdown(report: BenchReport): string {
  const out = [`# allegro bench ${report.name}: ${markdownText(report.title)}`, '', describeEnvironment(report.environment), '', report.method];
  for (const table of report.tables) {
    const align = (c: Column) => (c.format === 'text' ? '---' : '---:');
    out.push('', `## ${markdownText(table.title)}`, '',
      `| ${table.columns.map((c) => markdownText(c.label)).join(' | ')} |`,
      `|${table.columns.map(align).join('|')}|`,
      ...table.rows.map((row) => `| ${table.columns.map((c) => markdownText(formatCell(row[c.key], c))).join(' | ')} |`));
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `- ${markdownText(n)}`));
  return out.join('\n');
}

/** Numbers in JSON: integers as they are, others ≥ 1000 rounded to integers, the rest to 4 significant digits. */
function roundNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || Number.isInteger(value) || !Number.isFinite(value)) return value;
  return Math.abs(value) >= 1000 ? Math.round(value) : Number(value.toPrecision(4));
}

/** The report as JSON (one line, or indented by `indent` spaces), numbers rounded to the precision measured. */
export function toJson(report: BenchReport, indent?: number): string {
  return JSON.stringify(report, roundNumber, indent);
}

/** Write `NAME.json` and `NAME.md` into `dir` (created if needed); returns the two paths. */
export async function saveReport(dir: string, report: BenchReport): Promise<[string, string]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.name}.json`);
  const md = join(dir, `${report.name}.md`);
  await writeFile(json, `${toJson(report, 2)}\n`);
  await writeFile(md, `${toMarkdown(report)}\n`);
  return [json, md];
}
