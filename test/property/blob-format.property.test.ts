// Properties of allegro-ts blob v1: round trip under any chunking, rejection of every truncation, reordering,
// duplication and bit flip without releasing the altered frame, random-access reads, and parser fuzzing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { AllegroError } from '../../src/errors.js';
import { BLOB_HEADER_LENGTH, ciphertextSize, decryptBlob, decryptRange, encryptBlob, parseBlobHeader, plaintextSize, type BlobContext } from '../../src/store/blob-format.js';
import { bytesFrom, cut } from '../helpers/bytes.js';
import { sameBytes } from '../helpers/vectors.js';

const key = new AesKey(new Uint8Array(32).fill(3));
const ctx: BlobContext = { podId: 7, threadId: 'dGhyZWFkLTE', rotationId: -5n, blobId: 'blob' };
const TAG = 16;

const frameSizes = fc.integer({ min: 4096, max: 5000 });

async function seal(data: Uint8Array, frameSize: number, chunk = 1500): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of encryptBlob(key, ctx, cut(data, chunk), { frameSize })) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

/** Decrypt, returning what was released before the outcome (an error code, or 'ok'). */
async function attempt(blob: Uint8Array | Uint8Array[], chunk = 777): Promise<{ code: string; released: Uint8Array }> {
  const parts: Uint8Array[] = [];
  let code = 'ok';
  try {
    for await (const p of decryptBlob(key, ctx, Array.isArray(blob) ? blob : cut(blob, chunk))) parts.push(p);
  } catch (err) {
    if (!(err instanceof AllegroError)) throw err;
    code = err.code;
  }
  return { code, released: new Uint8Array(Buffer.concat(parts)) };
}

/** The released bytes are authentic plaintext (a prefix of `data`) and stop before frame `frame`. */
function releasedOnlyBefore(released: Uint8Array, data: Uint8Array, frameSize: number, frame: number): void {
  expect(released.length).toBeLessThanOrEqual(frame * frameSize);
  expect(sameBytes(released, data.subarray(0, released.length))).toBe(true);
}

const blobs = fc.record({ frameSize: frameSizes, seed: fc.integer(), size: fc.integer({ min: 0, max: 4 * 5000 + 100 }) });

