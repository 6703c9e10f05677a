import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as crypto from '../../src/crypto/index.js';

describe('public API', () => {
  it('the root re-exports the crypto core and the error classes', () => {
    for (const name of ['AesKey', 'encryptTransport', 'decryptText', 'encryptEntityV2', 'tokenize', 'unwrapKey', 'AllegroError', 'DecryptionFailedError']) {
      expect(root, name).toHaveProperty(name);
    }
    for (const name of Object.keys(crypto)) expect(root, name).toHaveProperty(name);
  });

  it('exports Secret, the type of the resolved credentials', () => {
    expect(root).toHaveProperty('Secret');
    expect(String(new root.Secret('token', 'x'))).toBe('[redacted token]');
  });

  it('keeps internals out: no platform, raw randomness or backend adapters', () => {
    for (const name of ['platform', 'randomBytes', 'nodeAead', 'nobleAead', 'webCryptoAead', 'placeSealed']) {
      expect(root, name).not.toHaveProperty(name);
    }
  });
});
