// Object envelope v1: round trip, header, context binding, key commitment before decryption, limits, versions,
// the codec's refusals, an independent node:crypto decryption of the documented format, and generated-code freshness.
import { execFileSync } from 'node:child_process';
import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AeadBackend } from '../../../src/crypto/aead.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { getAeadBackend } from '../../../src/crypto/backends.js';
import { AllegroError, UnsupportedVersionError } from '../../../src/errors.js';
import {
  DEFAULT_MAX_ENVELOPE_LENGTH,
  ENVELOPE_CIPHER_SUITE_ID,
  EnvelopeSizes,
  hkdfSha256,
  MAX_OBJECT_PLAINTEXT_LENGTH,
  openObject,
  readObjectHeader,
  sealObject,
  type ObjectContext,
} from '../../../src/store/envelope.js';
import { decodeEnvelope, encodeEnvelope, hasExactInt64, type EnvelopeMessage } from '../../../src/store/proto/codec.js';
import { allegro_ts } from '../../../src/store/proto/envelope.js';
import { toBase64, toBase64Url, utf8 } from '../../../src/util/bytes.js';
import { BACKENDS, hex } from '../../helpers/vectors.js';
import { codeOf } from '../../helpers/errors.js';

const key = new AesKey(new Uint8Array(32).fill(7));
const otherKey = new AesKey(new Uint8Array(32).fill(8));
const threadBytes = new Uint8Array([0xfb, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xfe]);
const ctx: ObjectContext = {
  podId: 196,
  threadId: toBase64Url(threadBytes),
  rotationId: 5n,
  partition: 'p4rt1t10nHash-base64==',
  sortKey: 'orders/2026-01-01/0001',
  objectType: 'com.example.Order',
};
const plaintext = utf8('{"amount":12,"note":"é中😀"}');
const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);


function syncCodeOf(action: () => unknown): string {
  try {
    action();
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
  return 'no error';
}

/** The platform's default backend, with spies on `open` and `seal`. */
function spyBackend() {
  const inner = getAeadBackend();
  const backend = { name: inner.name, seal: vi.fn(inner.seal), open: vi.fn(inner.open) } satisfies AeadBackend;
  return backend;
}

/** The canonical header of docs/wire-formats.md, built independently of src/ with Buffer. */
function independentHeader(c: ObjectContext, salt: Uint8Array): Buffer {
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const bytesField = (b: Uint8Array) => Buffer.concat([u32(b.length), b]);
  const i32 = Buffer.alloc(4); i32.writeInt32BE(c.podId);
  const i64 = Buffer.alloc(8); i64.writeBigInt64BE(c.rotationId);
  return Buffer.concat([
    u32(1), i32, bytesField(Buffer.from(c.threadId, 'base64url')), i64,
    bytesField(Buffer.from(c.partition, 'utf8')), bytesField(Buffer.from(c.sortKey, 'utf8')), bytesField(Buffer.from(c.objectType, 'utf8')),
    salt,
  ]);
}

/** Re-encode a sealed envelope with some fields changed. */
function rewrite(sealed: Uint8Array, change: Partial<EnvelopeMessage>): Uint8Array {
  return encodeEnvelope({ ...decodeEnvelope(sealed, DEFAULT_MAX_ENVELOPE_LENGTH), ...change });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('HKDF-SHA256 (RFC 5869)', () => {
  it('matches the RFC 5869 SHA-256 test cases 1 to 3', () => {
    const range = (from: number, to: number) => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(hkdfSha256(new Uint8Array(22).fill(0x0b), range(0, 12), range(0xf0, 0xf9), 42)).toEqual(
      hex('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'));
    expect(hkdfSha256(range(0, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff), 82)).toEqual(
      hex('b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87'));
    expect(hkdfSha256(new Uint8Array(22).fill(0x0b), new Uint8Array(0), new Uint8Array(0), 42)).toEqual(
      hex('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8'));
  });

  it('agrees with node:crypto hkdfSync for assorted lengths', () => {
    for (const length of [0, 1, 31, 32, 33, 64, 100, 255 * 32]) {
      const ikm = new Uint8Array(40).map((_, i) => i * 7);
      const salt = new Uint8Array(32).map((_, i) => 255 - i);
      const info = utf8(`info ${length}`);
      expect(hkdfSha256(ikm, salt, info, length)).toEqual(new Uint8Array(hkdfSync('sha256', ikm, salt, info, length)));
    }
  });

  it('refuses impossible lengths', () => {
    expect(syncCodeOf(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1))).toBe('INVALID_ARGUMENT');
    expect(syncCodeOf(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), -1))).toBe('INVALID_ARGUMENT');
  });
});

