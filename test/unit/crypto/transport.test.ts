import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getAeadBackend } from '../../../src/crypto/backends.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import {
  decryptText,
  decryptTransport,
  encryptText,
  encryptTransport,
  EncryptionMode,
  parseTransport,
  serializeTransport,
  transportFromBase64,
  TransportSizes,
} from '../../../src/crypto/transport.js';
import { platform } from '#platform';
import { toBase64, utf8 } from '../../../src/util/bytes.js';
import { b64, BACKENDS, hex, vectors } from '../../helpers/vectors.js';
import { codeOf } from '../../helpers/errors.js';

const key = new AesKey(new Uint8Array(32).fill(7));


describe('Symphony vectors', () => {
  for (const backend of BACKENDS) {
    it(`decrypts every v3 and v2 vector with the ${backend} backend`, async () => {
      for (const c of vectors.transport) {
        const k = new AesKey(hex(c.key));
        expect(toBase64(await decryptTransport(k, b64(c.ciphertext), { backend }))).toBe(c.plaintext);
        expect(toBase64(await decryptTransport(k, b64(c.ciphertextV2), { backend }))).toBe(c.plaintext);
      }
    });
  }

  it('reads the rotation id, pod id 0, mode 0 and the key fingerprint from every v3 vector', () => {
    for (const c of vectors.transport) {
      const t = parseTransport(b64(c.ciphertext));
      expect(t.version).toBe(3);
      expect(t.rotationId).toBe(BigInt(c.rotationId));
      expect(t.podId).toBe(0);
      expect(t.mode).toBe(EncryptionMode.AES_GCM);
      expect(t.keyId).toEqual(new AesKey(hex(c.key)).keyId);
    }
  });

  it('writes v3 transports that match the vectors byte for byte once IV and AAD are fixed', async () => {
    for (const c of vectors.transport) {
      const k = new AesKey(hex(c.key));
      const expected = parseTransport(b64(c.ciphertext));
      const ours = await encryptTransport(k, b64(c.plaintext), { rotationId: c.rotationId });
      const t = parseTransport(ours);
      // IV and AAD are random; everything else is determined by key, rotation and plaintext.
      expect(t.ciphertext.length).toBe(expected.ciphertext.length);
      const withVectorRandomness = serializeTransport({ ...t, iv: expected.iv, aad: expected.aad, ciphertext: expected.ciphertext, tag: expected.tag });
      expect(toBase64(withVectorRandomness)).toBe(c.ciphertext);
    }
  });
});

