/**
 * The portable platform's only node-forge user (src/sandbox/tls.ts uses it for certificates, in Node only): the two
 * RSA operations WebCrypto does not offer, both over forge's big-integer RSA with blinding.
 * - `decryptRaw`: the raw private-key operation c^d mod n (RFC 8017 §5.1.2), under src/crypto/rsa.ts's
 *   constant-time PKCS#1 v1.5 unwrap with implicit rejection.
 * - `encryptPkcs1`: RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1), for tests and the sandbox.
 *
 * Its randomness comes from `crypto.getRandomValues` (./rsa-forge-random.ts). Not constant-time: forge's arithmetic
 * is JavaScript. Blinding hides the exponentiation's dependence on the
 * ciphertext, but the big-integer code's timing may still depend on the secret factors (docs/threat-model.md).
 */
// First: node-forge's randomness must be in place before its modules load.
import './rsa-forge-random.js';
import forgeJsbn from 'node-forge/lib/jsbn.js';
import forgeRsa from 'node-forge/lib/rsa.js';
import type { RsaPrivateComponents, RsaPublicComponents } from './rsa-der.js';

type ForgeBigInteger = InstanceType<typeof forgeJsbn.BigInteger>;

function big(bytes: Uint8Array): ForgeBigInteger {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return new forgeJsbn.BigInteger(hex === '' ? '0' : hex, 16);
}

/** forge works on "binary strings", one character per byte. */
function toBinary(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

function fromBinary(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The raw private-key operation of one key. */
export interface ForgeRsaPrivate {
  /** c^d mod n as exactly k bytes; throws when `ciphertext` is not k bytes long or not below n. */
  decryptRaw(ciphertext: Uint8Array): Uint8Array;
}

/** PKCS#1 v1.5 encryption under one public key. */
export interface ForgeRsaPublic {
  /** RSAES-PKCS1-v1_5 encryption of `message` (at most k − 11 bytes). */
  encryptPkcs1(message: Uint8Array): Uint8Array;
}

/** Build forge's key for `key` once; the caller keeps the result with its key. */
export function forgeRsaPrivate(key: RsaPrivateComponents): ForgeRsaPrivate {
  const forgeKey = forgeRsa.setPrivateKey(big(key.n), big(key.e), big(key.d), big(key.p), big(key.q), big(key.dp), big(key.dq), big(key.qi));
  return { decryptRaw: (ciphertext) => fromBinary(forgeKey.decrypt(toBinary(ciphertext), 'RAW')) };
}

/** Build forge's public key for `key` once. */
export function forgeRsaPublic(key: RsaPublicComponents): ForgeRsaPublic {
  const forgeKey = forgeRsa.setPublicKey(big(key.n), big(key.e));
  return { encryptPkcs1: (message) => fromBinary(forgeKey.encrypt(toBinary(message), 'RSAES-PKCS1-V1_5')) };
}
