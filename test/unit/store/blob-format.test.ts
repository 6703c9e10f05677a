// allegro-ts blob v1: round trips through every adapter, header layout, wrong key/context, header errors, sizes,
// random access, argument checks and constant memory.
import { createHash, randomFillSync } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { AllegroError } from '../../../src/errors.js';
import {
  BLOB_HEADER_LENGTH,
  ciphertextSize,
  createDecryptTransform,
  createEncryptTransform,
  decryptBlob,
  decryptRange,
  DEFAULT_BLOB_FRAME_SIZE,
  encryptBlob,
  parseBlobHeader,
  plaintextSize,
  type BlobContext,
  type EncryptBlobOptions,
} from '../../../src/store/blob-format.js';
import type { ByteSource } from '../../../src/util/web-streams.js';
import { createDecryptStream, createEncryptStream } from '../../../src/store/blob-node-streams.js';
import { BACKENDS, sameBytes } from '../../helpers/vectors.js';
import { platform } from '#platform';

const F = 4096;
const key = new AesKey(new Uint8Array(32).fill(7));
const otherKey = new AesKey(new Uint8Array(32).fill(8));
const ctx: BlobContext = { podId: 130, threadId: 'q2Wc+Mx/1tL0fpCkbG0b6n///zY1aBc=', rotationId: 42n, blobId: 'report.pdf' };

function random(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

async function collect(source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  if ('getReader' in source) {
    const reader = source.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
  } else {
    for await (const p of source) parts.push(p);
  }
  return concat(parts);
}

/** `data` cut into chunks of `size` bytes (the last may be shorter). */
function chunks(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function* generate(parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

function webStream(parts: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]!);
      else controller.close();
    },
  });
}

function encrypt(data: Uint8Array, options: EncryptBlobOptions = { frameSize: F }, c: BlobContext = ctx, k: AesKey = key): Promise<Uint8Array> {
  return collect(encryptBlob(k, c, chunks(data, 1000), options));
}

async function outcome(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return 'ok';
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
}

const SIZES = [0, 1, F - 1, F, F + 1, 3 * F, 3 * F + 5];

