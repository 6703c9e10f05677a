/**
 * `multipart/form-data` request bodies (RFC 7578), as the Agent's message routes take them (`message`, `data`,
 * `version`, `attachment` × n, `preview` × n; docs/sandbox.md "Agent API"). The body is already in memory, bounded
 * by the route's limit; this reader bounds the rest: the number of parts, the size of each part's head, and the
 * size of each field by name. Every failure is a 400 that says what is wrong with the body structurally (which part,
 * which limit), never its content.
 *
 * Part heads: `Content-Disposition: form-data; name="…"` (required), with `filename="…"` or `filename*=UTF-8''…`
 * (RFC 5987, preferred when both are given) for files, and an optional `Content-Type`. Other headers are ignored.
 */
import { HttpError } from '../http-error.js';

/** One part of a form. */
export interface FormPart {
  /** The form field's name. */
  name: string;
  /** The file name, for file parts. */
  filename?: string;
  /** The part's `Content-Type`, lower-cased; `text/plain` when absent (RFC 7578 §4.4). */
  contentType: string;
  /** The part's bytes (a view into the request body). */
  data: Buffer;
}

/** Bounds of {@link parseMultipart}. */
export interface MultipartLimits {
  /** Most parts in one body. */
  maxParts: number;
  /** Largest part, in bytes, by field name; parts of other names are skipped. */
  maxBytes: Readonly<Record<string, number>>;
}

/** Largest head of one part (its header lines), in bytes. */
const MAX_PART_HEAD_BYTES = 8 * 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** The boundary of a `multipart/form-data` content type; 400 when the body is not one. */
export function formBoundary(contentType: string | undefined): string {
  const [type, ...params] = splitParameters(contentType ?? '');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') {
    throw new HttpError(400, `The request body must be multipart/form-data, not ${contentType === undefined ? 'absent' : type?.trim() || 'empty'}`);
  }
  const value = parameter(params, 'boundary');
  // RFC 2046 §5.1.1: 1 to 70 characters.
  if (value === undefined || value.length < 1 || value.length > 70) {
    throw new HttpError(400, 'The multipart/form-data content type needs a boundary parameter of 1 to 70 characters');
  }
  return value;
}

/** The value of one header parameter (`name="…"`, `name=token`), or undefined. */
function parameter(params: readonly string[], name: string): string | undefined {
  for (const raw of params) {
    const eq = raw.indexOf('=');
    if (eq < 0 || raw.slice(0, eq).trim().toLowerCase() !== name) continue;
    const value = raw.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) return value.slice(1, -1).replace(/\\(.)/g, '$1');
    return value;
  }
  return undefined;
}

/** Split header parameters at `;` outside quoted strings. */
function splitParameters(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += c + value[++i]!;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

/** An RFC 5987 `UTF-8''percent-encoded` value, or undefined when it is not one. */
function extendedValue(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^utf-8'[^']*'(.*)$/i.exec(value);
  if (match === null) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

function partHead(head: string, index: number): Omit<FormPart, 'data'> {
  let disposition: string | undefined;
  let contentType = 'text/plain';
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) throw new HttpError(400, `Part ${index + 1} of the form has a malformed header line`);
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (field === 'content-disposition') disposition = value;
    else if (field === 'content-type') contentType = value.split(';')[0]!.trim().toLowerCase() || contentType;
  }
  const params = disposition === undefined ? [] : splitParameters(disposition);
  if (params[0]?.trim().toLowerCase() !== 'form-data') throw new HttpError(400, `Part ${index + 1} of the form has no "Content-Disposition: form-data" header`);
  const name = parameter(params.slice(1), 'name');
  if (name === undefined || name === '') throw new HttpError(400, `Part ${index + 1} of the form has no field name`);
  const filename = extendedValue(parameter(params.slice(1), 'filename*')) ?? parameter(params.slice(1), 'filename');
  return { name, contentType, ...(filename === undefined ? {} : { filename }) };
}

/**
 * The parts of a `multipart/form-data` body, in order. 400 when the body is not well-formed (missing boundary
 * lines, a part without `Content-Disposition: form-data` or a name, an unterminated body), has more than
 * `limits.maxParts` parts, or a part over its field's limit (413). Parts of field names not in `limits.maxBytes`
 * are skipped.
 */
export function parseMultipart(body: Buffer, boundary: string, limits: MultipartLimits): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  // The first delimiter may be preceded by a preamble; every later one follows a CRLF.
  let at = body.indexOf(delimiter);
  if (at < 0) throw new HttpError(400, 'The form body does not contain its boundary');
  const separator = Buffer.concat([CRLF, delimiter]);
  const parts: FormPart[] = [];
  let count = 0;
  for (;;) {
    at += delimiter.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // the close delimiter `--boundary--`
    // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
    while (body[at] === 0x20 || body[at] === 0x09) at++;
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) throw new HttpError(400, 'The form body has a boundary line not followed by a line break');
    at += 2;
    if (count >= limits.maxParts) throw new HttpError(400, `The form has more than ${limits.maxParts} parts`);
    const headEnd = body.indexOf(HEAD_END, at);
    if (headEnd < 0 || headEnd - at > MAX_PART_HEAD_BYTES) throw new HttpError(400, `Part ${count + 1} of the form has no complete header of at most ${MAX_PART_HEAD_BYTES} bytes`);
    // Clients write non-ASCII file names as raw UTF-8 (RFC 7578 §4.2) or as filename* (RFC 5987).
    const head = partHead(body.subarray(at, headEnd).toString('utf8'), count);
    const start = headEnd + HEAD_END.length;
    const end = body.indexOf(separator, start);
    if (end < 0) throw new HttpError(400, 'The form body ends before its closing boundary');
    const limit = limits.maxBytes[head.name];
    if (limit !== undefined && end - start > limit) throw new HttpError(413, `Form field "${head.name}" is larger than ${limit} bytes`);
    // Fields of other names are skipped, as a server ignores form fields it does not know.
    if (limit !== undefined) parts.push({ ...head, data: body.subarray(start, end) });
    count++;
    at = end + CRLF.length;
  }
}
