// `allegro bench browser`, tiny (no timing is asserted): the browser half in Chromium when there is one, and its
// skip, named in a note, when there is none. The page is bundled from dist/ (`npm test` builds it first).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runBrowserBench } from '../../../../src/bench/cases/browser.js';
import { findChromium } from '../../../../src/bench/chromium.js';
import { measureDecryptRates } from '../../../../src/bench/decrypt-rates.js';
import { AesKey } from '../../../../src/crypto/aes-key.js';
import { encryptTransport } from '../../../../src/crypto/transport.js';
import { encryptBlob } from '../../../../src/store/blob-format.js';
import { toBase64 } from '../../../../src/util/bytes.js';

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

describe('measureDecryptRates', () => {
  it('refuses to time a backend whose plaintext is not the one named', async () => {
    const keyBytes = crypto.getRandomValues(new Uint8Array(32));
    const key = new AesKey(keyBytes);
    const message = new TextEncoder().encode('hello');
    const blobContext = { podId: 1, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: '1', blobId: 'b' };
    const blob: Uint8Array[] = [];
    for await (const part of encryptBlob(key, { ...blobContext, rotationId: 1n }, [message])) blob.push(part);
    const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    const corpus = {
      key: keyBytes, transport: toBase64(await encryptTransport(key, message, { rotationId: 1 })), transportSha256: sha(message),
      blob: new Uint8Array(Buffer.concat(blob)), blobContext, blobSha256: sha(message),
    };
    const timing = { backends: ['node', 'noble'] as const, rounds: 1, roundMs: 1 };
    expect((await measureDecryptRates(corpus, timing)).blob.map((s) => s.id)).toEqual(['node', 'noble']);
    await expect(measureDecryptRates({ ...corpus, transportSha256: sha(new Uint8Array(1)) }, timing)).rejects.toThrow('backend node does not decrypt the transport to its plaintext');
    await expect(measureDecryptRates({ ...corpus, blobSha256: sha(new Uint8Array(1)) }, timing)).rejects.toThrow('backend node does not decrypt the blob to its plaintext');
  });
});
