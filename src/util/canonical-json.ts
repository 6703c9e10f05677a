/**
 * Canonical JSON (RFC 8785, the JSON Canonicalization Scheme, restricted to I-JSON, RFC 7493): one text for one
 * JSON value, whatever key order or spacing a database or a JSON library gave it. Used to bind an encrypted
 * record's clear header into its envelope (docs/wire-formats.md "Encrypted record v1").
 *
 * - objects: members sorted by their names' UTF-16 code units, `{"name":value,...}`, no white space;
 * - strings: as ECMAScript `JSON.stringify` writes them; a lone surrogate is refused (it would not survive a UTF-8
 *   database);
 * - numbers: finite only, as ECMAScript writes them (`1e+21`, `0.1`, `-0` becomes `0`);
 * - `true`, `false`, `null`, arrays in order.
 *
 * Anything else — `undefined`, functions, symbols, bigints, `NaN`, class instances such as `Date` or `Map`,
 * cycles, nesting deeper than {@link MAX_JSON_DEPTH} — is refused with the path of the offending value, through
 * the error the caller makes of it.
 */

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [name: string]: JsonValue };

/** Deepest nesting {@link canonicalJson} accepts (an object or array at depth 1 is the top level). */
export const MAX_JSON_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Makes the caller's error for a value that is not JSON: its path (`$.a[2]`) and what is wrong with it. */
export type NotJson = (path: string, problem: string) => Error;

class Refusal {
  readonly path: string;
  readonly problem: string;
  constructor(path: string, problem: string) {
    this.path = path;
    this.problem = problem;
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function stringText(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new Refusal(path, 'a string with an unpaired surrogate');
  return JSON.stringify(value);
}

function write(value: unknown, path: string, depth: number, out: string[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(path, `the number ${value}`);
      out.push(JSON.stringify(value));
      return;
    case 'string':
      out.push(stringText(value, path));
      return;
    case 'object':
      break;
    default:
      throw new Refusal(path, typeof value);
  }
  if (depth >= MAX_JSON_DEPTH) throw new Refusal(path, `nesting deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      write(value[i], `${path}[${i}]`, depth + 1, out);
    }
    out.push(']');
    return;
  }
  if (!isPlainObject(value)) throw new Refusal(path, `an object of class ${(value as object).constructor?.name ?? 'unknown'}`);
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
  const names = Object.keys(value).sort();
  out.push('{');
  names.forEach((name, i) => {
    if (i > 0) out.push(',');
    const child = `${path}.${name}`;
    out.push(stringText(name, child), ':');
    write(value[name], child, depth + 1, out);
  });
  out.push('}');
}

/**
 * The canonical text of a JSON value.
 * @throws what `notJson` makes of the path of the first value that is not JSON, and of its problem.
 */
export function canonicalJson(value: unknown, notJson: NotJson): string {
  const out: string[] = [];
  try {
    write(value, '$', 0, out);
  } catch (err) {
    if (err instanceof Refusal) throw notJson(err.path, err.problem);
    throw err;
  }
  return out.join('');
}
