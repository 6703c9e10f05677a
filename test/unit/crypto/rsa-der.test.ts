import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bitLength, parseRsaPrivateKeyPem, parseRsaPublicKeyPem, toPem } from '../../../src/crypto/rsa-der.js';
import { toBase64Url } from '../../../src/util/bytes.js';

const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = pair.privateKey.export({ format: 'jwk' });

// A small DER encoder, independent of the module under test.
function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
/** A non-negative INTEGER from base64url, with the leading zero DER needs. */
function int(b64url: string | number): Uint8Array {
  let bytes = typeof b64url === 'number' ? Buffer.from([b64url]) : Buffer.from(b64url, 'base64url');
  if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}
const RSA_OID = Buffer.from('06092a864886f70d010101', 'hex');
const PSS_OID = Buffer.from('06092a864886f70d01010a', 'hex');
const NULL = Buffer.from('0500', 'hex');
const fields = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'] as const;

function pkcs1(overrides: Partial<Record<(typeof fields)[number], string>> = {}, version = 0): Uint8Array {
  return seq(int(version), ...fields.map((f) => int(overrides[f] ?? jwk[f]!)));
}
function pkcs8(inner: Uint8Array, options: { oid?: Uint8Array; version?: number; trailer?: Uint8Array[] } = {}): Uint8Array {
  return seq(int(options.version ?? 0), seq(options.oid ?? RSA_OID, NULL), tlv(0x04, inner), ...(options.trailer ?? []));
}
function spki(inner: Uint8Array, unusedBits = 0): Uint8Array {
  return seq(seq(RSA_OID, NULL), tlv(0x03, Buffer.from([unusedBits]), inner));
}
const pem = (label: string, der: Uint8Array) => toPem(label, der);

describe('parseRsaPrivateKeyPem', () => {
  const expected = Object.fromEntries(fields.map((f) => [f, jwk[f]]));
  const asJwk = (c: ReturnType<typeof parseRsaPrivateKeyPem>) => c && Object.fromEntries(fields.map((f) => [f, toBase64Url(c[f])]));

  it('reads PKCS#8 and PKCS#1 as node writes them, into the same components as node', () => {
    expect(asJwk(parseRsaPrivateKeyPem(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string))).toEqual(expected);
    expect(asJwk(parseRsaPrivateKeyPem(pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string))).toEqual(expected);
    expect(asJwk(parseRsaPrivateKeyPem(pem('PRIVATE KEY', pkcs8(pkcs1()))))).toEqual(expected);
  });

  it('accepts OneAsymmetricKey (version 1) with attributes and a public key, CRLF lines and surrounding text', () => {
    const attributes = tlv(0xa0, seq());
    const publicKey = tlv(0x81, Buffer.from([0, 1, 2]));
    expect(asJwk(parseRsaPrivateKeyPem(pem('PRIVATE KEY', pkcs8(pkcs1(), { version: 1, trailer: [attributes, publicKey] }))))).toEqual(expected);
    expect(parseRsaPrivateKeyPem(pem('RSA PRIVATE KEY', pkcs1()).replace(/\n/g, '\r\n'))).toBeDefined();
    expect(parseRsaPrivateKeyPem(`Bag Attributes\n${pem('RSA PRIVATE KEY', pkcs1())}trailing text`)).toBeDefined();
  });

  it('skips blocks of other labels, such as a certificate before the key', () => {
    const text = `${pem('CERTIFICATE', seq())}${pem('RSA PRIVATE KEY', pkcs1())}`;
    expect(asJwk(parseRsaPrivateKeyPem(text))).toEqual(expected);
  });

  it('refuses anything that is not exactly an unencrypted two-prime RSA private key', () => {
    const good = pkcs1();
    const refused: Array<[string, string]> = [
      ['empty', ''],
      ['no PEM block', 'MIIE'],
      ['public key', pem('PUBLIC KEY', spki(seq(int(jwk.n!), int(jwk.e!))))],
      ['encrypted PKCS#8', pem('ENCRYPTED PRIVATE KEY', good)],
      ['encrypted PEM headers', pem('RSA PRIVATE KEY', good).replace('KEY-----\n', 'KEY-----\nProc-Type: 4,ENCRYPTED\n\n')],
      ['bad base64', pem('RSA PRIVATE KEY', good).replace(/\n[A-Za-z]/, '\n*')],
      ['a body length that is not a multiple of 4', pem('RSA PRIVATE KEY', good).replace(/\n(.)/, '\n$1$1')],
      ['PKCS#8 under the PKCS#1 label', pem('RSA PRIVATE KEY', pkcs8(good))],
      ['PKCS#1 under the PKCS#8 label', pem('PRIVATE KEY', good)],
      ['a trailing byte', pem('RSA PRIVATE KEY', Buffer.concat([good, Buffer.from([0])]))],
      ['a truncated key', pem('RSA PRIVATE KEY', good.subarray(0, good.length - 1))],
      ['multi-prime version 1', pem('RSA PRIVATE KEY', pkcs1({}, 1))],
      ['RSA-PSS', pem('PRIVATE KEY', pkcs8(good, { oid: PSS_OID }))],
      ['PKCS#8 version 2', pem('PRIVATE KEY', pkcs8(good, { version: 2 }))],
      ['primes that are not the factors of n', pem('RSA PRIVATE KEY', pkcs1({ p: jwk.q!, q: toBase64Url(Buffer.from(jwk.p!, 'base64url').map((b, i) => (i === 10 ? b ^ 1 : b))) }))],
      ['an even modulus', pem('RSA PRIVATE KEY', pkcs1({ n: toBase64Url(Buffer.from(jwk.n!, 'base64url').map((b, i, a) => (i === a.length - 1 ? b & 0xfe : b))) }))],
      ['public exponent 1', pem('RSA PRIVATE KEY', pkcs1({ e: 'AQ' }))],
      ['a long-form length for a short value', pem('RSA PRIVATE KEY', seq(Buffer.from([0x02, 0x81, 0x01, 0x00]), ...fields.map((f) => int(jwk[f]!))))],
      ['a negative integer', pem('RSA PRIVATE KEY', seq(int(0), tlv(0x02, Buffer.from(jwk.n!, 'base64url')), ...fields.slice(1).map((f) => int(jwk[f]!))))],
      ['an integer with a needless leading zero', pem('RSA PRIVATE KEY', seq(int(0), int(jwk.n!), tlv(0x02, Buffer.from([0, 1, 0, 1])), ...fields.slice(2).map((f) => int(jwk[f]!))))],
    ];
    for (const [what, text] of refused) expect(parseRsaPrivateKeyPem(text), what).toBeUndefined();
  });
});

