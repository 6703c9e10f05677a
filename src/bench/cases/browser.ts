/**
 * `allegro bench browser`: decrypting in a browser against decrypting in Node, on the same machine and the same
 * corpus. CiphertextTransport v3 decrypt (1 KiB, base64 + decrypt) in ops/s and blob v1 decrypt (default 16 MiB, in
 * 64 KiB chunks) in MB/s, per AEAD backend: in Chromium (Debian's, headless: ../chromium.ts) on WebCrypto and on
 * noble, in Node on node:crypto, WebCrypto and noble. The corpus is made in Node with node:crypto; both runtimes run
 * the same measuring code (../decrypt-rates.ts, bundled from dist/ for the page), which first checks every
 * backend's plaintext. Without `chromium` on PATH, or without playwright-core and esbuild (development
 * dependencies), the browser half is skipped with a note. Method: docs/cli.md "Benchmarks".
 */
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { aeadBackendNames } from '../../crypto/backends.js';
import { AesKey } from '../../crypto/aes-key.js';
import { encryptTransport } from '../../crypto/transport.js';
import { encryptBlob } from '../../store/blob-format.js';
import { toBase64 } from '../../util/bytes.js';
import { bundleForBrowser, findChromium, launchChromium, servePages } from '../chromium.js';
import { measureDecryptRates, type DecryptCorpus, type DecryptRates, type DecryptTiming } from '../decrypt-rates.js';
import type { Standing } from '../harness.js';
import { formatSize, makeReport, type BenchReport, type BenchTable } from '../report.js';

/** Options of {@link runBrowserBench}. */
export interface BrowserBenchOptions {
  /** Timed rounds per case (default 7; the blob on noble takes at most 3). */
  rounds?: number;
  /** Milliseconds per transport round (default 200). */
  roundMs?: number;
  /** MiB of the blob (default 16). */
  mib?: number;
  /** The Chromium to run; default `chromium` on PATH; null skips the browser half. */
  chromium?: string | null;
  progress?: (line: string) => void;
}

const TRANSPORT_BYTES = 1024;
const MB = 1e6;
/** The package root, two levels above this module's folder (src/bench/cases or dist/bench/cases). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The page's script: the measuring module from dist/, on the portable platform, fed the corpus from Node. */
const PAGE_ENTRY = `import { measureDecryptRates } from './dist/bench/decrypt-rates.js';
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
window.allegroBench = async ({ corpus, timing }) => {
  const blob = new Uint8Array(await (await fetch('/blob.atb')).arrayBuffer());
  const rates = await measureDecryptRates({ ...corpus, key: fromBase64(corpus.key), blob }, timing);
  return { rates, userAgent: navigator.userAgent };
};
document.body.dataset.ready = 'true';
`;

async function makeCorpus(mib: number): Promise<DecryptCorpus> {
  const keyBytes = randomBytes(32);
  const key = new AesKey(keyBytes);
  try {
    const message = randomBytes(TRANSPORT_BYTES);
    const data = randomBytes(mib * 1024 * 1024);
    const blobContext = { podId: 196, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: '1', blobId: 'browser-bench' };
    const parts: Uint8Array[] = [];
    for await (const part of encryptBlob(key, { ...blobContext, rotationId: 1n }, [data], { backend: 'node' })) parts.push(part);
    const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    return {
      key: new Uint8Array(keyBytes), transport: toBase64(await encryptTransport(key, message, { rotationId: 1, backend: 'node' })), transportSha256: sha256(message),
      blob: new Uint8Array(Buffer.concat(parts)), blobContext, blobSha256: sha256(data),
    };
  } finally {
    key.wipe();
  }
}

/** Run `measureDecryptRates` in a headless Chromium page; resolves to its rates and the browser's user agent. */
async function inChromium(executablePath: string, corpus: DecryptCorpus, timing: DecryptTiming): Promise<{ rates: DecryptRates; version: string }> {
  const script = await bundleForBrowser({ contents: PAGE_ENTRY, resolveDir: ROOT });
  const pages = await servePages({ '/index.html': '<!doctype html><title>allegro bench browser</title><link rel="icon" href="data:,"><body><script type="module" src="/bench.js"></script>', '/bench.js': script, '/blob.atb': corpus.blob });
  const browser = await launchChromium(executablePath);
  try {
    const page = await browser.newPage();
    await page.goto(`${pages.origin}/`);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
    const { blob: _blob, key, ...rest } = corpus;
    const result = await page.evaluate((spec) => (window as unknown as { allegroBench: (s: unknown) => Promise<{ rates: DecryptRates }> }).allegroBench(spec),
      { corpus: { ...rest, key: toBase64(key) }, timing: { ...timing } });
    if (browser.problems.length > 0) throw new Error(`browser bench: the page reported ${browser.problems.join('; ')}`);
    return { rates: result.rates, version: browser.version };
  } finally {
    await browser.close();
    await pages.close();
  }
}

