/**
 * `--html FILE`: one self-contained HTML page for one or more {@link BenchReport}s — every table, and a horizontal
 * bar chart (inline SVG) for each table that names a {@link Chart}. No script, no external resource, no
 * dependency: the file can be mailed or attached as it is. Every text of a report is escaped.
 */
import { describeEnvironment, formatCell, type BenchReport, type BenchTable, type Cell, type Column } from './report.js';

/** `text` safe in HTML text and in double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' } as const)[c as '&']};`);
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#e15759', '#76b7b2', '#edc948', '#9c755f', '#ff9da7', '#bab0ac'];

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2.2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.6em; }
.env { color: #555; } .charts { display: flex; flex-wrap: wrap; gap: 0.5em 2em; }
table { border-collapse: collapse; margin: 0.8em 0; } th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #e3e3e3; }
th { text-align: left; background: #f5f5f5; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 12px system-ui, sans-serif; fill: #222; } svg .title { font-weight: 600; } svg .tick { font-size: 10px; fill: #777; }
`;

/** Stable colours: one per series value, in order of first appearance on the page. */
class Colours {
  readonly #bySeries = new Map<string, string>();

  of(series: string): string {
    let colour = this.#bySeries.get(series);
    if (colour === undefined) {
      colour = PALETTE[this.#bySeries.size % PALETTE.length]!;
      this.#bySeries.set(series, colour);
    }
    return colour;
  }
}

function cellText(row: Record<string, Cell>, key: string, columns: readonly Column[]): string {
  const column = columns.find((c) => c.key === key) ?? { key, label: key, format: 'text' as const };
  return formatCell(row[key], column);
}

/** Where a value ends on a bar of `width` pixels, and the gridlines (decades of a log scale) to draw. */
function scale(values: readonly number[], kind: 'linear' | 'log', width: number): { x(v: number): number; ticks: Array<{ x: number; label: string }> } {
  const max = Math.max(...values);
  if (kind === 'linear' || max <= 0) return { x: (v) => (max > 0 ? (v / max) * width : 0), ticks: [] };
  const lo = Math.floor(Math.log10(Math.min(...values.filter((v) => v > 0))));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const x = (v: number) => (v > 0 ? Math.max(0, ((Math.log10(v) - lo) / (hi - lo)) * width) : 0);
  const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)).map((v) => ({ x: x(v), label: v.toLocaleString('en-US', { maximumSignificantDigits: 1 }) }));
  return { x, ticks };
}

/** One SVG bar chart: one bar per row with a finite value. */
function barChart(title: string, rows: ReadonlyArray<Record<string, Cell>>, table: BenchTable, colours: Colours): string {
  const chart = table.chart!;
  const valueColumn = table.columns.find((c) => c.key === chart.value)!;
  const bars = rows
    .filter((r) => typeof r[chart.value] === 'number' && Number.isFinite(r[chart.value]))
    .map((r) => ({
      label: chart.label.map((k) => cellText(r, k, table.columns)).join(' '),
      value: r[chart.value] as number,
      text: `${formatCell(r[chart.value], valueColumn)} ${chart.unit}`,
      colour: colours.of(chart.series === undefined ? '' : cellText(r, chart.series, table.columns)),
    }));
  if (bars.length === 0) return '';
  const kind = chart.scale ?? 'linear';
  const labelWidth = Math.min(420, 12 + 7 * Math.max(...bars.map((b) => b.label.length)));
  const barWidth = 380;
  const rowHeight = 22;
  const top = kind === 'log' ? 40 : 26;
  const width = labelWidth + barWidth + 130;
  const height = top + bars.length * rowHeight + 6;
  const { x, ticks } = scale(bars.map((b) => b.value), kind, barWidth);
  const grid = ticks.map((t) => {
    const at = (labelWidth + t.x).toFixed(1);
    return `<line x1="${at}" x2="${at}" y1="${top - 4}" y2="${height - 4}" stroke="#ddd"/><text x="${at}" y="${top - 8}" text-anchor="middle" class="tick">${escapeHtml(t.label)}</text>`;
  });
  const parts = bars.map((b, i) => {
    const y = top + i * rowHeight;
    const w = Math.max(1, x(b.value));
    return `<g><title>${escapeHtml(`${b.label}: ${b.text}`)}</title>` +
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeHtml(b.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" fill="${b.colour}"/>` +
      `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}">${escapeHtml(b.text)}</text></g>`;
  });
  const heading = kind === 'log' ? `${title} (log scale)` : title;
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(heading)}">` +
    `<text class="title" x="0" y="16">${escapeHtml(heading)}</text>${grid.join('')}${parts.join('')}</svg>`;
}

function charts(table: BenchTable, colours: Colours): string {
  const chart = table.chart;
  if (chart === undefined) return '';
  const groups = new Map<string, Array<Record<string, Cell>>>();
  for (const row of table.rows) {
    const key = chart.group === undefined ? '' : cellText(row, chart.group, table.columns);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const valueLabel = table.columns.find((c) => c.key === chart.value)?.label ?? chart.value;
  const svgs = [...groups].map(([group, rows]) => barChart(chart.group === undefined ? `${table.title}: ${chart.unit}` : `${group}: ${valueLabel}`, rows, table, colours));
  return `<div class="charts">${svgs.join('')}</div>`;
}

function htmlTable(table: BenchTable): string {
  const cls = (c: Column) => (c.format === 'text' ? '' : ' class="n"');
  const head = table.columns.map((c) => `<th${cls(c)}>${escapeHtml(c.label)}</th>`).join('');
  const body = table.rows.map((row) => `<tr>${table.columns.map((c) => `<td${cls(c)}>${escapeHtml(formatCell(row[c.key], c))}</td>`).join('')}</tr>`);
  return `<table><thead><tr>${head}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function section(report: BenchReport, colours: Colours): string {
  const tables = report.tables.map((t) => `<h3>${escapeHtml(t.title)}</h3>${charts(t, colours)}${htmlTable(t)}`);
  const notes = report.notes.length === 0 ? '' : `<ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`;
  return `<section id="${escapeHtml(report.name)}"><h2>allegro bench ${escapeHtml(report.name)}: ${escapeHtml(report.title)}</h2>` +
    `<p class="env">${escapeHtml(describeEnvironment(report.environment))}</p><p>${escapeHtml(report.method)}</p>${tables.join('')}${notes}</section>`;
}

/** The page for `reports`, in order, with a table of contents when there are several. */
export function toHtml(reports: readonly BenchReport[]): string {
  const colours = new Colours();
  const names = reports.map((r) => r.name).join(', ');
  const contents = reports.length < 2 ? '' : `<ul>${reports.map((r) => `<li><a href="#${escapeHtml(r.name)}">${escapeHtml(r.name)}</a>: ${escapeHtml(r.title)}</li>`).join('')}</ul>`;
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>allegro bench: ${escapeHtml(names)}</title><style>${STYLE}</style></head>\n<body><h1>allegro bench: ${escapeHtml(names)}</h1>` +
    `${contents}\n${reports.map((r) => section(r, colours)).join('\n')}\n</body></html>\n`;
}
