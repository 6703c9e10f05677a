import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { b64, hex, vectors } from '../../helpers/vectors.js';
import { parseTransport } from '../../../src/crypto/transport.js';

describe('AesKey', () => {
  it('computes Symphony\'s key id once and caches it', () => {
    const c = vectors.transport[0]!;
    const key = new AesKey(hex(c.key));
    expect(key.keyId).toEqual(parseTransport(b64(c.ciphertext)).keyId);
    expect(key.keyId).toBe(key.keyId);
  });

  it('copies the bytes it is given', () => {
    const bytes = new Uint8Array(32).fill(1);
    const key = new AesKey(bytes);
    bytes.fill(2);
    expect(key.bytes).toEqual(new Uint8Array(32).fill(1));
  });

  it('copies a Node Buffer too (Buffer#slice is a view), so wiping the key never zeroes the caller\'s bytes', () => {
    // Regression: the constructor used bytes.slice(), which for a Buffer shares memory with the caller (and, for
    // small Buffers, with Node's allocation pool): wipe() zeroed the caller's buffer.
    const bytes = Buffer.alloc(32, 7);
    const key = new AesKey(bytes);
    bytes.fill(2);
    expect(key.bytes).toEqual(new Uint8Array(32).fill(7));
    bytes.fill(7);
    key.wipe();
    expect(bytes).toEqual(Buffer.alloc(32, 7));
  });

  it('wipes its bytes and handles, after which use throws INVALID_ARGUMENT', () => {
    const key = new AesKey(new Uint8Array(32).fill(9));
    const view = key.bytes;
    let made = 0;
    key.handle('test', () => ++made);
    key.handle('test', () => ++made);
    expect(made).toBe(1);
    key.wipe();
    expect(view).toEqual(new Uint8Array(32));
    expect(key.wiped).toBe(true);
    expect(() => key.bytes).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => key.handle('test', () => 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    key.wipe();
  });

  it('never shows the key in JSON, strings or inspect output', () => {
    const key = new AesKey(new Uint8Array(32).fill(0xab));
    for (const shown of [JSON.stringify({ key }), String(key), inspect(key), inspect({ key }, { depth: 5 })]) {
      expect(shown).not.toMatch(/171|ab,|abab/);
    }
  });

  it('refuses anything but 32 bytes', () => {
    for (const bad of [new Uint8Array(16), new Uint8Array(33), 'k'.repeat(32), null]) {
      expect(() => new AesKey(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'key' }));
    }
  });
});
