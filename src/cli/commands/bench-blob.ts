/**
 * `allegro bench blob`: allegro-ts blob v1 (store/blob-format.ts) encrypt-only and decrypt-only throughput for a
 * 256 MiB blob streamed in 64 KiB frames, against raw node:crypto framed AES-256-GCM doing the same work in the
 * same process (a GCM message per 64 KiB frame, counter nonce with last flag, 32-byte AAD, output `ct`, `tag`),
 * and the peak RSS growth while encrypting 1 GiB from a generator.
 *
 * Method: the source is an async generator yielding one 64 KiB buffer repeatedly (perf-baseline.md §6); the sink
 * counts bytes and discards them. The output is first checked to decrypt to the input. Each case runs in rounds
 * alternating with its raw baseline; MB/s (10^6 bytes) is the median round and the ratio the median per-round
 * ratio. Decryption reads a 256 MiB blob held in memory, fed as one chunk per frame ("aligned", as from a framed
 * transport) and as 64 KiB chunks ("unaligned", as from a file or socket: every frame is reassembled). The RSS
 * case runs first, before the decryption corpus is allocated; it samples `process.memoryUsage.rss()` every 256
 * frames. Targets: ≥ 1,000 MB/s encrypt, ≤ 64 MiB RSS growth for 1 GiB.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { AesKey } from '../../crypto/aes-key.js';
import { ciphertextSize, decryptBlob, encryptBlob, type BlobContext } from '../../store/blob-format.js';

/** One measured case. */
export interface BlobBenchCase {
  name: string;
  direction: 'encrypt' | 'decrypt';
  /** `allegro-ts` or `raw node:crypto`. */
  implementation: string;
  /** Plaintext bytes per round. */
  bytes: number;
  mbPerSec: number;
  ratioToRawNode: number;
}

/** Results of {@link runBlobBench}. */
export interface BlobBenchResult {
  frameSize: number;
  rounds: number;
  cases: BlobBenchCase[];
  rss: {
    /** Plaintext encrypted while sampling. */
    totalMiB: number;
    baselineMiB: number;
    peakMiB: number;
    peakGrowthMiB: number;
    seconds: number;
  };
  targets: { encryptMbPerSec: number; rssGrowthMiB: number; encryptMet: boolean; rssMet: boolean };
}

/** Options of {@link runBlobBench}. */
export interface BlobBenchOptions {
  /** MiB per timed round (default 256). */
  totalMiB?: number;
  /** MiB encrypted for the RSS case (default 1024). */
  rssMiB?: number;
  rounds?: number;
  frameSize?: number;
}

const MiB = 1024 * 1024;
const CTX: BlobContext = { podId: 1, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: 1n, blobId: 'bench' };

async function* repeat(buffer: Uint8Array, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield buffer;
}

async function* slices(bytes: Uint8Array, offsets: readonly number[]): AsyncGenerator<Uint8Array> {
  for (let i = 0; i + 1 < offsets.length; i++) yield bytes.subarray(offsets[i]!, offsets[i + 1]!);
}

async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of source) n += chunk.length;
  return n;
}

function nonce(index: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setUint32(4, index);
  view.setUint32(8, last ? 1 : 0);
  return n;
}

/** Raw node:crypto framed GCM over aligned frames: the same per-frame work as blob v1, none of its checks. */
async function* rawEncrypt(key: Uint8Array, aad: Uint8Array, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let index = 0;
  const seal = (frame: Uint8Array, last: boolean) => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(index++, last));
    cipher.setAAD(aad);
    const body = cipher.update(frame);
    cipher.final();
    return [body, cipher.getAuthTag()];
  };
  for await (const frame of source) yield* seal(frame, false);
  yield* seal(new Uint8Array(0), true);
}

/** Raw node:crypto framed GCM decryption of `count` records cycling through `records` (nonce index = position). */
async function* rawDecrypt(key: Uint8Array, aad: Uint8Array, records: readonly Uint8Array[], count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    const record = records[i % records.length]!;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(i % records.length, false));
    decipher.setAAD(aad);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const body = decipher.update(record.subarray(0, record.length - 16));
    decipher.final();
    yield body;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timed(run: () => Promise<number>): Promise<{ bytes: number; seconds: number }> {
  const start = performance.now();
  const bytes = await run();
  return { bytes, seconds: (performance.now() - start) / 1000 };
}

