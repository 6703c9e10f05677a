/**
 * RSA key encodings in pure JavaScript, read the same way on every platform: PEM (RFC 7468) around DER (X.690) for
 * - private keys: PKCS#1 `RSAPrivateKey` (RFC 8017 Appendix A.1.2, two primes) and unencrypted PKCS#8
 *   `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5208, RFC 5958) with algorithm rsaEncryption;
 * - public keys: SPKI `SubjectPublicKeyInfo` (RFC 5280 §4.1) with rsaEncryption and PKCS#1 `RSAPublicKey`.
 * Both platforms decide with this module which PEM text is a key (test/cross/rsa.test.ts): the portable one because
 * WebCrypto's `importKey` is asynchronous and the key must be checked when it is constructed, the Node one so that
 * it is as strict. Refused: encrypted PEM, RSA-PSS and other key types, DER with trailing bytes or non-minimal
 * lengths, a PKCS#8 key under the PKCS#1 label, and a private key whose primes do not multiply to its modulus
 * (OpenSSL accepts the last three).
 */
import { toBase64, tryFromBase64 } from '../util/bytes.js';

/** The public part of an RSA key: big-endian unsigned integers without leading zero bytes. */
export interface RsaPublicComponents {
  readonly n: Uint8Array;
  readonly e: Uint8Array;
}

/** A two-prime RSA private key (RFC 8017 §3.2, second representation), same encoding as {@link RsaPublicComponents}. */
export interface RsaPrivateComponents extends RsaPublicComponents {
  readonly d: Uint8Array;
  readonly p: Uint8Array;
  readonly q: Uint8Array;
  readonly dp: Uint8Array;
  readonly dq: Uint8Array;
  readonly qi: Uint8Array;
}

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
/** 1.2.840.113549.1.1.1, rsaEncryption. */
const RSA_ENCRYPTION_OID = new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);

/** Thrown inside this module only, for any DER that does not have the expected shape. */
class DerError extends Error {}

