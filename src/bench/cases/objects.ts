/**
 * `allegro bench objects`: the Object Store end to end on loopback, against `allegro sandbox` in a child process
 * (../sandbox-process.ts; every acknowledged write fsync'd), with the bot's {@link AllegroClient} in this process.
 *
 * Measures:
 * - object put, get by hash and get by sort key: ops/s and p50/p99 latency with a fixed number of requests in flight
 *   for a fixed time each, after a warm-up (1 KiB JSON payloads, `envelope` format: encrypt/decrypt in this process,
 *   HTTPS, sandbox data directory);
 * - blob upload and download MB/s (10^6 bytes) for one blob (default 256 MiB) generated on the fly (one 64 KiB
 *   random buffer repeated: constant memory), after a 4 MiB warm-up; the download is checked byte for byte against
 *   the source as it arrives (a memcmp per chunk, inside the timing);
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
import { load, repeatChunk, warmUpSecondsFor } from '../harness.js';
import { loadErrors, loadTable, makeReport, measuresTable, type BenchReport, type BenchTable } from '../report.js';
import { spawnSandbox } from '../sandbox-process.js';

/** Options of {@link runObjectsBench}. */
export interface ObjectsBenchOptions {
  /** Seconds per object operation (default 3), after a warm-up of a third of it (at most 1 s). */
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
  /** Progress lines. */
  progress?: (line: string) => void;
}

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const RSS_INTERVAL_MS = 50;
const WARM_UP_MIB = 4;

/** A JSON value whose UTF-8 encoding is exactly `bytes` long (for seq < 10^8). */
function payloadOf(seq: number, bytes: number): { seq: string; kind: string; data: string } {
  const shell = { seq: String(seq).padStart(8, '0'), kind: 'allegro-ts bench object', data: '' };
  return { ...shell, data: 'x'.repeat(Math.max(0, bytes - JSON.stringify(shell).length)) };
}

