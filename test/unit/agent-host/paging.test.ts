// Message tokens: opaque, round-tripping, and refused when not written by the host.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken } from '../../../src/agent-host/paging.js';
import { HttpError } from '../../../src/sandbox/http-error.js';

describe('message tokens', () => {
  it('decode to the position they encode (property)', () => {
    const id = fc.string({ unit: fc.constantFrom('A', 'z', '0', '_', '-'), minLength: 1, maxLength: 64 });
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), id, (timestamp, messageId) => {
      const token = encodeToken({ timestamp, messageId });
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeToken(token)).toEqual({ timestamp, messageId });
    }));
  });

  it('refuse anything else with a 400 naming the parameter (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => {
      let decoded: unknown;
      try {
        decoded = decodeToken(text);
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
        expect((err as HttpError).message).toContain('before must be a message Token');
        return;
      }
      // The rare text that is a token names a position that encodes back to it.
      expect(encodeToken(decoded as { timestamp: number; messageId: string })).toBe(text);
    }));
    expect(() => decodeToken(Buffer.from('2:1:abc').toString('base64url'))).toThrow(HttpError);
    expect(() => decodeToken(`${encodeToken({ timestamp: 1, messageId: 'a' })}=`)).toThrow(HttpError);
  });
});
