import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formBoundary, parseMultipart, type MultipartLimits } from '../../../../src/sandbox/agent/multipart.js';
import { httpError } from '../../../helpers/errors.js';
import { multipartBody, type FormField } from '../../../helpers/sandbox.js';

const LIMITS: MultipartLimits = { maxParts: 10, maxBytes: { message: 1000, data: 1000, attachment: 4096, preview: 4096 } };

/** A body as Node's own FormData (undici) serializes it: a real client's encoder, independent of ours. */
async function webFormBody(build: (form: FormData) => void): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  build(form);
  const response = new Response(form);
  return { body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type')! };
}

describe('formBoundary', () => {
  it('reads the boundary, quoted or not, whatever the case of the type and parameter', () => {
    expect(formBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(formBoundary('Multipart/Form-Data; charset=utf-8; BOUNDARY="a b;c"')).toBe('a b;c');
  });

  it.each([
    [undefined, /not absent/], ['application/json', /not application\/json/], ['multipart/form-data', /boundary/],
    ['multipart/form-data; boundary=', /boundary/], [`multipart/form-data; boundary=${'x'.repeat(71)}`, /1 to 70/],
  ])('refuses %j with a 400', (type, message) => {
    const err = httpError(() => formBoundary(type));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(message);
  });
});

describe('parseMultipart', () => {
  it('reads what Node\'s FormData writes: text fields, files with names and types, repeated fields, UTF-8 names', async () => {
    const { body, contentType } = await webFormBody((form) => {
      form.append('message', '<messageML>héllo</messageML>');
      form.append('data', '{"a":1}');
      form.append('attachment', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'image/png' }), 'ré sumé.png');
      form.append('attachment', new Blob(['second']), 'b.txt');
      form.append('unknown', 'skipped');
    });
    const parts = parseMultipart(body, formBoundary(contentType), LIMITS);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['message', undefined, 'text/plain'], ['data', undefined, 'text/plain'], ['attachment', 'ré sumé.png', 'image/png'],
      ['attachment', 'b.txt', 'application/octet-stream'],
    ]);
    expect(parts[0]!.data.toString()).toBe('<messageML>héllo</messageML>');
    expect([...parts[2]!.data]).toEqual([0, 1, 2, 255]);
  });

  it('prefers filename* (RFC 5987) and tolerates a preamble, transport padding and an epilogue', () => {
    const body = Buffer.from([
      'preamble to ignore', '--b  ', 'Content-Disposition: form-data; name="attachment"; filename="fallback.txt"; filename*=UTF-8\'\'%E2%82%AC.txt',
      'Content-Type: Text/Plain; charset=utf-8', '', 'euro', '--b--', 'epilogue',
    ].join('\r\n'));
    const [part] = parseMultipart(body, 'b', LIMITS);
    expect(part).toMatchObject({ name: 'attachment', filename: '€.txt', contentType: 'text/plain' });
    expect(part!.data.toString()).toBe('euro');
  });

  it('keeps every byte of a part, also bytes that look like line breaks and partial boundaries', () => {
    const tricky = Buffer.from('a\r\n--bounda\r\n\r\n--boundar-\r\nz');
    const parts = parseMultipart(multipartBody([{ name: 'attachment', value: tricky, filename: 'x' }], 'boundary'), 'boundary', LIMITS);
    expect(parts[0]!.data.equals(tricky)).toBe(true);
  });

  it('round-trips any fields (property)', () => {
    const field = fc.record({
      name: fc.constantFrom('message', 'data', 'attachment', 'preview'),
      value: fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 })),
      filename: fc.option(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(field, { maxLength: 8 }), (fields) => {
      const given: FormField[] = fields.map((f) => (f.filename === undefined ? { name: f.name, value: f.value } : { name: f.name, value: f.value, filename: f.filename }));
      const parts = parseMultipart(multipartBody(given, 'X-BOUNDARY-X'), 'X-BOUNDARY-X', { maxParts: 10, maxBytes: { message: 1e6, data: 1e6, attachment: 1e6, preview: 1e6 } });
      expect(parts.map((p) => p.name)).toEqual(given.map((f) => f.name));
      parts.forEach((p, i) => {
        expect(p.data.equals(Buffer.from(given[i]!.value))).toBe(true);
        expect(p.filename).toBe(given[i]!.filename);
      });
    }));
  });

  it.each([
    ['no boundary at all', 'just text', 400, /does not contain its boundary/],
    ['no line break after the boundary', '--bxyz', 400, /not followed by a line break/],
    ['a part without a header end', '--b\r\nContent-Disposition: form-data; name="message"\r\nno end', 400, /no complete header/],
    ['a part without Content-Disposition', '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--', 400, /no "Content-Disposition: form-data"/],
    ['a part of another disposition', '--b\r\nContent-Disposition: attachment; name="message"\r\n\r\nx\r\n--b--', 400, /form-data/],
    ['a part without a name', '--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--', 400, /no field name/],
    ['a malformed header line', '--b\r\nContent-Disposition: form-data; name="message"\r\ngarbage\r\n\r\nx\r\n--b--', 400, /malformed header/],
    ['no closing boundary', '--b\r\nContent-Disposition: form-data; name="message"\r\n\r\nx', 400, /ends before its closing boundary/],
  ])('refuses %s', (_what, body, status, message) => {
    const err = httpError(() => parseMultipart(Buffer.from(body), 'b', LIMITS));
    expect(err.status).toBe(status);
    expect(err.message).toMatch(message);
  });

  it('bounds the number of parts (skipped ones count), the head of a part, and each field', () => {
    const many = Array.from({ length: 11 }, () => ({ name: 'other', value: 'x' }));
    expect(httpError(() => parseMultipart(multipartBody(many, 'b'), 'b', LIMITS)).message).toMatch(/more than 10 parts/);
    const longHead = Buffer.from(`--b\r\nContent-Disposition: form-data; name="message"\r\nX-Pad: ${'p'.repeat(9000)}\r\n\r\nx\r\n--b--`);
    expect(httpError(() => parseMultipart(longHead, 'b', LIMITS)).message).toMatch(/at most 8192 bytes/);
    const big = httpError(() => parseMultipart(multipartBody([{ name: 'message', value: 'm'.repeat(1001) }], 'b'), 'b', LIMITS));
    expect(big.status).toBe(413);
    expect(big.message).toBe('Form field "message" is larger than 1000 bytes');
  });

  it('never quotes the content of a part in an error', () => {
    const secret = 'TOP-SECRET-PLAINTEXT';
    const bodies = [`--b\r\nContent-Disposition: form-data; name="message"\r\n\r\n${secret}`, `--b\r\n${secret}\r\n\r\nx\r\n--b--`];
    for (const body of bodies) expect(httpError(() => parseMultipart(Buffer.from(body), 'b', LIMITS)).message).not.toContain(secret);
  });
});
