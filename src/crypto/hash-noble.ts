/**
 * The only module that imports @noble/hashes: synchronous SHA-256 and HMAC-SHA256 in pure JS, for runtimes
 * without node:crypto (WebCrypto's digest is asynchronous, and Symphony's key id, entity and search-token
 * formats are computed inline).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-SHA256 of the concatenation of `parts` under `key`. */
export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = hmac.create(nobleSha256, key);
  for (const p of parts) h.update(p);
  return h.digest();
}