describe('sealObject / openObject', () => {
  it('names its cipher suite', () => {
    expect(ENVELOPE_CIPHER_SUITE_ID).toBe('ALLEGRO_TS_OBJECT_V1');
  });

  for (const backend of BACKENDS) {
    it(`round-trips on the ${backend} backend, including an empty plaintext`, async () => {
      for (const p of [plaintext, new Uint8Array(0), new Uint8Array(70_000).fill(3)]) {
        const sealed = await sealObject(key, ctx, p, { backend });
        expect(await openObject(key, ctx, sealed, { backend })).toEqual(p);
      }
    });
  }

  it('opens what any backend sealed with any other backend', async () => {
    for (const a of BACKENDS) {
      const sealed = await sealObject(key, ctx, plaintext, { backend: a });
      for (const b of BACKENDS) expect(await openObject(key, ctx, sealed, { backend: b })).toEqual(plaintext);
    }
  });

  it('uses a fresh salt, IV and key for every object', async () => {
    const a = decodeEnvelope(await sealObject(key, ctx, plaintext), DEFAULT_MAX_ENVELOPE_LENGTH);
    const b = decodeEnvelope(await sealObject(key, ctx, plaintext), DEFAULT_MAX_ENVELOPE_LENGTH);
    expect(a.salt).not.toEqual(b.salt);
    expect(a.iv).not.toEqual(b.iv);
    expect(a.keyCommitment).not.toEqual(b.keyCommitment);
    expect(a.ciphertext).not.toEqual(b.ciphertext);
  });

  it('accepts the thread id in standard base64 too and matches it with its URL-safe form', async () => {
    const sealed = await sealObject(key, { ...ctx, threadId: toBase64(threadBytes) }, plaintext);
    expect(await openObject(key, ctx, sealed)).toEqual(plaintext);
    expect(readObjectHeader(sealed).threadId).toBe(ctx.threadId);
  });

  it('preserves the rotation id extremes exactly', async () => {
    for (const rotationId of [MIN, MIN + 1n, -1n, 0n, 1n, 2n ** 53n + 1n, MAX - 1n, MAX]) {
      const c = { ...ctx, rotationId };
      const sealed = await sealObject(key, c, plaintext);
      expect(readObjectHeader(sealed).rotationId).toBe(rotationId);
      expect(await openObject(key, c, sealed)).toEqual(plaintext);
    }
    expect(hasExactInt64()).toBe(true);
  });

  it('handles zero and negative pod ids and empty strings (proto3 defaults)', async () => {
    for (const c of [{ ...ctx, podId: 0, rotationId: 0n, partition: '', sortKey: '', objectType: '' }, { ...ctx, podId: -(2 ** 31) }, { ...ctx, podId: 2 ** 31 - 1 }]) {
      const sealed = await sealObject(key, c, plaintext);
      expect(readObjectHeader(sealed)).toEqual({ version: 1, ...c });
      expect(await openObject(key, c, sealed)).toEqual(plaintext);
    }
  });
});

describe('readObjectHeader', () => {
  it('returns the context and version without the key', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    expect(readObjectHeader(sealed)).toEqual({ version: 1, ...ctx });
  });

  it('lays out the fields as documented', async () => {
    const m = decodeEnvelope(await sealObject(key, ctx, plaintext), DEFAULT_MAX_ENVELOPE_LENGTH);
    expect(m.salt.length).toBe(32);
    expect(m.keyCommitment.length).toBe(32);
    expect(m.iv.length).toBe(12);
    expect(m.ciphertext.length).toBe(plaintext.length + 16);
    expect(m.threadId).toEqual(threadBytes);
  });
});

describe('independent implementation of the documented format (node:crypto only)', () => {
  it('derives the key, checks the commitment and decrypts what sealObject wrote', async () => {
    for (const c of [ctx, { ...ctx, rotationId: MIN, podId: -3, partition: 'ü', objectType: '' }]) {
      const m = decodeEnvelope(await sealObject(key, c, plaintext), DEFAULT_MAX_ENVELOPE_LENGTH);
      const header = independentHeader(c, m.salt);
      const info = Buffer.concat([Buffer.from('allegro-ts object v1'), header]);
      const objectKey = Buffer.from(hkdfSync('sha256', key.bytes, m.salt, info, 32));
      expect(createHmac('sha256', objectKey).update('allegro-ts commit v1').digest()).toEqual(Buffer.from(m.keyCommitment));
      const decipher = createDecipheriv('aes-256-gcm', objectKey, m.iv, { authTagLength: 16 });
      decipher.setAAD(header);
      decipher.setAuthTag(m.ciphertext.subarray(m.ciphertext.length - 16));
      const clear = Buffer.concat([decipher.update(m.ciphertext.subarray(0, m.ciphertext.length - 16)), decipher.final()]);
      expect(new Uint8Array(clear)).toEqual(plaintext);
    }
  });
});

