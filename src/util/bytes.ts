/**
 * Byte helpers shared by every module: UTF-8, hex and base64 (standard and URL-safe) codecs, concatenation,
 * big-endian integers, constant-time comparison and wiping. Uses Node's `Buffer` for base64 when it exists
 * (≈10× faster than any pure-JS path, docs/performance.md §2) and a portable fallback otherwise.
 */

type BufferLike = {
  from(data: string, encoding: 'base64' | 'base64url' | 'hex' | 'utf8'): Uint8Array;
  from(data: ArrayBufferLike, byteOffset: number, length: number): Uint8Array & {
    toString(encoding: 'base64' | 'base64url' | 'hex' | 'utf8'): string;
  };
};
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 encode a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * UTF-8 encode a string as Java's `String.getBytes(StandardCharsets.UTF_8)` does, which is how Symphony's library
 * turns entities and search words into bytes: every unpaired surrogate becomes `?` (0x3F) rather than U+FFFD.
 * Identical to plain UTF-8 for well-formed strings.
 */
export function javaUtf8(text: string): Uint8Array {
  return utf8(text.replace(LONE_SURROGATE, '?'));
}

/** UTF-8 decode bytes (invalid sequences become U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function asNodeBuffer(bytes: Uint8Array, nodeBuffer: BufferLike) {
  return nodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) table[B64.charCodeAt(i)] = i;
  table['-'.charCodeAt(0)] = 62;
  table['_'.charCodeAt(0)] = 63;
  return table;
})();

/** Standard base64 (with padding), as Symphony uses in JSON bodies. */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return asNodeBuffer(bytes, NodeBuffer).toString('base64');
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! +
      (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < bytes.length ? B64[n & 63]! : '=');
  }
  return out;
}

/** URL-safe base64 without padding (RFC 4648 §5), as used in URLs and JWTs. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Decode standard or URL-safe base64, padded or not. Returns `undefined` if the text is not valid base64
 * (any character outside the two alphabets, misplaced padding, or an impossible length).
 */
export function tryFromBase64(text: string): Uint8Array | undefined {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */ && text.length - end < 2) end--;
  if (end % 4 === 1) return undefined;
  if (text.length !== end && text.length % 4 !== 0) return undefined;
  const expectedLength = Math.floor((end * 3) / 4);
  if (NodeBuffer) {
    // Buffer skips characters outside the alphabets; a shorter result therefore means invalid input.
    const decoded = NodeBuffer.from(text, 'base64');
    if (decoded.length !== expectedLength) return undefined;
    return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  }
  const out = new Uint8Array(expectedLength);
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_LOOKUP[c]! : -1;
    if (v < 0) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  if (NodeBuffer) return asNodeBuffer(bytes, NodeBuffer).toString('hex');
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Decode hex (either case). Returns `undefined` for odd length or a non-hex character. */
export function tryFromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenate byte arrays into one new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Compare two byte arrays in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Overwrite bytes with zeros. JavaScript cannot guarantee no other copy exists (docs/threat-model.md). */
export function wipe(...arrays: readonly Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}

/** Read a big-endian signed 64-bit integer. */
export function readInt64BE(bytes: Uint8Array, offset: number): bigint {
  const high = readInt32BE(bytes, offset);
  const low = readInt32BE(bytes, offset + 4) >>> 0;
  // Most rotation ids fit in 53 bits: stay in number arithmetic then (no DataView allocation per message).
  if (high >= -0x200000 && high < 0x200000) return BigInt(high * 0x1_0000_0000 + low);
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Write a big-endian signed 64-bit integer (two's complement). */
export function writeInt64BE(bytes: Uint8Array, offset: number, value: bigint): void {
  writeInt32BE(bytes, offset, Number(BigInt.asIntN(32, value >> 32n)));
  writeInt32BE(bytes, offset + 4, Number(BigInt.asIntN(32, value)));
}

/** Read a big-endian signed 32-bit integer. */
export function readInt32BE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

/** Write a big-endian 32-bit integer (signed or unsigned: the low 32 bits of `value`). */
export function writeInt32BE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}
