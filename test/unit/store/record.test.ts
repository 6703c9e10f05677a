// Encrypted record v1: round trip, the documented layout rebuilt with node:crypto (binding digest, envelope
// context), header canonicalisation, tampering with every field, associated data, strict form checks, limits.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { readObjectHeader, sealObject } from '../../../src/store/envelope.js';
import {
  DEFAULT_RECORD_TYPE, openRecord, readRecord, RECORD_FORMAT, RECORD_PARTITION, RecordSizes, sealRecord, type EncryptedRecord, type RecordContext,
} from '../../../src/store/record.js';
import { fromUtf8, toBase64, toBase64Url, utf8 } from '../../../src/util/bytes.js';
import { codeOf, rejection } from '../../helpers/errors.js';
import { BACKENDS } from '../../helpers/vectors.js';

const key = new AesKey(new Uint8Array(32).fill(3));
const otherKey = new AesKey(new Uint8Array(32).fill(4));
const threadBytes = new Uint8Array([0xfb, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0]);
const ctx: RecordContext = { podId: 196, threadId: toBase64(threadBytes), rotationId: 7n };
const plaintext = utf8('{"notes":"VIP customer","limit":1200}');
const header = { customer: 42, tags: ['gold', 'é中😀'], nested: { b: 1, a: null } };

async function sealed(extra: { header?: EncryptedRecord['header']; recordType?: string; associatedData?: string } = {}): Promise<EncryptedRecord> {
  return sealRecord(key, ctx, { plaintext, header, recordType: 'order', ...extra });
}

/** What opening `record` (an object or its text) gives: the plaintext as text, or the error code. */
async function open(record: unknown, options: { key?: AesKey; podId?: number; associatedData?: string } = {}): Promise<string> {
  try {
    const r = await openRecord(options.key ?? key, options.podId ?? ctx.podId, readRecord(record), options.associatedData);
    return fromUtf8(r.payload);
  } catch (err) {
    return codeOf(Promise.reject(err));
  }
}

describe('sealRecord / openRecord', () => {
  for (const backend of BACKENDS) {
    it(`round-trips on the ${backend} backend`, async () => {
      const record = await sealRecord(key, ctx, { plaintext, header, recordType: 'order', associatedData: 'orders/17' }, { backend });
      const opened = await openRecord(key, ctx.podId, readRecord(record), 'orders/17', { backend });
      expect(opened.payload).toEqual(plaintext);
      expect(opened.json()).toEqual({ notes: 'VIP customer', limit: 1200 });
      expect(opened).toMatchObject({ threadId: toBase64Url(threadBytes), rotationId: 7n, recordType: 'order', header });
    });
  }

  it('writes exactly the documented fields: format, version, URL-safe thread, decimal rotation, type, header, base64 envelope', async () => {
    const record = await sealed();
    expect(Object.keys(record)).toEqual(['format', 'version', 'threadId', 'rotationId', 'recordType', 'header', 'encryptedPayload']);
    expect(record).toMatchObject({ format: RECORD_FORMAT, version: 1, threadId: toBase64Url(threadBytes), rotationId: '7', recordType: 'order', header });
    expect(record.encryptedPayload).toBe(toBase64(Buffer.from(record.encryptedPayload, 'base64')));
    // JSON-safe: the text form reads back the same.
    expect(await open(JSON.stringify(record))).toBe(fromUtf8(plaintext));
  });

  it('binds the envelope as docs/wire-formats.md says: partition label, record type, SHA-256 of the canonical header and associated data', async () => {
    const record = await sealed({ associatedData: 'orders/17' });
    const envelope = readObjectHeader(Buffer.from(record.encryptedPayload, 'base64'));
    const canonical = Buffer.from('{"customer":42,"nested":{"a":null,"b":1},"tags":["gold","é中😀"]}', 'utf8');
    const ad = Buffer.from('orders/17', 'utf8');
    const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
    const digest = createHash('sha256').update('allegro-ts record v1').update(u32(canonical.length)).update(canonical).update(u32(ad.length)).update(ad).digest();
    expect(envelope).toEqual({
      version: 1, podId: 196, threadId: toBase64Url(threadBytes), rotationId: 7n, partition: RECORD_PARTITION, sortKey: digest.toString('base64url'), objectType: 'order',
    });
    expect(RECORD_PARTITION).toBe('allegro-ts record v1');
  });

  it('defaults: an empty header and the record type "record"', async () => {
    const record = await sealRecord(key, ctx, { plaintext });
    expect(record.header).toEqual({});
    expect(record.recordType).toBe(DEFAULT_RECORD_TYPE);
    expect(await open(record)).toBe(fromUtf8(plaintext));
  });

  it('reads the header back whatever order its keys come in (databases reorder JSON objects)', async () => {
    const record = await sealed();
    const reordered = { ...record, header: { tags: ['gold', 'é中😀'], nested: { a: null, b: 1 }, customer: 42 } };
    expect(await open(reordered)).toBe(fromUtf8(plaintext));
    // The same number written differently by a database is the same JSON value.
    const rewritten = JSON.parse(JSON.stringify(record).replace('"customer":42', '"customer":42.0')) as EncryptedRecord;
    expect(await open(rewritten)).toBe(fromUtf8(plaintext));
  });

  it('keeps rotation ids across the whole int64 range exactly', async () => {
    for (const rotationId of [-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n]) {
      const record = await sealRecord(key, { ...ctx, rotationId }, { plaintext });
      expect(record.rotationId).toBe(rotationId.toString());
      expect((await openRecord(key, ctx.podId, readRecord(record))).rotationId).toBe(rotationId);
    }
  });
});