describe('blob v1 round trip', () => {
  it.each(SIZES)('round-trips %i bytes through async generators, with sizes as ciphertextSize predicts', async (size) => {
    const data = random(size);
    const sealed = await encrypt(data);
    expect(sealed.length).toBe(ciphertextSize(size, F));
    expect(plaintextSize(sealed.length, F)).toBe(size);
    for (const chunkSize of [1, 17, F + 16, 100_000]) {
      expect(sameBytes(await collect(decryptBlob(key, ctx, generate(chunks(sealed, chunkSize)))), data)).toBe(true);
    }
  });

  it.each(SIZES)('round-trips %i bytes through sync iterables and web ReadableStreams', async (size) => {
    const data = random(size);
    const sealed = await collect(encryptBlob(key, ctx, webStream(chunks(data, 333)), { frameSize: F }));
    expect(sameBytes(await collect(decryptBlob(key, ctx, chunks(sealed, 999))), data)).toBe(true);
    expect(sameBytes(await collect(decryptBlob(key, ctx, webStream(chunks(sealed, 5000)))), data)).toBe(true);
  });

  it.each(SIZES)('round-trips %i bytes through web TransformStreams', async (size) => {
    const data = random(size);
    const sealedStream = webStream(chunks(data, 700)).pipeThrough(createEncryptTransform(key, ctx, { frameSize: F }));
    const sealed = await collect(sealedStream);
    expect(sealed.length).toBe(ciphertextSize(size, F));
    const opened = await collect(webStream(chunks(sealed, 3001)).pipeThrough(createDecryptTransform(key, ctx)));
    expect(sameBytes(opened, data)).toBe(true);
  });

  it.each(SIZES)('round-trips %i bytes through Node Transform streams (and across adapters)', async (size) => {
    const data = random(size);
    const parts: Buffer[] = [];
    await pipeline(Readable.from(chunks(data, 1234)), createEncryptStream(key, ctx, { frameSize: F }), new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        cb();
      },
    }));
    const sealed = concat(parts);
    expect(sealed.length).toBe(ciphertextSize(size, F));
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks(sealed, 4111)), createDecryptStream(key, ctx), new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }));
    expect(sameBytes(concat(out), data)).toBe(true);
    // Written by the Node stream, read by the generator, and back.
    expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed])), data)).toBe(true);
    expect(sameBytes(await collect(Readable.from([await encrypt(data)]).pipe(createDecryptStream(key, ctx))), data)).toBe(true);
  });

  it('reads what every AEAD backend writes', async () => {
    const data = random(2 * F + 100);
    for (const writer of BACKENDS) {
      const sealed = await encrypt(data, { frameSize: F, backend: writer });
      for (const reader of BACKENDS) {
        expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed], { backend: reader })), data)).toBe(true);
      }
    }
  });

  it('uses 64 KiB frames by default and accepts a source of one large chunk', async () => {
    const data = random(3 * DEFAULT_BLOB_FRAME_SIZE + 3);
    const sealed = await collect(encryptBlob(key, ctx, [data]));
    expect(parseBlobHeader(sealed).frameSize).toBe(DEFAULT_BLOB_FRAME_SIZE);
    expect(sealed.length).toBe(ciphertextSize(data.length));
    expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed])), data)).toBe(true);
  });

  it('binds equivalent spellings of a base64 thread id to the same thread', async () => {
    const data = random(100);
    const sealed = await encrypt(data);
    const urlSafe = { ...ctx, threadId: 'q2Wc-Mx_1tL0fpCkbG0b6n___zY1aBc' };
    expect(sameBytes(await collect(decryptBlob(key, urlSafe, [sealed])), data)).toBe(true);
    // A non-base64 thread id is bound as text.
    const text = { ...ctx, threadId: 'not base64!' };
    expect(sameBytes(await collect(decryptBlob(key, text, [await encrypt(data, { frameSize: F }, text)])), data)).toBe(true);
  });
});

describe('blob v1 header', () => {
  it('writes magic, version, frame size, a fresh salt and a commitment; stores no context', async () => {
    const a = await encrypt(new Uint8Array(10));
    const b = await encrypt(new Uint8Array(10));
    expect(Buffer.from(a.subarray(0, 4)).toString('latin1')).toBe('ATB1');
    expect(a[4]).toBe(1);
    expect(Buffer.from(a.subarray(5, 9)).readUInt32BE(0)).toBe(F);
    const header = parseBlobHeader(a);
    expect(header).toMatchObject({ version: 1, frameSize: F });
    expect(header.salt).toHaveLength(32);
    expect(header.commitment).toHaveLength(32);
    expect(sameBytes(header.salt, parseBlobHeader(b).salt)).toBe(false);
    expect(Buffer.from(a).includes(Buffer.from(ctx.blobId))).toBe(false);
    expect(a.length).toBe(BLOB_HEADER_LENGTH + 10 + 16);
  });

  it('rejects bad magic and frame sizes as MALFORMED_CIPHERTEXT and another version as UNSUPPORTED_VERSION', async () => {
    const sealed = await encrypt(random(50));
    const altered = (offset: number, value: number) => {
      const copy = sealed.slice();
      copy[offset] = value;
      return copy;
    };
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(0, 0x42)])))).toBe('MALFORMED_CIPHERTEXT');
    await expect(collect(decryptBlob(key, ctx, [altered(4, 2)]))).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION', version: 2 });
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(5, 0xff)])))).toBe('MALFORMED_CIPHERTEXT'); // > 4 MiB
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(7, 0)])))).toBe('MALFORMED_CIPHERTEXT'); // 4096 → 0
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(10, sealed[10]! ^ 1)])))).toBe('DECRYPTION_FAILED'); // salt
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(50, sealed[50]! ^ 1)])))).toBe('DECRYPTION_FAILED'); // commitment
    expect(await outcome(() => collect(decryptBlob(key, ctx, [altered(8, 1)])))).toBe('DECRYPTION_FAILED'); // other valid frame size
  });

  it('rejects an input that ends inside the header as MALFORMED_CIPHERTEXT', async () => {
    const sealed = await encrypt(random(50));
    for (const length of [0, 1, 4, 72]) {
      expect(await outcome(() => collect(decryptBlob(key, ctx, [sealed.subarray(0, length)])))).toBe('MALFORMED_CIPHERTEXT');
    }
    expect(await outcome(() => collect(decryptBlob(key, ctx, [])))).toBe('MALFORMED_CIPHERTEXT');
    expect(() => parseBlobHeader(sealed.subarray(0, 72))).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
  });
});

