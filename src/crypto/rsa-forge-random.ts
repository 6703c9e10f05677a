/**
 * Part of the node-forge adapter (./rsa-forge.ts), imported by it before any node-forge module: gives node-forge its
 * randomness (the blinding factor of every raw RSA operation, the padding of PKCS#1 v1.5 encryption) straight from
 * `crypto.getRandomValues`. Left to itself, node-forge picks its entropy source by guessing the runtime: wherever a
 * `process` global claims Node (Workers with Node compatibility, Electron, test runners with a DOM), it calls
 * node:crypto's `randomBytes`, which a browser bundle does not have. node-forge keeps a `forge.random` that exists
 * before its lib/random.js runs; when node-forge's own exists already (it was loaded first, in Node), it stays.
 * The only module with a side effect on import, so package.json `sideEffects` names it (bundlers keep it).
 */
import forge from 'node-forge/lib/forge.js';
import { getRandomValuesChunked } from './webcrypto-random.js';

/** `count` random bytes as a node-forge "binary string", one character per byte. */
function randomBinary(count: number): string {
  const bytes = getRandomValuesChunked(new Uint8Array(count));
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

forge.random ??= {
  getBytes(count: number, callback?: (err: Error | null, bytes: string) => void): string | undefined {
    const bytes = randomBinary(count);
    if (callback === undefined) return bytes;
    callback(null, bytes);
    return undefined;
  },
  getBytesSync: randomBinary,
};
