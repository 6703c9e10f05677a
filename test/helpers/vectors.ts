// Typed access to the Symphony known-answer vectors in test/vectors/ (where they come from: test/vectors/README.md).
import vectors from '../vectors/symphony-crypto-1.63.2.json' with { type: 'json' };
import { aeadBackendNames } from '../../src/crypto/backends.js';
import { tryFromBase64, tryFromHex } from '../../src/util/bytes.js';

export { vectors };

/** Decode hex that a vector file guarantees to be valid. */
export function hex(text: string): Uint8Array {
  const bytes = tryFromHex(text);
  if (bytes === undefined) throw new Error('bad hex in vector file');
  return bytes;
}

/** Decode base64 that a vector file guarantees to be valid. */
export function b64(text: string): Uint8Array {
  const bytes = tryFromBase64(text);
  if (bytes === undefined) throw new Error('bad base64 in vector file');
  return bytes;
}

/** The AEAD backends every test runs against: all that the platform under test offers (node:crypto only in Node). */
export const BACKENDS = aeadBackendNames();

/**
 * Byte equality that stays fast for MiB-sized arrays (vitest's deep `toEqual` walks typed arrays element by
 * element, which takes seconds at 1 MiB).
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