describe('blob v1 authentication', () => {
  it('fails a wrong key with DECRYPTION_FAILED after reading only the header', async () => {
    const sealed = await encrypt(random(5 * F));
    let pulls = 0;
    async function* counted() {
      yield sealed.subarray(0, BLOB_HEADER_LENGTH);
      pulls++;
      yield sealed.subarray(BLOB_HEADER_LENGTH);
      pulls++;
    }
    const yielded: Uint8Array[] = [];
    await expect((async () => {
      for await (const p of decryptBlob(otherKey, ctx, counted())) yielded.push(p);
    })()).rejects.toMatchObject({ code: 'DECRYPTION_FAILED', message: 'Decryption failed.' });
    expect(pulls).toBe(0);
    expect(yielded).toHaveLength(0);
    await expect(decryptRange(otherKey, ctx, async (o, l) => sealed.slice(o, o + l), sealed.length, 0, 10)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it.each([
    ['threadId', { threadId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    ['rotationId', { rotationId: 43n }],
    ['blobId', { blobId: 'report.pdf ' }],
    ['podId', { podId: 131 }],
  ])('fails a wrong context (%s) with DECRYPTION_FAILED', async (_name, change) => {
    const sealed = await encrypt(random(2 * F));
    const wrong = { ...ctx, ...change };
    expect(await outcome(() => collect(decryptBlob(key, wrong, [sealed])))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => decryptRange(key, wrong, async (o, l) => sealed.slice(o, o + l), sealed.length, 0, 1))).toBe('DECRYPTION_FAILED');
  });

  it('detects a missing final frame, bytes after it, and a swapped frame', async () => {
    const data = random(3 * F);
    const sealed = await encrypt(data);
    const record = F + 16;
    const withoutFinal = sealed.subarray(0, BLOB_HEADER_LENGTH + 3 * record);
    expect(await outcome(() => collect(decryptBlob(key, ctx, [withoutFinal])))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => collect(decryptBlob(key, ctx, [sealed, new Uint8Array(1)])))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => collect(decryptBlob(key, ctx, [sealed, sealed.subarray(BLOB_HEADER_LENGTH)])))).toBe('DECRYPTION_FAILED');
    const swapped = concat([sealed.subarray(0, BLOB_HEADER_LENGTH), sealed.subarray(BLOB_HEADER_LENGTH + record, BLOB_HEADER_LENGTH + 2 * record),
      sealed.subarray(BLOB_HEADER_LENGTH, BLOB_HEADER_LENGTH + record), sealed.subarray(BLOB_HEADER_LENGTH + 2 * record)]);
    expect(await outcome(() => collect(decryptBlob(key, ctx, [swapped])))).toBe('DECRYPTION_FAILED');
  });

  it('errors the web and Node streams on tampering', async () => {
    const sealed = await encrypt(random(2 * F));
    sealed[sealed.length - 1]! ^= 1;
    expect(await outcome(() => collect(webStream([sealed]).pipeThrough(createDecryptTransform(key, ctx))))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => collect(Readable.from([sealed]).pipe(createDecryptStream(key, ctx))))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => pipeline(Readable.from([sealed.subarray(0, 10)]), createDecryptStream(key, ctx), new Writable({ write: (_c, _e, cb) => cb() }))))
      .toBe('MALFORMED_CIPHERTEXT');
  });

  it('cancels a ReadableStream source when the consumer stops early', async () => {
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(F)),
      cancel: () => {
        cancelled = true;
      },
    });
    for await (const _ of encryptBlob(key, ctx, source, { frameSize: F })) break;
    expect(cancelled).toBe(true);
    expect(source.locked).toBe(false);
    cancelled = false;
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(F + 1)), cancel: () => void (cancelled = true) });
    let n = 0;
    for await (const _ of encryptBlob(key, ctx, endless, { frameSize: F })) if (++n === 10) break;
    expect(cancelled).toBe(true);
  });
});

