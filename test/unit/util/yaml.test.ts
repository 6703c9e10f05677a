// The yaml adapter (src/util/yaml.ts): JSON first, else YAML 1.1 as the BDKs' parsers read it; errors with a position
// and never the text; one document; and YAML written so that a YAML 1.1 reader gets back exactly what was written.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DocumentSyntaxError, parseDocumentText, toYamlText } from '../../../src/util/yaml.js';

function syntaxError(text: string): DocumentSyntaxError {
  try {
    parseDocumentText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(DocumentSyntaxError);
    return err as DocumentSyntaxError;
  }
  throw new Error('expected a DocumentSyntaxError');
}

describe('parseDocumentText', () => {
  it('reads JSON as JSON.parse does, and YAML mappings, lists, flow style, anchors and merge keys', () => {
    expect(parseDocumentText('{"a": 1, "b": [true, null, "x"]}')).toEqual({ a: 1, b: [true, null, 'x'] });
    expect(parseDocumentText('a: 1\nb:\n  - x\n  - {c: d}\n')).toEqual({ a: 1, b: ['x', { c: 'd' }] });
    expect(parseDocumentText('base: &b {host: h, port: 1}\npod:\n  <<: *b\n  port: 2\n')).toEqual({ base: { host: 'h', port: 1 }, pod: { host: 'h', port: 2 } });
  });

  it('reads scalars as YAML 1.1 does (the Java BDK\'s SnakeYAML, the Python BDK\'s PyYAML): yes/on are true, 0644 is octal', () => {
    expect(parseDocumentText('a: yes\nb: off\nc: 0644\nd: ~\ne: "0644"\nf: 8443\ng: 1.5\nh: ${PORT}\n')).toEqual({
      a: true, b: false, c: 420, d: null, e: '0644', f: 8443, g: 1.5, h: '${PORT}',
    });
    const booleans = ['yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'];
    for (const word of booleans) expect(parseDocumentText(`v: ${word}`), word).toEqual({ v: /^(y|t|o[nN])/i.test(word) });
    // The single letters are strings for SnakeYAML and PyYAML (the yaml package's own 1.1 schema would say booleans).
    for (const word of ['y', 'Y', 'n', 'N', 'yES', 'oN']) expect(parseDocumentText(`${word}: ${word}`), word).toEqual({ [word]: word });
  });

  it('an empty text, or only comments, is undefined', () => {
    expect(parseDocumentText('')).toBeUndefined();
    expect(parseDocumentText('# nothing\n')).toBeUndefined();
  });

  it('refuses duplicate keys, bad indentation, tabs and a second document, with a 1-based position and no text', () => {
    const dup = syntaxError('a: 1\nb:\n  c: secret-one\n  c: secret-two\n');
    expect([dup.line, dup.column]).toEqual([4, 3]);
    expect(dup.message).toBe('line 4, column 3: duplicate key');
    expect(syntaxError('a:\n\tb: 1\n').message).toContain('tab');
    expect(syntaxError('---\na: 1\n---\nb: 2\n').message).toBe('line 3, column 1: more than one document');
    const unclosed = syntaxError('bot:\n  privateKey: {content: "hunter2\n');
    expect(unclosed.message).toMatch(/^line \d+, column \d+: [a-z ]+$/);
    expect(unclosed.message).not.toContain('hunter2');
  });
});

describe('toYamlText', () => {
  it('writes a comment on top, one # line per line', () => {
    expect(toYamlText({ a: 1 }, 'one\ntwo')).toBe('# one\n# two\n\na: 1\n');
    expect(toYamlText({ a: 1 })).toBe('a: 1\n');
  });

  it('quotes what YAML 1.1 would read as something else', () => {
    const tricky = { a: 'yes', b: 'off', c: '0644', d: '~', e: 'null', f: '1e3', g: '', h: '8443', i: 'y', j: '2001-12-14', k: '#x', l: 'a: b' };
    expect(parseDocumentText(toYamlText(tricky))).toEqual(tricky);
  });

  it('reads back exactly what it wrote (property over JSON-like values)', () => {
    const key = fc.string({ minLength: 1, maxLength: 12 });
    const value = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
        fc.boolean(), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
    })).value;
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (doc) => {
      expect(parseDocumentText(toYamlText(doc))).toEqual(doc);
    }), { numRuns: 300 });
  });
});
