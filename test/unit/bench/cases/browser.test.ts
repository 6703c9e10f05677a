// `allegro bench browser`, tiny (no timing is asserted): the browser half in Chromium when there is one, and its
// skip, named in a note, when there is none. The page is bundled from dist/ (`npm test` builds it first).
import { describe, expect, it } from 'vitest';
import { runBrowserBench } from '../../../../src/bench/cases/browser.js';
import { findChromium } from '../../../../src/bench/chromium.js';

const TINY = { rounds: 1, roundMs: 20, mib: 1 } as const;
const chromium = findChromium();
if (chromium === undefined) console.warn('test/unit/bench/cases/browser.test.ts: the Chromium case is SKIPPED, no `chromium` on PATH (apt-get install chromium)');

describe('runBrowserBench (tiny: no timing is asserted)', () => {
  it.skipIf(chromium === undefined)('measures Chromium (webcrypto, noble) and Node (node, webcrypto, noble) on one corpus', async () => {
    const report = await runBrowserBench(TINY);
    expect(report.name).toBe('browser');
    expect(report.notes).toEqual([]);
    for (const table of report.tables) {
      expect(table.rows.map((r) => [String(r.runtime).split(' ')[0], r.backend])).toEqual([
        ['Chromium', 'webcrypto'], ['Chromium', 'noble'], ['Node', 'node'], ['Node', 'webcrypto'], ['Node', 'noble'],
      ]);
      for (const row of table.rows) expect(row.mbPerSec as number).toBeGreaterThan(0);
      expect(table.rows.filter((r) => r.backend === 'webcrypto' && String(r.runtime).startsWith('Chromium')).map((r) => r.ratio)).toEqual([1]);
    }
  });

  it('without a Chromium, measures Node only and says the browser half was skipped', async () => {
    const report = await runBrowserBench({ ...TINY, chromium: null });
    expect(report.tables.map((t) => t.rows.map((r) => r.backend))).toEqual([['node', 'webcrypto', 'noble'], ['node', 'webcrypto', 'noble']]);
    expect(report.notes).toEqual(['browser half skipped: no `chromium` on PATH (apt-get install chromium); only Node was measured']);
  });
});
