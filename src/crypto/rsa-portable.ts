/**
 * RSA for runtimes without node:crypto, the {@link RsaPlatform} of src/platform/portable.ts:
 * - keys are parsed synchronously from PEM by ./rsa-der.ts and imported into WebCrypto (as JWK) on first use, once
 *   per algorithm;
 * - WebCrypto (`globalThis.crypto.subtle`) does RSA-OAEP with SHA-1 or SHA-256 (RFC 8017 §7.1), RS512 signatures
 *   (RSASSA-PKCS1-v1_5 with SHA-512, RFC 7518 §3.3) and key generation;
 * - node-forge (./rsa-forge.ts) does what WebCrypto lacks: the raw private-key operation under the PKCS#1 v1.5 unwrap
 *   and PKCS#1 v1.5 encryption (docs/threat-model.md says what that costs).
 */
import type { OaepHash, PlatformRsaPrivateKey, PlatformRsaPublicKey, RsaPlatform } from '../platform/platform.js';
import { toBase64Url } from '../util/bytes.js';
import { bitLength, parseRsaPrivateKeyPem, parseRsaPublicKeyPem, toPem, type RsaPrivateComponents, type RsaPublicComponents } from './rsa-der.js';
import { forgeRsaPrivate, forgeRsaPublic, type ForgeRsaPrivate, type ForgeRsaPublic } from './rsa-forge.js';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

const RS512: RsaHashedImportParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' };
const oaep = (hash: OaepHash): RsaHashedImportParams => ({ name: 'RSA-OAEP', hash });

const buffer = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => bytes as Uint8Array<ArrayBuffer>;

/** WebCrypto keys for one RSA key, imported on first use for each algorithm and usage. */
function importer(jwk: JsonWebKey): (algorithm: RsaHashedImportParams, usage: KeyUsage) => Promise<CryptoKey> {
  const imported = new Map<string, Promise<CryptoKey>>();
  return (algorithm, usage) => {
    const id = `${algorithm.name}/${algorithm.hash as string}/${usage}`;
    let key = imported.get(id);
    if (key === undefined) {
      key = subtle().importKey('jwk', jwk, algorithm, false, [usage]);
      imported.set(id, key);
    }
    return key;
  };
}

function publicJwk(key: RsaPublicComponents): JsonWebKey {
  return { kty: 'RSA', n: toBase64Url(key.n), e: toBase64Url(key.e) };
}

function portablePublicKey(components: RsaPublicComponents): PlatformRsaPublicKey {
  const webCryptoKey = importer(publicJwk(components));
  let forge: ForgeRsaPublic | undefined;
  return {
    modulusBits: bitLength(components.n),
    encryptOaep: async (hash, message) =>
      new Uint8Array(await subtle().encrypt({ name: 'RSA-OAEP' }, await webCryptoKey(oaep(hash), 'encrypt'), buffer(message))),
    encryptPkcs1: async (message) => (forge ??= forgeRsaPublic(components)).encryptPkcs1(message),
    verifyRs512: async (data, signature) =>
      subtle().verify(RS512, await webCryptoKey(RS512, 'verify'), buffer(signature), buffer(data)),
  };
}

function portablePrivateKey(components: RsaPrivateComponents): PlatformRsaPrivateKey {
  const webCryptoKey = importer({
    ...publicJwk(components),
    d: toBase64Url(components.d),
    p: toBase64Url(components.p),
    q: toBase64Url(components.q),
    dp: toBase64Url(components.dp),
    dq: toBase64Url(components.dq),
    qi: toBase64Url(components.qi),
  });
  let forge: ForgeRsaPrivate | undefined;
  return {
    modulusBits: bitLength(components.n),
    privateExponent: () => components.d.slice(),
    publicKey: () => portablePublicKey(components),
    decryptRaw: async (ciphertext) => (forge ??= forgeRsaPrivate(components)).decryptRaw(ciphertext),
    decryptOaep: async (hash, ciphertext) =>
      new Uint8Array(await subtle().decrypt({ name: 'RSA-OAEP' }, await webCryptoKey(oaep(hash), 'decrypt'), buffer(ciphertext))),
    signRs512: async (data) => new Uint8Array(await subtle().sign(RS512, await webCryptoKey(RS512, 'sign'), buffer(data))),
  };
}

/** RSA over WebCrypto, with node-forge for PKCS#1 v1.5. */
export const portableRsa: RsaPlatform = {
  isNativeKey: () => false,
  privateKey(key) {
    const components = typeof key === 'string' ? parseRsaPrivateKeyPem(key) : undefined;
    return components === undefined ? undefined : portablePrivateKey(components);
  },
  publicKey(key) {
    const components = typeof key === 'string' ? parseRsaPublicKeyPem(key) : undefined;
    return components === undefined ? undefined : portablePublicKey(components);
  },
  async generateKeyPair(modulusBits) {
    const pair = await subtle().generateKey(
      { ...RS512, modulusLength: modulusBits, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ['sign', 'verify'],
    );
    return {
      privateKeyPem: toPem('PRIVATE KEY', new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey))),
      publicKeyPem: toPem('PUBLIC KEY', new Uint8Array(await subtle().exportKey('spki', pair.publicKey))),
    };
  },
};
