// Properties of encrypted record v1: round trip through JSON text for random headers, payloads, types and associated
// data; any other header, thread, rotation, type or associated data fails with DECRYPTION_FAILED; a bit flipped
// anywhere in the ciphertext fails with DECRYPTION_FAILED; arbitrary JSON fed to the reader only ever gives typed errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { AllegroError } from '../../src/errors.js';
import { openRecord, readRecord, sealRecord, type EncryptedRecord, type RecordHeader } from '../../src/store/record.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { toBase64Url } from '../../src/util/bytes.js';
import { BACKENDS } from '../helpers/vectors.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const key = new AesKey(new Uint8Array(32).fill(11));
const podId = 196;

const headers: fc.Arbitrary<RecordHeader> = fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), { maxKeys: 6 }) as fc.Arbitrary<RecordHeader>;
const inputs = fc.record({
  threadId: fc.uint8Array({ minLength: 1, maxLength: 40 }).map(toBase64Url),
  rotationId: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  header: headers,
  recordType: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
  associatedData: fc.string({ unit: 'binary', maxLength: 30 }),
  plaintext: fc.uint8Array({ maxLength: 512 }),
});

const canonical = (value: unknown) => canonicalJson(value, (path, problem) => new Error(`${path}: ${problem}`));

/** The plaintext `record` opens to, or the code of the AllegroError; anything else is rethrown. */
async function outcome(record: unknown, associatedData: string): Promise<Uint8Array | string> {
  try {
    return (await openRecord(key, podId, readRecord(record), associatedData)).payload;
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
}

type Input = typeof inputs extends fc.Arbitrary<infer T> ? T : never;

async function seal(i: Input): Promise<EncryptedRecord> {
  return sealRecord(key, { podId, threadId: i.threadId, rotationId: i.rotationId }, i);
}

describe('encrypted record properties', () => {
  for (const backend of BACKENDS) {
    it(`round-trips through its JSON text on the ${backend} backend, header canonical and equal`, async () => {
      await fc.assert(
        fc.asyncProperty(inputs, async (i) => {
          const record = await sealRecord(key, { podId, threadId: i.threadId, rotationId: i.rotationId }, i, { backend });
          const opened = await openRecord(key, podId, readRecord(JSON.stringify(record)), i.associatedData, { backend });
          expect(opened.payload).toEqual(i.plaintext);
          expect(opened.rotationId).toBe(i.rotationId);
          expect(canonical(opened.header)).toBe(canonical(i.header));
        }),
        { numRuns: backend === 'node' ? 150 : 40 },
      );
    });
  }

  it('fails with DECRYPTION_FAILED for any other header, thread, rotation, record type or associated data', async () => {
    const field = fc.constantFrom('header', 'threadId', 'rotationId', 'recordType', 'associatedData');
    await fc.assert(
      fc.asyncProperty(inputs, inputs, field, async (i, j, which) => {
        const record = await seal(i);
        const replaced = which === 'header' ? { ...record, header: j.header } :
          which === 'threadId' ? { ...record, threadId: j.threadId } :
          which === 'rotationId' ? { ...record, rotationId: j.rotationId.toString() } :
          which === 'recordType' ? { ...record, recordType: j.recordType } : record;
        const associatedData = which === 'associatedData' ? j.associatedData : i.associatedData;
        const same = which === 'header' ? canonical(i.header) === canonical(j.header) : which === 'associatedData' ? i.associatedData === j.associatedData : String(i[which]) === String(j[which]);
        fc.pre(!same);
        expect(await outcome(replaced, associatedData)).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 200 },
    );
  });

  it('fails with DECRYPTION_FAILED for a bit flipped anywhere in the ciphertext', async () => {
    await fc.assert(
      fc.asyncProperty(inputs, fc.nat(), fc.integer({ min: 0, max: 7 }), async (i, at, bit) => {
        const record = await seal(i);
        const bytes = Buffer.from(record.encryptedPayload, 'base64');
        bytes[at % bytes.length]! ^= 1 << bit;
        expect(await outcome({ ...record, encryptedPayload: bytes.toString('base64') }, i.associatedData)).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 200 },
    );
  });

  it('gives only typed errors for arbitrary JSON, and for records with a field replaced by arbitrary JSON', async () => {
    const fieldNames = fc.constantFrom('format', 'version', 'threadId', 'rotationId', 'recordType', 'header', 'encryptedPayload', 'extra');
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), inputs, fieldNames, async (junk, i, name) => {
        const codes = ['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION', 'DECRYPTION_FAILED'];
        expect(codes).toContain(await outcome(junk, ''));
        expect(codes).toContain(await outcome(JSON.stringify(junk), ''));
        const record = await seal(i);
        const result = await outcome({ ...record, [name]: junk }, i.associatedData);
        if (typeof result === 'string') expect(codes).toContain(result);
        else expect(result).toEqual(i.plaintext);
      }),
      { numRuns: 200 },
    );
  });
});
