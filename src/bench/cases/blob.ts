/**
 * `allegro bench blob`: allegro-ts blob v1 (store/blob-format.ts, docs/wire-formats.md) encrypt-only and
 * decrypt-only throughput for a blob (default 256 MiB) streamed in 64 KiB frames, against raw node:crypto framed
 * AES-256-GCM doing the same per-frame work in the same process (a GCM message per frame, counter nonce with last
 * flag, 32-byte AAD, output `ct`, `tag`) and against OpenSSL's speed at the frame size (the limit, ../openssl.ts);
 * and the peak RSS growth while encrypting 1 GiB from a generator. Method: docs/cli.md "Benchmarks".
 *
 * The source is an async generator yielding one frame-sized buffer repeatedly; the sink counts bytes and discards
 * them. Decryption reads a blob held in memory, fed as one chunk per frame ("aligned", as from a framed transport)
 * and as 64 KiB chunks ("unaligned", as from a file or socket: every frame is reassembled). The RSS case runs
 * before the decryption corpus is allocated and samples `process.memoryUsage.rss()` every 512 frames. Targets:
 * ≥ 1,000 MB/s encrypt, ≤ 64 MiB RSS growth for 1 GiB.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { AesKey } from '../../crypto/aes-key.js';
import { ciphertextSize, decryptBlob, encryptBlob, type BlobContext } from '../../store/blob-format.js';
import { countBytes, interleave, repeatChunk, workContender } from '../harness.js';
import { formatSize, makeReport, measuresTable, type BenchReport, type BenchTable } from '../report.js';
import { limitNotes, takeLimit, throughputChart, throughputColumns, throughputRows, type LimitChoice } from '../throughput.js';

/** Options of {@link runBlobBench}. */
export interface BlobBenchOptions extends LimitChoice {
  /** MiB per timed run (default 256). */
  totalMiB?: number;
  /** MiB encrypted for the RSS case (default 1,024). */
  rssMiB?: number;
  /** Timed rounds per case (default 5). */
  rounds?: number;
  /** Frame size (default 65,536). */
  frameSize?: number;
}

const MiB = 1024 * 1024;
const CTX: BlobContext = { podId: 1, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: 1n, blobId: 'bench' };
const TARGET_MB_PER_SEC = 1000;
const TARGET_RSS_MIB = 64;

async function* slices(bytes: Uint8Array, offsets: readonly number[]): AsyncGenerator<Uint8Array> {
  for (let i = 0; i + 1 < offsets.length; i++) yield bytes.subarray(offsets[i]!, offsets[i + 1]!);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const chunk of source) parts.push(chunk);
  return parts;
}

function nonce(index: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setUint32(4, index);
  view.setUint32(8, last ? 1 : 0);
  return n;
}

/**
 * Raw node:crypto framed GCM over aligned frames, the baseline of every framed format: the same per-frame work as
 * blob v1 (a GCM message per frame, nonce = uint64 index ‖ uint32 last flag, `aad` on every frame, an empty final
 * frame), none of its checks, key derivation or header. Yields each frame's ciphertext, then its tag.
 */