describe('blob v1 sizes', () => {
  it('computes ciphertext and plaintext sizes', () => {
    expect(ciphertextSize(0, F)).toBe(73 + 16);
    expect(ciphertextSize(F, F)).toBe(73 + F + 32);
    expect(ciphertextSize(F - 1, F)).toBe(73 + F - 1 + 16);
    expect(ciphertextSize(256 * 1024 * 1024)).toBe(73 + 256 * 1024 * 1024 + 4097 * 16);
    for (const n of [0, 1, F - 1, F, F + 1, 10 * F + 9]) expect(plaintextSize(ciphertextSize(n, F), F)).toBe(n);
  });

  it('rejects impossible ciphertext sizes as MALFORMED_CIPHERTEXT and bad arguments as INVALID_ARGUMENT', () => {
    for (const size of [0, 72, 73, 88, 73 + F + 16, 73 + F + 16 + 15, 73 + 2 * (F + 16)]) {
      expect(() => plaintextSize(size, F)).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
    }
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => ciphertextSize(bad, F)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    for (const bad of [4095, 4 * 1024 * 1024 + 1, 5000.5]) {
      expect(() => ciphertextSize(10, bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'frameSize' }));
      expect(() => plaintextSize(1000, bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'frameSize' }));
    }
  });
});

describe('blob v1 random access', () => {
  it('decrypts ranges reading only the header and the covering frames', async () => {
    const data = random(5 * F + 123);
    const sealed = await encrypt(data);
    const reads: Array<[number, number]> = [];
    const read = async (offset: number, length: number) => {
      reads.push([offset, length]);
      return sealed.slice(offset, offset + length);
    };
    for (const [start, end] of [[0, 0], [0, 1], [F - 1, F + 1], [2 * F, 3 * F], [5 * F, 5 * F + 123], [0, data.length], [5 * F + 122, 5 * F + 123]] as const) {
      reads.length = 0;
      const out = await decryptRange(key, ctx, read, sealed.length, start, end);
      expect(sameBytes(out, data.subarray(start, end))).toBe(true);
      const frames = start === end ? 0 : Math.floor((end - 1) / F) - Math.floor(start / F) + 1;
      expect(reads).toHaveLength(frames === 0 ? 1 : 2);
      expect(reads[0]).toEqual([0, BLOB_HEADER_LENGTH]);
    }
  });

  it('authenticates the final frame as final and rejects bad sizes, ranges and reads', async () => {
    const data = random(2 * F + 10);
    const sealed = await encrypt(data);
    const read = async (offset: number, length: number) => sealed.slice(offset, offset + length);
    // Claiming the blob is one full frame longer makes the real final frame non-final: its tag fails.
    const longer = concat([sealed, new Uint8Array(F + 16)]);
    expect(await outcome(() => decryptRange(key, ctx, async (o, l) => longer.slice(o, o + l), longer.length, 2 * F, 2 * F + 10))).toBe('DECRYPTION_FAILED');
    // A size 5 bytes short is possible (a final frame of 5 bytes): frames before it still read, the final fails.
    const short = sealed.subarray(0, sealed.length - 5);
    const readShort = async (offset: number, length: number) => short.slice(offset, offset + length);
    expect(sameBytes(await decryptRange(key, ctx, readShort, short.length, 0, 2 * F), data.subarray(0, 2 * F))).toBe(true);
    expect(await outcome(() => decryptRange(key, ctx, readShort, short.length, 2 * F, 2 * F + 5))).toBe('DECRYPTION_FAILED');
    expect(await outcome(() => decryptRange(key, ctx, read, sealed.length - 11, 0, 1))).toBe('MALFORMED_CIPHERTEXT');
    expect(await outcome(() => decryptRange(key, ctx, read, 20, 0, 1))).toBe('MALFORMED_CIPHERTEXT');
    expect(await outcome(() => decryptRange(key, ctx, async () => new Uint8Array(3), sealed.length, 0, 1))).toBe('MALFORMED_CIPHERTEXT');
    expect(await outcome(() => decryptRange(key, ctx, read, sealed.length, 5, 4))).toBe('INVALID_ARGUMENT');
    expect(await outcome(() => decryptRange(key, ctx, read, sealed.length, 0, data.length + 1))).toBe('INVALID_ARGUMENT');
    expect(await outcome(() => decryptRange(key, ctx, read, sealed.length, -1, 1))).toBe('INVALID_ARGUMENT');
  });
});