describe('parseRsaPublicKeyPem', () => {
  const publicJwk = pair.publicKey.export({ format: 'jwk' });

  it('reads SPKI and PKCS#1 as node writes them', () => {
    for (const type of ['spki', 'pkcs1'] as const) {
      const parsed = parseRsaPublicKeyPem(pair.publicKey.export({ type, format: 'pem' }) as string)!;
      expect({ n: toBase64Url(parsed.n), e: toBase64Url(parsed.e) }).toEqual({ n: publicJwk.n, e: publicJwk.e });
    }
  });

  it('refuses private keys, other algorithms and malformed SPKI', () => {
    const inner = seq(int(publicJwk.n!), int(publicJwk.e!));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const refused: Array<[string, string]> = [
      ['a private key', pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
      ['an EC key', ec],
      ['unused bits in the BIT STRING', pem('PUBLIC KEY', spki(inner, 1))],
      ['PKCS#1 under the SPKI label', pem('PUBLIC KEY', inner)],
      ['a trailing field', pem('RSA PUBLIC KEY', seq(int(publicJwk.n!), int(publicJwk.e!), int(1)))],
    ];
    for (const [what, text] of refused) expect(parseRsaPublicKeyPem(text), what).toBeUndefined();
  });
});

describe('toPem and bitLength', () => {
  it('write PEM exactly as node does', () => {
    const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(toPem('PRIVATE KEY', der)).toBe(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const spkiDer = pair.publicKey.export({ type: 'spki', format: 'der' });
    expect(toPem('PUBLIC KEY', spkiDer)).toBe(pair.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(createPrivateKey(toPem('PRIVATE KEY', der)).asymmetricKeyType).toBe('rsa');
    expect(createPublicKey(toPem('PUBLIC KEY', spkiDer)).asymmetricKeyType).toBe('rsa');
  });

  it('count bits of big-endian integers', () => {
    expect(bitLength(new Uint8Array(0))).toBe(0);
    expect(bitLength(Uint8Array.of(1))).toBe(1);
    expect(bitLength(Uint8Array.of(0x80, 0))).toBe(16);
    expect(bitLength(Buffer.from(jwk.n!, 'base64url'))).toBe(2048);
  });
});
