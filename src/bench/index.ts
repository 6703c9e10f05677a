/**
 * The benchmarks behind `allegro bench` (docs/cli.md "Benchmarks"): one entry point per kind, all returning the one
 * {@link BenchReport} format, and its renderings (Markdown, JSON, HTML). The harness is ./harness.ts, the OpenSSL
 * limit ./openssl.ts, the cases ./cases/.
 */
import type { AeadBackendName } from '../crypto/aead.js';
import { runBlobBench } from './cases/blob.js';
import { runBrowserBench } from './cases/browser.js';
import { runCryptoBench } from './cases/crypto.js';
import { runE2eBench, type E2ePath } from './cases/e2e.js';
import { runObjectsBench } from './cases/objects.js';
import { runOboBench } from './cases/obo.js';
import { runSandboxBench } from './cases/sandbox.js';
import type { BenchReport } from './report.js';

export { E2E_PATHS, type E2ePath } from './cases/e2e.js';
export { toHtml } from './html.js';
export { REPORT_SCHEMA, saveReport, toJson, toMarkdown, type BenchReport } from './report.js';

/** The kinds of benchmark, in the order `allegro bench all` runs them. */
export const BENCH_NAMES = ['crypto', 'sandbox', 'e2e', 'blob', 'objects', 'browser', 'obo'] as const;

/** One kind of benchmark. */
export type BenchName = (typeof BENCH_NAMES)[number];

/** The options of every kind; each uses those its description in docs/cli.md names and ignores the others. */
export interface BenchOptions {
  /** crypto: plaintext sizes in bytes. */
  sizes?: readonly number[];
  /** crypto: AEAD backends. */
  backends?: readonly AeadBackendName[];
  /** crypto, blob, browser: timed rounds. */
  rounds?: number;
  /** crypto, browser: milliseconds per round. */
  roundMs?: number;
  /** crypto, blob: measure the OpenSSL limit (default true). */
  limit?: boolean;
  /** sandbox, objects, obo: seconds per operation; e2e: seconds of the latency phase. */
  seconds?: number;
  /** sandbox, objects, obo: requests in flight. */
  concurrency?: number;
  /** sandbox: in memory instead of with a data directory (no scale measurements then). */
  memory?: boolean;
  /** sandbox: levels of stored messages of the scale measurements; `[]` skips them. */
  stored?: readonly number[];
  /** sandbox: feeds long-polling in the scale measurements. */
  idleFeeds?: number;
  /** sandbox: stalled readers, and as many slowloris connections, in the scale measurements. */
  stalled?: number;
  /** blob, objects: MiB of the timed blob transfers (the RSS case streams four times as much); browser: MiB of the blob. */
  mib?: number;
  /** e2e: messages of the throughput phase. */
  messages?: number;
  /** obo: users the app acts for. */
  users?: number;
  /** e2e: the paths measured (native, agent or both; default native). */
  path?: E2ePath;
  /** Progress lines (the CLI prints them on stderr). */
  progress?: (line: string) => void;
}

/** Run one benchmark. */
export function runBench(name: BenchName, o: BenchOptions = {}): Promise<BenchReport> {
  const pick = <K extends keyof BenchOptions>(...keys: K[]) =>
    Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<BenchOptions, K>;
  const rssMiB = o.mib === undefined ? {} : { rssMiB: 4 * o.mib };
  switch (name) {
    case 'crypto': return runCryptoBench(pick('sizes', 'backends', 'rounds', 'roundMs', 'limit', 'progress'));
    case 'sandbox': return runSandboxBench(pick('seconds', 'concurrency', 'memory', 'stored', 'idleFeeds', 'stalled', 'progress'));
    case 'e2e': return runE2eBench(pick('messages', 'seconds', 'path', 'progress'));
    case 'blob': return runBlobBench({ ...pick('rounds', 'limit', 'progress'), ...rssMiB, ...(o.mib === undefined ? {} : { totalMiB: o.mib }) });
    case 'objects': return runObjectsBench({ ...pick('seconds', 'concurrency', 'progress'), ...rssMiB, ...(o.mib === undefined ? {} : { blobMiB: o.mib }) });
    case 'browser': return runBrowserBench(pick('rounds', 'roundMs', 'mib', 'progress'));
    case 'obo': return runOboBench(pick('users', 'seconds', 'concurrency', 'progress'));
  }
}