describe('blob v1 arguments', () => {
  const source = [new Uint8Array(1)];
  it('checks key, context, options and chunks', async () => {
    const wiped = new AesKey(new Uint8Array(32));
    wiped.wipe();
    const cases: Array<[() => unknown, string]> = [
      [() => encryptBlob(new Uint8Array(32) as never, ctx, source), 'key'],
      [() => encryptBlob(wiped, ctx, source), 'key'],
      [() => encryptBlob(key, null as never, source), 'ctx'],
      [() => encryptBlob(key, { ...ctx, podId: 2 ** 31 }, source), 'ctx.podId'],
      [() => encryptBlob(key, { ...ctx, rotationId: 1 as never }, source), 'ctx.rotationId'],
      [() => encryptBlob(key, { ...ctx, rotationId: 2n ** 63n }, source), 'ctx.rotationId'],
      [() => encryptBlob(key, { ...ctx, threadId: '' }, source), 'ctx.threadId'],
      [() => encryptBlob(key, { ...ctx, blobId: 'x'.repeat(1025) }, source), 'ctx.blobId'],
      [() => encryptBlob(key, { ...ctx, blobId: '\uD800' }, source), 'ctx.blobId'],
      [() => encryptBlob(key, ctx, source, { frameSize: 1024 }), 'options.frameSize'],
      [() => encryptBlob(key, ctx, source, { backend: 'forge' as never }), 'backend'],
      [() => encryptBlob(key, ctx, source, { parallel: 'yes' as never }), 'options.parallel'],
      [() => decryptBlob(key, ctx, source, { parallel: 1 as never }), 'options.parallel'],
      [() => createDecryptTransform(key, ctx, { parallel: null as never }), 'options.parallel'],
      [() => encryptBlob(key, ctx, new Uint8Array(3) as never), 'source'],
      [() => decryptBlob(key, ctx, 42 as never), 'source'],
      [() => createEncryptTransform(key, { ...ctx, blobId: '' }), 'ctx.blobId'],
      [() => createDecryptStream(otherKey, { ...ctx, podId: 1.5 }), 'ctx.podId'],
    ];
    for (const [action, parameter] of cases) expect(action, parameter).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter }));
    await expect(collect(encryptBlob(key, ctx, ['text' as never]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'source' });
  });
});

