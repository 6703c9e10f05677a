import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalId, intQuery, optionalField, parseUserId, requireArray, requireObject, requireQuery, requiredField,
} from '../../../src/sandbox/body.js';
import { HttpError } from '../../../src/sandbox/http-error.js';
import { toBase64, toBase64Url } from '../../../src/util/bytes.js';
import { httpError } from '../../helpers/errors.js';

describe('requireObject / requireArray', () => {
  it('accept their type and return the same value', () => {
    const o = { a: 1 };
    const a = [1, 2];
    expect(requireObject(o)).toBe(o);
    expect(requireArray(a)).toBe(a);
  });

  it.each([
    [null, 'null'], [[], 'array'], ['x', 'string'], [3, 'number'], [true, 'boolean'], [undefined, 'undefined'],
  ])('requireObject(%j) is a 400 naming what was sent (%s)', (value, name) => {
    const e = httpError(() => requireObject(value, 'thing'));
    expect(e.status).toBe(400);
    expect(e.message).toBe(`The thing must be a JSON object, not ${name}`);
  });

  it.each([
    [null, 'null'], [{}, 'object'], ['x', 'string'], [3, 'number'],
  ])('requireArray(%j) is a 400 naming what was sent (%s)', (value, name) => {
    const e = httpError(() => requireArray(value));
    expect(e.status).toBe(400);
    expect(e.message).toBe(`The body must be a JSON array, not ${name}`);
  });
});

describe('optionalField / requiredField', () => {
  const o = { s: 'x', n: 1.5, b: false, o: { k: 1 }, a: [1], nul: null, inf: Infinity, nan: Number.NaN };

  it('return fields of the right type', () => {
    expect(optionalField(o, 's', 'string')).toBe('x');
    expect(optionalField(o, 'n', 'number')).toBe(1.5);
    expect(optionalField(o, 'b', 'boolean')).toBe(false);
    expect(optionalField(o, 'o', 'object')).toEqual({ k: 1 });
    expect(optionalField(o, 'a', 'array')).toEqual([1]);
    expect(requiredField(o, 'b', 'boolean')).toBe(false);
  });

  it('treat absent and null as missing', () => {
    expect(optionalField(o, 'missing', 'string')).toBeUndefined();
    expect(optionalField(o, 'nul', 'string')).toBeUndefined();
    for (const name of ['missing', 'nul']) {
      const e = httpError(() => requiredField(o, name, 'string'));
      expect(e.status).toBe(400);
      expect(e.message).toBe(`Field "${name}" is required`);
    }
  });

  it.each([
    ['s', 'number', 'Field "s" must be a number, not string'],
    ['n', 'string', 'Field "n" must be a string, not number'],
    ['a', 'object', 'Field "a" must be an object, not array'],
    ['o', 'array', 'Field "o" must be an array, not object'],
    ['b', 'string', 'Field "b" must be a string, not boolean'],
    ['inf', 'number', 'Field "inf" must be a number, not number'],
    ['nan', 'number', 'Field "nan" must be a number, not number'],
  ] as const)('field %s as %s is a 400 naming the field', (name, type, message) => {
    for (const f of [optionalField, requiredField]) {
      const e = httpError(() => f(o, name, type));
      expect(e.status).toBe(400);
      expect(e.message).toBe(message);
    }
  });
});

