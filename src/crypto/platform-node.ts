/**
 * {@link Platform} for Node: node:crypto for hashing, randomness, CBC and the default AEAD backend.
 * Browser bundles replace this module with ./platform-portable.js (package.json `browser` field).
 */
import { createHash, createHmac, randomFillSync } from 'node:crypto';
import { nodeAead, nodeCbc, nodeFrameCipher } from './aead-node.js';
import type { Platform } from './platform.js';

/** The node:crypto platform. */
export const platform: Platform = {
  name: 'node',
  defaultAead: nodeAead,
  frameCipher: nodeFrameCipher,
  sha256(...parts) {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },
  hmacSha256(key, ...parts) {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },
  randomFill: (target) => randomFillSync(target),
  aesCbcDecryptNoPadding: (key, iv, data) => nodeCbc('decrypt', key, iv, data),
  aesCbcEncryptNoPadding: (key, iv, data) => nodeCbc('encrypt', key, iv, data),
};