describe('tampering', () => {
  it('fails with DECRYPTION_FAILED, the one message, for a change to any field', async () => {
    const record = await sealed();
    const other = await sealRecord(key, ctx, { plaintext: utf8('another'), header: { ...header, customer: 43 }, recordType: 'order' });
    const otherThread = await sealRecord(key, { ...ctx, threadId: toBase64Url(new Uint8Array(16).fill(9)) }, { plaintext, header, recordType: 'order' });
    const changes: Array<[string, unknown]> = [
      ['header value', { ...record, header: { ...header, customer: 43 } }],
      ['header key added', { ...record, header: { ...header, admin: true } }],
      ['header key removed', { ...record, header: { customer: 42, tags: header.tags } }],
      ['nested header value', { ...record, header: { ...header, nested: { a: null, b: 2 } } }],
      ['thread', { ...record, threadId: otherThread.threadId }],
      ['rotation', { ...record, rotationId: '8' }],
      ['record type', { ...record, recordType: 'invoice' }],
      ['ciphertext of a record of the same thread, rotation and type with another header', { ...record, encryptedPayload: other.encryptedPayload }],
      ['ciphertext of another thread', { ...record, encryptedPayload: otherThread.encryptedPayload }],
    ];
    for (const [what, tampered] of changes) expect(await open(tampered), what).toBe('DECRYPTION_FAILED');
    const bytes = Buffer.from(record.encryptedPayload, 'base64');
    for (const at of [0, 1, 5, Math.floor(bytes.length / 2), bytes.length - 17, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at]! ^= 0x01;
      expect(await open({ ...record, encryptedPayload: flipped.toString('base64') }), `byte ${at}`).toBe('DECRYPTION_FAILED');
    }
    try {
      await openRecord(key, ctx.podId, readRecord({ ...record, header: { customer: 'SECRET-VALUE' } }));
    } catch (err) {
      expect((err as Error).message).toBe('Decryption failed.');
    }
  });

  it('tells records apart only by what binds them: identical clear fields and associated data make two records interchangeable', async () => {
    const first = await sealed({ associatedData: 'orders/17' });
    const second = await sealRecord(key, ctx, { plaintext: utf8('second'), header, recordType: 'order', associatedData: 'orders/18' });
    // A row's associated data (its key) keeps another row's ciphertext out…
    expect(await open({ ...first, encryptedPayload: second.encryptedPayload }, { associatedData: 'orders/17' })).toBe('DECRYPTION_FAILED');
    // …which is why it exists: without it, equal clear fields are all a record is bound to.
    const a = await sealed();
    const b = await sealRecord(key, ctx, { plaintext: utf8('b'), header, recordType: 'order' });
    expect(await open({ ...a, encryptedPayload: b.encryptedPayload })).toBe('b');
  });

  it('fails for another key, pod or associated data', async () => {
    const record = await sealed({ associatedData: 'orders/17' });
    expect(await open(record, { associatedData: 'orders/17' })).toBe(fromUtf8(plaintext));
    expect(await open(record, { associatedData: 'orders/18' })).toBe('DECRYPTION_FAILED');
    expect(await open(record)).toBe('DECRYPTION_FAILED');
    expect(await open(record, { associatedData: 'orders/17', key: otherKey })).toBe('DECRYPTION_FAILED');
    expect(await open(record, { associatedData: 'orders/17', podId: 197 })).toBe('DECRYPTION_FAILED');
    // No associated data and empty associated data are the same binding.
    expect(await open(await sealed({ associatedData: '' }))).toBe(fromUtf8(plaintext));
  });

  it('refuses an Object Store envelope passed off as a record, even with its sort key copied', async () => {
    const record = await sealed();
    const bound = readObjectHeader(Buffer.from(record.encryptedPayload, 'base64'));
    const object = await sealObject(key, { ...bound, partition: 'p4rt1t10nHash' }, plaintext);
    expect(await open({ ...record, encryptedPayload: toBase64(object) })).toBe('DECRYPTION_FAILED');
  });
});

