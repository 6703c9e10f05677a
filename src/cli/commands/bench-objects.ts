/**
 * `allegro bench objects`: the Object Store end to end on loopback, against `allegro sandbox` in a child process
 * (data directory: every acknowledged write is fsync'd), with the bot's {@link AllegroClient} in this process.
 *
 * Measures:
 * - object put, get by hash and get by sort key: ops/s and p50/p99 latency with a fixed number of requests in flight
 *   for a fixed time each (1 KiB JSON payloads, `envelope` format: encrypt/decrypt in this process, HTTPS, sandbox
 *   journal);
 * - blob upload and download MB/s (10^6 bytes) for one blob (default 256 MiB) generated on the fly (one 64 KiB
 *   random buffer repeated: constant memory); the download is checked byte for byte against the source as it
 *   arrives (a memcmp per chunk, inside the timing);
 * - peak RSS growth of this process while streaming a larger blob up (default 1 GiB), sampling
 *   `process.memoryUsage().rss` every 50 ms.
 *
 * Loopback only; bounded in time (each phase has a deadline, every blob transfer an abort signal); stops the sandbox
 * and removes its data directory at the end, also on failure. About 30 s on two cores.
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AllegroClient } from '../../client.js';
import type { AllegroConfigInput } from '../../config.js';
import type { ObjectRef } from '../../store/object-store-client.js';
import { percentile, spawnSandbox, type SandboxBenchCase } from './bench-sandbox.js';

/** One measured object operation (a sandbox case, plus the first error of a failed operation). */
export interface ObjectsBenchCase extends SandboxBenchCase {
  firstError?: string;
}

/** One blob transfer. */
export interface BlobTransfer {
  name: string;
  /** Plaintext MiB. */
  mib: number;
  seconds: number;
  /** Plaintext MB/s (10^6 bytes). */
  mbPerSec: number;
}

/** Results of {@link runObjectsBench}. */
export interface ObjectsBenchResult {
  payloadBytes: number;
  cases: ObjectsBenchCase[];
  blobs: BlobTransfer[];
  rss: {
    /** Plaintext streamed up while sampling. */
    totalMiB: number;
    baselineMiB: number;
    peakMiB: number;
    peakGrowthMiB: number;
    samples: number;
    intervalMs: number;
    seconds: number;
    mbPerSec: number;
  };
  totalSeconds: number;
}

/** Options of {@link runObjectsBench}. */
export interface ObjectsBenchOptions {
  /** Seconds per object operation (default 3). */
  seconds?: number;
  /** Requests in flight (default 16). */
  concurrency?: number;
  /** Size of each object's JSON payload in bytes (default 1,024). */
  payloadBytes?: number;
  /** MiB of the timed blob upload and download (default 256). */
  blobMiB?: number;
  /** MiB streamed up while sampling RSS (default 1,024). */
  rssMiB?: number;
  /** Abort any one blob transfer after this many seconds (default 60). */
  transferTimeoutSeconds?: number;
}

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const RSS_INTERVAL_MS = 50;


/** A JSON value whose UTF-8 encoding is exactly `bytes` long (for seq < 10^8). */
function payloadOf(seq: number, bytes: number): { seq: string; kind: string; data: string } {
  const shell = { seq: String(seq).padStart(8, '0'), kind: 'allegro-ts bench object', data: '' };
  return { ...shell, data: 'x'.repeat(Math.max(0, bytes - JSON.stringify(shell).length)) };
}

async function* repeat(chunk: Uint8Array, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield chunk;
}

