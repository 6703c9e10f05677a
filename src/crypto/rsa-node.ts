/**
 * RSA over node:crypto (OpenSSL), the {@link RsaPlatform} of src/platform/node.ts: PEM and `KeyObject` parsing,
 * RSAES-OAEP (RFC 8017 §7.1), the raw private-key operation with `RSA_NO_PADDING` (OpenSSL blinds it; src/crypto/rsa.ts
 * checks the PKCS#1 v1.5 padding itself, in constant time, because Node 20.20 refuses `RSA_PKCS1_PADDING` decryption,
 * CVE-2023-46809), RS512 signatures (RFC 7518 §3.3) and key generation off the main thread.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPair, KeyObject, privateDecrypt, publicEncrypt, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';
import type { OaepHash, PlatformRsaPrivateKey, PlatformRsaPublicKey, RsaPlatform } from '../platform/platform.js';
import { tryFromBase64 } from '../util/bytes.js';
import { parseRsaPrivateKeyPem, parseRsaPublicKeyPem } from './rsa-der.js';

const OAEP_HASH: Readonly<Record<OaepHash, string>> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };

const generateKeyPairAsync = promisify(generateKeyPair);

function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function rsaKeyObject(key: KeyObject | undefined): KeyObject | undefined {
  return key?.asymmetricKeyType === 'rsa' ? key : undefined;
}

function publicKeyOf(key: KeyObject): PlatformRsaPublicKey {
  return {
    modulusBits: key.asymmetricKeyDetails?.modulusLength ?? 0,
    encryptOaep: async (hash, message) =>
      bytesOf(publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[hash] }, message)),
    encryptPkcs1: async (message) => bytesOf(publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, message)),
    verifyRs512: async (data, signature) => verify('sha512', data, key, signature),
  };
}

function privateKeyOf(key: KeyObject): PlatformRsaPrivateKey {
  return {
    modulusBits: key.asymmetricKeyDetails?.modulusLength ?? 0,
    // `d` is always present in the JWK export of a private RSA key.
    privateExponent: () => tryFromBase64(key.export({ format: 'jwk' }).d as string)!,
    publicKey: () => publicKeyOf(createPublicKey(key)),
    decryptRaw: async (ciphertext) => bytesOf(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ciphertext)),
    decryptOaep: async (hash, ciphertext) =>
      bytesOf(privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[hash] }, ciphertext)),
    signRs512: async (data) => bytesOf(sign('sha512', data, key)),
  };
}

/** Parse PEM text that ./rsa-der.ts has accepted (which PEM is a key is decided there, for both platforms). */
function parsed(accepted: boolean, parse: () => KeyObject): KeyObject | undefined {
  if (!accepted) return undefined;
  try {
    return parse();
  } catch {
    // The parser's message is dropped: the caller's error must not depend on, or quote, the key text.
    return undefined;
  }
}

/** RSA over node:crypto. */
export const nodeRsa: RsaPlatform = {
  isNativeKey: (value) => value instanceof KeyObject,
  privateKey(key) {
    const object = key instanceof KeyObject ? (key.type === 'private' ? key : undefined)
      : typeof key === 'string' ? parsed(parseRsaPrivateKeyPem(key) !== undefined, () => createPrivateKey({ key, format: 'pem' })) : undefined;
    const rsa = rsaKeyObject(object);
    return rsa === undefined ? undefined : privateKeyOf(rsa);
  },
  publicKey(key) {
    const object = key instanceof KeyObject ? (key.type === 'public' ? key : undefined)
      : typeof key === 'string' ? parsed(parseRsaPublicKeyPem(key) !== undefined, () => createPublicKey({ key, format: 'pem' })) : undefined;
    const rsa = rsaKeyObject(object);
    return rsa === undefined ? undefined : publicKeyOf(rsa);
  },
  async generateKeyPair(modulusBits) {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
      modulusLength: modulusBits,
      publicExponent: 0x10001,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    return { privateKeyPem: privateKey, publicKeyPem: publicKey };
  },
};
