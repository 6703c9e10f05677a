import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatBytes, constantTimeEqual, fromUtf8, readInt32BE, readInt64BE, toBase64, toBase64Url, toHex,
  tryFromBase64, tryFromHex, utf8, javaUtf8, wipe, writeInt32BE, writeInt64BE,
} from '../../../src/util/bytes.js';

describe('base64', () => {
  it('round-trips standard and URL-safe forms of random bytes, padded or not', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(tryFromBase64(toBase64(bytes))).toEqual(bytes);
      expect(tryFromBase64(toBase64Url(bytes))).toEqual(bytes);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(toBase64Url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }));
  });

  it('rejects characters outside the alphabets, bad padding and impossible lengths', () => {
    for (const bad of ['A', 'AAAAA', 'AA=', 'AAA==', 'AAAA=', 'AA AA', 'AA*A', 'AA=A', 'é===', 'AAAA\n']) {
      expect(tryFromBase64(bad), bad).toBeUndefined();
    }
    expect(tryFromBase64('')).toEqual(new Uint8Array(0));
    expect(tryFromBase64('AA')).toEqual(Uint8Array.of(0));
  });
});

describe('hex, utf8 and integers', () => {
  it('round-trip hex and refuse odd or non-hex text', () => {
    expect(toHex(Uint8Array.of(0, 255, 16))).toBe('00ff10');
    expect(tryFromHex('00FF10')).toEqual(Uint8Array.of(0, 255, 16));
    expect(tryFromHex('abc')).toBeUndefined();
    expect(tryFromHex('zz')).toBeUndefined();
  });

  it('encode UTF-8 as Java does: unpaired surrogates become "?"', () => {
    expect(fromUtf8(javaUtf8('#été😀'))).toBe('#été😀');
    expect(fromUtf8(javaUtf8('a\uD83Db\uDE00'))).toBe('a?b?');
  });

  it('encode UTF-8', () => {
    expect(fromUtf8(utf8('é中😀'))).toBe('é中😀');
    expect(utf8('é')).toEqual(Uint8Array.of(0xc3, 0xa9));
  });

  it('read and write big-endian integers at an offset of a subarray', () => {
    const outer = new Uint8Array(20);
    const view = outer.subarray(3);
    writeInt64BE(view, 1, -2n);
    writeInt32BE(view, 9, 196);
    expect(readInt64BE(view, 1)).toBe(-2n);
    expect(readInt32BE(view, 9)).toBe(196);
    expect(outer[4]).toBe(0xff);
  });
});

describe('concat, compare, wipe', () => {
  it('concatenates', () => {
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('compares bytes', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
  });

  it('wipes', () => {
    const a = Uint8Array.of(1, 2, 3);
    wipe(a);
    expect(a).toEqual(new Uint8Array(3));
  });
});