/** A cursor over the contents of one constructed DER value. */
class DerReader {
  readonly bytes: Uint8Array;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.#offset = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#offset === this.#end;
  }

  peekTag(): number | undefined {
    return this.done ? undefined : this.bytes[this.#offset];
  }

  /** Read one value of tag `tag`; returns a reader over its contents. */
  read(tag: number): DerReader {
    const bytes = this.bytes;
    if (this.#offset + 2 > this.#end || bytes[this.#offset] !== tag) throw new DerError();
    let length = bytes[this.#offset + 1]!;
    let start = this.#offset + 2;
    if (length >= 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4 || start + count > this.#end) throw new DerError();
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
      // DER: the shortest form, so a long form only for 128 bytes or more and without a leading zero byte.
      if (length < 0x80 || bytes[start] === 0) throw new DerError();
      start += count;
    }
    const end = start + length;
    if (end > this.#end) throw new DerError();
    this.#offset = end;
    return new DerReader(bytes, start, end);
  }

  /** The remaining contents as bytes. */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.#offset, this.#end);
    this.#offset = this.#end;
    return out;
  }

  /** Read a non-negative INTEGER, returned without leading zero bytes. */
  unsigned(): Uint8Array {
    const value = this.read(TAG_INTEGER).rest();
    if (value.length === 0 || value[0]! >= 0x80) throw new DerError();
    // DER: a leading zero byte only when the next byte has its top bit set.
    if (value.length > 1 && value[0] === 0 && value[1]! < 0x80) throw new DerError();
    return value[0] === 0 ? value.subarray(1) : value;
  }

  /** Read a version INTEGER that must be one of `accepted`. */
  version(...accepted: number[]): number {
    const value = this.unsigned();
    const version = value.length === 0 ? 0 : value.length === 1 ? value[0]! : -1;
    if (!accepted.includes(version)) throw new DerError();
    return version;
  }

  end(): void {
    if (!this.done) throw new DerError();
  }
}

function whole(der: Uint8Array): DerReader {
  const outer = new DerReader(der);
  const sequence = outer.read(TAG_SEQUENCE);
  outer.end();
  return sequence;
}

/** AlgorithmIdentifier { rsaEncryption, NULL or absent parameters }. */
function readRsaAlgorithm(reader: DerReader): void {
  const algorithm = reader.read(TAG_SEQUENCE);
  const oid = algorithm.read(TAG_OID).rest();
  if (oid.length !== RSA_ENCRYPTION_OID.length || oid.some((b, i) => b !== RSA_ENCRYPTION_OID[i])) throw new DerError();
  if (!algorithm.done) algorithm.read(TAG_NULL).end();
  algorithm.end();
}

function bigOf(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

function checkedPublic(n: Uint8Array, e: Uint8Array): RsaPublicComponents {
  // An odd modulus and an odd public exponent of at least 3: anything else is not an RSA key.
  if (n.length === 0 || (n[n.length - 1]! & 1) === 0 || e.length === 0 || (e[e.length - 1]! & 1) === 0 || bigOf(e) < 3n) {
    throw new DerError();
  }
  return { n, e };
}

function readRsaPrivateKey(der: Uint8Array): RsaPrivateComponents {
  const key = whole(der);
  key.version(0);
  const [n, e, d, p, q, dp, dq, qi] = Array.from({ length: 8 }, () => key.unsigned()) as [
    Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  key.end();
  checkedPublic(n, e);
  // The factors must be those of n (a damaged key fails here rather than at its first use).
  if (bigOf(p) * bigOf(q) !== bigOf(n)) throw new DerError();
  return { n, e, d, p, q, dp, dq, qi };
}

function readPkcs8(der: Uint8Array): RsaPrivateComponents {
  const info = whole(der);
  info.version(0, 1);
  readRsaAlgorithm(info);
  const key = readRsaPrivateKey(info.read(TAG_OCTET_STRING).rest());
  // Optional [0] attributes and (OneAsymmetricKey) [1] public key.
  if (info.peekTag() === 0xa0) info.read(0xa0);
  if (info.peekTag() === 0x81) info.read(0x81);
  info.end();
  return key;
}

function readRsaPublicKey(der: Uint8Array): RsaPublicComponents {
  const key = whole(der);
  const n = key.unsigned();
  const e = key.unsigned();
  key.end();
  return checkedPublic(n, e);
}

function readSpki(der: Uint8Array): RsaPublicComponents {
  const info = whole(der);
  readRsaAlgorithm(info);
  const bits = info.read(TAG_BIT_STRING).rest();
  info.end();
  if (bits[0] !== 0) throw new DerError();
  return readRsaPublicKey(bits.subarray(1));
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([^-]*?)-----END \1-----/g;
const PEM_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Read the first PEM block of `text` whose label has a reader (other blocks, such as a certificate in the same
 * file, are skipped); undefined when there is none or it does not decode. Headers (encrypted PEM) are refused.
 */
function parsePem<T>(text: string, readers: Readonly<Record<string, (der: Uint8Array) => T>>): T | undefined {
  for (const [, label, rawBody] of text.matchAll(PEM_BLOCK)) {
    if (!Object.hasOwn(readers, label!)) continue;
    const body = rawBody!.replace(/\s+/g, '');
    const der = PEM_BODY.test(body) && body.length % 4 === 0 ? tryFromBase64(body) : undefined;
    if (der === undefined) return undefined;
    try {
      return readers[label!]!(der);
    } catch (err) {
      if (err instanceof DerError) return undefined;
      throw err;
    }
  }
  return undefined;
}

/** An RSA private key from PEM (`RSA PRIVATE KEY` or `PRIVATE KEY`), or undefined. */
export function parseRsaPrivateKeyPem(text: string): RsaPrivateComponents | undefined {
  return parsePem(text, { 'RSA PRIVATE KEY': readRsaPrivateKey, 'PRIVATE KEY': readPkcs8 });
}

/** An RSA public key from PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), or undefined. */
export function parseRsaPublicKeyPem(text: string): RsaPublicComponents | undefined {
  return parsePem(text, { 'PUBLIC KEY': readSpki, 'RSA PUBLIC KEY': readRsaPublicKey });
}

/** PEM text for `der` under `label`, 64 characters a line, as node:crypto writes it. */
export function toPem(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{64}(?=.)/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Number of bits of a big-endian unsigned integer without leading zeros. */
export function bitLength(value: Uint8Array): number {
  return value.length === 0 ? 0 : (value.length - 1) * 8 + (32 - Math.clz32(value[0]!));
}
