// Cross test: node:crypto, WebCrypto and @noble/ciphers produce identical AES-256-GCM bytes and open each other's output.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { getAeadBackend } from '../../src/crypto/backends.js';
import { bytesFrom } from '../helpers/bytes.js';
import { BACKENDS, sameBytes } from '../helpers/vectors.js';

/** A byte array placed at a random offset inside a larger buffer, so backends see unaligned subarrays. */
function unaligned(arb: fc.Arbitrary<Uint8Array>) {
  return fc.tuple(arb, fc.integer({ min: 0, max: 15 })).map(([bytes, offset]) => {
    const outer = new Uint8Array(bytes.length + offset + 3);
    outer.set(bytes, offset);
    return outer.subarray(offset, offset + bytes.length);
  });
}

const sizes = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4097, max: 1024 * 1024 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 15, 16, 17, 1024 * 1024) },
);
// A fast deterministic filler: fast-check builds arrays element by element, far too slowly for 1 MiB.
const plaintexts = unaligned(fc.tuple(sizes, fc.integer()).map(([n, seed]) => bytesFrom(seed, n)));

describe('AEAD backends agree', () => {
  it('seal gives identical bytes and every backend opens every other backend\'s output', async () => {
    await fc.assert(
      fc.asyncProperty(
        unaligned(fc.uint8Array({ minLength: 32, maxLength: 32 })),
        unaligned(fc.uint8Array({ minLength: 16, maxLength: 16 })),
        unaligned(fc.uint8Array({ maxLength: 64 })),
        plaintexts,
        async (k, iv, aad, plaintext) => {
          const key = new AesKey(k);
          const sealed = await Promise.all(BACKENDS.map((b) => getAeadBackend(b).seal(key, iv, aad, plaintext)));
          for (const s of sealed) expect(sameBytes(s, sealed[0]!)).toBe(true);
          for (const b of BACKENDS) expect(sameBytes(await getAeadBackend(b).open(key, iv, aad, sealed[0]!), plaintext)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('all accept 12-byte IVs too and agree', async () => {
    const key = new AesKey(new Uint8Array(32).fill(3));
    const iv = new Uint8Array(12).fill(1);
    const sealed = await Promise.all(BACKENDS.map((b) => getAeadBackend(b).seal(key, iv, new Uint8Array(0), new Uint8Array(100))));
    for (const s of sealed) expect(s).toEqual(sealed[0]);
  });

  it('all reject a wrong tag with DECRYPTION_FAILED, including inputs shorter than a tag', async () => {
    const key = new AesKey(new Uint8Array(32).fill(3));
    const iv = new Uint8Array(16);
    const sealed = await getAeadBackend(BACKENDS[0]).seal(key, iv, new Uint8Array(0), new Uint8Array(33));
    sealed[sealed.length - 1]! ^= 1;
    for (const b of BACKENDS) {
      await expect(getAeadBackend(b).open(key, iv, new Uint8Array(0), sealed)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
      await expect(getAeadBackend(b).open(key, iv, new Uint8Array(0), new Uint8Array(5))).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    }
  });
});