describe('parseUserId', () => {
  it('accepts positive safe integers as numbers and decimal strings', () => {
    expect(parseUserId(1, 'uid')).toBe(1);
    expect(parseUserId('13469017440257', 'uid')).toBe(13469017440257);
    expect(parseUserId(Number.MAX_SAFE_INTEGER, 'uid')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([0, -1, 1.5, '0', '-1', '1.5', ' 1', '1e3', '0x10', '12345678901234567', 2 ** 53, '', null, undefined, {}, true])(
    'rejects %j with a 400 naming the parameter', (value) => {
      const e = httpError(() => parseUserId(value, 'userId'));
      expect(e.status).toBe(400);
      expect(e.message).toContain('"userId"');
    });
});

describe('requireQuery', () => {
  it('returns a present value and rejects absent or empty ones', () => {
    const q = new URLSearchParams('a=1&b=');
    expect(requireQuery(q, 'a')).toBe('1');
    for (const name of ['b', 'c']) {
      const e = httpError(() => requireQuery(q, name));
      expect(e.status).toBe(400);
      expect(e.message).toBe(`Query parameter "${name}" is required`);
    }
  });
});

describe('canonicalId', () => {
  it('normalises standard and URL-safe base64, padded or not, to URL-safe unpadded', () => {
    // 0xfb 0xff: standard "+/8=", URL-safe "-_8".
    for (const form of ['+/8=', '+/8', '-_8=', '-_8']) expect(canonicalId(form, 'id')).toBe('-_8');
    expect(canonicalId('AAAA', 'id')).toBe('AAAA');
  });

  it('is the identity on canonical ids and maps every encoding of the same bytes to one id', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (bytes) => {
      const url = toBase64Url(bytes);
      const std = toBase64(bytes);
      expect(canonicalId(url, 'id')).toBe(url);
      expect(canonicalId(std, 'id')).toBe(url);
      expect(canonicalId(std.replace(/=+$/, ''), 'id')).toBe(url);
      expect(canonicalId(url + '='.repeat((4 - (url.length % 4)) % 4), 'id')).toBe(url);
    }));
  });

  it.each(['', '=', '==', '====', 'A', 'AAAAA', 'AA AA', 'AA=A', 'A*AA', 'AAAA\n', 'AA==='])('rejects %j with a 400 naming the parameter', (value) => {
    const e = httpError(() => canonicalId(value, 'streamId'));
    expect(e.status).toBe(400);
    expect(e.message).toBe('"streamId" must be a base64 id');
  });

  it('rejects ids longer than 200 characters even when they are valid base64', () => {
    expect(canonicalId('A'.repeat(200), 'id')).toBe('A'.repeat(200));
    expect(httpError(() => canonicalId('A'.repeat(204), 'id')).status).toBe(400);
  });

  it('never throws anything but a 400 on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60, unit: 'binary' }), (s) => {
      try {
        const id = canonicalId(s, 'id');
        expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(canonicalId(id, 'id')).toBe(id);
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
      }
    }));
  });
});

describe('intQuery', () => {
  const q = (s: string) => new URLSearchParams(s);

  it('returns the default when absent or empty', () => {
    expect(intQuery(q(''), 'limit', 50, 1, 100)).toBe(50);
    expect(intQuery(q('limit='), 'limit', 50, 1, 100)).toBe(50);
  });

  it('accepts the bounds themselves', () => {
    expect(intQuery(q('limit=1'), 'limit', 50, 1, 100)).toBe(1);
    expect(intQuery(q('limit=100'), 'limit', 50, 1, 100)).toBe(100);
    expect(intQuery(q('skip=0'), 'skip', 5, 0, 10)).toBe(0);
  });

  it.each(['0', '101', '-1', '1.5', 'abc', 'NaN', 'Infinity'])('rejects limit=%s with a 400 naming the bounds', (raw) => {
    const e = httpError(() => intQuery(q(`limit=${raw}`), 'limit', 50, 1, 100));
    expect(e.status).toBe(400);
    expect(e.message).toBe('Query parameter "limit" must be an integer from 1 to 100');
  });

  it('returns exactly the integers inside the bounds and rejects the ones outside', () => {
    fc.assert(fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -50, max: 50 }), fc.nat(100), (n, min, span) => {
      const max = min + span;
      const query = q(`n=${n}`);
      if (n >= min && n <= max) expect(intQuery(query, 'n', 0, min, max)).toBe(n);
      else expect(httpError(() => intQuery(query, 'n', 0, min, max)).status).toBe(400);
    }));
  });
});

describe('arbitrary JSON', () => {
  it('never makes a checker throw anything but an HttpError 400', () => {
    const types = ['string', 'number', 'boolean', 'object', 'array'] as const;
    fc.assert(fc.property(fc.jsonValue(), fc.constantFrom(...types), fc.string({ maxLength: 8 }), (value, type, name) => {
      const attempts: Array<() => unknown> = [
        () => requireObject(value),
        () => requireArray(value),
        () => parseUserId(value, name),
        () => optionalField(requireObject(value), name, type),
        () => requiredField(requireObject(value), name, type),
        () => optionalField({ [name]: value }, name, type),
        () => requiredField({ [name]: value }, name, type),
        () => canonicalId(typeof value === 'string' ? value : JSON.stringify(value), name),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
        } catch (err) {
          expect(err).toBeInstanceOf(HttpError);
          expect((err as HttpError).status).toBe(400);
        }
      }
    }));
  });

  it('optionalField returns the value exactly when it has the asked type', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const o = { f: value };
      const kind = value === null ? null : Array.isArray(value) ? 'array' : typeof value;
      for (const type of ['string', 'number', 'boolean', 'object', 'array'] as const) {
        if (value === null) expect(optionalField(o, 'f', type)).toBeUndefined();
        else if (kind === type) expect(optionalField(o, 'f', type)).toBe(value);
        else expect(httpError(() => optionalField(o, 'f', type)).message).toContain('"f"');
      }
    }));
  });
});
