// A small benchmark report for the report and HTML tests.
import { makeReport, type BenchReport } from '../../src/bench/report.js';

/** A small report: one table (text, size, rate, ratio and boolean columns), a pipe in a cell, a missing value and a note. */
export function sampleReport(): BenchReport {
  return makeReport({
    name: 'crypto',
    title: 'a | title',
    method: 'how it was measured',
    tables: [{
      title: 'table one',
      columns: [
        { key: 'name', label: 'name', format: 'text' }, { key: 'size', label: 'size', format: 'bytes' },
        { key: 'rate', label: 'MB/s', format: 'rate' }, { key: 'ratio', label: '× raw', format: 'ratio' },
        { key: 'ok', label: 'ok', format: 'text' },
      ],
      rows: [
        { name: 'raw | node', size: 1024, rate: 1234.5678, ratio: 1, ok: true },
        { name: 'noble', size: 64, rate: 12.3456, ratio: null, ok: false },
      ],
      chart: { value: 'rate', unit: 'MB/s', label: ['name'], group: 'size' },
    }],
    notes: ['limit: not measured'],
  });
}
