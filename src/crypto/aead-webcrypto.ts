/**
 * AES-256-GCM over the WebCrypto API (`globalThis.crypto.subtle`), the backend for browsers. Each key is
 * imported once and the `CryptoKey` kept as the key's handle (dropped when it is wiped). In Node every
 * WebCrypto call pays a thread-pool round trip (docs/performance.md §2), so Node defaults to node:crypto instead.
 */
import { DecryptionFailedError } from '../errors.js';
import { GCM_TAG_LENGTH, placeSealed, type AeadBackend, type AeadKey } from './aead.js';

// The registry (backends.ts) offers this backend only where `crypto.subtle` exists.
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

function importedKey(key: AeadKey): Promise<CryptoKey> {
  return key.handle('webcrypto', (bytes) =>
    subtle().importKey('raw', bytes as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']),
  );
}

function params(iv: Uint8Array, aad: Uint8Array): AesGcmParams {
  return {
    name: 'AES-GCM',
    iv: iv as Uint8Array<ArrayBuffer>,
    additionalData: aad as Uint8Array<ArrayBuffer>,
    tagLength: GCM_TAG_LENGTH * 8,
  };
}

/** The WebCrypto AES-256-GCM backend. */
export const webCryptoAead: AeadBackend = {
  name: 'webcrypto',
  seal: async (key, iv, aad, plaintext, layout) => placeSealed(
    new Uint8Array(await subtle().encrypt(params(iv, aad), await importedKey(key), plaintext as Uint8Array<ArrayBuffer>)),
    layout,
  ),
  open: async (key, iv, aad, ciphertextAndTag) => {
    const cryptoKey = await importedKey(key);
    try {
      return new Uint8Array(await subtle().decrypt(params(iv, aad), cryptoKey, ciphertextAndTag as Uint8Array<ArrayBuffer>));
    } catch {
      throw new DecryptionFailedError();
    }
  },
};
