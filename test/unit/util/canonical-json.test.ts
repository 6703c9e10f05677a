// Canonical JSON (RFC 8785): key order, numbers and strings as the RFC's examples give them, and the refusals.
import { describe, expect, it } from 'vitest';
import { canonicalJson, MAX_JSON_DEPTH } from '../../../src/util/canonical-json.js';

const refuse = (path: string, problem: string) => new Error(`${path}|${problem}`);
const text = (value: unknown) => canonicalJson(value, refuse);
const refusal = (value: unknown) => {
  try {
    text(value);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('canonicalJson', () => {
  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    expect(text(value)).toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}');
  });

  it('writes numbers as ECMAScript does (RFC 8785 §3.2.2.3)', () => {
    expect(text([0, -0, 1, -1, 1e21, 1e-7, 0.000001, 333333333.3333333, 1e23, 5e-324, 9007199254740993, 4.5, 2e-3])).toBe(
      '[0,0,1,-1,1e+21,1e-7,0.000001,333333333.3333333,1e+23,5e-324,9007199254740992,4.5,0.002]',
    );
  });

  it('escapes strings as JSON.stringify does, with no white space anywhere', () => {
    expect(text({ s: '\u0000\b\t\n\f\r"\\/\u001f\u007fé😀', a: [true, false, null, []], o: {} })).toBe('{"a":[true,false,null,[]],"o":{},"s":"\\u0000\\b\\t\\n\\f\\r\\"\\\\/\\u001f\u007fé😀"}');
  });

  it('gives one text for equal values whatever their key order', () => {
    expect(text({ b: { y: 1, x: [2, { d: 1, c: 2 }] }, a: 0 })).toBe(text(JSON.parse('{"a":0,"b":{"x":[2,{"c":2,"d":1}],"y":1}}')));
  });

  it('accepts objects without a prototype and JSON.parse output with a "__proto__" member', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 1;
    expect(text(bare)).toBe('{"k":1}');
    expect(text(JSON.parse('{"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1}}');
  });

  it('refuses what is not I-JSON, naming the path', () => {
    expect(refusal({ a: [1, undefined] })).toBe('$.a[1]|undefined');
    expect(refusal({ n: Number.POSITIVE_INFINITY })).toBe('$.n|the number Infinity');
    expect(refusal({ n: Number.NaN })).toBe('$.n|the number NaN');
    expect(refusal({ b: 1n })).toBe('$.b|bigint');
    expect(refusal({ f: () => 1 })).toBe('$.f|function');
    expect(refusal({ s: Symbol('x') })).toBe('$.s|symbol');
    expect(refusal({ d: new Date(0) })).toBe('$.d|an object of class Date');
    expect(refusal(new Map())).toBe('$|an object of class Map');
    expect(refusal({ s: 'a\uDC00b' })).toBe('$.s|a string with an unpaired surrogate');
    expect(refusal({ ['\uD800']: 1 })).toBe('$.\uD800|a string with an unpaired surrogate');
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH and cycles', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    expect(refusal(deep)).toBe('accepted');
    expect(refusal([deep])).toMatch(/nesting deeper than 32 levels$/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(refusal(cycle)).toMatch(/nesting deeper than 32 levels$/);
  });

  it('passes errors that are not refusals through unchanged', () => {
    const hostile = { get boom() { throw new RangeError('getter'); } };
    expect(() => text(hostile)).toThrow(RangeError);
  });
});
