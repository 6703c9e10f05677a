/**
 * `allegro bench blob`: allegro-ts blob v1 (store/blob-format.ts, docs/wire-formats.md) encrypt-only and
 * decrypt-only throughput for a blob (default 256 MiB) streamed in 64 KiB frames, on one thread (`parallel: false`)
 * and on all cores (`parallel: true`: worker threads and the calling thread), against raw node:crypto framed
 * AES-256-GCM doing the same per-frame work on one thread in the same process (a GCM message per frame, counter nonce
 * with last flag, 32-byte AAD, output `ct`, `tag`) and against OpenSSL's speed at the frame size on one core and on
 * all (the limit, ../openssl.ts); the speed-up of all cores over one thread, per round; and the peak RSS growth while
 * streaming 1 GiB through each. Method: docs/cli.md "Benchmarks".
 *
 * The source is an async generator yielding one frame-sized buffer repeatedly; the sink counts bytes and discards
 * them. Decryption reads a blob held in memory, fed as one chunk per frame ("aligned", as from a framed transport)
 * and as 64 KiB chunks ("unaligned", as from a file or socket: every frame is reassembled). The RSS cases (encrypt
 * from a generator; decrypt what an encryptor streams in) run before the decryption corpus is allocated. Targets
 * (issue 14): one thread ≥ 0.8 × OpenSSL on one core, all cores ≥ 0.8 × cores × one thread (1.6 on two CPUs),
 * ≤ 64 MiB RSS growth for 1 GiB.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { AesKey } from '../../crypto/aes-key.js';
import { platform } from '#platform';
import { ciphertextSize, decryptBlob, encryptBlob, type BlobContext } from '../../store/blob-format.js';
import { countBytes, interleave, median, repeatChunk, workContender, type Standing } from '../harness.js';
import { formatSize, makeReport, type BenchReport, type BenchTable, type Cell } from '../report.js';
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
/** Issue 14's goals: one thread at 0.8 of OpenSSL's one-core speed; all cores at 0.8 × cores the speed of one thread; RSS. */
const TARGET_SHARE_OF_ONE_CORE = 0.8;
const TARGET_SPEED_UP_PER_CORE = 0.8;
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
  for (const options of [{}, { backend: 'noble' as const }, { parallel: true }]) {
    if (digest(await collect(decryptBlob(key, CTX, sealed, options))) !== digest([sample])) throw new Error('blob bench: blob round trip failed validation');
  }
  const frames = [0, 1, 2].map((i) => sample.subarray(i * frameSize, (i + 1) * frameSize));
  const records = await rawRecords(keyBytes, aad, frames);
  if (digest(await collect(rawDecrypt(keyBytes, aad, records, records.length))) !== digest(frames)) throw new Error('blob bench: the raw baseline failed validation');
}

/** Peak RSS growth while `run` streams, sampled every 512 outputs (`sample` is called on each). */
async function measureRss(name: string, bytes: number, run: (sample: () => void) => Promise<void>): Promise<Record<string, Cell>> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let count = 0;
  const start = performance.now();
  await run(() => {
    if ((++count & 511) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  });
  peak = Math.max(peak, process.memoryUsage.rss());
  return {
    case: name, mib: bytes / MiB, rssBeforeMiB: baseline / MiB, rssPeakMiB: peak / MiB, growthMiB: (peak - baseline) / MiB,
    seconds: (performance.now() - start) / 1000,
  };
}

/** The median of the per-round ratios of `a` to `b` (rates of the same rounds). */
function roundRatio(a: Standing, b: Standing): number {
  return median(a.rates.map((rate, i) => rate / b.rates[i]!));
}