describe('blob v1 properties', () => {
  it('round-trips random data, frame sizes and chunkings', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.integer({ min: 1, max: 12_000 }), fc.integer({ min: 1, max: 12_000 }), async ({ frameSize, seed, size }, inChunk, outChunk) => {
        const data = bytesFrom(seed, size);
        const sealed = await seal(data, frameSize, inChunk);
        expect(sealed.length).toBe(ciphertextSize(size, frameSize));
        expect(plaintextSize(sealed.length, frameSize)).toBe(size);
        const { code, released } = await attempt(sealed, outChunk);
        expect(code).toBe('ok');
        expect(sameBytes(released, data)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('rejects every truncation, inside the header, a frame or at a frame boundary', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.boolean(), async ({ frameSize, seed, size }, where, atBoundary) => {
        const data = bytesFrom(seed, size);
        const sealed = await seal(data, frameSize);
        const record = frameSize + TAG;
        const frames = Math.floor(size / frameSize) + 1;
        const length = atBoundary
          ? BLOB_HEADER_LENGTH + Math.floor(where * frames) * record
          : Math.floor(where * sealed.length);
        const { code, released } = await attempt(sealed.subarray(0, length));
        expect(code).toBe(length < BLOB_HEADER_LENGTH ? 'MALFORMED_CIPHERTEXT' : 'DECRYPTION_FAILED');
        releasedOnlyBefore(released, data, frameSize, Math.max(0, Math.floor((length - BLOB_HEADER_LENGTH) / record)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects two frames swapped and a frame duplicated, releasing nothing from the first altered position', async () => {
    await fc.assert(
      fc.asyncProperty(frameSizes, fc.integer(), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5000 }), fc.nat(), fc.nat(), fc.boolean(),
        async (frameSize, seed, fullFrames, tail, a, b, duplicate) => {
          const data = bytesFrom(seed, fullFrames * frameSize + (tail % frameSize));
          const sealed = await seal(data, frameSize);
          const record = frameSize + TAG;
          const records: Uint8Array[] = [];
          for (let at = BLOB_HEADER_LENGTH; at < sealed.length; at += record) records.push(sealed.subarray(at, at + record));
          const header = sealed.subarray(0, BLOB_HEADER_LENGTH);
          let altered: Uint8Array[];
          let firstAltered: number;
          if (duplicate) {
            const i = a % records.length;
            altered = [header, ...records.slice(0, i + 1), records[i]!, ...records.slice(i + 1)];
            firstAltered = i + 1;
          } else {
            const i = a % records.length;
            let j = b % records.length;
            if (j === i) j = (i + 1) % records.length;
            const swapped = [...records];
            [swapped[i], swapped[j]] = [swapped[j]!, swapped[i]!];
            altered = [header, ...swapped];
            firstAltered = Math.min(i, j);
          }
          const { code, released } = await attempt(altered);
          expect(code).toBe('DECRYPTION_FAILED');
          releasedOnlyBefore(released, data, frameSize, firstAltered);
        }),
      { numRuns: 150 },
    );
  });

  it('rejects any flipped bit and never releases the flipped frame', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.nat(), fc.integer({ min: 0, max: 7 }), async ({ frameSize, seed, size }, position, bit) => {
        const data = bytesFrom(seed, size);
        const sealed = await seal(data, frameSize);
        const index = position % sealed.length;
        sealed[index]! ^= 1 << bit;
        const { code, released } = await attempt(sealed);
        expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION', 'DECRYPTION_FAILED']).toContain(code);
        if (index >= BLOB_HEADER_LENGTH) expect(code).toBe('DECRYPTION_FAILED');
        const frame = index < BLOB_HEADER_LENGTH ? 0 : Math.floor((index - BLOB_HEADER_LENGTH) / (frameSize + TAG));
        releasedOnlyBefore(released, data, frameSize, frame);
      }),
      { numRuns: 300 },
    );
  });

  it('reads any range equal to the slice of the plaintext, reading only the header and the covering frames', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.nat(), fc.nat(), async ({ frameSize, seed, size }, x, y) => {
        const data = bytesFrom(seed, size);
        const sealed = await seal(data, frameSize);
        const start = Math.min(x, y) % (size + 1);
        const end = start + (Math.max(x, y) % (size + 1 - start));
        const reads: Array<[number, number]> = [];
        const out = await decryptRange(key, ctx, async (offset, length) => {
          reads.push([offset, length]);
          return sealed.slice(offset, offset + length);
        }, sealed.length, start, end);
        expect(sameBytes(out, data.subarray(start, end))).toBe(true);
        const record = frameSize + TAG;
        expect(reads[0]).toEqual([0, BLOB_HEADER_LENGTH]);
        if (start === end) {
          expect(reads).toHaveLength(1);
        } else {
          const first = Math.floor(start / frameSize);
          const last = Math.floor((end - 1) / frameSize);
          const spanStart = BLOB_HEADER_LENGTH + first * record;
          expect(reads).toEqual([[0, BLOB_HEADER_LENGTH], [spanStart, Math.min(BLOB_HEADER_LENGTH + (last + 1) * record, sealed.length) - spanStart]]);
          expect(reads[1]![1]).toBeLessThanOrEqual((last - first + 1) * record);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fails a range read over a flipped frame and succeeds on ranges that avoid it', async () => {
    await fc.assert(
      fc.asyncProperty(blobs, fc.nat(), fc.nat(), fc.nat(), async ({ frameSize, seed, size }, position, x, y) => {
        const data = bytesFrom(seed, size);
        const sealed = await seal(data, frameSize);
        const record = frameSize + TAG;
        const index = BLOB_HEADER_LENGTH + (position % (sealed.length - BLOB_HEADER_LENGTH));
        sealed[index]! ^= 0x80;
        const flipped = Math.floor((index - BLOB_HEADER_LENGTH) / record);
        const start = Math.min(x, y) % (size + 1);
        const end = start + (Math.max(x, y) % (size + 1 - start));
        const touches = start < end && Math.floor(start / frameSize) <= flipped && flipped <= Math.floor((end - 1) / frameSize);
        let code = 'ok';
        try {
          const out = await decryptRange(key, ctx, async (o, l) => sealed.slice(o, o + l), sealed.length, start, end);
          expect(sameBytes(out, data.subarray(start, end))).toBe(true);
        } catch (err) {
          code = (err as AllegroError).code;
        }
        expect(code).toBe(touches ? 'DECRYPTION_FAILED' : 'ok');
      }),
      { numRuns: 200 },
    );
  });

  it('raises only typed errors for random input, with or without a valid-looking header prefix', async () => {
    const prefix = Uint8Array.of(0x41, 0x54, 0x42, 0x31, 1, 0, 0, 0x10, 0);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 12_000 }), fc.boolean(), fc.integer({ min: 1, max: 5000 }), async (bytes, withPrefix, chunk) => {
        const input = withPrefix ? new Uint8Array(Buffer.concat([prefix, bytes])) : bytes;
        const { code, released } = await attempt(input, chunk);
        expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION', 'DECRYPTION_FAILED']).toContain(code);
        expect(released).toHaveLength(0);
        try {
          const header = parseBlobHeader(input);
          expect(header.version).toBe(1);
        } catch (err) {
          expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION']).toContain((err as AllegroError).code);
        }
        let rangeCode = 'ok';
        try {
          await decryptRange(key, ctx, async (o, l) => input.slice(o, o + l), input.length, 0, 0);
        } catch (err) {
          rangeCode = (err as AllegroError).code;
        }
        expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION', 'DECRYPTION_FAILED']).toContain(rangeCode);
      }),
      { numRuns: 300 },
    );
  });

  it('maps every ciphertext size to a plaintext size or MALFORMED_CIPHERTEXT, consistently with ciphertextSize', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), frameSizes, (cipherSize, frameSize) => {
        try {
          const plain = plaintextSize(cipherSize, frameSize);
          expect(ciphertextSize(plain, frameSize)).toBe(cipherSize);
        } catch (err) {
          expect((err as AllegroError).code).toBe('MALFORMED_CIPHERTEXT');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
