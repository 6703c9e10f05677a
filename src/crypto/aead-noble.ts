/**
 * The only module that imports @noble/ciphers: pure-JS AES-256-GCM (the portable, synchronous fallback backend)
 * and AES-256-CBC without padding (legacy Symphony wrap and transport mode 1, where WebCrypto cannot help
 * because its AES-CBC always expects PKCS#7 padding). noble's GCM derives J0 with GHASH for non-96-bit IVs,
 * so Symphony's 16-byte IVs work unchanged.
 */
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { DecryptionFailedError } from '../errors.js';
import { placeSealed, type AeadBackend } from './aead.js';

/** The @noble/ciphers AES-256-GCM backend. */
export const nobleAead: AeadBackend = {
  name: 'noble',
  seal: async (key, iv, aad, plaintext, layout) => placeSealed(gcm(key.bytes, iv, aad).encrypt(plaintext), layout),
  open: async (key, iv, aad, ciphertextAndTag) => {
    const keyBytes = key.bytes;
    try {
      return gcm(keyBytes, iv, aad).decrypt(ciphertextAndTag);
    } catch {
      throw new DecryptionFailedError();
    }
  },
};

/** AES-256-CBC without padding over @noble/ciphers. */
export function nobleCbc(direction: 'encrypt' | 'decrypt', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = cbc(key, iv, { disablePadding: true });
  return direction === 'encrypt' ? cipher.encrypt(data) : cipher.decrypt(data);
}