describe('context binding', () => {
  const moved: Array<[string, Partial<ObjectContext>]> = [
    ['threadId', { threadId: toBase64Url(new Uint8Array(17).fill(1)) }],
    ['rotationId', { rotationId: 6n }],
    ['partition', { partition: 'another partition' }],
    ['sortKey', { sortKey: 'orders/2026-01-01/0002' }],
    ['objectType', { objectType: 'com.example.Invoice' }],
    ['podId', { podId: 197 }],
  ];

  for (const [field, change] of moved) {
    it(`refuses a payload opened as another ${field} with DECRYPTION_FAILED, before any decryption`, async () => {
      const sealed = await sealObject(key, ctx, plaintext);
      const backend = spyBackend();
      expect(await codeOf(openObject(key, { ...ctx, ...change }, sealed, { backend }))).toBe('DECRYPTION_FAILED');
      expect(backend.open).not.toHaveBeenCalled();
    });

    it(`refuses a payload whose header was rewritten to another ${field}`, async () => {
      const sealed = await sealObject(key, ctx, plaintext);
      const target = { ...ctx, ...change };
      const forged = rewrite(sealed, {
        podId: target.podId, threadId: Buffer.from(target.threadId, 'base64url'), rotationId: target.rotationId,
        partition: target.partition, sortKey: target.sortKey, objectType: target.objectType,
      });
      expect(readObjectHeader(forged)).toEqual({ version: 1, ...target });
      const backend = spyBackend();
      expect(await codeOf(openObject(key, target, forged, { backend }))).toBe('DECRYPTION_FAILED');
      // The context is part of the key derivation, so the commitment already fails.
      expect(backend.open).not.toHaveBeenCalled();
    });
  }

  it('refuses a ciphertext moved into another envelope with its own salt and commitment (GCM AAD)', async () => {
    const a = decodeEnvelope(await sealObject(key, ctx, plaintext), DEFAULT_MAX_ENVELOPE_LENGTH);
    const b = await sealObject(key, ctx, utf8('another object'));
    const spliced = rewrite(b, { ciphertext: a.ciphertext, iv: a.iv });
    expect(await codeOf(openObject(key, ctx, spliced))).toBe('DECRYPTION_FAILED');
  });
});

describe('key commitment', () => {
  it('refuses the wrong key with DECRYPTION_FAILED without calling the AEAD', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const backend = spyBackend();
    expect(await codeOf(openObject(otherKey, ctx, sealed, { backend }))).toBe('DECRYPTION_FAILED');
    expect(backend.open).not.toHaveBeenCalled();
    await openObject(key, ctx, sealed, { backend });
    expect(backend.open).toHaveBeenCalledTimes(1);
  });

  it('refuses an altered commitment before decryption, and a tampered ciphertext at the tag', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const m = decodeEnvelope(sealed, DEFAULT_MAX_ENVELOPE_LENGTH);
    const backend = spyBackend();
    const badCommitment = m.keyCommitment.slice();
    badCommitment[31]! ^= 1;
    expect(await codeOf(openObject(key, ctx, rewrite(sealed, { keyCommitment: badCommitment }), { backend }))).toBe('DECRYPTION_FAILED');
    expect(backend.open).not.toHaveBeenCalled();
    const badCiphertext = m.ciphertext.slice();
    badCiphertext[0]! ^= 1;
    expect(await codeOf(openObject(key, ctx, rewrite(sealed, { ciphertext: badCiphertext }), { backend }))).toBe('DECRYPTION_FAILED');
    expect(backend.open).toHaveBeenCalledTimes(1);
  });

  it('wipes the per-object key after use', async () => {
    const wipe = vi.spyOn(AesKey.prototype, 'wipe');
    const sealed = await sealObject(key, ctx, plaintext);
    await openObject(key, ctx, sealed);
    await codeOf(openObject(otherKey, ctx, sealed));
    expect(wipe).toHaveBeenCalledTimes(3);
    expect(key.wiped).toBe(false);
  });
});