describe('blob v1 on worker threads (options.parallel)', () => {
  it(`${platform.name === 'node' ? 'round-trips on worker threads' : 'refuses `parallel: true` with UNSUPPORTED_OPERATION'} on the ${platform.name} platform`, async () => {
    const data = random(3 * F + 1);
    if (platform.name === 'node') {
      const sealed = await encrypt(data, { frameSize: F, parallel: true });
      expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed], { parallel: true })), data)).toBe(true);
      expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed], { parallel: false })), data)).toBe(true);
    } else {
      expect(platform.frameWorkers).toBeUndefined();
      for (const action of [() => encryptBlob(key, ctx, [data], { parallel: true }), () => createDecryptTransform(key, ctx, { parallel: true })]) {
        expect(action).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OPERATION', platform: 'portable' }));
      }
      // 'auto' and false work everywhere.
      const sealed = await encrypt(data, { frameSize: F, parallel: 'auto' });
      expect(sameBytes(await collect(decryptBlob(key, ctx, [sealed], { parallel: false })), data)).toBe(true);
    }
  });
});

describe('blob v1 memory', () => {
  // Peak *live* memory: collect garbage before each sample, so the figure is what the code retains (buffers it
  // holds), not how late V8 happens to collect the 64 KiB frames already handed over.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  async function peakGrowth(run: (sample: () => void) => Promise<void>): Promise<{ liveMiB: number; heapUsedMiB: number }> {
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    gc();
    const baseline = used();
    const baseHeap = process.memoryUsage().heapUsed;
    let peak = baseline;
    let peakHeap = baseHeap;
    await run(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      gc();
      peak = Math.max(peak, used());
    });
    return { liveMiB: (peak - baseline) / (1024 * 1024), heapUsedMiB: (peakHeap - baseHeap) / (1024 * 1024) };
  }

  it('encrypts 256 MiB from a generator with under 32 MiB of heap growth', async () => {
    const frame = random(DEFAULT_BLOB_FRAME_SIZE);
    async function* source() {
      for (let i = 0; i < 4096; i++) yield frame;
    }
    let bytes = 0;
    const started = performance.now();
    const growth = await peakGrowth(async (sample) => {
      let n = 0;
      for await (const c of encryptBlob(key, ctx, source())) {
        bytes += c.length;
        if ((++n & 255) === 0) sample();
      }
    });
    expect(bytes).toBe(ciphertextSize(256 * 1024 * 1024));
    expect(growth.liveMiB).toBeLessThan(32);
    expect(growth.heapUsedMiB).toBeLessThan(32);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('decrypts a 64 MiB blob piped from the encryptor, in odd-sized chunks, with under 32 MiB of heap growth', async () => {
    const frame = random(10_000);
    const hashIn = createHash('sha256');
    async function* source() {
      for (let i = 0; i < 6711; i++) {
        hashIn.update(frame);
        yield frame;
      }
    }
    async function* rechunk(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const c of input) yield* chunks(c, 7777);
    }
    const hashOut = createHash('sha256');
    const growth = await peakGrowth(async (sample) => {
      let n = 0;
      for await (const c of decryptBlob(key, ctx, rechunk(encryptBlob(key, ctx, source())))) {
        hashOut.update(c);
        if ((++n & 255) === 0) sample();
      }
    });
    expect(hashOut.digest('hex')).toBe(hashIn.digest('hex'));
    expect(growth.liveMiB).toBeLessThan(32);
    expect(growth.heapUsedMiB).toBeLessThan(32);
  });

  it.skipIf(process.env.ALLEGRO_SLOW !== '1')('round-trips 1 GiB (ALLEGRO_SLOW=1)', async () => {
    const frame = random(DEFAULT_BLOB_FRAME_SIZE);
    const hashIn = createHash('sha256');
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 16_384; i++) {
        frame[0] = i & 0xff;
        frame[1] = i >> 8;
        hashIn.update(frame);
        yield frame;
      }
    }
    const hashOut = createHash('sha256');
    let bytes = 0;
    for await (const c of decryptBlob(key, ctx, encryptBlob(key, ctx, source()) as ByteSource)) {
      hashOut.update(c);
      bytes += c.length;
    }
    expect(bytes).toBe(1024 * 1024 * 1024);
    expect(hashOut.digest('hex')).toBe(hashIn.digest('hex'));
  }, 120_000);
});
