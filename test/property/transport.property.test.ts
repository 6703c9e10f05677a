// Properties of CiphertextTransport: round trip on every backend, single bit flips, truncation, and parser fuzzing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../src/crypto/aes-key.js';
import { decryptTransport, encryptTransport, parseTransport, serializeTransport, type CiphertextTransport } from '../../src/crypto/transport.js';
import { AllegroError } from '../../src/errors.js';
import { BACKENDS } from '../helpers/vectors.js';

const keyBytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
const rotationIds = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

/** Run `action` and return the error code it throws, or 'plaintext' if it returned. */
async function outcome(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return 'plaintext';
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
}

/** A key resolver as a client uses it: one key per rotation id, derived from the rotation. */
function resolverFor(real: AesKey, realRotation: bigint) {
  return (rotationId: bigint) => (rotationId === realRotation ? real : new AesKey(new Uint8Array(32).fill(Number(rotationId & 0xffn))));
}

describe('transport properties', () => {
  for (const backend of BACKENDS) {
    it(`round-trips random plaintexts and rotations on the ${backend} backend`, async () => {
      await fc.assert(
        fc.asyncProperty(keyBytes, fc.uint8Array({ maxLength: 2048 }), rotationIds, async (k, plaintext, rotationId) => {
          const key = new AesKey(k);
          const wire = await encryptTransport(key, plaintext, { rotationId, backend });
          expect(parseTransport(wire).rotationId).toBe(rotationId);
          expect(await decryptTransport(key, wire, { backend })).toEqual(plaintext);
        }),
        { numRuns: 100 },
      );
    });
  }

  it('rejects every single flipped bit of a v3 or v2 transport and never yields plaintext', async () => {
    await fc.assert(
      fc.asyncProperty(keyBytes, fc.uint8Array({ maxLength: 64 }), fc.bigInt({ min: 0n, max: 2n ** 40n }), fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 7 }),
        async (k, plaintext, rotationId, asV2, position, bit) => {
          const key = new AesKey(k);
          let wire = await encryptTransport(key, plaintext, { rotationId });
          if (asV2) wire = serializeTransport({ ...parseTransport(wire), version: 2 });
          const index = position % wire.length;
          wire[index]! ^= 1 << bit;
          const result = await outcome(() => decryptTransport(resolverFor(key, rotationId), wire));
          expect(['DECRYPTION_FAILED', 'KEY_ID_MISMATCH', 'UNSUPPORTED_VERSION', 'UNSUPPORTED_MODE', 'MALFORMED_CIPHERTEXT']).toContain(result);
        }),
      { numRuns: 400 },
    );
  });

  it('rejects every truncation of a transport', async () => {
    const key = new AesKey(new Uint8Array(32).fill(42));
    for (const asV2 of [false, true]) {
      let wire = await encryptTransport(key, new Uint8Array(40).fill(1), { rotationId: 9 });
      if (asV2) wire = serializeTransport({ ...parseTransport(wire), version: 2 });
      for (let length = 0; length < wire.length; length++) {
        const result = await outcome(() => decryptTransport(key, wire.slice(0, length)));
        expect(result).not.toBe('plaintext');
      }
    }
  });

  it('raises only typed errors for arbitrary bytes, quickly', async () => {
    const key = new AesKey(new Uint8Array(32).fill(5));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }), async (bytes, first) => {
        if (first !== undefined && bytes.length > 0) bytes[0] = first % 4;
        const result = await outcome(() => decryptTransport(key, bytes, { allowUnauthenticatedCbc: true, podIds: 'any' }));
        // Random bytes can only "succeed" through unauthenticated CBC, which the caller opted in to here.
        if (result === 'plaintext') expect(parseTransport(bytes).mode).toBe(1);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse(serialize(t)) returns t for every version', () => {
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    const transport = fc.record({
      version: fc.constantFrom(1 as const, 2 as const, 3 as const),
      podId: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      rotationId: rotationIds,
      iv: bytes(16), aad: bytes(16), ciphertext: fc.uint8Array({ maxLength: 100 }), tag: bytes(16), keyId: bytes(32),
      mode: fc.integer({ min: 0, max: 255 }),
      salt: fc.option(bytes(16), { nil: undefined }),
    });
    fc.assert(
      fc.property(transport, ({ salt, ...t }) => {
        const input: CiphertextTransport = salt === undefined ? t : { ...t, passwordSalt: salt };
        const parsed = parseTransport(serializeTransport(input));
        expect(parsed.version).toBe(t.version);
        expect(parsed.ciphertext).toEqual(t.ciphertext);
        expect(parsed.iv).toEqual(t.iv);
        expect(parsed.tag).toEqual(t.tag);
        if (t.version === 1) {
          expect(parsed.passwordSalt).toEqual(salt);
          expect(parsed.rotationId).toBe(0n);
        } else {
          expect([parsed.podId, parsed.rotationId]).toEqual([t.podId, t.rotationId]);
        }
        if (t.version === 3) expect([parsed.keyId, parsed.mode]).toEqual([t.keyId, t.mode]);
      }),
      { numRuns: 300 },
    );
  });
});
