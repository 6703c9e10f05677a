import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/sandbox/http-error.js';
import { parseJson } from '../../../src/sandbox/json.js';

const LIMITS = { maxDepth: 4, maxFieldLength: 8 };

function refusal(text: string, large: string[] = []): string {
  try {
    parseJson(text, LIMITS, 'The body', new Set(large));
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return (err as HttpError).message;
  }
  throw new Error(`accepted ${text}`);
}

describe('parseJson', () => {
  it('parses JSON within the limits as JSON.parse does', () => {
    expect(parseJson('{"a":[1,{"b":"x\\"y"}]}', LIMITS, 'The body')).toEqual({ a: [1, { b: 'x"y' }] });
    expect(parseJson('[[[[1]]]]', LIMITS, 'The body')).toEqual([[[[1]]]]);
    expect(parseJson(' "12345678" ', LIMITS, 'The body')).toBe('12345678');
  });

  it('refuses nesting deeper than maxDepth before parsing, however deep', () => {
    expect(refusal('[[[[[1]]]]]')).toBe('The body is nested deeper than 4 levels');
    expect(refusal('{"a":{"b":{"c":{"d":{}}}}}')).toBe('The body is nested deeper than 4 levels');
    // What would overflow the stack of code that recurses over the value is refused just the same.
    expect(refusal(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBe('The body is nested deeper than 4 levels');
    // Brackets inside strings do not count.
    expect(parseJson('["[[[[[[", "{{{{{"]', { maxDepth: 1, maxFieldLength: 10 }, 'The body')).toEqual(['[[[[[[', '{{{{{']);
  });

  it('refuses strings longer than maxFieldLength, naming the field; large fields are exempt, keys never', () => {
    expect(refusal('{"a":"123456789"}')).toBe('The body has a string longer than 8 characters (field "a")');
    expect(refusal('["123456789"]')).toBe('The body has a string longer than 8 characters');
    expect(refusal('{"123456789":1}')).toBe('The body has a string longer than 8 characters');
    expect(parseJson('{"text":"1234567890123","n":{"text":"12345678901"}}', LIMITS, 'The body', new Set(['text']))).toEqual({ text: '1234567890123', n: { text: '12345678901' } });
    expect(refusal('{"text":["123456789"]}', ['text'])).toBe('The body has a string longer than 8 characters');
    expect(refusal('{"text":"1","b":"123456789"}', ['text'])).toBe('The body has a string longer than 8 characters (field "b")');
    // Escapes count as written: a backslash before the closing quote does not end the string.
    expect(refusal('{"a":"1234567\\\\"}')).toBe('The body has a string longer than 8 characters (field "a")');
  });

  it('answers malformed text with a 400 naming what was parsed', () => {
    expect(refusal('{"a":')).toBe('The body is not valid JSON');
    expect(refusal('"unter')).toBe('The body is not valid JSON');
    expect(refusal('')).toBe('The body is not valid JSON');
    expect(() => parseJson('x', LIMITS, 'Form field "messagepayload"')).toThrow('Form field "messagepayload" is not valid JSON');
  });

  it('agrees with JSON.parse on every value within the limits, and refuses the rest (property)', () => {
    const limits = { maxDepth: 3, maxFieldLength: 6 };
    const depth = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depth)) : 0);
    const longest = (v: unknown): number => (typeof v === 'string' ? JSON.stringify(v).length - 2
      : v !== null && typeof v === 'object' ? Math.max(0, ...Object.entries(v as object).flatMap(([k, x]) => [Array.isArray(v) ? 0 : JSON.stringify(k).length - 2, longest(x)])) : 0);
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
      const text = JSON.stringify(value);
      const within = depth(value) <= limits.maxDepth && longest(value) <= limits.maxFieldLength;
      if (within) expect(parseJson(text, limits, 'x')).toEqual(JSON.parse(text));
      else expect(() => parseJson(text, limits, 'x')).toThrow(HttpError);
    }), { numRuns: 2000 });
  });
});