/** Run the benchmark. */
export async function runObjectsBench(options: ObjectsBenchOptions = {}): Promise<ObjectsBenchResult> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 16;
  const payloadBytes = options.payloadBytes ?? 1024;
  const blobMiB = options.blobMiB ?? 256;
  const rssMiB = options.rssMiB ?? 1024;
  const transferTimeoutMs = (options.transferTimeoutSeconds ?? 60) * 1000;
  const runStart = performance.now();
  const sandbox = await spawnSandbox(false);
  let bot: AllegroClient | undefined;
  try {
    const config = JSON.parse(readFileSync(sandbox.configPath, 'utf8')) as AllegroConfigInput;
    bot = await AllegroClient.create(config);
    const objects = bot.objects;
    const threadId = (await bot.pod.streams({ types: ['ROOM'] }))[0]!.id;
    const partition = await objects.partition('bench-objects');

    // Check: one object round-trips (and warms keys, connections and the JIT).
    const probe = payloadOf(0, payloadBytes);
    if (JSON.stringify(probe).length !== payloadBytes) throw new Error(`payload is ${JSON.stringify(probe).length} bytes, not ${payloadBytes}`);
    const probeRef = await objects.put({ partition, sortKey: 'probe', threadId, payload: probe });
    const probeBack = await objects.getBySortKey(partition, 'probe');
    if (JSON.stringify(probeBack.json()) !== JSON.stringify(probe) || probeBack.absoluteHash !== probeRef.absoluteHash) throw new Error('object round trip failed validation');
    await objects.get(probeRef.absoluteHash);

    const measure = async (name: string, op: (n: number) => Promise<unknown>): Promise<ObjectsBenchCase> => {
      const latencies: number[] = [];
      let ok = 0;
      let failed = 0;
      let firstError: string | undefined;
      let next = 0;
      const start = performance.now();
      const deadline = start + seconds * 1000;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          try {
            await op(next++);
            ok++;
          } catch (err) {
            failed++;
            firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          }
          latencies.push(performance.now() - t);
        }
      }));
      const elapsed = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      return {
        name, concurrency, seconds: elapsed, ok, failed, opsPerSec: ok / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
        ...(firstError === undefined ? {} : { firstError }),
      };
    };

    const written: ObjectRef[] = [];
    const cases: ObjectsBenchCase[] = [];
    cases.push(await measure(`object put (${payloadBytes} B JSON, envelope)`, async (n) => {
      written.push(await objects.put({ partition, sortKey: `k${String(n).padStart(8, '0')}`, threadId, payload: payloadOf(n, payloadBytes) }));
    }));
    if (written.length === 0) written.push(probeRef);
    cases.push(await measure('object get by hash', async (n) => {
      const o = await objects.get(written[n % written.length]!.absoluteHash);
      if (o.payload.length !== payloadBytes) throw new Error(`payload of ${o.payload.length} bytes`);
    }));
    cases.push(await measure('object get by sort key', async (n) => {
      const o = await objects.getBySortKey(partition, written[(n * 7919) % written.length]!.sortKey);
      if (o.payload.length !== payloadBytes) throw new Error(`payload of ${o.payload.length} bytes`);
    }));

    // Blobs: one 64 KiB random chunk, repeated.
    const chunk = randomFillSync(new Uint8Array(CHUNK));
    const upload = async (mib: number) => {
      const count = (mib * MiB) / CHUNK;
      const start = performance.now();
      const blob = await objects.putBlob(repeat(chunk, count), { threadId, size: count * CHUNK, signal: AbortSignal.timeout(transferTimeoutMs) });
      const elapsed = (performance.now() - start) / 1000;
      if (blob.size !== count * CHUNK) throw new Error(`uploaded ${blob.size} bytes, expected ${count * CHUNK}`);
      return { blob, elapsed };
    };
    const download = async (ref: string, expected: number) => {
      const start = performance.now();
      const got = await objects.getBlob(ref, { signal: AbortSignal.timeout(transferTimeoutMs) });
      let at = 0;
      for await (const part of got.content) {
        // Compare with the source (the chunk repeated) piece by piece; parts need not align with chunks.
        for (let done = 0; done < part.length;) {
          const offset = (at + done) % CHUNK;
          const n = Math.min(part.length - done, CHUNK - offset);
          if (Buffer.compare(Buffer.from(part.buffer, part.byteOffset + done, n), Buffer.from(chunk.buffer, chunk.byteOffset + offset, n)) !== 0) {
            throw new Error(`blob download differs from the upload near byte ${at + done}`);
          }
          done += n;
        }
        at += part.length;
      }
      if (at !== expected) throw new Error(`downloaded ${at} bytes, expected ${expected}`);
      return (performance.now() - start) / 1000;
    };

    // Warm-up (4 MiB up and down), then RSS while streaming rssMiB up, before the timed 256 MiB transfers.
    const warm = await upload(4);
    await download(warm.blob.ref, 4 * MiB);
    await objects.deleteBlob(warm.blob);

    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let samples = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      samples++;
    }, RSS_INTERVAL_MS);
    let big: Awaited<ReturnType<typeof upload>>;
    try {
      big = await upload(rssMiB);
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    samples++;
    await objects.deleteBlob(big.blob);
    const rss = {
      totalMiB: rssMiB, baselineMiB: baseline / MiB, peakMiB: peak / MiB, peakGrowthMiB: (peak - baseline) / MiB,
      samples, intervalMs: RSS_INTERVAL_MS, seconds: big.elapsed, mbPerSec: (rssMiB * MiB) / 1e6 / big.elapsed,
    };

    const up = await upload(blobMiB);
    const downSeconds = await download(up.blob.ref, blobMiB * MiB);
    await objects.deleteBlob(up.blob);
    const blobs: BlobTransfer[] = [
      { name: 'blob upload: generate, encrypt, HTTPS PUT, sandbox writes + fsync', mib: blobMiB, seconds: up.elapsed, mbPerSec: (blobMiB * MiB) / 1e6 / up.elapsed },
      { name: 'blob download: HTTPS GET, decrypt, compare with source', mib: blobMiB, seconds: downSeconds, mbPerSec: (blobMiB * MiB) / 1e6 / downSeconds },
    ];
    return { payloadBytes, cases, blobs, rss, totalSeconds: (performance.now() - runStart) / 1000 };
  } finally {
    await bot?.close();
    await sandbox.stop();
  }
}

