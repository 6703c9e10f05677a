import { describe, expect, it } from 'vitest';
import { escapeHtml, toHtml } from '../../../src/bench/html.js';
import type { BenchReport } from '../../../src/bench/report.js';
import { sampleReport } from '../../helpers/bench-report.js';

const ATTACK = `<script>alert("x")</script>&'`;

/** A report whose every text holds markup. */
function hostileReport(): BenchReport {
  const report = sampleReport();
  const table = report.tables[0]!;
  return {
    ...report,
    name: `n${ATTACK}`,
    title: ATTACK,
    method: ATTACK,
    environment: { ...report.environment, cpuModel: ATTACK },
    tables: [{ ...table, title: ATTACK, columns: table.columns.map((c) => ({ ...c, label: `${c.label}${ATTACK}` })), rows: [{ ...table.rows[0]!, name: ATTACK }] }],
    notes: [ATTACK],
  };
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and in quoted attributes', () => {
    expect(escapeHtml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;');
    expect(escapeHtml('plain × µs —')).toBe('plain × µs —');
  });
});

describe('toHtml', () => {
  it('is one self-contained page: no script, no external resource, no stylesheet link', () => {
    const html = toHtml([sampleReport()]);
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref="(?!#)|url\(|@import|https?:/i);
    expect(html).toContain('<meta charset="utf-8">');
  });

  it('holds every table cell as the Markdown prints it, and one bar chart per group', () => {
    const html = toHtml([sampleReport()]);
    expect(html).toContain('<th class="n">MB/s</th>');
    expect(html).toContain('<td>raw | node</td><td class="n">1 KiB</td><td class="n">1,235</td><td class="n">1.00</td><td>yes</td>');
    expect(html).toContain('<td class="n">—</td>');
    const svgs = html.match(/<svg[^>]*>/g) ?? [];
    expect(svgs).toHaveLength(2); // the table's rows have two sizes
    expect(html).toContain('aria-label="1 KiB: MB/s"');
    expect(html).toContain('<title>raw | node: 1,235 MB/s</title>');
    expect((html.match(/<rect /g) ?? [])).toHaveLength(2);
  });

  it('draws no bar for a missing value, and a log scale with decade gridlines when asked', () => {
    const report = sampleReport();
    const table = report.tables[0]!;
    const log: BenchReport = {
      ...report,
      tables: [{ ...table, chart: { value: 'rate', unit: 'MB/s', label: ['name'], scale: 'log' }, rows: [...table.rows, { ...table.rows[1]!, name: 'none', rate: null }] }],
    };
    const html = toHtml([log]);
    expect((html.match(/<rect /g) ?? [])).toHaveLength(2);
    expect(html).toContain('aria-label="table one: MB/s (log scale)"'); // one chart, named after its table
    for (const tick of ['>10<', '>100<', '>1,000<', '>10,000<']) expect(html).toContain(tick);
    const widths = [...html.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]).toBeGreaterThan(widths[1]!); // 1,235 beyond 12.3
  });

  it('escapes every text of a report: names, titles, labels, cells, environment, method and notes', () => {
    const html = toHtml([hostileReport()]);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('"x")');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    const body = html.slice(html.indexOf('<body>'));
    expect((body.match(/&lt;script&gt;/g) ?? []).length).toBeGreaterThanOrEqual(8);
  });

  it('puts several reports on one page with a table of contents and colours that stay the same across charts', () => {
    const a = sampleReport();
    const b = { ...sampleReport(), name: 'blob', title: 'blob v1' };
    const html = toHtml([a, b]);
    expect(html).toContain('<title>allegro bench: crypto, blob</title>');
    expect(html).toContain('<li><a href="#crypto">crypto</a>');
    expect(html).toContain('<section id="blob">');
    const fills = [...html.matchAll(/fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
    expect(fills).toHaveLength(4);
    expect(new Set(fills).size).toBe(1); // no series: one colour for every bar
  });
});
