// Allegro's Format B (IV16 ‖ AAD16 ‖ AES-256-GCM ciphertext ‖ tag16): round trip on every backend, and byte-level
// interop with a raw node:crypto implementation in both directions, which is what the Java client reads and writes.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import {
  ALLEGRO_CIPHER_SUITE_ID,
  AllegroPayloadSizes,
  DEFAULT_MAX_ALLEGRO_PAYLOAD_LENGTH,
  openAllegroPayload,
  sealAllegroPayload,
} from '../../../src/store/allegro-payload.js';
import { utf8 } from '../../../src/util/bytes.js';
import { BACKENDS } from '../../helpers/vectors.js';
import { codeOf } from '../../helpers/errors.js';

const keyBytes = Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 1);
const key = new AesKey(keyBytes);
const canonJson = utf8('{\n  "_type":"com.example.Payload",\n  "_version":"1.0",\n  "text":"é中😀"\n}\n');


/** Format B as the Java client (AesCipherSuite) makes it, with nothing but node:crypto: 16-byte IV, 16-byte random AAD. */
function javaStyleSeal(k: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const iv = randomBytes(16);
  const aad = randomBytes(16);
  const cipher = createCipheriv('aes-256-gcm', k, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  return Buffer.concat([iv, aad, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The Java client's decryption, with nothing but node:crypto: bytes 0–15 IV, 16–31 AAD, the rest ciphertext ‖ tag. */
function javaStyleOpen(k: Uint8Array, bytes: Uint8Array): Uint8Array {
  const decipher = createDecipheriv('aes-256-gcm', k, bytes.subarray(0, 16), { authTagLength: 16 });
  decipher.setAAD(bytes.subarray(16, 32));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(32, bytes.length - 16)), decipher.final()]));
}

describe('Allegro Format B', () => {
  it('names the cipher suite Allegro writes beside it', () => {
    expect(ALLEGRO_CIPHER_SUITE_ID).toBe('RSA2048_AES256');
    expect(AllegroPayloadSizes.overhead).toBe(48);
  });

  for (const backend of BACKENDS) {
    it(`round-trips on the ${backend} backend`, async () => {
      for (const p of [canonJson, new Uint8Array(0), new Uint8Array(100_000).fill(9)]) {
        const sealed = await sealAllegroPayload(key, p, { backend });
        expect(sealed.length).toBe(p.length + 48);
        expect(await openAllegroPayload(key, sealed, { backend })).toEqual(p);
      }
    });

    it(`opens a payload written the Java client's way (raw node:crypto) on the ${backend} backend`, async () => {
      for (const p of [canonJson, new Uint8Array(0), new Uint8Array(1000).fill(1)]) {
        expect(await openAllegroPayload(key, javaStyleSeal(keyBytes, p), { backend })).toEqual(p);
      }
    });

    it(`writes payloads the Java client's way can read on the ${backend} backend`, async () => {
      for (const p of [canonJson, new Uint8Array(0)]) {
        expect(javaStyleOpen(keyBytes, await sealAllegroPayload(key, p, { backend }))).toEqual(p);
      }
    });
  }

  it('uses a fresh random IV and AAD every time', async () => {
    const a = await sealAllegroPayload(key, canonJson);
    const b = await sealAllegroPayload(key, canonJson);
    expect(a.subarray(0, 16)).not.toEqual(b.subarray(0, 16));
    expect(a.subarray(16, 32)).not.toEqual(b.subarray(16, 32));
  });

  it('refuses input shorter than IV + AAD + tag, or over the limit, with MALFORMED_CIPHERTEXT', async () => {
    for (const length of [0, 1, 32, 47]) {
      expect(await codeOf(openAllegroPayload(key, new Uint8Array(length)))).toBe('MALFORMED_CIPHERTEXT');
    }
    const sealed = await sealAllegroPayload(key, canonJson);
    expect(await codeOf(openAllegroPayload(key, sealed, { maxLength: sealed.length - 1 }))).toBe('MALFORMED_CIPHERTEXT');
    expect(await codeOf(openAllegroPayload(key, new Uint8Array(DEFAULT_MAX_ALLEGRO_PAYLOAD_LENGTH + 1)))).toBe('MALFORMED_CIPHERTEXT');
    expect(await openAllegroPayload(key, sealed, { maxLength: sealed.length })).toEqual(canonJson);
  });

  it('refuses a wrong key and any tampered byte with DECRYPTION_FAILED', async () => {
    const sealed = await sealAllegroPayload(key, canonJson);
    expect(await codeOf(openAllegroPayload(new AesKey(new Uint8Array(32)), sealed))).toBe('DECRYPTION_FAILED');
    for (const index of [0, 15, 16, 31, 32, sealed.length - 17, sealed.length - 1]) {
      const tampered = sealed.slice();
      tampered[index]! ^= 0x80;
      for (const backend of BACKENDS) expect(await codeOf(openAllegroPayload(key, tampered, { backend }))).toBe('DECRYPTION_FAILED');
    }
    expect(await codeOf(openAllegroPayload(key, new Uint8Array(48)))).toBe('DECRYPTION_FAILED');
  });

  it('refuses bad arguments with INVALID_ARGUMENT', async () => {
    expect(await codeOf(sealAllegroPayload(keyBytes as unknown as AesKey, canonJson))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(sealAllegroPayload(key, 'text' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(sealAllegroPayload(key, canonJson, { backend: 'nope' as 'node' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(openAllegroPayload(key, 'abc' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(openAllegroPayload(key, new Uint8Array(64), { maxLength: -1 }))).toBe('INVALID_ARGUMENT');
  });
});
