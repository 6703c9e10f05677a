// Properties of object envelope v1: round trip for random contexts and payloads, single bit flips, arbitrary and
// mutated bytes fed to the parser, and exact rotation ids across the whole int64 range.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { AllegroError } from '../../src/errors.js';
import { openObject, readObjectHeader, sealObject, type ObjectContext } from '../../src/store/envelope.js';
import { toBase64Url } from '../../src/util/bytes.js';
import { BACKENDS } from '../helpers/vectors.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const keyBytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
const rotationIds = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.constantFrom(INT64_MIN, INT64_MIN + 1n, -1n, 0n, 1n, INT64_MAX - 1n, INT64_MAX),
);
const text = fc.string({ unit: 'binary', maxLength: 40 });
const contexts: fc.Arbitrary<ObjectContext> = fc.record({
  podId: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  threadId: fc.uint8Array({ minLength: 1, maxLength: 40 }).map(toBase64Url),
  rotationId: rotationIds,
  partition: text,
  sortKey: text,
  objectType: text,
});
const payloads = fc.uint8Array({ maxLength: 1024 });

/** The error code `action` throws, 'plaintext' if it returned, or rethrow anything that is not an AllegroError. */
async function outcome(action: () => unknown): Promise<string> {
  try {
    await action();
    return 'plaintext';
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
}

const PARSE_ERRORS = ['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION'];
const OPEN_ERRORS = [...PARSE_ERRORS, 'DECRYPTION_FAILED'];

describe('object envelope properties', () => {
  for (const backend of BACKENDS) {
    it(`round-trips random contexts and payloads on the ${backend} backend`, async () => {
      await fc.assert(
        fc.asyncProperty(keyBytes, contexts, payloads, async (k, ctx, plaintext) => {
          const key = new AesKey(k);
          const sealed = await sealObject(key, ctx, plaintext, { backend });
          expect(readObjectHeader(sealed)).toEqual({ version: 1, ...ctx });
          expect(await openObject(key, ctx, sealed, { backend })).toEqual(plaintext);
        }),
        { numRuns: backend === 'node' ? 200 : 60 },
      );
    });
  }

  it('preserves every rotation id in [-2^63, 2^63) exactly and refuses ±2^63 beyond it', async () => {
    const key = new AesKey(new Uint8Array(32).fill(1));
    const base: ObjectContext = { podId: 1, threadId: 'AAEC', rotationId: 0n, partition: 'p', sortKey: 's', objectType: 't' };
    await fc.assert(
      fc.asyncProperty(rotationIds, async (rotationId) => {
        const sealed = await sealObject(key, { ...base, rotationId }, new Uint8Array(1));
        expect(readObjectHeader(sealed).rotationId).toBe(rotationId);
        expect(await outcome(() => openObject(key, { ...base, rotationId: rotationId === INT64_MAX ? INT64_MIN : rotationId + 1n }, sealed))).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 300 },
    );
    expect(await outcome(() => sealObject(key, { ...base, rotationId: 2n ** 63n }, new Uint8Array(1)))).toBe('INVALID_ARGUMENT');
    expect(await outcome(() => sealObject(key, { ...base, rotationId: -(2n ** 63n) - 1n }, new Uint8Array(1)))).toBe('INVALID_ARGUMENT');
  });

  it('refuses every single flipped bit with a typed error and never yields plaintext', async () => {
    await fc.assert(
      fc.asyncProperty(keyBytes, contexts, fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 7 }), async (k, ctx, plaintext, position, bit) => {
        const key = new AesKey(k);
        const sealed = await sealObject(key, ctx, plaintext);
        const index = position % sealed.length;
        sealed[index]! ^= 1 << bit;
        const read = await outcome(() => readObjectHeader(sealed));
        expect([...PARSE_ERRORS, 'plaintext']).toContain(read);
        expect(OPEN_ERRORS).toContain(await outcome(() => openObject(key, ctx, sealed)));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives arbitrary bytes to readObjectHeader and openObject only AllegroErrors', async () => {
    const key = new AesKey(new Uint8Array(32).fill(2));
    const ctx: ObjectContext = { podId: 0, threadId: 'AA', rotationId: 0n, partition: '', sortKey: '', objectType: '' };
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        expect([...PARSE_ERRORS, 'plaintext']).toContain(await outcome(() => readObjectHeader(bytes)));
        expect(OPEN_ERRORS).toContain(await outcome(() => openObject(key, ctx, bytes)));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives spliced and truncated envelopes only AllegroErrors', async () => {
    const key = new AesKey(new Uint8Array(32).fill(3));
    const ctx: ObjectContext = { podId: 7, threadId: 'AAECAwQF', rotationId: 9n, partition: 'part', sortKey: 'sort', objectType: 'type' };
    const sealed = await sealObject(key, ctx, new Uint8Array(40).fill(5));
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 16 }), async (a, b, insert) => {
        const start = a % (sealed.length + 1);
        const end = start + (b % (sealed.length - start + 1));
        const mutated = new Uint8Array([...sealed.subarray(0, start), ...insert, ...sealed.subarray(end)]);
        const result = await outcome(() => openObject(key, ctx, mutated));
        if (result === 'plaintext') expect(mutated).toEqual(sealed);
        else expect(OPEN_ERRORS).toContain(result);
      }),
      { numRuns: 2000 },
    );
  });
});