/** Run the benchmark (about 30 s with the defaults; holds the ciphertext and 32 MiB of raw records in memory). */
export async function runBlobBench(options: BlobBenchOptions = {}): Promise<BenchReport> {
  const frameSize = options.frameSize ?? 64 * 1024;
  const rounds = options.rounds ?? 5;
  const frames = Math.max(1, Math.round(((options.totalMiB ?? 256) * MiB) / frameSize));
  const rssFrames = Math.max(1, Math.round(((options.rssMiB ?? 1024) * MiB) / frameSize));
  const cpus = platform.frameWorkers?.cpus ?? 1;
  const keyBytes = randomFillSync(new Uint8Array(32));
  const key = new AesKey(keyBytes);
  const aad = randomFillSync(new Uint8Array(32));
  const frame = randomFillSync(new Uint8Array(frameSize));
  const progress = options.progress ?? (() => undefined);
  const loadAtStart = loadavg()[0]!;
  const encrypting = (count: number, parallel: boolean) => encryptBlob(key, CTX, repeatChunk(frame, count), { frameSize, parallel });
  try {
    await crossValidate(key, keyBytes, aad, frameSize);
    const limit = await takeLimit([{ direction: 'encrypt', bytes: frameSize }, { direction: 'decrypt', bytes: frameSize }], options);

    // Warm-up (which also starts the worker threads), then RSS while streaming rssMiB (before the decryption corpus exists).
    for (const parallel of [false, true]) await countBytes(decryptBlob(key, CTX, encrypting(Math.min(frames, 512), parallel), { parallel }));
    const rssBytes = rssFrames * frameSize;
    const rssSize = formatSize(rssBytes);
    const memory: BenchTable = {
      title: `memory while streaming ${rssSize}`,
      columns: [
        { key: 'case', label: 'case', format: 'text' }, { key: 'mib', label: 'MiB', format: 'count' },
        { key: 'rssBeforeMiB', label: 'RSS before, MiB', format: 'fixed' }, { key: 'rssPeakMiB', label: 'RSS peak, MiB', format: 'fixed' },
        { key: 'growthMiB', label: 'growth, MiB', format: 'fixed' }, { key: 'seconds', label: 's', format: 'fixed', digits: 2 },
      ],
      rows: [],
    };
    for (const [parallel, label] of [[false, '1 thread'], [true, `${cpus} cores`]] as const) {
      memory.rows.push(await measureRss(`encrypt from a generator, ${label}`, rssBytes, async (sample) => {
        for await (const _ of encrypting(rssFrames, parallel)) sample();
      }));
      memory.rows.push(await measureRss(`decrypt what an encryptor streams in, ${label} (both)`, rssBytes, async (sample) => {
        for await (const _ of decryptBlob(key, CTX, encrypting(rssFrames, parallel), { parallel })) sample();
      }));
      progress(`measured RSS while streaming ${rssSize}, ${label}`);
    }

    const throughput: BenchTable = {
      title: `throughput, ${formatSize(frameSize)} frames`,
      columns: throughputColumns([{ key: 'case', label: 'case', format: 'text' }], limit, false),
      rows: [],
      chart: throughputChart('case'),
    };
    const labels = new Map([['raw', 'raw node:crypto'], ['one', 'allegro-ts blob v1, 1 thread'], ['all', `allegro-ts blob v1, ${cpus} cores`]]);
    const speedUps: Array<{ name: string; direction: 'encrypt' | 'decrypt'; one: Record<string, Cell>; speedUp: number }> = [];
    const compare = async (name: string, direction: 'encrypt' | 'decrypt', ours: (parallel: boolean) => Promise<number>, raw: () => Promise<number>) => {
      const standings = await interleave(workContender('raw', raw), [workContender('one', () => ours(false)), workContender('all', () => ours(true))], rounds);
      const rows = throughputRows({ case: name }, standings, labels, limit, { direction, bytes: frameSize });
      throughput.rows.push(...rows);
      speedUps.push({ name, direction, one: rows[1]!, speedUp: roundRatio(standings[2]!, standings[1]!) });
      progress(`measured ${name}`);
    };
    const plainBytes = frames * frameSize;
    const total = formatSize(plainBytes);
    await compare(`encrypt ${total}`, 'encrypt',
      async (parallel) => (await countBytes(encrypting(frames, parallel)), plainBytes),
      async () => (await countBytes(rawFramedEncrypt(keyBytes, aad, repeatChunk(frame, frames))), plainBytes));

    // Decryption corpus: one blob of `frames` frames, and the raw baseline's records.
    const corpus = new Uint8Array(ciphertextSize(plainBytes, frameSize));
    let offset = 0;
    for await (const c of encrypting(frames, true)) {
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
    await compare(`decrypt ${total}, one chunk per frame`, 'decrypt', (parallel) => countBytes(decryptBlob(key, CTX, slices(corpus, aligned), { parallel })), rawDecryptRun);
    await compare(`decrypt ${total}, 64 KiB chunks`, 'decrypt', (parallel) => countBytes(decryptBlob(key, CTX, slices(corpus, unaligned), { parallel })), rawDecryptRun);

    const speedUpRequired = TARGET_SPEED_UP_PER_CORE * cpus;
    const targets: BenchTable = {
      title: 'targets',
      columns: [
        { key: 'target', label: 'target', format: 'text' }, { key: 'required', label: 'required', format: 'text' },
        { key: 'measured', label: 'measured', format: 'rate' }, { key: 'met', label: 'met', format: 'text' },
      ],
      rows: [
        ...speedUps.filter((s) => !s.name.endsWith('64 KiB chunks')).map(({ name, one }) => {
          const measured = one.ratioToLimit as number | null;
          return { target: `1 thread ÷ OpenSSL 1 core, ${name}`, required: `≥ ${TARGET_SHARE_OF_ONE_CORE}`, measured, met: measured === null ? null : measured >= TARGET_SHARE_OF_ONE_CORE };
        }),
        ...(cpus < 2 ? [] : speedUps.filter((s) => !s.name.endsWith('64 KiB chunks')).map(({ name, speedUp }) => (
          { target: `${cpus} cores ÷ 1 thread, ${name}`, required: `≥ ${speedUpRequired.toFixed(1)}`, measured: speedUp, met: speedUp >= speedUpRequired }))),
        ...memory.rows.map((r) => ({ target: `RSS growth MiB, ${String(r.case)}`, required: `≤ ${TARGET_RSS_MIB}`, measured: r.growthMiB!, met: (r.growthMiB as number) <= TARGET_RSS_MIB })),
      ],
    };
    const speedUpTable: BenchTable = {
      title: `${cpus} cores ÷ 1 thread`,
      columns: [{ key: 'case', label: 'case', format: 'text' }, { key: 'speedUp', label: '× 1 thread', format: 'ratio' }],
      rows: speedUps.map(({ name, speedUp }) => ({ case: name, speedUp })),
    };
    const loadAtEnd = loadavg()[0]!;
    return makeReport({
      name: 'blob',
      title: 'blob v1 streaming throughput and memory, on one thread and on all cores',
      method: `Before timing, a blob of three frames and a partial one must round-trip (also read with the noble backend and on worker ` +
        `threads) and the raw baseline must decrypt what it wrote. Each case is warmed up with one untimed run of the baseline and of ` +
        `allegro-ts on 1 thread (\`parallel: false\`) and on all ${cpus} cores (\`parallel: true\`: ${cpus - 1 || 1} worker thread(s) and the calling thread), then ${rounds} rounds run the ` +
        `three in turn; MB/s is the median round, × raw and × 1 thread the median per-round ratios; × limit is MB/s over OpenSSL's at ` +
        `the frame size, on one core and on all. MB = 10^6 bytes of plaintext. RSS is the process's (worker threads included), sampled ` +
        'every 512 outputs, from a baseline taken after the warm-up.',
      openssl: limit.version,
      tables: [throughput, speedUpTable, memory, targets],
      notes: [
        ...limitNotes(limit),
        `load average (1 min) ${loadAtStart.toFixed(2)} at the start and ${loadAtEnd.toFixed(2)} at the end, on ${availableParallelism()} CPUs`,
        ...(cpus < 2 ? ['one CPU: all cores cannot be faster than one thread, so no speed-up target'] : []),
        ...targets.rows.filter((r) => r.met === false).map((r) => `target missed: ${String(r.target)} ${String(r.required)}`),
      ],
    });
  } finally {
    key.wipe();
  }
}
