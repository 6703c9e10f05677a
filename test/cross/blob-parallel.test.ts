// Blob v1 on worker threads against the single-threaded path: identical bytes for any size, frame size and chunking
// (the salt drawn from a fixed source), each reading the other's output, through every adapter; the same error with the
// same released prefix for every bit flip, truncation, bad chunk and failing source; 'auto' turning to the threads only
// above the threshold and with the default backend, and the default; the bounds of the parallel path: read-ahead,
// early stops.
import { createHash, randomFillSync } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { AllegroError } from '../../src/errors.js';
import { platform } from '../../src/platform/node.js';
import {
  BLOB_HEADER_LENGTH,
  createDecryptTransform,
  createEncryptTransform,
  decryptBlob,
  decryptRange,
  DEFAULT_BLOB_PARALLELISM,
  encryptBlob,
  PARALLEL_THRESHOLD,
  type BlobContext,
  type BlobParallelism,
  type EncryptBlobOptions,
} from '../../src/store/blob-format.js';
import { createDecryptStream, createEncryptStream } from '../../src/store/blob-node-streams.js';
import { openSource, type ByteSource } from '../../src/util/web-streams.js';
import { bytesFrom, cut } from '../helpers/bytes.js';
import { sameBytes } from '../helpers/vectors.js';

const key = new AesKey(new Uint8Array(32).fill(9));
const ctx: BlobContext = { podId: 3, threadId: 'dGhyZWFkLTI', rotationId: 11n, blobId: 'parallel.bin' };
const TAG = 16;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Salts from `seed` instead of the CSPRNG, so that two encryptions of the same data give the same bytes. */
function fixedSalts(seed: number): void {
  vi.spyOn(platform, 'randomFill').mockImplementation(<T extends Uint8Array>(target: T): T => target.fill(seed & 0xff));
}

function webStream(parts: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({ pull: (controller) => (i < parts.length ? controller.enqueue(parts[i++]!) : controller.close()) });
}

const concat = (parts: readonly Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** The chunks of a generator or a web stream (read through its reader). */
const chunksOf = (source: ByteSource) => openSource(source).chunks as AsyncIterable<Uint8Array>;

async function collect(source: ByteSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of chunksOf(source)) parts.push(p);
  return concat(parts);
}

async function seal(data: Uint8Array, frameSize: number, parallel: BlobParallelism, chunk = 10_000): Promise<Uint8Array> {
  return collect(encryptBlob(key, ctx, cut(data, chunk), { frameSize, parallel }));
}

/** Run a generator to its end: the bytes it released, and its outcome (an error code, the error itself, or 'ok'). */
async function attempt(output: ByteSource): Promise<{ outcome: unknown; released: Uint8Array }> {
  const parts: Uint8Array[] = [];
  let outcome: unknown = 'ok';
  try {
    for await (const p of chunksOf(output)) parts.push(p);
  } catch (err) {
    outcome = err instanceof AllegroError ? err.code : err;
  }
  return { outcome, released: concat(parts) };
}

// Sizes that span up to ten groups of 256 KiB (64 frames of 4 KiB): the threads, the calling thread, the queue limit.
const blobs = fc.record({
  frameSize: fc.integer({ min: 4096, max: 6000 }),
  seed: fc.integer(),
  size: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 200_000, max: 2_500_000 })),
});

