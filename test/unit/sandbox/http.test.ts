import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_BODY_LIMIT, handleRequest, errorResponse, Router, writeResponse, type SandboxRequest,
} from '../../../src/sandbox/http.js';
import { HttpError } from '../../../src/sandbox/http-error.js';

describe('Router.match', () => {
  const a = () => ({ json: 'a' });
  const b = () => ({ json: 'b' });
  const router = new Router()
    .add('GET', '/pod/v1/streams/:id/info', a)
    .add('POST', '/pod/v1/streams/:id/info', b)
    .add('DELETE', '/pod/v1/streams/:id/info', b)
    .add('GET', '/pod/v1/streams/list', b)
    .add('GET', '/pod/v1/streams/:id', a)
    .add('GET', '/a/:x/:y', a)
    .add('GET', '/', b);

  it('binds parameters and percent-decodes them', () => {
    expect(router.match('GET', '/pod/v1/streams/abc/info')).toMatchObject({ route: { method: 'GET', handler: a }, params: { id: 'abc' } });
    expect(router.match('POST', '/pod/v1/streams/abc/info')).toMatchObject({ route: { method: 'POST', handler: b }, params: { id: 'abc' } });
    expect(router.match('GET', '/a/x%2Fy%20z/%E2%9C%93')).toMatchObject({ params: { x: 'x/y z', y: '✓' } });
    expect(router.match('GET', '/pod/v1/streams/a%2Bb%3D%3D')).toMatchObject({ params: { id: 'a+b==' } });
  });

  it('prefers the first registered route, and ignores empty segments', () => {
    expect(router.match('GET', '/pod/v1/streams/list')).toMatchObject({ route: { handler: b }, params: {} });
    expect(router.match('GET', '//pod/v1//streams/abc/')).toMatchObject({ route: { handler: a }, params: { id: 'abc' } });
    expect(router.match('GET', '/')).toMatchObject({ route: { handler: b }, params: {} });
    expect(router.match('GET', '')).toMatchObject({ route: { handler: b } });
  });

  it('lists the allowed methods, once each, for a known path with another method', () => {
    expect(router.match('PUT', '/pod/v1/streams/abc/info')).toEqual({ allowed: ['GET', 'POST', 'DELETE'] });
    expect(router.match('POST', '/pod/v1/streams/list')).toEqual({ allowed: ['GET'] });
    expect(router.match('get', '/pod/v1/streams/x')).toEqual({ allowed: ['GET'] });
  });

  it('allows nothing on an unknown path', () => {
    for (const path of ['/nope', '/pod/v1/streams/abc/info/more', '/pod/v1', '/a/x', '/Pod/v1/streams/abc/info']) {
      expect(router.match('GET', path)).toEqual({ allowed: [] });
    }
  });

  it('does not match a parameter that is not valid percent-encoding', () => {
    expect(router.match('GET', '/a/%E0%A4%A/y')).toEqual({ allowed: [] });
    expect(router.match('GET', '/a/%zz/y')).toEqual({ allowed: [] });
  });

  it('does not decode literal segments', () => {
    expect(router.match('GET', '/pod/v1/%73treams/list')).toEqual({ allowed: [] });
    expect(router.match('GET', '/pod/v1/streams/list')).toMatchObject({ route: { handler: b } });
  });

  it('keeps each route\'s body limit (default 1 MiB)', () => {
    const r = new Router().add('POST', '/small', a, { bodyLimit: 10 }).add('POST', '/big', a);
    expect(r.match('POST', '/small')).toMatchObject({ route: { bodyLimit: 10 } });
    expect(r.match('POST', '/big')).toMatchObject({ route: { bodyLimit: DEFAULT_BODY_LIMIT } });
    expect(DEFAULT_BODY_LIMIT).toBe(1024 * 1024);
  });
});

describe('errorResponse / writeResponse', () => {
  it('errorResponse has Symphony\'s {code, message} shape', () => {
    expect(errorResponse(404, 'gone', { x: 'y' })).toEqual({ status: 404, json: { code: 404, message: 'gone' }, headers: { x: 'y' } });
    // With structured facts, the Agent API's V2Error: details beside code and message.
    expect(errorResponse(400, 'bad', {}, { line: 1, column: 2 }).json).toEqual({ code: 400, message: 'bad', details: { line: 1, column: 2 } });
  });

  it('writeResponse writes JSON, bytes and 204 with the right headers', () => {
    const capture = () => {
      const writeHead = vi.fn();
      const end = vi.fn();
      return { res: { writeHead, end } as unknown as ServerResponse, writeHead, end };
    };
    const j = capture();
    writeResponse(j.res, { json: { a: 'é' }, headers: { 'x-a': '1' } });
    expect(j.writeHead).toHaveBeenCalledWith(200, { 'x-a': '1', 'content-type': 'application/json', 'content-length': 10 });
    expect((j.end.mock.calls[0]![0] as Buffer).toString('utf8')).toBe('{"a":"é"}');
    const b = capture();
    writeResponse(b.res, { status: 201, bytes: new Uint8Array([1, 2, 3]) });
    expect(b.writeHead).toHaveBeenCalledWith(201, { 'content-type': 'application/octet-stream', 'content-length': 3 });
    const n = capture();
    writeResponse(n.res, { status: 204, headers: { 'set-cookie': 'a=b' } });
    expect(n.writeHead).toHaveBeenCalledWith(204, { 'set-cookie': 'a=b' });
    expect(n.end).toHaveBeenCalledWith();
  });
});