function rows(runtime: string, standings: readonly Standing[], scale: (rate: number) => Record<string, number>): BenchTable['rows'] {
  return standings.map((s) => ({ runtime, backend: s.id, ...scale(s.rate), ratio: s.ratio }));
}

/** Run the browser benchmark (about 30 s with the defaults). */
export async function runBrowserBench(options: BrowserBenchOptions = {}): Promise<BenchReport> {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 200;
  const mib = options.mib ?? 16;
  const chromium = options.chromium === null ? undefined : options.chromium ?? findChromium();
  const corpus = await makeCorpus(mib);
  const notes: string[] = [];
  const node = await measureDecryptRates(corpus, { backends: aeadBackendNames(), rounds, roundMs });
  options.progress?.(`measured Node: ${aeadBackendNames().join(', ')}`);
  let browser: { rates: DecryptRates; version: string } | undefined;
  if (chromium === undefined) notes.push('browser half skipped: no `chromium` on PATH (apt-get install chromium); only Node was measured');
  else {
    try {
      browser = await inChromium(chromium, corpus, { backends: ['webcrypto', 'noble'], rounds, roundMs });
      options.progress?.(`measured Chromium ${browser.version}: webcrypto, noble`);
    } catch (err) {
      if (!/is not installed/.test((err as Error).message)) throw err;
      notes.push(`browser half skipped: ${(err as Error).message}`);
    }
  }
  const runtimes: Array<[string, DecryptRates]> = [...(browser === undefined ? [] : [[`Chromium ${browser.version}`, browser.rates] as [string, DecryptRates]]), [`Node ${process.version}`, node]];
  const leading = [{ key: 'runtime', label: 'runtime', format: 'text' }, { key: 'backend', label: 'backend', format: 'text' }] as const;
  const ratio = { key: 'ratio', label: '× first of runtime', format: 'ratio' } as const;
  return makeReport({
    name: 'browser',
    title: 'Decrypting in Chromium vs Node: CiphertextTransport v3 and blob v1, per AEAD backend',
    method: `A corpus made in Node (node:crypto): one CiphertextTransport v3 of ${formatSize(TRANSPORT_BYTES)}, base64 as in a message, and a ` +
      `blob v1 of ${mib} MiB (64 KiB frames). The same measuring code (src/bench/decrypt-rates.ts) runs in Node and, bundled from dist/ ` +
      'for the browser (portable platform), in a page of a headless Chromium served on 127.0.0.1; it first checks that every backend ' +
      `decrypts both to the plaintext Node hashed, then warms each up and interleaves ${rounds} rounds: transport decrypts back to back for ` +
      `${roundMs} ms per round (ops/s, median round), blob decrypts of the whole blob fed in 64 KiB chunks (MB/s, median; at most 3 rounds ` +
      'on noble). × is the median per-round ratio to the first backend of the same runtime. MB = 10^6 bytes of plaintext.',
    tables: [
      {
        title: `transport decrypt (${formatSize(TRANSPORT_BYTES)}, base64 + decrypt)`,
        columns: [...leading, { key: 'opsPerSec', label: 'ops/s', format: 'rate' }, { key: 'mbPerSec', label: 'MB/s', format: 'rate' }, ratio],
        rows: runtimes.flatMap(([name, r]) => rows(name, r.transport, (rate) => ({ opsPerSec: rate, mbPerSec: (rate * TRANSPORT_BYTES) / MB }))),
        chart: { value: 'opsPerSec', unit: 'ops/s', label: ['runtime', 'backend'], series: 'backend', scale: 'log' },
      },
      {
        title: `blob decrypt (${mib} MiB, 64 KiB chunks)`,
        columns: [...leading, { key: 'mbPerSec', label: 'MB/s', format: 'rate' }, ratio],
        rows: runtimes.flatMap(([name, r]) => rows(name, r.blob, (rate) => ({ mbPerSec: rate / MB }))),
        chart: { value: 'mbPerSec', unit: 'MB/s', label: ['runtime', 'backend'], series: 'backend', scale: 'log' },
      },
    ],
    notes,
  });
}
