/**
 * AES-256-GCM and AES-256-CBC (no padding) over node:crypto, used by src/platform/node.ts.
 * The fastest backend on Node at every message size (docs/performance.md §1): ≈100k GCM operations/s per core,
 * bounded by the fixed cost of `createCipheriv`.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecryptionFailedError } from '../errors.js';
import { GCM_TAG_LENGTH, type AeadBackend, type AeadKey, type SealLayout } from './aead.js';
import type { FrameCipher } from './frame-cipher.js';

function sealSync(key: AeadKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, layout?: SealLayout): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: GCM_TAG_LENGTH });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  cipher.final();
  const headroom = layout?.headroom ?? 0;
  const out = new Uint8Array(headroom + body.length + GCM_TAG_LENGTH + (layout?.tailroom ?? 0));
  out.set(body, headroom);
  out.set(cipher.getAuthTag(), headroom + body.length);
  return out;
}

function openSync(key: AeadKey, iv: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array {
  if (ciphertextAndTag.length < GCM_TAG_LENGTH) throw new DecryptionFailedError();
  const split = ciphertextAndTag.length - GCM_TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(ciphertextAndTag.subarray(split));
  const body = decipher.update(ciphertextAndTag.subarray(0, split));
  try {
    decipher.final();
  } catch {
    body.fill(0);
    throw new DecryptionFailedError();
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** The node:crypto AES-256-GCM backend. */
export const nodeAead: AeadBackend = {
  name: 'node',
  seal: async (key, iv, aad, plaintext, layout) => sealSync(key, iv, aad, plaintext, layout),
  open: async (key, iv, aad, ciphertextAndTag) => openSync(key, iv, aad, ciphertextAndTag),
};

/**
 * One-frame AES-256-GCM over node:crypto, synchronous: the ciphertext and tag are returned as node produced them,
 * without the copy into one array that {@link nodeAead} makes (store/blob-format.ts seals 64 KiB frames with it).
 */
export const nodeFrameCipher: FrameCipher = {
  name: 'node',
  seal(key, nonce, aad, plaintext) {
    const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: GCM_TAG_LENGTH });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    return {
      ciphertext: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      tag: new Uint8Array(tag.buffer, tag.byteOffset, tag.byteLength),
    };
  },
  open: openSync,
};

/** AES-256-CBC without padding over node:crypto. */
export function nodeCbc(direction: 'encrypt' | 'decrypt', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = direction === 'encrypt' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(false);
  const head = cipher.update(data);
  const tail = cipher.final();
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