/** Run the benchmark. */
export async function runObjectsBench(options: ObjectsBenchOptions = {}): Promise<BenchReport> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 16;
  const payloadBytes = options.payloadBytes ?? 1024;
  const blobMiB = options.blobMiB ?? 256;
  const rssMiB = options.rssMiB ?? 1024;
  const transferTimeoutMs = (options.transferTimeoutSeconds ?? 60) * 1000;
  const progress = options.progress ?? (() => undefined);
  const runStart = performance.now();
  const sandbox = await spawnSandbox(false);
  let bot: AllegroClient | undefined;
  try {
    const config = JSON.parse(readFileSync(sandbox.configPath, 'utf8')) as AllegroConfigInput;
    bot = await AllegroClient.create(config);
    const objects = bot.objects;
    const threadId = (await bot.pod.streams({ types: ['ROOM'] }))[0]!.id;
    const partition = await objects.partition('bench-objects');

    // Check: one object round-trips.
    const probe = payloadOf(0, payloadBytes);
    if (JSON.stringify(probe).length !== payloadBytes) throw new Error(`objects bench: payload is ${JSON.stringify(probe).length} bytes, not ${payloadBytes}`);
    const probeRef = await objects.put({ partition, sortKey: 'probe', threadId, payload: probe });
    const probeBack = await objects.getBySortKey(partition, 'probe');
    if (JSON.stringify(probeBack.json()) !== JSON.stringify(probe) || probeBack.absoluteHash !== probeRef.absoluteHash) throw new Error('objects bench: object round trip failed validation');

    const written: ObjectRef[] = [probeRef];
    const expectPayload = (o: { payload: Uint8Array }) => {
      if (o.payload.length !== payloadBytes) throw new Error(`payload of ${o.payload.length} bytes`);
    };
    const cases = [];
    for (const [name, op] of [
      [`object put (${payloadBytes} B JSON, envelope)`, async (n: number) => {
        written.push(await objects.put({ partition, sortKey: `k${String(n).padStart(8, '0')}`, threadId, payload: payloadOf(n, payloadBytes) }));
      }],
      ['object get by hash', async (n: number) => expectPayload(await objects.get(written[n % written.length]!.absoluteHash))],
      ['object get by sort key', async (n: number) => expectPayload(await objects.getBySortKey(partition, written[(n * 7919) % written.length]!.sortKey))],
    ] as const) {
      cases.push({ name, result: await load(op, { concurrency, seconds }) });
      progress(`measured ${name}`);
    }

    // Blobs: one 64 KiB random chunk, repeated.
    const chunk = randomFillSync(new Uint8Array(CHUNK));
    const upload = async (mib: number) => {
      const count = (mib * MiB) / CHUNK;
      const start = performance.now();
      const blob = await objects.putBlob(repeatChunk(chunk, count), { threadId, size: count * CHUNK, signal: AbortSignal.timeout(transferTimeoutMs) });
      const elapsed = (performance.now() - start) / 1000;
      if (blob.size !== count * CHUNK) throw new Error(`objects bench: uploaded ${blob.size} bytes, expected ${count * CHUNK}`);
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
            throw new Error(`objects bench: blob download differs from the upload near byte ${at + done}`);
          }
          done += n;
        }
        at += part.length;
      }
      if (at !== expected) throw new Error(`objects bench: downloaded ${at} bytes, expected ${expected}`);
      return (performance.now() - start) / 1000;
    };

    // Warm-up, then RSS while streaming rssMiB up, before the timed transfers.
    const warm = await upload(WARM_UP_MIB);
    await download(warm.blob.ref, WARM_UP_MIB * MiB);
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
    progress(`measured RSS while streaming ${rssMiB} MiB up`);

    const up = await upload(blobMiB);
    const downSeconds = await download(up.blob.ref, blobMiB * MiB);
    await objects.deleteBlob(up.blob);
    progress(`measured a ${blobMiB} MiB blob up and down`);
    const transfer = (name: string, mib: number, s: number) => ({ transfer: name, mib, seconds: s, mbPerSec: (mib * MiB) / 1e6 / s });
    const blobs: BenchTable = {
      title: `blob transfers (${CHUNK / 1024} KiB frames)`,
      columns: [
        { key: 'transfer', label: 'transfer', format: 'text' }, { key: 'mib', label: 'MiB', format: 'count' },
        { key: 'seconds', label: 'seconds', format: 'fixed', digits: 2 }, { key: 'mbPerSec', label: 'MB/s', format: 'rate' },
      ],
      rows: [
        transfer('blob upload: generate, encrypt, HTTPS PUT, sandbox writes + fsync', blobMiB, up.elapsed),
        transfer('blob download: HTTPS GET, decrypt, compare with source', blobMiB, downSeconds),
        transfer('blob upload while sampling RSS', rssMiB, big.elapsed),
      ],
      chart: { value: 'mbPerSec', unit: 'MB/s', label: ['transfer'] },
    };
    return makeReport({
      name: 'objects',
      title: 'Object Store on loopback: allegro-ts client in this process, sandbox (data directory, synchronous commits) in a child process',
      method: `Before timing, one object must round-trip. Object operations keep ${concurrency} requests in flight, warmed up for ` +
        `${warmUpSecondsFor(seconds).toFixed(2)} s and then timed for ${seconds} s each (${payloadBytes} B JSON payloads). Blobs: a ` +
        `${WARM_UP_MIB} MiB warm-up up and down, then a ${rssMiB} MiB upload while RSS is sampled every ${RSS_INTERVAL_MS} ms, then a ` +
        `${blobMiB} MiB upload and its download, compared with the source as it arrives. MB = 10^6 bytes.`,
      tables: [
        loadTable('object operations', cases),
        blobs,
        measuresTable(`client memory while streaming ${rssMiB} MiB up`, [
          ['RSS before', baseline / MiB, 'MiB'], ['RSS peak', peak / MiB, 'MiB'], ['RSS peak growth', (peak - baseline) / MiB, 'MiB'],
          ['samples', samples, `every ${RSS_INTERVAL_MS} ms`],
        ]),
      ],
      notes: [...loadErrors(cases), `whole run: ${((performance.now() - runStart) / 1000).toFixed(1)} s`],
    });
  } finally {
    await bot?.close();
    await sandbox.stop();
  }
}
