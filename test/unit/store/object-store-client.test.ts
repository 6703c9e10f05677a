// The Object Store client's pure helpers (the client itself runs against the sandbox: test/integration/store/).
import { describe, expect, it } from 'vitest';
import { payloadBytes } from '../../../src/store/object-store-client.js';

describe('payloadBytes', () => {
  it('keeps bytes and encodes JSON values as UTF-8 JSON', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(payloadBytes(bytes)).toBe(bytes);
    expect(new TextDecoder().decode(payloadBytes({ a: [1, 'é'] }))).toBe('{"a":[1,"é"]}');
    expect(new TextDecoder().decode(payloadBytes(null))).toBe('null');
  });

  it('refuses what JSON cannot encode with INVALID_ARGUMENT, instead of storing "undefined" or throwing a TypeError', () => {
    for (const bad of [undefined, () => 1, Symbol('s'), 10n, { big: 1n }]) {
      expect(() => payloadBytes(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'payload' }));
    }
  });
});