describe('limits and versions', () => {
  it('refuses input over the size cap with MALFORMED_CIPHERTEXT before decoding', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const decode = vi.spyOn(allegro_ts.v1.ObjectEnvelope, 'decode');
    expect(syncCodeOf(() => readObjectHeader(sealed, { maxLength: sealed.length - 1 }))).toBe('MALFORMED_CIPHERTEXT');
    expect(await codeOf(openObject(key, ctx, sealed, { maxLength: sealed.length - 1 }))).toBe('MALFORMED_CIPHERTEXT');
    expect(syncCodeOf(() => readObjectHeader(new Uint8Array(DEFAULT_MAX_ENVELOPE_LENGTH + 1)))).toBe('MALFORMED_CIPHERTEXT');
    expect(decode).not.toHaveBeenCalled();
    expect(readObjectHeader(sealed, { maxLength: sealed.length }).rotationId).toBe(5n);
    expect(decode).toHaveBeenCalledTimes(1);
  });

  it('refuses to seal more than it would open', async () => {
    const tooBig = new Uint8Array(MAX_OBJECT_PLAINTEXT_LENGTH + 1);
    expect(await codeOf(sealObject(key, ctx, tooBig))).toBe('INVALID_ARGUMENT');
  });

  it('refuses an unknown version with UNSUPPORTED_VERSION and a missing one as malformed', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    for (const version of [2, 255, 2 ** 32 - 1]) {
      const other = rewrite(sealed, { version });
      let thrown: unknown;
      try {
        readObjectHeader(other);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UnsupportedVersionError);
      expect((thrown as UnsupportedVersionError).version).toBe(version);
      expect(await codeOf(openObject(key, ctx, other))).toBe('UNSUPPORTED_VERSION');
    }
    expect(syncCodeOf(() => readObjectHeader(rewrite(sealed, { version: 0 })))).toBe('MALFORMED_CIPHERTEXT');
  });
});

describe('codec and parser refuse junk with typed errors', () => {
  it('refuses empty, random and truncated input', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const junk = [
      new Uint8Array(0),
      new Uint8Array([0xff]),
      new Uint8Array([0x08]),
      new Uint8Array(100).fill(0xff),
      utf8('{"not":"protobuf"}'),
      sealed.subarray(0, sealed.length - 1),
      sealed.subarray(0, 10),
      new Uint8Array([0x0b, 0x08, 0x01]), // start-group wire type
    ];
    for (const bytes of junk) {
      expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION']).toContain(syncCodeOf(() => readObjectHeader(bytes)));
      expect(['MALFORMED_CIPHERTEXT', 'UNSUPPORTED_VERSION']).toContain(await codeOf(openObject(key, ctx, bytes)));
    }
  });

  it('refuses non-canonical encodings of a valid envelope', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const variants = [
      Buffer.concat([sealed, Buffer.from([0x60, 0x01])]), // unknown field 12
      Buffer.concat([Buffer.from([0x10, 0x00]), sealed]), // explicit default podId before the version
      Buffer.concat([Buffer.from([0x08, 0x81, 0x00]), sealed.subarray(2)]), // version 1 as a padded varint
      Buffer.concat([sealed, Buffer.from([0x08, 0x01])]), // version repeated at the end
    ];
    expect(Array.from(sealed.subarray(0, 2))).toEqual([0x08, 0x01]);
    for (const bytes of variants) {
      expect(syncCodeOf(() => readObjectHeader(bytes))).toBe('MALFORMED_CIPHERTEXT');
      expect(await codeOf(openObject(key, ctx, bytes))).toBe('MALFORMED_CIPHERTEXT');
    }
  });

  it('refuses fields of the wrong size', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const changes: Array<Partial<EnvelopeMessage>> = [
      { threadId: new Uint8Array(0) },
      { threadId: new Uint8Array(EnvelopeSizes.maxThreadId + 1) },
      { salt: new Uint8Array(31) },
      { salt: new Uint8Array(0) },
      { keyCommitment: new Uint8Array(33) },
      { iv: new Uint8Array(16) },
      { ciphertext: new Uint8Array(15) },
      { ciphertext: new Uint8Array(0) },
      { partition: 'x'.repeat(1025) },
      { sortKey: 'é'.repeat(513) },
    ];
    for (const change of changes) {
      expect(syncCodeOf(() => readObjectHeader(rewrite(sealed, change)))).toBe('MALFORMED_CIPHERTEXT');
    }
  });

  it('refuses invalid UTF-8 in a string field', async () => {
    const sealed = await sealObject(key, { ...ctx, partition: 'abc' }, plaintext);
    const at = Buffer.from(sealed).indexOf(Buffer.from([0x2a, 0x03, 0x61, 0x62, 0x63])); // field 5, "abc"
    expect(at).toBeGreaterThan(0);
    for (const bad of [[0xff, 0x62, 0x63], [0xc3, 0x28, 0x63], [0xed, 0xa0, 0x80]]) {
      const bytes = Buffer.from(sealed);
      bytes.set(bad, at + 2);
      expect(syncCodeOf(() => readObjectHeader(bytes))).toBe('MALFORMED_CIPHERTEXT');
    }
  });

  it('decodes Buffer and unaligned subarray input alike', async () => {
    const sealed = await sealObject(key, ctx, plaintext);
    const outer = new Uint8Array(sealed.length + 7);
    outer.set(sealed, 3);
    expect(await openObject(key, ctx, outer.subarray(3, 3 + sealed.length))).toEqual(plaintext);
    expect(await openObject(key, ctx, Buffer.from(sealed))).toEqual(plaintext);
  });
});

