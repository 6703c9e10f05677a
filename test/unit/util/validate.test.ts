import { describe, expect, it } from 'vitest';
import { describeValue, requireBytes, requireInt32, requireInt64, requireString } from '../../../src/util/validate.js';

describe('validate', () => {
  it('describes values by type and size, never by content', () => {
    expect(describeValue(new Uint8Array(5))).toBe('Uint8Array of 5 bytes');
    expect(describeValue('secret plaintext')).toBe('a string of 16 characters');
    expect(describeValue([1, 2])).toBe('an array of 2 items');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue({})).toBe('an object (Object)');
    expect(describeValue(Object.create(null))).toBe('an object (no prototype)');
  });

  it('throw INVALID_ARGUMENT naming the parameter', () => {
    expect(() => requireBytes('key', 'k', 32)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'key' }));
    expect(() => requireBytes('key', new Uint8Array(31), 32)).toThrow('Invalid key: expected a Uint8Array of 32 bytes, received Uint8Array of 31 bytes.');
    expect(() => requireString('text', 1)).toThrow(expect.objectContaining({ parameter: 'text' }));
    expect(() => requireInt32('podId', 2 ** 31)).toThrow(expect.objectContaining({ parameter: 'podId' }));
  });

  it('accept 64-bit integers as bigint or safe numbers', () => {
    expect(requireInt64('r', 5)).toBe(5n);
    expect(requireInt64('r', -(2n ** 63n))).toBe(-(2n ** 63n));
    for (const bad of [2 ** 53, 1.5, '5', 2n ** 63n, undefined]) expect(() => requireInt64('r', bad)).toThrow(expect.objectContaining({ parameter: 'r' }));
  });
});
