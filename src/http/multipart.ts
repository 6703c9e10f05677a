/**
 * `multipart/form-data` bodies (RFC 7578), as the Agent's message calls take them (agent-api-public.yaml
 * `/v4/stream/{sid}/message/create`: fields `message`, `data`, `version`, `attachment`…): text fields and files, in
 * order, under a random boundary. Names and file names are written as the WHATWG HTML standard encodes them (`"`,
 * CR and LF percent-encoded), so a part's header cannot be broken out of. Portable: no `node:` import.
 */
import { InvalidArgumentError } from '../errors.js';
import { concatBytes, utf8 } from '../util/bytes.js';
import { describeValue } from '../util/validate.js';

/** One part: a text field, or a file with its name and media type. */
export type MultipartPart =
  | { name: string; value: string }
  | { name: string; filename: string; content: Uint8Array; contentType?: string };

const BOUNDARY_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A fresh boundary: `allegro-ts-` and 32 random characters of [0-9A-Za-z]. */
function newBoundary(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let tail = '';
  for (const b of bytes) tail += BOUNDARY_CHARS[b % BOUNDARY_CHARS.length];
  return `allegro-ts-${tail}`;
}

/** A name or file name as a quoted header parameter value (WHATWG: `"`, CR, LF percent-encoded). */
function quoted(value: string): string {
  return `"${value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22')}"`;
}

/** A media type as a header value: a type/subtype with optional parameters, nothing that ends the header. */
function mediaType(parameter: string, value: string | undefined): string {
  if (value === undefined) return 'application/octet-stream';
  if (typeof value !== 'string' || !/^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/.test(value)) {
    throw new InvalidArgumentError(parameter, 'a media type such as image/png', describeValue(value));
  }
  return value;
}

/**
 * Encode `parts` as one `multipart/form-data` body.
 * @returns the body and its `content-type` header (with the boundary).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an empty or non-string name, a non-string value, non-byte
 *   content or a bad media type, naming the part (`parts[2].contentType`).
 */
export function encodeMultipart(parts: readonly MultipartPart[]): { body: Uint8Array; contentType: string } {
  if (!Array.isArray(parts)) throw new InvalidArgumentError('parts', 'an array of parts', describeValue(parts));
  const boundary = newBoundary();
  const chunks: Uint8Array[] = [];
  for (const [i, part] of parts.entries()) {
    if (typeof part?.name !== 'string' || part.name.length === 0) throw new InvalidArgumentError(`parts[${i}].name`, 'a non-empty string', describeValue(part?.name));
    let head = `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(part.name)}`;
    let content: Uint8Array;
    if ('filename' in part) {
      if (typeof part.filename !== 'string' || part.filename.length === 0) throw new InvalidArgumentError(`parts[${i}].filename`, 'a non-empty string', describeValue(part.filename));
      if (!(part.content instanceof Uint8Array)) throw new InvalidArgumentError(`parts[${i}].content`, 'a Uint8Array', describeValue(part.content));
      head += `; filename=${quoted(part.filename)}\r\nContent-Type: ${mediaType(`parts[${i}].contentType`, part.contentType)}`;
      content = part.content;
    } else {
      if (typeof part.value !== 'string') throw new InvalidArgumentError(`parts[${i}].value`, 'a string', describeValue(part.value));
      content = utf8(part.value);
    }
    chunks.push(utf8(`${head}\r\n\r\n`), content, utf8('\r\n'));
  }
  chunks.push(utf8(`--${boundary}--\r\n`));
  return { body: concatBytes(...chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
