/**
 * The {@link Platform} for Node (package.json `imports`: `#platform` under the `node` condition): node:crypto for
 * hashing, randomness, AES and RSA, the fastest backend here at every size (docs/performance.md §1), worker threads
 * for blob frames on all cores, node:fs for configuration files, and undici's connection pools for HTTP.
 */
import { createHmac, hash, randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { nodeAead, nodeCbc, nodeFrameCipher } from '../crypto/aead-node.js';
import { nodeFrameWorkers } from '../crypto/frame-workers-node.js';
import { nodeRsa } from '../crypto/rsa-node.js';
import { createDispatcher } from '../http/pool.js';
import type { Platform } from './platform.js';

/** The Node platform. */
export const platform: Platform = {
  name: 'node',
  defaultAead: nodeAead,
  frameCipher: nodeFrameCipher,
  frameWorkers: nodeFrameWorkers,
  sha256(...parts) {
    // One-shot hash(): no Hash object per call (search tokens hash every word of a message; docs/performance.md §8).
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return new Uint8Array(hash('sha256', data, 'buffer'));
  },
  hmacSha256(key, ...parts) {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },
  randomFill: (target) => randomFillSync(target),
  aesCbcDecryptNoPadding: (key, iv, data) => nodeCbc('decrypt', key, iv, data),
  aesCbcEncryptNoPadding: (key, iv, data) => nodeCbc('encrypt', key, iv, data),
  rsa: nodeRsa,
  readFile: async (path, baseDir) => {
    const contents = await readFile(resolve(baseDir ?? '.', path));
    return new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength);
  },
  directoryOf: (path) => dirname(resolve(path)),
  createTransport: createDispatcher,
};