describe('form checks (MALFORMED_CIPHERTEXT, UNSUPPORTED_VERSION)', () => {
  it('refuses anything that is not exactly a record v1', async () => {
    const record = await sealed();
    const { header: _h, ...noHeader } = record;
    const cases: Array<[string, unknown, string]> = [
      ['not JSON text', '{"format":', 'MALFORMED_CIPHERTEXT'],
      ['an array', [record], 'MALFORMED_CIPHERTEXT'],
      ['null', null, 'MALFORMED_CIPHERTEXT'],
      ['another format', { ...record, format: 'allegro-ts.object' }, 'MALFORMED_CIPHERTEXT'],
      ['version as text', { ...record, version: '1' }, 'MALFORMED_CIPHERTEXT'],
      ['version 2', { ...record, version: 2 }, 'UNSUPPORTED_VERSION'],
      ['a missing field', noHeader, 'MALFORMED_CIPHERTEXT'],
      ['an unknown field', { ...record, payload: 'plaintext?' }, 'MALFORMED_CIPHERTEXT'],
      ['standard-base64 thread id', { ...record, threadId: toBase64(threadBytes) }, 'MALFORMED_CIPHERTEXT'],
      ['empty thread id', { ...record, threadId: '' }, 'MALFORMED_CIPHERTEXT'],
      ['rotation with a leading zero', { ...record, rotationId: '07' }, 'MALFORMED_CIPHERTEXT'],
      ['rotation as a number', { ...record, rotationId: 7 }, 'MALFORMED_CIPHERTEXT'],
      ['rotation -0', { ...record, rotationId: '-0' }, 'MALFORMED_CIPHERTEXT'],
      ['rotation beyond int64', { ...record, rotationId: (2n ** 63n).toString() }, 'MALFORMED_CIPHERTEXT'],
      ['empty record type', { ...record, recordType: '' }, 'MALFORMED_CIPHERTEXT'],
      ['header as an array', { ...record, header: [1] }, 'MALFORMED_CIPHERTEXT'],
      ['header as JSON text', { ...record, header: JSON.stringify(header) }, 'MALFORMED_CIPHERTEXT'],
      ['URL-safe payload', { ...record, encryptedPayload: toBase64Url(Buffer.from(record.encryptedPayload, 'base64')) }, 'MALFORMED_CIPHERTEXT'],
      ['payload with white space', { ...record, encryptedPayload: ` ${record.encryptedPayload}` }, 'MALFORMED_CIPHERTEXT'],
      ['empty payload', { ...record, encryptedPayload: '' }, 'DECRYPTION_FAILED'],
    ];
    for (const [what, value, code] of cases) expect(await open(value), what).toBe(code);
  });
});

describe('sealRecord input checks (INVALID_ARGUMENT naming the parameter)', () => {
  it('refuses headers that are not I-JSON objects, bad record types, associated data and contexts', async () => {
    const bad: Array<[string, Parameters<typeof sealRecord>[2], string]> = [
      ['header', { plaintext, header: [] as never }, 'header'],
      ['a Date in the header', { plaintext, header: { when: new Date() as never } }, 'header.when'],
      ['NaN', { plaintext, header: { n: Number.NaN } }, 'header.n'],
      ['undefined', { plaintext, header: { u: undefined as never } }, 'header.u'],
      ['a lone surrogate', { plaintext, header: { s: ['ok', '\uD800'] } }, 'header.s[1]'],
      ['a header too large', { plaintext, header: { big: 'x'.repeat(RecordSizes.maxHeader) } }, 'header'],
      ['an empty record type', { plaintext, recordType: '' }, 'recordType'],
      ['a record type too long', { plaintext, recordType: 'x'.repeat(RecordSizes.maxRecordType + 1) }, 'recordType'],
      ['associated data that is not text', { plaintext, associatedData: 17 as never }, 'associatedData'],
      ['associated data too long', { plaintext, associatedData: 'x'.repeat(RecordSizes.maxAssociatedData + 1) }, 'associatedData'],
    ];
    for (const [what, input, parameter] of bad) {
      await expect(sealRecord(key, ctx, input), what).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter });
    }
    await expect(sealRecord(key, { ...ctx, threadId: 'not base64!' }, { plaintext })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'ctx.threadId' });
    await expect(sealRecord(key, { ...ctx, podId: 2 ** 31 }, { plaintext })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'ctx.podId' });
    await expect(openRecord(key, ctx.podId, readRecord(await sealed()), 5 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'associatedData' });
  });

  it('names what it received by type only, never the header value', async () => {
    const err = (await rejection(sealRecord(key, ctx, { plaintext, header: { secret: new Map([['password', 'hunter2']]) as never } }))) as Error;
    expect(err.message).toContain('header.secret');
    expect(err.message).not.toContain('hunter2');
  });
});
