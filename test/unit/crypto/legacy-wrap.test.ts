import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCbc } from '../../../src/crypto/aead-noble.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { LEGACY_WRAPPED_KEY_LENGTH, unwrapLegacyKey, wrapLegacyKey } from '../../../src/crypto/legacy-wrap.js';
import { platform } from '#platform';
import { AllegroError } from '../../../src/errors.js';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
  return 'no error';
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('legacy 48-byte key wrap', () => {
  it('round-trips random keys under random account keys, with a fresh IV each time', () => {
    fc.assert(
      fc.property(bytes32, bytes32, (accountKeyBytes, key) => {
        const accountKey = new AesKey(accountKeyBytes);
        const wrapped = wrapLegacyKey(accountKey, key);
        expect(wrapped.length).toBe(LEGACY_WRAPPED_KEY_LENGTH);
        expect(unwrapLegacyKey(accountKey, wrapped)).toEqual(key);
        expect(wrapLegacyKey(accountKey, key).subarray(0, 16)).not.toEqual(wrapped.subarray(0, 16));
      }),
      { numRuns: 100 },
    );
  });

  it('is IV ‖ AES-256-CBC without padding, as node and noble compute it', () => {
    fc.assert(
      fc.property(bytes32, bytes32, fc.uint8Array({ minLength: 16, maxLength: 16 }), (accountKeyBytes, key, iv) => {
        const cipher = createCipheriv('aes-256-cbc', accountKeyBytes, iv).setAutoPadding(false);
        const byNode = new Uint8Array([...iv, ...cipher.update(key), ...cipher.final()]);
        const byNoble = new Uint8Array([...iv, ...nobleCbc('encrypt', accountKeyBytes, iv, key)]);
        expect(byNoble).toEqual(byNode);
        expect(platform.aesCbcEncryptNoPadding(accountKeyBytes, iv, key)).toEqual(byNode.subarray(16));
        expect(unwrapLegacyKey(new AesKey(accountKeyBytes), byNode)).toEqual(key);
        expect(nobleCbc('decrypt', accountKeyBytes, iv, byNode.subarray(16))).toEqual(key);
      }),
      { numRuns: 100 },
    );
  });

  it('reads a wrap made by noble and one made by wrapLegacyKey at an unaligned offset', () => {
    const accountKey = new AesKey(new Uint8Array(randomBytes(32)));
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    const wrapped = new Uint8Array([...iv, ...nobleCbc('encrypt', accountKey.bytes, iv, key)]);
    expect(unwrapLegacyKey(accountKey, wrapped)).toEqual(key);
    const shifted = new Uint8Array(LEGACY_WRAPPED_KEY_LENGTH + 3);
    shifted.set(wrapLegacyKey(accountKey, key), 3);
    expect(unwrapLegacyKey(accountKey, shifted.subarray(3))).toEqual(key);
  });

  it('has no integrity: a wrong account key or a flipped IV bit gives other bytes, not an error', () => {
    const accountKey = new AesKey(new Uint8Array(32).fill(1));
    const key = new Uint8Array(32).fill(0x42);
    const wrapped = wrapLegacyKey(accountKey, key);
    const other = unwrapLegacyKey(new AesKey(new Uint8Array(32).fill(2)), wrapped);
    expect(other.length).toBe(32);
    expect(other).not.toEqual(key);
    const flipped = wrapped.slice();
    flipped[0]! ^= 0x01;
    const malleated = unwrapLegacyKey(accountKey, flipped);
    expect(malleated[0]).toBe(0x42 ^ 0x01);
    expect(malleated.subarray(1)).toEqual(key.subarray(1));
  });

  it('raises MALFORMED_CIPHERTEXT for any length but 48', () => {
    const accountKey = new AesKey(new Uint8Array(32));
    for (const length of [0, 16, 32, 47, 49, 64, 94]) {
      expect(codeOf(() => unwrapLegacyKey(accountKey, new Uint8Array(length)))).toBe('MALFORMED_CIPHERTEXT');
    }
  });

  it('raises INVALID_ARGUMENT for a bad account key, wrapped value or key', () => {
    const accountKey = new AesKey(new Uint8Array(32));
    const wiped = new AesKey(new Uint8Array(32));
    wiped.wipe();
    const cases: Array<() => unknown> = [
      () => unwrapLegacyKey(new Uint8Array(32) as unknown as AesKey, new Uint8Array(48)),
      () => unwrapLegacyKey(wiped, new Uint8Array(48)),
      () => unwrapLegacyKey(accountKey, Array(48).fill(0) as unknown as Uint8Array),
      () => wrapLegacyKey(accountKey, new Uint8Array(31)),
      () => wrapLegacyKey(accountKey, new Uint8Array(48)),
      () => wrapLegacyKey({ bytes: new Uint8Array(32) } as unknown as AesKey, new Uint8Array(32)),
      () => wrapLegacyKey(wiped, new Uint8Array(32)),
    ];
    for (const run of cases) expect(codeOf(run)).toBe('INVALID_ARGUMENT');
  });
});
