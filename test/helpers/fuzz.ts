// Building blocks of the HTTP fuzz tests (the sandbox's, the agent host's): hostile JSON values and texts, the paths
// of a JSON value's leaves and a copy with one replaced, and the check of the one error shape both servers answer.
import type { IncomingHttpHeaders } from 'node:http';

/** JSON values of every type, for whole bodies and single fields. */
export const WRONG_VALUES: unknown[] = [
  null, 0, -1, 1.5, 1e308, -0, 2 ** 53 + 2, true, false, '', 'x', '0', '-1', 'null', '\u0000', '\ud800', [], [null], [1, 'a', {}], {}, { a: { b: [] } },
];
/** Values for one leaf of a valid body. */
export const LEAF_WRONG: unknown[] = [null, 0, -1.5, 1e300, true, '', 'x', [], [[]], {}, { nested: { deeper: 1 } }];
/** Bodies that are not JSON, or JSON that parsers get wrong. */
export const MALFORMED_JSON = [
  '{', '}', '[', '{"a":', '{"a" 1}', "{'a': 1}", '{"a":1}}', '[1,2', '[1,]', '{"a":1,}', 'nul', 'tru', 'NaN', 'Infinity', '-', '1e', '"abc',
  '"\\u12"', '\u0000', '\ufeff{}', '/* comment */ {}', '{"a":1} {"b":2}', '{"__proto__": {"polluted": true}}', `{"a":"${'\\'.repeat(5)}`,
  '\xff\xfe{\x00}', '1e999999', '-1e999999', '0x10', '{"token": undefined}',
];
/** Query parameter values, sent raw (not encoded). */
export const BAD_QUERY = ['', 'abc', '-1', '1.5', '1e400', '99999999999999999999999', '%00', '%E0%A4%A', '\u00e9', '[]', 'x'.repeat(4000)];

/** An HTTP answer as the fuzz tests read it. */
export interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** Paths of the leaves of a JSON value (and of every subtree). */
export function leaves(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.length === 0 ? [at] : [at, ...value.flatMap((v, i) => leaves(v, [...at, i]))];
  if (typeof value === 'object' && value !== null) return [at, ...Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]))];
  return [at];
}

/** A copy of `value` with the leaf (or subtree) at `path` replaced. */
export function replaceAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy: Record<string | number, unknown> = Array.isArray(value) ? [...value] as never : { ...(value as Record<string, unknown>) };
  copy[head!] = replaceAt(copy[head!], rest, replacement);
  return copy;
}

/**
 * What is wrong with an error answer's body (undefined when it is right): JSON, exactly `{code: status, message}`
 * with a non-empty message — plus `details` (an object) when `details` is allowed.
 */
export function errorShapeProblem(a: Answer, options: { details?: boolean } = {}): string | undefined {
  if (!String(a.headers['content-type']).startsWith('application/json')) return `${a.status} without a JSON body`;
  const text = a.body.toString('utf8');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `${a.status} body is not JSON: ${text.slice(0, 300)}`;
  }
  const extra = Object.keys(json).filter((k) => k !== 'code' && k !== 'message');
  const detailsOk = extra.length === 0 || (options.details === true && extra.length === 1 && extra[0] === 'details' && typeof json.details === 'object' && json.details !== null);
  if (json.code !== a.status || typeof json.message !== 'string' || json.message.length === 0 || !detailsOk) return `${a.status} body is not {code, message}: ${text.slice(0, 300)}`;
  return undefined;
}
