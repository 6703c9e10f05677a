// multipart/form-data bodies (src/http/multipart.ts), read back by a real multipart parser (undici's
// Response.formData(), the WHATWG algorithm): fields and files in order, binary content intact, names and file
// names that cannot break out of their header, and typed errors naming the bad part.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMultipart } from '../../../src/http/multipart.js';
import { codeOf } from '../../helpers/errors.js';

async function parse(encoded: { body: Uint8Array; contentType: string }): Promise<FormData> {
  return new Response(Buffer.from(encoded.body), { headers: { 'content-type': encoded.contentType } }).formData();
}

describe('encodeMultipart', () => {
  it('writes text fields and files that a multipart parser reads back as sent', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 255]);
    const form = await parse(encodeMultipart([
      { name: 'message', value: '<messageML>Hé <b>there</b>\r\n</messageML>' },
      { name: 'data', value: '{"a":1}' },
      { name: 'attachment', filename: 'chart.png', content: png, contentType: 'image/png' },
      { name: 'attachment', filename: 'notes.txt', content: new TextEncoder().encode('two') },
    ]));
    expect(form.get('message')).toBe('<messageML>Hé <b>there</b>\r\n</messageML>');
    expect(form.get('data')).toBe('{"a":1}');
    const files = form.getAll('attachment') as File[];
    expect(files.map((f) => [f.name, f.type])).toEqual([['chart.png', 'image/png'], ['notes.txt', 'application/octet-stream']]);
    expect(new Uint8Array(await files[0]!.arrayBuffer())).toEqual(png);
  });

  it('keeps quotes and line breaks of a file name inside its header (percent-encoded, as WHATWG parsers decode them)', async () => {
    const form = await parse(encodeMultipart([{ name: 'attachment', filename: 'a"b\r\nContent-Type: text/html.txt', content: new Uint8Array([1]) }]));
    const file = form.get('attachment') as File;
    expect(file.type).toBe('application/octet-stream');
    expect(file.name).toBe('a"b\r\nContent-Type: text/html.txt');
    expect(new TextDecoder().decode(encodeMultipart([{ name: 'n"', filename: 'a"\n', content: new Uint8Array(0) }]).body)).toContain('name="n%22"; filename="a%22%0A"');
  });

  it('round-trips any text values (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.string()), { maxLength: 6 }), async (fields) => {
      const form = await parse(encodeMultipart(fields.map(([name, value]) => ({ name, value }))));
      const read: Array<[string, unknown]> = [];
      form.forEach((value, name) => read.push([name, value]));
      expect(read).toEqual(fields);
    }), { numRuns: 100 });
  });

  it('names the part that is not one', async () => {
    expect(await codeOf(() => encodeMultipart([{ name: '', value: 'x' }]))).toBe('INVALID_ARGUMENT');
    expect(() => encodeMultipart([{ name: 'a', value: 'x' }, { name: 'f', filename: 'f', content: 'text' as unknown as Uint8Array }])).toThrow(/parts\[1\]\.content/);
    expect(() => encodeMultipart([{ name: 'f', filename: 'f', content: new Uint8Array(1), contentType: 'text/html\r\nX-Evil: 1' }])).toThrow(/parts\[0\]\.contentType/);
    expect(() => encodeMultipart('parts' as never)).toThrow(/Invalid parts/);
  });

  it('picks a fresh boundary for every body', () => {
    const a = encodeMultipart([{ name: 'x', value: 'y' }]).contentType;
    const b = encodeMultipart([{ name: 'x', value: 'y' }]).contentType;
    expect(a).toMatch(/^multipart\/form-data; boundary=allegro-ts-[0-9A-Za-z]{32}$/);
    expect(a).not.toBe(b);
  });
});