describe('encryptTransport', () => {
  it('writes version 3, pod id 0 by default, the rotation id, a fresh IV and AAD, and mode 0', async () => {
    const a = parseTransport(await encryptTransport(key, utf8('hi'), { rotationId: 123456789012n }));
    const b = parseTransport(await encryptTransport(key, utf8('hi'), { rotationId: 123456789012n }));
    expect(a.version).toBe(3);
    expect(a.podId).toBe(0);
    expect(a.rotationId).toBe(123456789012n);
    expect(a.mode).toBe(0);
    expect(a.keyId).toEqual(key.keyId);
    expect(a.iv).not.toEqual(b.iv);
    expect(a.aad).not.toEqual(b.aad);
  });

  it('seals the same bytes on the default path as every named backend does for its IV and AAD', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), async (plaintext, rotationId) => {
      const wire = await encryptTransport(key, plaintext, { rotationId });
      const parsed = parseTransport(wire);
      for (const backend of BACKENDS) {
        const sealed = await getAeadBackend(backend).seal(key, parsed.iv, parsed.aad, plaintext);
        expect(toBase64(sealed)).toBe(toBase64(wire.subarray(13 + TransportSizes.iv + TransportSizes.aad, wire.length - TransportSizes.keyId - 1)));
        expect(await decryptTransport(key, wire, { backend })).toEqual(plaintext);
      }
      expect(parsed.rotationId).toBe(rotationId);
    }), { numRuns: 60 });
  });

  it('writes a configured pod id and negative or maximal rotation ids', async () => {
    for (const rotationId of [-1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      const t = parseTransport(await encryptTransport(key, new Uint8Array(0), { rotationId, podId: 196 }));
      expect(t.podId).toBe(196);
      expect(t.rotationId).toBe(rotationId);
    }
  });

  it('has an overhead of exactly 94 bytes', async () => {
    expect((await encryptTransport(key, new Uint8Array(10), { rotationId: 0 })).length).toBe(10 + TransportSizes.v3Overhead);
  });

  it('rejects bad arguments with INVALID_ARGUMENT naming the parameter', async () => {
    const bad: Array<[Promise<unknown>, string]> = [
      [encryptTransport(key, 'text' as never, { rotationId: 0 }), 'plaintext'],
      [encryptTransport(key, new Uint8Array(1), { rotationId: 1.5 }), 'options.rotationId'],
      [encryptTransport(key, new Uint8Array(1), { rotationId: 2n ** 63n }), 'options.rotationId'],
      [encryptTransport(key, new Uint8Array(1), { rotationId: 0, podId: 2 ** 31 }), 'options.podId'],
      [encryptTransport(new Uint8Array(32) as never, new Uint8Array(1), { rotationId: 0 }), 'key'],
      [encryptTransport(key, new Uint8Array(1), { rotationId: 0, backend: 'forge' as never }), 'backend'],
    ];
    for (const [promise, parameter] of bad) {
      await expect(promise).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter });
    }
  });

  it('refuses a wiped key', async () => {
    const k = new AesKey(new Uint8Array(32).fill(1));
    k.wipe();
    await expect(encryptTransport(k, new Uint8Array(1), { rotationId: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('decryptTransport', () => {
  it('gives KEY_ID_MISMATCH for a v3 transport made with another key', async () => {
    const wire = await encryptTransport(key, utf8('x'), { rotationId: 0 });
    expect(await codeOf(decryptTransport(new AesKey(new Uint8Array(32).fill(8)), wire))).toBe('KEY_ID_MISMATCH');
  });

  it('gives DECRYPTION_FAILED for a v2 transport under the wrong key (no key id to check)', async () => {
    const c = vectors.transport[0]!;
    expect(await codeOf(decryptTransport(key, b64(c.ciphertextV2)))).toBe('DECRYPTION_FAILED');
  });

  it('reads version 1 transports with and without a password salt', async () => {
    const sealed = parseTransport(await encryptTransport(key, utf8('v1 body'), { rotationId: 0 }));
    const v1 = serializeTransport({ ...sealed, version: 1 });
    expect(v1.length).toBe(2 + 32 + 7 + 16);
    expect(await decryptTransport(key, v1)).toEqual(utf8('v1 body'));
    const salted = serializeTransport({ ...sealed, version: 1, passwordSalt: new Uint8Array(16).fill(9) });
    const parsed = parseTransport(salted);
    expect(parsed.passwordSalt).toEqual(new Uint8Array(16).fill(9));
    expect(parsed.rotationId).toBe(0n);
    expect(await decryptTransport(key, salted)).toEqual(utf8('v1 body'));
  });

  it('decrypts mode 1 (AES-CBC) only on explicit opt-in', async () => {
    const iv = new Uint8Array(16).fill(3);
    const plaintext = utf8('sixteen bytes!!!thirty-two bytes');
    const cbc = platform.aesCbcEncryptNoPadding(key.bytes, iv, plaintext);
    const wire = serializeTransport({
      version: 3, podId: 0, rotationId: 0n, iv, aad: new Uint8Array(16), ciphertext: cbc, tag: new Uint8Array(16),
      keyId: key.keyId, mode: EncryptionMode.AES_CBC,
    });
    expect(await codeOf(decryptTransport(key, wire))).toBe('UNSUPPORTED_MODE');
    expect(await decryptTransport(key, wire, { allowUnauthenticatedCbc: true })).toEqual(plaintext);
  });

  it('refuses RSA and unknown modes with UNSUPPORTED_MODE', async () => {
    const wire = await encryptTransport(key, utf8('x'), { rotationId: 0 });
    for (const mode of [2, 3, 4, 255]) {
      wire[wire.length - 1] = mode;
      expect(await codeOf(decryptTransport(key, wire, { allowUnauthenticatedCbc: true }))).toBe('UNSUPPORTED_MODE');
    }
  });
});

describe('parseTransport', () => {
  it('gives MALFORMED_CIPHERTEXT for empty, short and oversized input', () => {
    const cases = [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(49).fill(1), Uint8Array.of(1, 1, ...new Array(63).fill(0)),
      Uint8Array.of(2, ...new Array(59).fill(0)), Uint8Array.of(3, ...new Array(92).fill(0))];
    for (const bytes of cases) expect(() => parseTransport(bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
    expect(() => parseTransport(new Uint8Array(200).fill(3), { maxLength: 199 })).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
  });

  it('gives UNSUPPORTED_VERSION for versions 0, 4 and up, with a hint for base64 text', () => {
    for (const v of [0, 4, 0xff]) {
      expect(() => parseTransport(new Uint8Array(100).fill(v))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_VERSION', version: v }));
    }
    expect(() => parseTransport(utf8('AwAAAAAAAAAAAAAAADjEg7kWXBvpMDNX/JJvW28Ct/zN1+l0++68TV3Klq8HWvPuLhFxQXLNFuqHZU7HT0IQ1ficp5111xQZ0Z4y')))
      .toThrow(/base64/);
  });

  it('returns views into the input, honouring a subarray offset', () => {
    const c = vectors.transport[1]!;
    const inner = b64(c.ciphertext);
    const outer = new Uint8Array(inner.length + 7);
    outer.set(inner, 7);
    const t = parseTransport(outer.subarray(7));
    expect(t.rotationId).toBe(BigInt(c.rotationId));
    expect(t.iv.buffer).toBe(outer.buffer);
  });
});

describe('text helpers', () => {
  it('round-trip UTF-8 text through base64', async () => {
    const text = 'héllo <b>wörld</b> 中文 😀';
    const field = await encryptText(key, text, { rotationId: 5 });
    expect(field).toMatch(/^Aw/);
    expect(await decryptText(key, field)).toBe(text);
  });

  it('accept URL-safe base64 and reject text that is not base64', async () => {
    const field = await encryptText(key, 'x', { rotationId: 5 });
    expect(await decryptText(key, field.replace(/\+/g, '-').replace(/\//g, '_'))).toBe('x');
    expect(() => transportFromBase64('not base64!')).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
    expect(() => transportFromBase64('AAAAAAAA', 2)).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
    await expect(decryptText(key, 42 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'ciphertext' });
  });
});

describe('header checks', () => {
  it('accepts pod id 0 by default, configured pod ids on request, and rejects others', async () => {
    const wire = await encryptTransport(key, utf8('p'), { rotationId: 0, podId: 196 });
    expect(await codeOf(decryptTransport(key, wire))).toBe('MALFORMED_CIPHERTEXT');
    expect(await decryptTransport(key, wire, { podIds: [0, 196] })).toEqual(utf8('p'));
    expect(await decryptTransport(key, wire, { podIds: 'any' })).toEqual(utf8('p'));
  });

  it('resolves the key from the header rotation id when given a function', async () => {
    const keys = new Map([[1n, new AesKey(new Uint8Array(32).fill(1))], [2n, new AesKey(new Uint8Array(32).fill(2))]]);
    const wire = await encryptTransport(keys.get(2n)!, utf8('rotated'), { rotationId: 2 });
    const seen: bigint[] = [];
    const resolve = async (rotationId: bigint) => {
      seen.push(rotationId);
      return keys.get(rotationId) ?? key;
    };
    expect(await decryptTransport(resolve, wire)).toEqual(utf8('rotated'));
    expect(seen).toEqual([2n]);
    await expect(decryptTransport(() => 'nope' as never, wire)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'key' });
  });
});

describe('option and input checks', () => {
  it('refuses null options, bad limits and unknown v1 option bits with typed errors', async () => {
    const wire = await encryptTransport(key, utf8('o'), { rotationId: 0 });
    await expect(decryptTransport(key, wire, null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'options' });
    expect(() => parseTransport(wire, { maxLength: Number.NaN })).toThrow(expect.objectContaining({ parameter: 'options.maxLength' }));
    expect(() => transportFromBase64('AAAA', 0)).toThrow(expect.objectContaining({ parameter: 'maxLength' }));
    const v1 = serializeTransport({ ...parseTransport(wire), version: 1 });
    v1[1] = 2;
    expect(() => parseTransport(v1)).toThrow(expect.objectContaining({ code: 'MALFORMED_CIPHERTEXT' }));
  });

  it('forgets the key id when a key is wiped', async () => {
    const k = new AesKey(new Uint8Array(32).fill(4));
    expect(k.keyId.length).toBe(32);
    k.wipe();
    expect(() => k.keyId).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