describe('argument validation', () => {
  it('refuses bad keys, contexts, plaintexts and options with INVALID_ARGUMENT', async () => {
    const bad: Array<[string, () => Promise<unknown>]> = [
      ['raw key bytes', () => sealObject(new Uint8Array(32) as unknown as AesKey, ctx, plaintext)],
      ['null context', () => sealObject(key, null as unknown as ObjectContext, plaintext)],
      ['non-base64 thread', () => sealObject(key, { ...ctx, threadId: 'not base64!' }, plaintext)],
      ['empty thread', () => sealObject(key, { ...ctx, threadId: '' }, plaintext)],
      ['long thread', () => sealObject(key, { ...ctx, threadId: toBase64Url(new Uint8Array(257)) }, plaintext)],
      ['fractional pod', () => sealObject(key, { ...ctx, podId: 1.5 }, plaintext)],
      ['pod over int32', () => sealObject(key, { ...ctx, podId: 2 ** 31 }, plaintext)],
      ['rotation 2^63', () => sealObject(key, { ...ctx, rotationId: 2n ** 63n }, plaintext)],
      ['rotation below -2^63', () => sealObject(key, { ...ctx, rotationId: MIN - 1n }, plaintext)],
      ['partition too long', () => sealObject(key, { ...ctx, partition: 'x'.repeat(1025) }, plaintext)],
      ['lone surrogate', () => sealObject(key, { ...ctx, sortKey: 'a\uD800b' }, plaintext)],
      ['objectType not a string', () => sealObject(key, { ...ctx, objectType: 7 as unknown as string }, plaintext)],
      ['string plaintext', () => sealObject(key, ctx, 'text' as unknown as Uint8Array)],
      ['unknown backend', () => sealObject(key, ctx, plaintext, { backend: 'openssl' as 'node' })],
      ['open with bad expected', () => openObject(key, { ...ctx, rotationId: 'x' as unknown as bigint }, new Uint8Array(10))],
      ['open with bad maxLength', () => openObject(key, ctx, new Uint8Array(10), { maxLength: 0 })],
      ['open a string', () => openObject(key, ctx, 'abc' as unknown as Uint8Array)],
    ];
    for (const [name, action] of bad) expect([name, await codeOf(action())]).toEqual([name, 'INVALID_ARGUMENT']);
  });

  it('accepts a 1024-byte partition and sort key', async () => {
    const c = { ...ctx, partition: 'p'.repeat(1024), sortKey: 'é'.repeat(512), objectType: '😀'.repeat(256) };
    expect(await openObject(key, c, await sealObject(key, c, plaintext))).toEqual(plaintext);
  });
});

describe('generated code', () => {
  it('is what `npm run proto` produces from the .proto (no diff)', () => {
    const root = path.resolve(import.meta.dirname, '../../..');
    const out = mkdtempSync(path.join(tmpdir(), 'allegro-proto-'));
    try {
      execFileSync(process.execPath, [path.join(root, 'proto/generate.mjs'), '--out', out], { cwd: root, timeout: 30_000 });
      for (const file of ['envelope.js', 'envelope.d.ts']) {
        const committed = readFileSync(path.join(root, 'src/store/proto', file), 'utf8');
        expect(committed.startsWith('// GENERATED by `npm run proto`')).toBe(true);
        expect(readFileSync(path.join(out, file), 'utf8'), `${file} is stale: run npm run proto`).toBe(committed);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