async function measureRss(key: AesKey, frame: Uint8Array, frames: number): Promise<BlobBenchResult['rss']> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let count = 0;
  const start = performance.now();
  for await (const _ of encryptBlob(key, CTX, repeat(frame, frames), { frameSize: frame.length })) {
    if ((++count & 511) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return {
    totalMiB: (frames * frame.length) / MiB,
    baselineMiB: baseline / MiB,
    peakMiB: peak / MiB,
    peakGrowthMiB: (peak - baseline) / MiB,
    seconds: (performance.now() - start) / 1000,
  };
}

/** Run the benchmark (about 10 s; holds a 256 MiB ciphertext and 32 MiB of raw records in memory for the decryption cases). */
export async function runBlobBench(options: BlobBenchOptions = {}): Promise<BlobBenchResult> {
  const frameSize = options.frameSize ?? 64 * 1024;
  const rounds = options.rounds ?? 5;
  const frames = Math.round(((options.totalMiB ?? 256) * MiB) / frameSize);
  const rssFrames = Math.round(((options.rssMiB ?? 1024) * MiB) / frameSize);
  const keyBytes = randomFillSync(new Uint8Array(32));
  const key = new AesKey(keyBytes);
  const aad = randomFillSync(new Uint8Array(32));
  const frame = randomFillSync(new Uint8Array(frameSize));
  const blobOptions = { frameSize };

  // Check: a few frames (and a partial one) round-trip.
  const sample = new Uint8Array(frameSize * 3 + 17);
  randomFillSync(sample);
  const sealed: Uint8Array[] = [];
  for await (const c of encryptBlob(key, CTX, [sample.subarray(0, 1000), sample.subarray(1000)], blobOptions)) sealed.push(c);
  const opened: Uint8Array[] = [];
  for await (const c of decryptBlob(key, CTX, sealed)) opened.push(c);
  const digest = (parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');
  if (digest(opened) !== digest([sample])) throw new Error('blob round trip failed validation');

  // Warm-up, then RSS while encrypting rssMiB (before the decryption corpus exists).
  await drain(encryptBlob(key, CTX, repeat(frame, Math.min(frames, 512)), blobOptions));
  await drain(rawEncrypt(keyBytes, aad, repeat(frame, Math.min(frames, 512))));
  const rss = await measureRss(key, frame, rssFrames);

  const cases: BlobBenchCase[] = [];
  const compare = async (name: string, direction: 'encrypt' | 'decrypt', ours: () => Promise<number>, raw: () => Promise<number>) => {
    const oursRates: number[] = [];
    const rawRates: number[] = [];
    const ratios: number[] = [];
    let bytes = 0;
    for (let round = 0; round < rounds; round++) {
      const r = await timed(raw);
      const o = await timed(ours);
      bytes = o.bytes;
      rawRates.push(r.bytes / 1e6 / r.seconds);
      oursRates.push(o.bytes / 1e6 / o.seconds);
      ratios.push(oursRates.at(-1)! / rawRates.at(-1)!);
    }
    cases.push({ name, direction, implementation: 'allegro-ts', bytes, mbPerSec: median(oursRates), ratioToRawNode: median(ratios) });
    cases.push({ name, direction, implementation: 'raw node:crypto', bytes, mbPerSec: median(rawRates), ratioToRawNode: 1 });
  };
  const plainBytes = frames * frameSize;
  await compare(`encrypt ${plainBytes / MiB} MiB`, 'encrypt',
    async () => (await drain(encryptBlob(key, CTX, repeat(frame, frames), blobOptions)), plainBytes),
    async () => (await drain(rawEncrypt(keyBytes, aad, repeat(frame, frames))), plainBytes));

  // Decryption corpus: one blob of `frames` frames, and the raw baseline's records.
  const corpus = new Uint8Array(ciphertextSize(plainBytes, frameSize));
  let offset = 0;
  for await (const c of encryptBlob(key, CTX, repeat(frame, frames), blobOptions)) {
    corpus.set(c, offset);
    offset += c.length;
  }
  const record = frameSize + 16;
  const aligned = [0, 73];
  while (aligned.at(-1)! < corpus.length) aligned.push(Math.min(aligned.at(-1)! + record, corpus.length));
  const unaligned = [0];
  while (unaligned.at(-1)! < corpus.length) unaligned.push(Math.min(unaligned.at(-1)! + 64 * 1024, corpus.length));
  // The raw baseline decrypts 32 MiB of records in a cycle (the same work per byte, an eighth of the memory).
  const rawRecords: Uint8Array[] = [];
  for await (const c of rawEncrypt(keyBytes, aad, repeat(frame, Math.min(frames, 512)))) {
    if (c.length === 16) rawRecords[rawRecords.length - 1] = new Uint8Array(Buffer.concat([rawRecords.at(-1)!, c]));
    else rawRecords.push(c);
  }
  rawRecords.pop(); // the empty final frame
  const rawDecryptRun = async () => drain(rawDecrypt(keyBytes, aad, rawRecords, frames));
  await compare(`decrypt ${plainBytes / MiB} MiB, one chunk per frame`, 'decrypt', () => drain(decryptBlob(key, CTX, slices(corpus, aligned))), rawDecryptRun);
  await compare(`decrypt ${plainBytes / MiB} MiB, 64 KiB chunks`, 'decrypt', () => drain(decryptBlob(key, CTX, slices(corpus, unaligned))), rawDecryptRun);
  key.wipe();

  const encrypt = cases.find((c) => c.direction === 'encrypt' && c.implementation === 'allegro-ts')!;
  return {
    frameSize,
    rounds,
    cases,
    rss,
    targets: { encryptMbPerSec: 1000, rssGrowthMiB: 64, encryptMet: encrypt.mbPerSec >= 1000, rssMet: rss.peakGrowthMiB <= 64 },
  };
}

/** Markdown table of a {@link runBlobBench} result. */
export function formatBlobBench(r: BlobBenchResult): string {
  const lines = [
    `frame size ${r.frameSize} bytes, ${r.rounds} rounds, median (MB = 10^6 bytes)`,
    '',
    '| case | implementation | MB/s | ratio to raw node |',
    '|---|---|---:|---:|',
    ...r.cases.map((c) => `| ${c.name} | ${c.implementation} | ${c.mbPerSec.toFixed(0)} | ${c.ratioToRawNode.toFixed(2)} |`),
    '',
    `RSS while encrypting ${r.rss.totalMiB} MiB from a generator: baseline ${r.rss.baselineMiB.toFixed(1)} MiB, peak ${r.rss.peakMiB.toFixed(1)} MiB, ` +
      `growth ${r.rss.peakGrowthMiB.toFixed(1)} MiB (${r.rss.seconds.toFixed(2)} s)`,
    `targets: encrypt ≥ ${r.targets.encryptMbPerSec} MB/s ${r.targets.encryptMet ? 'met' : 'NOT met'}; ` +
      `RSS growth ≤ ${r.targets.rssGrowthMiB} MiB ${r.targets.rssMet ? 'met' : 'NOT met'}`,
  ];
  return lines.join('\n');
}
