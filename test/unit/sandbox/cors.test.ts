// The sandbox's CORS policy: which origins a pattern list allows, which patterns are refused, and the headers of a
// preflight and of an ordinary answer, over a real node:http server (the hook runs before the sandbox's router).
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS, corsPolicy, DEFAULT_CORS_ORIGINS,
} from '../../../src/sandbox/cors.js';

describe('corsPolicy().allows', () => {
  it('by default allows http and https pages on 127.0.0.1, localhost and [::1], on any port, and nothing else', () => {
    const policy = corsPolicy();
    for (const origin of ['http://127.0.0.1:8000', 'https://127.0.0.1:1', 'http://localhost', 'https://localhost:65535', 'http://[::1]:3000', 'https://[::1]']) {
      expect(policy.allows(origin), origin).toBe(true);
    }
    for (const origin of ['http://127.0.0.2:8000', 'http://localhost.example', 'https://example.com', 'http://sub.localhost:80', 'null', '', 'file://', 'ws://localhost:1',
      'http://localhost:8000/', 'http://localhost:8000/path', 'http://user@localhost', 'HTTP://LOCALHOST:8000']) {
      expect(policy.allows(origin), origin).toBe(false);
    }
    expect(DEFAULT_CORS_ORIGINS).toEqual(['http://127.0.0.1:*', 'https://127.0.0.1:*', 'http://localhost:*', 'https://localhost:*', 'http://[::1]:*', 'https://[::1]:*']);
  });

  it('matches an exact origin on its port only, the default port when none is written', () => {
    const policy = corsPolicy(['https://app.example:8443', 'http://plain.example', 'https://default.example:443']);
    expect(policy.allows('https://app.example:8443')).toBe(true);
    expect(policy.allows('https://app.example')).toBe(false);
    expect(policy.allows('http://app.example:8443')).toBe(false);
    expect(policy.allows('http://plain.example')).toBe(true);
    expect(policy.allows('http://plain.example:8080')).toBe(false);
    expect(policy.allows('https://default.example')).toBe(true);
    expect(corsPolicy(['HTTPS://App.Example:8443']).allows('https://app.example:8443')).toBe(true);
  });

  it('`*` allows any origin, the opaque `null` included; an empty list allows none', () => {
    expect(corsPolicy(['*']).allows('https://anything.example:1')).toBe(true);
    expect(corsPolicy(['*']).allows('null')).toBe(true);
    expect(corsPolicy(['*']).allows('')).toBe(false);
    expect(corsPolicy([]).allows('http://127.0.0.1:8000')).toBe(false);
  });

  it('refuses a pattern that is not an origin, naming it', () => {
    for (const pattern of ['localhost:8000', 'ftp://host', 'http://host/', 'http://host/path', 'http://host?q', 'http://u@host', 'http://host:8000:*', 'http://*.example', '', 'http://:*']) {
      expect(() => corsPolicy([pattern]), pattern).toThrow(new RegExp(`corsOrigins: ${JSON.stringify(pattern).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not an origin pattern`));
    }
    expect(() => corsPolicy([42 as unknown as string])).toThrow(/corsOrigins: 42 is not an origin pattern \(not a string\)/);
    expect(() => corsPolicy('http://localhost:*' as unknown as string[])).toThrow(/expected an array/);
  });
});

describe('corsPolicy().handle on a server', () => {
  let server: Server;
  let port: number;
  const policy = corsPolicy(['http://page.example:8000']);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (policy.handle(req, res) === 'handled') return;
      // What the sandbox's router does after the hook: its own headers, given to writeHead.
      res.writeHead(req.method === 'OPTIONS' ? 405 : 200, { 'content-type': 'application/json', 'x-route': 'served' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function send(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  }
  const corsHeaders = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('access-control-') || name === 'vary'));

  it('answers the preflight of an allowed origin 204 with the methods, headers and max age, without the router', async () => {
    const reply = await send('OPTIONS', '/pod/v2/sessioninfo', {
      origin: 'http://page.example:8000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'sessiontoken,x-trace-id',
    });
    expect(reply.status).toBe(204);
    expect(reply.headers['x-route']).toBeUndefined();
    expect(corsHeaders(reply.headers)).toEqual({
      'access-control-allow-origin': 'http://page.example:8000',
      'access-control-allow-methods': CORS_ALLOW_METHODS.join(', '),
      'access-control-allow-headers': CORS_ALLOW_HEADERS.join(', '),
      'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
    for (const header of ['sessiontoken', 'keymanagertoken', 'authorization', 'content-type', 'range', 'x-trace-id']) expect(CORS_ALLOW_HEADERS).toContain(header);
    expect(CORS_ALLOW_METHODS).toEqual(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);
  });

  it('allows a private-network request when Chromium asks for it', async () => {
    const reply = await send('OPTIONS', '/object/v1/blobs/x', {
      origin: 'http://page.example:8000', 'access-control-request-method': 'PUT', 'access-control-request-private-network': 'true',
    });
    expect(reply.headers['access-control-allow-private-network']).toBe('true');
  });

  it('adds the origin, Vary and the exposed headers to an ordinary answer, which the router still serves', async () => {
    const reply = await send('GET', '/object/v1/blobs/x', { origin: 'http://page.example:8000' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-route']).toBe('served');
    expect(corsHeaders(reply.headers)).toEqual({
      'access-control-allow-origin': 'http://page.example:8000', 'access-control-expose-headers': CORS_EXPOSE_HEADERS.join(', '), vary: 'Origin',
    });
    for (const header of ['content-range', 'retry-after', 'x-trace-id']) expect(CORS_EXPOSE_HEADERS).toContain(header);
  });

  it('gives a disallowed origin, a request without Origin and the control API no CORS header at all', async () => {
    for (const [method, path, headers] of [
      ['OPTIONS', '/pod/v2/sessioninfo', { origin: 'http://evil.example', 'access-control-request-method': 'GET' }],
      ['GET', '/pod/v2/sessioninfo', { origin: 'http://evil.example' }],
      ['GET', '/pod/v2/sessioninfo', {}],
      ['OPTIONS', '/sandbox/v1/faults', { origin: 'http://page.example:8000', 'access-control-request-method': 'POST' }],
      ['POST', '/sandbox/v1/faults', { origin: 'http://page.example:8000' }],
    ] as const) {
      const reply = await send(method, path, headers);
      expect(corsHeaders(reply.headers), `${method} ${path} ${JSON.stringify(headers)}`).toEqual({});
      expect(reply.headers['x-route']).toBe('served');
    }
  });

  it('leaves an OPTIONS that is not a preflight (no Access-Control-Request-Method) to the router', async () => {
    const reply = await send('OPTIONS', '/pod/v2/sessioninfo', { origin: 'http://page.example:8000' });
    expect(reply.status).toBe(405);
    expect(reply.headers['access-control-allow-origin']).toBe('http://page.example:8000');
  });
});