describe('blob v1: worker threads and one thread give the same bytes', () => {
  it('for random sizes, frame sizes and chunkings, and each reads what the other wrote', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.integer({ min: 1, max: 300_000 }), async ({ frameSize, seed, size }, chunk) => {
        const data = bytesFrom(seed, size);
        fixedSalts(seed);
        const threaded = await seal(data, frameSize, true, chunk);
        const single = await seal(data, frameSize, false, chunk);
        vi.restoreAllMocks();
        expect(sameBytes(threaded, single)).toBe(true);
        const fresh = await seal(data, frameSize, true, chunk); // a random salt
        for (const [blob, reader] of [[fresh, false], [single, true], [fresh, true]] as const) {
          const { outcome, released } = await attempt(decryptBlob(key, ctx, cut(blob, chunk + 7), { parallel: reader }));
          expect(outcome).toBe('ok');
          expect(sameBytes(released, data)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('at 64 KiB and 1 MiB frames, more batches than may be in flight, through the web and the Node stream adapters', async () => {
    for (const [frameSize, frames] of [[65_536, 100], [1_048_576, 7]] as const) {
      const data = bytesFrom(frameSize, frames * frameSize + 1234);
      fixedSalts(1);
      const options: EncryptBlobOptions = { frameSize, parallel: true };
      const reference = await seal(data, frameSize, false, 100_000);
      const web = await collect(webStream(cut(data, 70_000)).pipeThrough(createEncryptTransform(key, ctx, options)));
      const parts: Buffer[] = [];
      await pipeline(Readable.from(cut(data, 90_000)), createEncryptStream(key, ctx, options), new Writable({
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          cb();
        },
      }));
      vi.restoreAllMocks();
      expect(sameBytes(web, reference)).toBe(true);
      expect(sameBytes(concat(parts), reference)).toBe(true);
      const opened = await collect(webStream(cut(reference, 50_000)).pipeThrough(createDecryptTransform(key, ctx, { parallel: true })));
      expect(sameBytes(opened, data)).toBe(true);
      const viaNode = await collect(Readable.from(cut(reference, 80_000)).pipe(createDecryptStream(key, ctx, { parallel: true })));
      expect(sameBytes(viaNode, data)).toBe(true);
      // Random access is unchanged: ranges of a blob the threads wrote.
      const read = async (offset: number, length: number) => reference.slice(offset, offset + length);
      for (const [start, end] of [[0, 1], [frameSize - 5, 3 * frameSize + 5], [frames * frameSize, data.length]] as const) {
        expect(sameBytes(await decryptRange(key, ctx, read, reference.length, start, end), data.subarray(start, end))).toBe(true);
      }
    }
  });
});

describe('blob v1: worker threads fail exactly as one thread does', () => {
  it('for any flipped bit or truncation: the same error after the same released bytes', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.nat(), fc.boolean(), fc.integer({ min: 1, max: 200_000 }), async ({ frameSize, seed, size }, position, truncate, chunk) => {
        const sealed = await seal(bytesFrom(seed, size), frameSize, false);
        let altered: Uint8Array;
        if (truncate) {
          altered = sealed.subarray(0, position % sealed.length);
        } else {
          altered = sealed.slice();
          altered[position % sealed.length]! ^= 1 << (seed & 7);
        }
        const single = await attempt(decryptBlob(key, ctx, cut(altered, chunk), { parallel: false }));
        const threaded = await attempt(decryptBlob(key, ctx, cut(altered, chunk), { parallel: true }));
        expect(single.outcome).not.toBe('ok');
        expect(threaded.outcome).toBe(single.outcome);
        expect(sameBytes(threaded.released, single.released)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('for a frame swapped with another: DECRYPTION_FAILED after the frames before it', async () => {
    const frameSize = 4096;
    const sealed = await seal(bytesFrom(5, 400 * frameSize + 9), frameSize, false);
    const record = frameSize + TAG;
    const at = (i: number) => BLOB_HEADER_LENGTH + i * record;
    const swapped = concat([sealed.subarray(0, at(300)), sealed.subarray(at(301), at(302)), sealed.subarray(at(300), at(301)), sealed.subarray(at(302))]);
    const single = await attempt(decryptBlob(key, ctx, [swapped], { parallel: false }));
    const threaded = await attempt(decryptBlob(key, ctx, [swapped], { parallel: true }));
    expect(threaded.outcome).toBe(single.outcome);
    expect(sameBytes(threaded.released, single.released)).toBe(true);
    expect(single.outcome).toBe('DECRYPTION_FAILED');
    expect(single.released.length).toBe(300 * frameSize);
  });

  it('for a source that fails or gives a chunk that is not a Uint8Array: the same error after the same bytes', async () => {
    const frameSize = 4096;
    const data = bytesFrom(8, 300 * frameSize);
    const sealed = await seal(data, frameSize, false);
    const broken = new Error('source broke');
    async function* failing(parts: readonly Uint8Array[], after: number, failure: 'throw' | 'text'): AsyncGenerator<Uint8Array> {
      for (const p of parts.slice(0, after)) yield p;
      if (failure === 'throw') throw broken;
      yield 'text' as never;
    }
    for (const failure of ['throw', 'text'] as const) {
      for (const [make, parts] of [
        [(source: ByteSource, parallel: boolean) => encryptBlob(key, ctx, source, { frameSize, parallel }), cut(data, 20_000)],
        [(source: ByteSource, parallel: boolean) => decryptBlob(key, ctx, source, { parallel }), cut(sealed, 20_000)],
      ] as const) {
        fixedSalts(2);
        const single = await attempt(make(failing(parts, 50, failure), false));
        const threaded = await attempt(make(failing(parts, 50, failure), true));
        vi.restoreAllMocks();
        expect(threaded.outcome).toBe(failure === 'throw' ? broken : 'INVALID_ARGUMENT');
        expect(threaded.outcome).toBe(single.outcome);
        expect(sameBytes(threaded.released, single.released)).toBe(true);
        expect(single.released.length).toBeGreaterThan(900_000); // the frames of the 50 chunks before the failure
      }
    }
  });

  it('errors the web and Node streams on tampering, releasing nothing from the altered frame on', async () => {
    // A stream that errors drops what its consumer had not read yet, so only the outcome and a bound compare.
    const data = bytesFrom(3, 100 * 4096);
    const sealed = await seal(data, 4096, false);
    const altered = 90;
    sealed[BLOB_HEADER_LENGTH + altered * (4096 + TAG) + 7]! ^= 1;
    const web = await attempt(webStream([sealed]).pipeThrough(createDecryptTransform(key, ctx, { parallel: true })));
    const node = await attempt(Readable.from([sealed]).pipe(createDecryptStream(key, ctx, { parallel: true })));
    for (const result of [web, node]) {
      expect(result.outcome).toBe('DECRYPTION_FAILED');
      expect(result.released.length).toBeLessThanOrEqual(altered * 4096);
      expect(sameBytes(result.released, data.subarray(0, result.released.length))).toBe(true);
    }
  });
});

describe("blob v1: 'auto'", () => {
  it('turns to the threads only once the threshold has passed, with the same bytes', async () => {
    const workers = platform.frameWorkers!;
    const data = bytesFrom(4, PARALLEL_THRESHOLD + 3 * 1024 * 1024);
    fixedSalts(4);
    const single = await seal(data, 65_536, false, 1 << 20);
    // A ready thread, so that 'auto' engages as soon as the threshold is passed.
    await vi.waitFor(() => expect(workers.warm()).toBe(true), { timeout: 30_000, interval: 20 });
    const sealing = vi.spyOn(workers, 'seal');
    const auto = await collect(encryptBlob(key, ctx, cut(data, 1 << 20), { parallel: 'auto' }));
    expect(sameBytes(auto, single)).toBe(true);
    expect(sealing).toHaveBeenCalled();
    const framesOnThreads = sealing.mock.calls.reduce((n, [, , batch]) => n + batch.count, 0);
    expect(framesOnThreads).toBeLessThanOrEqual(data.length / 65_536 - PARALLEL_THRESHOLD / 65_536);
    sealing.mockClear();
    await collect(encryptBlob(key, ctx, [data.subarray(0, PARALLEL_THRESHOLD)], { parallel: 'auto' }));
    expect(sealing).not.toHaveBeenCalled();
    const opening = vi.spyOn(workers, 'open');
    expect(sameBytes(await collect(decryptBlob(key, ctx, cut(single, 1 << 20), { parallel: 'auto' })), data)).toBe(true);
    expect(opening).toHaveBeenCalled();
    // Unset, it is DEFAULT_BLOB_PARALLELISM (false for now: docs/performance.md §7): one thread.
    expect(DEFAULT_BLOB_PARALLELISM).toBe(false);
    sealing.mockClear();
    opening.mockClear();
    expect(sameBytes(await collect(encryptBlob(key, ctx, cut(data, 1 << 20))), single)).toBe(true);
    expect(sameBytes(await collect(decryptBlob(key, ctx, cut(single, 1 << 20))), data)).toBe(true);
    expect(sealing).not.toHaveBeenCalled();
    expect(opening).not.toHaveBeenCalled();
  });

  it('stays on this thread with another backend, and refuses `parallel: true` with one', async () => {
    const sealing = vi.spyOn(platform.frameWorkers!, 'seal');
    const data = bytesFrom(6, PARALLEL_THRESHOLD + 1024 * 1024);
    expect((await collect(encryptBlob(key, ctx, [data], { backend: 'webcrypto', parallel: 'auto' }))).length).toBeGreaterThan(data.length);
    expect(sealing).not.toHaveBeenCalled();
    for (const backend of ['webcrypto', 'noble'] as const) {
      expect(() => encryptBlob(key, ctx, [data], { backend, parallel: true })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'options.parallel' }));
      expect(() => decryptBlob(key, ctx, [data], { backend, parallel: true })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'options.parallel' }));
    }
  });
});

describe('blob v1 on worker threads: bounds', () => {
  it('reads ahead of its consumer by at most the batches in flight (back-pressure)', async () => {
    const frameSize = 4096;
    const frame = bytesFrom(7, frameSize);
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield frame;
      }
    }
    const output = encryptBlob(key, ctx, source(), { frameSize, parallel: true });
    let consumed = 0;
    for await (const part of output) {
      consumed += part.length;
      if (consumed > 100 * frameSize) break;
      if (consumed > 50 * frameSize && consumed < 50 * frameSize + 2 * frameSize) {
        // The consumer pauses: nothing more is read while it does.
        const at = pulled;
        await new Promise((done) => setTimeout(done, 200));
        expect(pulled).toBe(at);
      }
    }
    // Frames read = frames consumed + at most the groups that may be queued (2 per thread + 2) of 64 frames.
    const bound = Math.ceil(consumed / (frameSize + TAG)) + (2 * platform.frameWorkers!.threads + 2) * 64 + 1;
    expect(pulled).toBeLessThanOrEqual(bound);
    expect(pulled).toBeLessThan(10_000);
  });

  it('stops cleanly when the consumer stops early: the source is cancelled and the next blob works', async () => {
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(300_000)),
      cancel: () => void (cancelled = true),
    });
    let n = 0;
    for await (const _ of encryptBlob(key, ctx, source, { parallel: true })) if (++n === 20) break;
    expect(cancelled).toBe(true);
    const data = randomFillSync(new Uint8Array(2_000_000));
    const sealed = await collect(encryptBlob(key, ctx, [data], { parallel: true }));
    const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(digest(await collect(decryptBlob(key, ctx, [sealed], { parallel: true })))).toBe(digest(data));
  });
});
