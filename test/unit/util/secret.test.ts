// Secret: a placeholder in every printed form (inspect with every option, JSON, String, template literals,
// concatenation), invisible to enumeration and cloning, the value only through reveal(); bad arguments refused.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/util/secret.js';

const VALUE = 'hunter2-very-secret';

describe('Secret', () => {
  it('prints as a placeholder naming what it hides, whatever the printer', () => {
    const s = new Secret('password', VALUE);
    const forms = [
      inspect(s), inspect(s, { showHidden: true, depth: Infinity, getters: true }), inspect(s, { customInspect: false, showHidden: true }),
      inspect({ nested: { s } }, { depth: Infinity }), JSON.stringify({ s }), String(s), `${s}`, 'x' + s, s.toString(),
    ];
    for (const text of forms) expect(text).not.toContain(VALUE);
    expect(String(s)).toBe('[redacted password]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted password]"}');
    expect(inspect({ s })).toBe("{ s: [redacted password] }");
  });

  it('is invisible to Object.keys, spread, entries and structuredClone', () => {
    const s = new Secret('PKCS#12', Uint8Array.from([1, 2, 3]));
    expect(Object.keys(s)).toEqual([]);
    expect(Object.getOwnPropertyNames(s)).toEqual([]);
    expect({ ...s }).toEqual({});
    expect(Object.entries(s)).toEqual([]);
    expect(inspect(structuredClone(s), { showHidden: true })).not.toContain('1, 2, 3');
  });

  it('reveals the value as given, bytes included', () => {
    expect(new Secret('token', VALUE).reveal()).toBe(VALUE);
    const bytes = Uint8Array.from([9, 8, 7]);
    expect(new Secret('PKCS#12', bytes).reveal()).toBe(bytes);
    expect(inspect(new Secret('PKCS#12', bytes))).toBe('[redacted PKCS#12]');
  });

  it('refuses an empty label and a value that is neither a string nor bytes', () => {
    expect(() => new Secret('', VALUE)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'what' }));
    for (const bad of [5, null, undefined, {}, [1]]) {
      expect(() => new Secret('x', bad as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'value' }));
    }
  });
});
