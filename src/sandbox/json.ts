/**
 * Bounded JSON parsing for request bodies (docs/sandbox.md "Limits"): before `JSON.parse` runs, one pass over the
 * text refuses nesting deeper than `maxDepth` and strings longer than `maxFieldLength` characters (except the
 * values of the fields named large, such as ciphertext, which only their route's body limit bounds). Deeply nested
 * values would otherwise reach code that recurses over them (serialization, comparison) and overflow its stack.
 * Every refusal is an HTTP 400 naming the limit.
 */
import { HttpError } from './http-error.js';

/** The limits of {@link parseJson}. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Longest string (key or value), in characters of the JSON text. */
  maxFieldLength: number;
}

const NONE: ReadonlySet<string> = new Set();
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parse `text` as JSON within `limits`; `what` names it in errors ("The request body", `Form field "x"`). Strings
 * that are the value of a key in `largeFields` (at any depth) are exempt from the length limit.
 */
export function parseJson(text: string, limits: JsonLimits, what: string, largeFields: ReadonlySet<string> = NONE): unknown {
  checkJson(text, limits, what, largeFields);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, `${what} is not valid JSON`);
  }
}

/** The limits pass of {@link parseJson}; it tolerates malformed text (JSON.parse judges that). */
function checkJson(text: string, limits: JsonLimits, what: string, largeFields: ReadonlySet<string>): void {
  let depth = 0;
  /** The key whose value comes next, if the last string was a key. */
  let key: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i + 1);
      const length = end - i - 1;
      let j = end + 1;
      while (j < text.length && isSpace(text.charCodeAt(j))) j++;
      const isKey = text.charCodeAt(j) === 0x3a; // ':'
      if (length > limits.maxFieldLength && (isKey || key === undefined || !largeFields.has(key))) {
        throw new HttpError(400, `${what} has a string longer than ${limits.maxFieldLength} characters${!isKey && key !== undefined ? ` (field "${key.slice(0, 64)}")` : ''}`);
      }
      key = isKey ? text.slice(i + 1, end) : undefined;
      i = end;
    } else if (c === 0x5b || c === 0x7b) { // '[' '{'
      if (++depth > limits.maxDepth) throw new HttpError(400, `${what} is nested deeper than ${limits.maxDepth} levels`);
      if (c === 0x5b) key = undefined;
    } else if (c === 0x5d || c === 0x7d) { // ']' '}'
      depth--;
      key = undefined;
    } else if (c === 0x2c) { // ','
      key = undefined;
    }
  }
}

/** The index of the quote that ends the string starting at `from` (after its opening quote); the text's length if none. */
function stringEnd(text: string, from: number): number {
  for (let at = from; ; at++) {
    at = text.indexOf('"', at);
    if (at === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