export async function* rawFramedEncrypt(key: Uint8Array, aad: Uint8Array, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
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

/** The records (ciphertext ‖ tag) of the non-final frames that {@link rawFramedEncrypt} writes for `frames`. */
async function rawRecords(key: Uint8Array, aad: Uint8Array, frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts = await collect(rawFramedEncrypt(key, aad, frames));
  const records: Uint8Array[] = [];
  for (let i = 0; i + 3 < parts.length; i += 2) records.push(new Uint8Array(Buffer.concat([parts[i]!, parts[i + 1]!])));
  return records; // the last two parts are the empty final frame
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

function digest(parts: readonly Uint8Array[]): string {
  return parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');
}

/**
 * Check before timing: a blob of three frames and a partial one round-trips, also when read with the noble backend
 * (so both GCM implementations agree on every byte), and the raw baseline decrypts what it encrypted.
 */
async function crossValidate(key: AesKey, keyBytes: Uint8Array, aad: Uint8Array, frameSize: number): Promise<void> {
  const sample = randomFillSync(new Uint8Array(frameSize * 3 + 17));
  const sealed = await collect(encryptBlob(key, CTX, [sample.subarray(0, 1000), sample.subarray(1000)], { frameSize }));
  for (const options of [{}, { backend: 'noble' as const }]) {
    if (digest(await collect(decryptBlob(key, CTX, sealed, options))) !== digest([sample])) throw new Error('blob bench: blob round trip failed validation');
  }
  const frames = [0, 1, 2].map((i) => sample.subarray(i * frameSize, (i + 1) * frameSize));
  const records = await rawRecords(keyBytes, aad, frames);
  if (digest(await collect(rawDecrypt(keyBytes, aad, records, records.length))) !== digest(frames)) throw new Error('blob bench: the raw baseline failed validation');
}

async function measureRss(key: AesKey, frame: Uint8Array, frames: number): Promise<Array<readonly [string, number, string]>> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let count = 0;
  const start = performance.now();
  for await (const _ of encryptBlob(key, CTX, repeatChunk(frame, frames), { frameSize: frame.length })) {
    if ((++count & 511) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  const seconds = (performance.now() - start) / 1000;
  return [
    ['plaintext encrypted from a generator', (frames * frame.length) / MiB, 'MiB'],
    ['RSS before', baseline / MiB, 'MiB'],
    ['RSS peak', peak / MiB, 'MiB'],
    ['RSS peak growth', (peak - baseline) / MiB, 'MiB'],
    ['time', seconds, 's'],
  ];
}

/** Run the benchmark (about 15 s with the defaults; holds the ciphertext and 32 MiB of raw records in memory). */
export async function runBlobBench(options: BlobBenchOptions = {}): Promise<BenchReport> {
  const frameSize = options.frameSize ?? 64 * 1024;
  const rounds = options.rounds ?? 5;
  const frames = Math.max(1, Math.round(((options.totalMiB ?? 256) * MiB) / frameSize));
  const rssFrames = Math.max(1, Math.round(((options.rssMiB ?? 1024) * MiB) / frameSize));
  const keyBytes = randomFillSync(new Uint8Array(32));
  const key = new AesKey(keyBytes);
  const aad = randomFillSync(new Uint8Array(32));
  const frame = randomFillSync(new Uint8Array(frameSize));
  const blobOptions = { frameSize };
  const progress = options.progress ?? (() => undefined);
  try {
    await crossValidate(key, keyBytes, aad, frameSize);
    const limit = await takeLimit([{ direction: 'encrypt', bytes: frameSize }, { direction: 'decrypt', bytes: frameSize }], options);

    // Warm-up, then RSS while encrypting rssMiB (before the decryption corpus exists).
    await countBytes(encryptBlob(key, CTX, repeatChunk(frame, Math.min(frames, 512)), blobOptions));
    const memory = await measureRss(key, frame, rssFrames);
    progress(`measured RSS while encrypting ${formatSize(rssFrames * frameSize)}`);

    const throughput: BenchTable = {
      title: `throughput, ${formatSize(frameSize)} frames`,
      columns: throughputColumns([{ key: 'case', label: 'case', format: 'text' }], limit, false),
      rows: [],
      chart: throughputChart('case'),
    };
    const labels = new Map([['raw', 'raw node:crypto'], ['allegro-ts', 'allegro-ts blob v1']]);
    const compare = async (name: string, direction: 'encrypt' | 'decrypt', ours: () => Promise<number>, raw: () => Promise<number>) => {
      const standings = await interleave(workContender('raw', raw), [workContender('allegro-ts', ours)], rounds);
      throughput.rows.push(...throughputRows({ case: name }, standings, labels, limit, { direction, bytes: frameSize }));
      progress(`measured ${name}`);
    };
    const plainBytes = frames * frameSize;
    const total = formatSize(plainBytes);
    await compare(`encrypt ${total}`, 'encrypt',
      async () => (await countBytes(encryptBlob(key, CTX, repeatChunk(frame, frames), blobOptions)), plainBytes),
      async () => (await countBytes(rawFramedEncrypt(keyBytes, aad, repeatChunk(frame, frames))), plainBytes));

    // Decryption corpus: one blob of `frames` frames, and the raw baseline's records.
    const corpus = new Uint8Array(ciphertextSize(plainBytes, frameSize));
    let offset = 0;
    for await (const c of encryptBlob(key, CTX, repeatChunk(frame, frames), blobOptions)) {
      corpus.set(c, offset);
      offset += c.length;
    }
    const aligned = [0, 73];
    while (aligned.at(-1)! < corpus.length) aligned.push(Math.min(aligned.at(-1)! + frameSize + 16, corpus.length));
    const unaligned = [0];
    while (unaligned.at(-1)! < corpus.length) unaligned.push(Math.min(unaligned.at(-1)! + 64 * 1024, corpus.length));
    // The raw baseline decrypts up to 32 MiB of records in a cycle (the same work per byte, less memory).
    const records = await rawRecords(keyBytes, aad, repeatChunk(frame, Math.min(frames, 512)));
    const rawDecryptRun = () => countBytes(rawDecrypt(keyBytes, aad, records, frames));
    await compare(`decrypt ${total}, one chunk per frame`, 'decrypt', () => countBytes(decryptBlob(key, CTX, slices(corpus, aligned))), rawDecryptRun);
    await compare(`decrypt ${total}, 64 KiB chunks`, 'decrypt', () => countBytes(decryptBlob(key, CTX, slices(corpus, unaligned))), rawDecryptRun);

    const encryptRate = throughput.rows.find((r) => r.implementation === labels.get('allegro-ts'))!.mbPerSec as number;
    const growth = memory.find(([m]) => m === 'RSS peak growth')![1];
    const targets: BenchTable = {
      title: 'targets',
      columns: [
        { key: 'target', label: 'target', format: 'text' }, { key: 'required', label: 'required', format: 'text' },
        { key: 'measured', label: 'measured', format: 'rate' }, { key: 'met', label: 'met', format: 'text' },
      ],
      rows: [
        { target: 'allegro-ts encrypt MB/s', required: `≥ ${TARGET_MB_PER_SEC}`, measured: encryptRate, met: encryptRate >= TARGET_MB_PER_SEC },
        { target: `RSS growth MiB for ${formatSize(rssFrames * frameSize)}`, required: `≤ ${TARGET_RSS_MIB}`, measured: growth, met: growth <= TARGET_RSS_MIB },
      ],
    };
    return makeReport({
      name: 'blob',
      title: 'blob v1 streaming throughput and memory',
      method: `Before timing, a blob of three frames and a partial one must round-trip (also read with the noble backend) and the raw ` +
        `baseline must decrypt what it encrypted. Each case is warmed up with one untimed run of the baseline and of allegro-ts, then ` +
        `${rounds} rounds alternate them; MB/s is the median round and × raw the median per-round ratio; × limit is MB/s over ` +
        `OpenSSL's at the frame size. MB = 10^6 bytes of plaintext.`,
      openssl: limit.version,
      tables: [throughput, measuresTable('memory', memory), targets],
      notes: [
        ...limitNotes(limit),
        ...targets.rows.filter((r) => r.met !== true).map((r) => `target missed: ${String(r.target)} ${String(r.required)}`),
      ],
    });
  } finally {
    key.wipe();
  }
}