describe('handleRequest over node:http', () => {
  let server: Server;
  let port: number;
  let router: Router;
  let before: ((method: string, path: string, res: ServerResponse) => Promise<'continue' | 'handled'>) | undefined;
  const errors: unknown[] = [];
  const rejections: unknown[] = [];
  let seen: SandboxRequest | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      handleRequest(router, req, res, { ...(before === undefined ? {} : { before }), onError: (e) => errors.push(e) }).catch((e: unknown) => {
        rejections.push(e);
        res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    errors.length = 0;
    rejections.length = 0;
    seen = undefined;
    before = undefined;
    router = new Router()
      .add('GET', '/echo/:id', (req) => {
        seen = req;
        return { json: { method: req.method, path: req.path, id: req.params.id, q: req.query.get('q'), cookie: req.cookies.get('skey'), ua: req.headers['x-test'] } };
      })
      .add('POST', '/json', (req) => {
        seen = req;
        const first = req.json();
        expect(req.json()).toBe(first); // parsed once
        return { status: 201, json: { got: first, bytes: req.body.length } };
      })
      .add('POST', '/raw', (req) => ({ bytes: req.body, contentType: 'text/plain' }))
      .add('POST', '/small', (req) => ({ json: req.body.length }), { bodyLimit: 16 })
      .add('DELETE', '/json', () => ({ status: 204, headers: { 'x-done': 'yes' } }))
      .add('GET', '/teapot', () => { throw new HttpError(418, 'I am a teapot', { 'x-why': 'tea' }); })
      .add('GET', '/bug', () => { throw new TypeError('secret internals'); })
      .add('GET', '/async-bug', async () => { await Promise.resolve(); throw new Error('async internals'); })
      .add('GET', '/throws-string', () => { throw 'a string'; }); // eslint-disable-line @typescript-eslint/only-throw-error
  });

  interface Reply { status: number; headers: IncomingHttpHeaders; body: string; json?: unknown }

  function call(method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: options.headers ?? {}, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const reply: Reply = { status: res.statusCode!, headers: res.headers, body };
          if ((res.headers['content-type'] ?? '').startsWith('application/json')) reply.json = JSON.parse(body);
          resolve(reply);
        });
      });
      req.on('error', reject);
      if (options.chunks !== undefined) {
        for (const c of options.chunks) req.write(c);
        req.end();
      } else req.end(options.body);
    });
  }

  /** Send raw bytes; resolves with everything the server sent before closing (or after 2 s). */
  function raw(text: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      let received = '';
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(received);
      });
    });
  }

  it('gives the handler method, path, decoded params, query, headers and cookies', async () => {
    const r = await call('GET', '/echo/a%2Fb?q=x%20y&q=2', { headers: { 'x-test': 'hi', cookie: 'a=1; skey=tok=en ; b' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({ method: 'GET', path: '/echo/a%2Fb', id: 'a/b', q: 'x y', cookie: 'tok=en', ua: 'hi' });
    expect(seen!.cookies.get('a')).toBe('1');
    expect(seen!.cookies.has('b')).toBe(false);
    expect(seen!.body.length).toBe(0);
  });

  it('parses JSON bodies lazily and answers the handler\'s status', async () => {
    const r = await call('POST', '/json', { body: '{"a":[1,2]}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ got: { a: [1, 2] }, bytes: 11 });
  });

  it('answers bytes and 204 responses', async () => {
    const bytes = await call('POST', '/raw', { body: 'plain text' });
    expect([bytes.status, bytes.headers['content-type'], bytes.body]).toEqual([200, 'text/plain', 'plain text']);
    const none = await call('DELETE', '/json');
    expect([none.status, none.headers['x-done'], none.body]).toEqual([204, 'yes', '']);
  });

  it('answers malformed JSON with a 400 in the error shape', async () => {
    for (const body of ['{"a":', '', 'nope', '\u0000']) {
      const r = await call('POST', '/json', { body });
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ code: 400, message: 'The request body is not valid JSON' });
    }
    expect(errors).toEqual([]);
  });

  it('answers an unknown path with 404 and a wrong method with 405 and Allow', async () => {
    const notFound = await call('GET', '/nowhere?x=1');
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({ code: 404, message: 'No such endpoint: GET /nowhere' });
    const wrong = await call('PUT', '/json', { body: '{}' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST, DELETE');
    expect(wrong.json).toEqual({ code: 405, message: 'Method PUT not allowed; allowed: POST, DELETE' });
  });

  it('answers an HttpError with its status, message and headers, without reporting it', async () => {
    const r = await call('GET', '/teapot');
    expect(r.status).toBe(418);
    expect(r.headers['x-why']).toBe('tea');
    expect(r.json).toEqual({ code: 418, message: 'I am a teapot' });
    expect(errors).toEqual([]);
  });

  it('answers any other failure with a fixed 500 and reports it to onError', async () => {
    for (const path of ['/bug', '/async-bug', '/throws-string']) {
      const r = await call('GET', path);
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ code: 500, message: 'Internal sandbox error' });
      expect(r.body).not.toContain('internals');
    }
    expect(errors).toHaveLength(3);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect((errors[1] as Error).message).toBe('async internals');
    expect(errors[2]).toBe('a string');
    // The server keeps serving.
    expect((await call('GET', '/echo/1')).status).toBe(200);
  });

  it('accepts a body of exactly the limit', async () => {
    const r = await call('POST', '/small', { body: 'x'.repeat(16) });
    expect(r.status).toBe(200);
    expect(r.json).toBe(16);
  });

  it('answers 413 to a declared body over the limit without calling the handler', async () => {
    const r = await call('POST', '/small', { body: 'x'.repeat(17) });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ code: 413, message: 'Request body larger than 16 bytes' });
  });

  it('answers 413 and closes the connection when a streamed (chunked) body grows over the limit', async () => {
    const r = await call('POST', '/small', { chunks: [Buffer.alloc(10, 1), Buffer.alloc(10, 2)] });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expect(r.json).toEqual({ code: 413, message: 'Request body larger than 16 bytes' });
    // Also a body that lies about its size.
    const lie = await raw('POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n' + 'y'.repeat(32) + '\r\n0\r\n\r\n');
    expect(lie).toMatch(/^HTTP\/1\.1 413 /);
    expect(lie).toContain('{"code":413,"message":"Request body larger than 16 bytes"}');
  });

  it('answers 413 to a body over the default limit of 1 MiB', async () => {
    const r = await call('POST', '/json', { body: Buffer.alloc(DEFAULT_BODY_LIMIT + 1, 0x20) });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ code: 413, message: `Request body larger than ${DEFAULT_BODY_LIMIT} bytes` });
  });

  it('answers a request target that is not a URL with a 400, and does not reject', async () => {
    for (const target of ['http://[', 'http://x:99999/']) {
      const answer = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toMatch(/\{"code":400,"message":"[^"]+"\}$/);
    }
    expect(rejections).toEqual([]);
  });

  it('runs the before hook first with the method and path, and skips routing when it handles', async () => {
    const hook = vi.fn(async (_method: string, path: string, res: ServerResponse) => {
      if (path === '/echo/blocked') {
        writeResponse(res, errorResponse(503, 'blocked'));
        return 'handled' as const;
      }
      if (path === '/echo/hook-error') throw new HttpError(429, 'slow down', { 'retry-after': '1' });
      return 'continue' as const;
    });
    before = hook;
    const blocked = await call('GET', '/echo/blocked?q=1');
    expect(blocked.status).toBe(503);
    expect(blocked.json).toEqual({ code: 503, message: 'blocked' });
    expect(seen).toBeUndefined();
    expect(hook).toHaveBeenLastCalledWith('GET', '/echo/blocked', expect.anything());

    const limited = await call('GET', '/echo/hook-error');
    expect([limited.status, limited.headers['retry-after']]).toEqual([429, '1']);
    expect(seen).toBeUndefined();

    const passed = await call('GET', '/echo/ok?q=1');
    expect(passed.status).toBe(200);
    expect(seen!.params.id).toBe('ok');
    // The hook runs before routing: it sees unknown paths too.
    expect((await call('PATCH', '/unknown')).status).toBe(404);
    expect(hook).toHaveBeenLastCalledWith('PATCH', '/unknown', expect.anything());
    expect(errors).toEqual([]);
  });

  it('does not write a second response when the hook dropped the connection and failed', async () => {
    before = async (_m, _p, res) => {
      res.socket?.destroy();
      throw new Error('after the drop');
    };
    await expect(call('GET', '/echo/1')).rejects.toThrow(/socket hang up|ECONNRESET/);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(rejections).toEqual([]);
  });
});