/** Render the result as Markdown. */
export function formatObjectsBench(r: ObjectsBenchResult): string {
  const lines = [
    'Object Store on loopback: allegro-ts client in this process, `allegro sandbox` (journal with fsync) in a child process',
    '',
    '| operation | in flight | ops/s | p50 ms | p99 ms | failed |',
    '|---|---:|---:|---:|---:|---:|',
    ...r.cases.map((c) => `| ${c.name} | ${c.concurrency} | ${Math.round(c.opsPerSec).toLocaleString('en-US')} | ${c.p50Ms.toFixed(2)} | ${c.p99Ms.toFixed(2)} | ${c.failed} |`),
    '',
    '| blob transfer (64 KiB frames) | MiB | seconds | MB/s |',
    '|---|---:|---:|---:|',
    ...r.blobs.map((b) => `| ${b.name} | ${b.mib} | ${b.seconds.toFixed(2)} | ${b.mbPerSec.toFixed(0)} |`),
    `| blob upload while sampling RSS | ${r.rss.totalMiB} | ${r.rss.seconds.toFixed(2)} | ${r.rss.mbPerSec.toFixed(0)} |`,
    '',
    `Peak RSS growth of the client process while streaming ${r.rss.totalMiB} MiB up: ${r.rss.peakGrowthMiB.toFixed(1)} MiB ` +
      `(baseline ${r.rss.baselineMiB.toFixed(1)} MiB, peak ${r.rss.peakMiB.toFixed(1)} MiB, ${r.rss.samples} samples every ${r.rss.intervalMs} ms)`,
    `Whole run: ${r.totalSeconds.toFixed(1)} s (MB = 10^6 bytes)`,
  ];
  for (const c of r.cases) if (c.firstError !== undefined) lines.push(`first error of ${c.name}: ${c.firstError}`);
  return lines.join('\n');
}
