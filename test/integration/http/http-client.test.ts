// HttpClient and the undici connection pool against a real sandbox over HTTPS on 127.0.0.1, trusting only the sandbox
// CA: JSON, error mapping, retries (429 + Retry-After, 503, dropped connections, refused connections), timeouts,
// aborts, the 401 refresh hook, mutual TLS (PKCS#12 and PEM, direct and through a CONNECT proxy), certificate trust,
// keep-alive reuse, the response size cap, the default User-Agent, no listener pile-up under concurrency, and that
// tokens and query strings never reach an error. A small plain-HTTP server and a CONNECT proxy, both on loopback,
// cover what the sandbox cannot do. (transport.test.ts runs the exchange itself over both transports.)
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, HttpStatusError, MalformedResponseError, NetworkError, TimeoutError } from '../../../src/errors.js';
import { DEFAULT_USER_AGENT, HttpClient, type HttpClientOptions, type RetryInfo } from '../../../src/http/http-client.js';
import { createDispatcher, type DispatcherOptions } from '../../../src/http/pool.js';
import { sendStream, type Transport } from '../../../src/http/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { rejection } from '../../helpers/errors.js';
import { login, type Login } from '../../helpers/sandbox.js';

const PODINFO = '/webcontroller/public/podInfo';
const FAST_RETRY = { initialDelayMs: 20, maxDelayMs: 2000, jitter: 0 };

/** Every string an error could leak through: message, stack, JSON, inspect (causes and all properties included). */
function expectNoSecret(error: unknown, ...secrets: string[]): void {
  const texts = [inspect(error, { depth: 6, showHidden: true }), JSON.stringify(error), String(error)];
  for (let e: unknown = error, i = 0; e instanceof Error && i < 6; e = e.cause, i++) texts.push(e.message, e.stack ?? '');
  for (const secret of secrets) for (const t of texts) expect(t).not.toContain(secret);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('HttpClient against the sandbox', () => {
  let sandbox: RunningSandbox;
  let ca: string;
  let bot: Login;
  let dispatcher: Transport;
  const dispatchers: Transport[] = [];
  const clients: HttpClient[] = [];
  // Plain-HTTP helper server: echoes headers, answers 204, streams, and echoes a token in an error message.
  let local: Server;
  let localUrl: string;
  const seen: IncomingHttpHeaders[] = [];

  const newDispatcher = (options: DispatcherOptions = {}): Transport => {
    const d = createDispatcher({ ca, ...options });
    dispatchers.push(d);
    return d;
  };
  const newClient = (options: Partial<HttpClientOptions> = {}): HttpClient => {
    const c = new HttpClient({ transport: dispatcher, retry: FAST_RETRY, ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ control: true });
    ca = readFileSync(sandbox.caCertPath, 'utf8');
    bot = await login(sandbox, 'sandbox-bot');
    dispatcher = newDispatcher();
    local = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      seen.push(req.headers);
      if (path === '/echo') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      } else if (path === '/empty') {
        res.writeHead(204).end();
      } else if (path === '/flaky') {
        // 503 on the first two calls of each trace id.
        const count = seen.filter((h) => h['x-trace-id'] === req.headers['x-trace-id']).length;
        if (count <= 2) res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":503,"message":"busy"}');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } else if (path === '/stream') {
        // 100 KiB without Content-Length (chunked).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let i = 0; i < 100; i++) res.write(Buffer.alloc(1024, i));
        res.end();
      } else if (path === '/echo-token') {
        const token = String(req.headers.sessiontoken);
        res.writeHead(400, { 'content-type': 'application/json', 'x-trace-id': 'srvTrace' })
          .end(JSON.stringify({ code: 400, message: `Token ${token} is not valid here. ${'x'.repeat(600)}` }));
      } else if (path === '/not-json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
      } else {
        res.writeHead(404).end();
      }
    });
    localUrl = `http://127.0.0.1:${await listen(local)}`;
  });

  afterEach(() => {
    sandbox.faults.clear();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(dispatchers.map((d) => d.close({ force: true })));
    await new Promise<void>((resolve) => local.close(() => resolve()));
    local.closeAllConnections();
    await sandbox.close();
  });

  describe('requests and error mapping', () => {
    it('GETs JSON', async () => {
      const info = await newClient().request<Record<string, unknown>>({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(info).toEqual(expect.objectContaining({}));
      expect(typeof info).toBe('object');
    });

    it('sends User-Agent and a 6-character base62 X-Trace-Id, fresh per logical request and kept across retries', async () => {
      const client = newClient({ userAgent: 'allegro-ts-test/1' });
      const a = await client.request<Record<string, string>>({ method: 'GET', url: `${localUrl}/echo` });
      const b = await client.request<Record<string, string>>({ method: 'GET', url: `${localUrl}/echo` });
      expect(a['user-agent']).toBe('allegro-ts-test/1');
      expect(a['x-trace-id']).toMatch(/^[0-9A-Za-z]{6}$/);
      expect(b['x-trace-id']).not.toBe(a['x-trace-id']);
      expect(a.accept).toBe('application/json');

      const retries: RetryInfo[] = [];
      const own: RetryInfo[] = [];
      await newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${localUrl}/flaky`, onRetry: (i) => own.push(i) });
      expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
      expect(own).toEqual(retries); // the request's own listener hears the same retries
      const ids = seen.slice(-3).map((h) => h['x-trace-id']);
      expect(new Set(ids).size).toBe(1);
      expect(retries[0]!.traceId).toBe(ids[0]);
    });

    it('sends User-Agent allegro-ts/<package.json version> by default', async () => {
      const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      expect(DEFAULT_USER_AGENT).toBe(`allegro-ts/${version}`);
      const echoed = await newClient().request<Record<string, string>>({ method: 'GET', url: `${localUrl}/echo` });
      expect(echoed['user-agent']).toBe(`allegro-ts/${version}`);
    });

    it('maps 404 to HttpStatusError NOT_FOUND with route, server message and trace id', async () => {
      const err = await rejection(newClient().request({ method: 'GET', url: `${sandbox.podUrl}/pod/v1/nope/123?sessionToken=SECRETQUERY` }));
      expect(err).toBeInstanceOf(HttpStatusError);
      const e = err as HttpStatusError;
      expect(e.code).toBe('NOT_FOUND');
      expect(e.status).toBe(404);
      expect(e.route).toBe('GET /pod/v1/nope/123');
      expect(e.serverMessage).toBe('No such endpoint: GET /pod/v1/nope/123');
      expect(e.traceId).toMatch(/^[0-9A-Za-z]{6}$/);
      expect(e.retryable).toBe(false);
      expectNoSecret(e, 'SECRETQUERY', '?');
    });

    it('uses the route given by the caller', async () => {
      const err = await rejection(newClient().request({ method: 'GET', url: `${sandbox.podUrl}/pod/v3/room/abc%2Fdef/info`, route: 'GET /pod/v3/room/{id}/info', auth: { headers: () => bot.headers } }));
      expect((err as HttpStatusError).route).toBe('GET /pod/v3/room/{id}/info');
    });

    it('returns undefined for 204, bytes on request, and refuses a 2xx body that is not JSON without retrying', async () => {
      const client = newClient();
      expect(await client.request({ method: 'GET', url: `${localUrl}/empty` })).toBeUndefined();
      const bytes = await client.request({ method: 'GET', url: `${localUrl}/stream`, expect: 'bytes' });
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes.length).toBe(100 * 1024);
      expect(bytes[1024 * 99]).toBe(99);
      expect(await client.request({ method: 'GET', url: `${localUrl}/stream`, expect: 'none' })).toBeUndefined();
      const retries: RetryInfo[] = [];
      const err = await rejection(newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${localUrl}/not-json` }));
      expect(err).toBeInstanceOf(MalformedResponseError);
      expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /not-json', retryable: false });
      expect(retries).toHaveLength(0);
    });

    it('sends JSON and form bodies', async () => {
      const client = newClient();
      const session = await client.request<{ token: string }>({ method: 'POST', url: `${sandbox.podUrl}/pod/v1/streams/list`, json: { streamTypes: [{ type: 'ROOM' }] }, auth: { headers: () => bot.headers } });
      expect(Array.isArray(session)).toBe(true);
      const echoed = await client.request<Record<string, string>>({ method: 'POST', url: `${localUrl}/echo`, form: { a: '1 2' } });
      expect(echoed['content-type']).toBe('application/x-www-form-urlencoded');
      expect(echoed['content-length']).toBe('5');
    });
  });

  describe('retries', () => {
    it('retries an injected 429 after its Retry-After (1 s), then succeeds', async () => {
      sandbox.faults.add({ path: PODINFO, status: 429, retryAfterSeconds: 1, times: 1 });
      const retries: RetryInfo[] = [];
      const started = performance.now();
      await newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(performance.now() - started).toBeGreaterThanOrEqual(995);
      expect(retries).toHaveLength(1);
      expect(retries[0]!.delayMs).toBe(1000);
      expect(retries[0]!.error).toBeInstanceOf(HttpStatusError);
      expect((retries[0]!.error as HttpStatusError).code).toBe('RATE_LIMITED');
      expect((retries[0]!.error as HttpStatusError).retryAfterMs).toBe(1000);
    });

    it('retries a 429 for a POST too (the server did nothing)', async () => {
      sandbox.faults.add({ path: '/pod/v1/streams/list', status: 429, retryAfterSeconds: 0, times: 1 });
      const retries: RetryInfo[] = [];
      const list = await newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'POST', url: `${sandbox.podUrl}/pod/v1/streams/list`, json: {}, auth: { headers: () => bot.headers } });
      expect(Array.isArray(list)).toBe(true);
      expect(retries).toHaveLength(1);
    });

    it('retries two injected 503s for a GET, then succeeds; gives up after maxAttempts', async () => {
      sandbox.faults.add({ path: PODINFO, status: 503, times: 2 });
      const retries: RetryInfo[] = [];
      await newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([[1, 20], [2, 40]]);

      sandbox.faults.add({ path: PODINFO, status: 503 });
      const err = await rejection(newClient({ retry: { ...FAST_RETRY, maxAttempts: 3 } }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }));
      expect((err as HttpStatusError).code).toBe('SERVER_ERROR');
      expect((err as HttpStatusError).serverMessage).toBe('Server error (injected fault)');
      expect(sandbox.faults.counts.failed).toBeGreaterThanOrEqual(5);
    });

    it('does not retry a 503 for a POST', async () => {
      sandbox.faults.add({ path: '/pod/v1/streams/list', status: 503, times: 1 });
      const retries: RetryInfo[] = [];
      const err = await rejection(newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'POST', url: `${sandbox.podUrl}/pod/v1/streams/list`, json: {}, auth: { headers: () => bot.headers } }));
      expect((err as HttpStatusError).status).toBe(503);
      expect(retries).toHaveLength(0);
    });

    it('retries a dropped connection for a GET, but not for a POST', async () => {
      sandbox.faults.add({ path: PODINFO, drop: true, times: 1 });
      const retries: RetryInfo[] = [];
      await newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(retries).toHaveLength(1);
      expect(retries[0]!.error).toBeInstanceOf(NetworkError);

      sandbox.faults.add({ path: '/pod/v1/streams/list', drop: true, times: 1 });
      retries.length = 0;
      const err = await rejection(newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'POST', url: `${sandbox.podUrl}/pod/v1/streams/list`, json: {}, auth: { headers: () => bot.headers } }));
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).route).toBe('POST /pod/v1/streams/list');
      expect((err as NetworkError).message).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
      expect(retries).toHaveLength(0);
      expectNoSecret(err, bot.session);
    });

    it('retries a POST whose connection was refused (nothing was sent), and succeeds once the server is up', async () => {
      const probe = createServer();
      const port = await listen(probe);
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const late = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'); });
      const retries: RetryInfo[] = [];
      try {
        const result = await newClient({
          retry: { initialDelayMs: 300, jitter: 0, maxAttempts: 3 },
          onRetry: (i) => {
            retries.push(i);
            if (retries.length === 1) late.listen(port, '127.0.0.1');
          },
        }).request({ method: 'POST', url: `http://127.0.0.1:${port}/anything`, json: {} });
        expect(result).toEqual({ late: true });
        expect(retries).toHaveLength(1);
        expect(retries[0]!.error.message).toContain('ECONNREFUSED');
      } finally {
        late.closeAllConnections();
        await new Promise<void>((resolve) => late.close(() => resolve()));
      }
    });
  });

  describe('timeouts, aborts and close', () => {
    it('times out an attempt after timeoutMs (TimeoutError), and retries a timed-out GET', async () => {
      sandbox.faults.add({ path: PODINFO, latencyMs: 3000, times: 1 });
      const started = performance.now();
      const err = await rejection(newClient({ retry: { maxAttempts: 1 } }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, timeoutMs: 300 }));
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).message).toBe(`GET ${PODINFO} timed out after 300 ms`);
      expect(elapsed).toBeGreaterThanOrEqual(295);
      expect(elapsed).toBeLessThan(1500);

      sandbox.faults.add({ path: PODINFO, latencyMs: 3000, times: 1 });
      const retries: RetryInfo[] = [];
      await newClient({ onRetry: (i) => retries.push(i), timeoutMs: 300 }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(retries).toHaveLength(1);
      expect(retries[0]!.error).toBeInstanceOf(TimeoutError);
    });

    it('takes a timeoutMs beyond the 2^31 − 1 ms a timer can hold as that longest timer, never as 1 ms', async () => {
      // Node runs a setTimeout longer than 2^31 − 1 ms after 1 ms instead (TimeoutOverflowWarning).
      sandbox.faults.add({ path: PODINFO, latencyMs: 200, times: 1 });
      const reply = await newClient({ retry: { maxAttempts: 1 }, timeoutMs: 2 ** 32 }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      expect(reply).toBeDefined();
      sandbox.faults.add({ path: PODINFO, latencyMs: 200, times: 1 });
      await newClient({ retry: { maxAttempts: 1 } }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, timeoutMs: Number.MAX_SAFE_INTEGER });
    });

    it('does not retry a timed-out POST', async () => {
      sandbox.faults.add({ path: '/pod/v1/streams/list', latencyMs: 3000, times: 1 });
      const retries: RetryInfo[] = [];
      const err = await rejection(newClient({ onRetry: (i) => retries.push(i) }).request({ method: 'POST', url: `${sandbox.podUrl}/pod/v1/streams/list`, json: {}, timeoutMs: 200, auth: { headers: () => bot.headers } }));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(retries).toHaveLength(0);
    });

    it('aborts quickly on the caller\'s signal, in flight and while waiting to retry', async () => {
      sandbox.faults.add({ path: PODINFO, latencyMs: 5000, times: 1 });
      let started = performance.now();
      let err = await rejection(newClient().request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, signal: AbortSignal.timeout(100) }));
      expect(err).toBeInstanceOf(AbortedError);
      expect(performance.now() - started).toBeLessThan(600);

      sandbox.faults.add({ path: PODINFO, status: 503, retryAfterSeconds: 10, times: 1 });
      const retries: RetryInfo[] = [];
      started = performance.now();
      err = await rejection(newClient({ retry: { maxDelayMs: 20_000 }, onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, signal: AbortSignal.timeout(200) }));
      expect(err).toBeInstanceOf(AbortedError);
      expect(retries.map((r) => r.delayMs)).toEqual([10_000]);
      expect(performance.now() - started).toBeLessThan(1000);

      const aborted = new AbortController();
      aborted.abort();
      expect(await rejection(newClient().request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, signal: aborted.signal }))).toBeInstanceOf(AbortedError);
    });

    it('close() aborts in-flight requests and refuses new ones', async () => {
      sandbox.faults.add({ path: PODINFO, latencyMs: 5000, times: 1 });
      const client = newClient();
      const pending = rejection(client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      await client.close();
      expect(await pending).toBeInstanceOf(AbortedError);
      expect(performance.now() - started).toBeLessThan(500);
      expect(await rejection(client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }))).toBeInstanceOf(AbortedError);
      // The shared dispatcher is not the client's: it still works.
      expect(await newClient().request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` })).toBeDefined();
    });
  });

  it('runs 60 concurrent requests, half of them sharing one caller signal, without piling listeners on any signal; the signal ends its half, close() the rest', async () => {
    sandbox.faults.add({ path: PODINFO, latencyMs: 5000 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => { if (w.name === 'MaxListenersExceededWarning') warnings.push(w); };
    process.on('warning', onWarning);
    try {
      const client = newClient();
      const shared = new AbortController();
      const start = (signal?: AbortSignal) => rejection(client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, ...(signal === undefined ? {} : { signal }) }));
      const withSignal = Array.from({ length: 30 }, () => start(shared.signal));
      const without = Array.from({ length: 30 }, () => start());
      let settled = 0;
      for (const p of without) void p.then(() => settled++);
      await new Promise((resolve) => setTimeout(resolve, 200));
      shared.abort();
      for (const err of await Promise.all(withSignal)) expect(err).toBeInstanceOf(AbortedError);
      expect(settled).toBe(0);
      await client.close();
      for (const err of await Promise.all(without)) expect(err).toBeInstanceOf(AbortedError);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  describe('authentication hook', () => {
    it('refreshes once on 401 and retries with the fresh headers (GET and POST)', async () => {
      for (const [method, path] of [['GET', '/pod/v2/sessioninfo'], ['POST', '/pod/v1/streams/list']] as const) {
        let current: Record<string, string> = { sessionToken: 'expired-token-value-0000' };
        const refused: Array<Record<string, string>> = [];
        const result = await newClient().request({
          method, url: `${sandbox.podUrl}${path}`, ...(method === 'POST' ? { json: {} } : {}),
          auth: {
            headers: () => current,
            onUnauthorized: async (used) => {
              refused.push(used);
              current = bot.headers;
              return true;
            },
          },
        });
        expect(result).toBeDefined();
        expect(refused).toEqual([{ sessionToken: 'expired-token-value-0000' }]);
      }
    });

    it('throws the second 401, and a 401 when the hook declines; tokens never reach the error', async () => {
      let calls = 0;
      const err = await rejection(newClient().request({
        method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo?token=${bot.session}`,
        auth: { headers: () => ({ sessionToken: `${bot.session}x` }), onUnauthorized: async () => ++calls > 0 },
      }));
      expect(calls).toBe(1);
      expect(err).toBeInstanceOf(HttpStatusError);
      expect((err as HttpStatusError).code).toBe('UNAUTHORIZED');
      expect((err as HttpStatusError).route).toBe('GET /pod/v2/sessioninfo');
      expectNoSecret(err, bot.session, bot.km);

      const declined = await rejection(newClient().request({
        method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo`,
        auth: { headers: () => ({ sessionToken: 'nope-nope-nope' }), onUnauthorized: async () => false },
      }));
      expect((declined as HttpStatusError).status).toBe(401);
      expectNoSecret(declined, 'nope-nope-nope');
    });

    it('redacts a credential the server echoes in its message, truncates long messages and keeps the server trace id', async () => {
      const secret = 'eyJhbGciOiJSUzUxMiJ9.very-secret-session-token';
      const err = await rejection(newClient().request({ method: 'GET', url: `${localUrl}/echo-token`, headers: { sessionToken: secret } })) as HttpStatusError;
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.serverMessage).toMatch(/^Token \[redacted\] is not valid here\. x+…$/);
      expect(err.serverMessage!.length).toBe(300);
      expect(err.traceId).toBe('srvTrace');
      expectNoSecret(err, secret);
    });

    it('keeps tokens out of network errors and timeouts', async () => {
      sandbox.faults.add({ path: '/pod/v2/sessioninfo', drop: true, times: 5 });
      const dropped = await rejection(newClient({ retry: { ...FAST_RETRY, maxAttempts: 2 } }).request({ method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo?x=${bot.km}`, auth: { headers: () => bot.headers } }));
      expect(dropped).toBeInstanceOf(NetworkError);
      expectNoSecret(dropped, bot.session, bot.km);
      sandbox.faults.clear();
      sandbox.faults.add({ path: '/pod/v2/sessioninfo', latencyMs: 2000, times: 1 });
      const slow = await rejection(newClient({ retry: { maxAttempts: 1 } }).request({ method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo?x=${bot.km}`, timeoutMs: 100, auth: { headers: () => bot.headers } }));
      expect(slow).toBeInstanceOf(TimeoutError);
      expectNoSecret(slow, bot.session, bot.km);
    });
  });

  describe('TLS', () => {
    const authenticate = (d: Transport) => new HttpClient({ transport: d, retry: { maxAttempts: 1 } })
      .request<{ name: string; token: string }>({ method: 'POST', url: `${sandbox.sessionAuthUrl}/v1/authenticate` });

    it('logs in with mutual TLS using the bot\'s PKCS#12 bundle', async () => {
      const files = sandbox.identities.get('sandbox-bot')!;
      const d = newDispatcher({ clientCertificate: { pfx: readFileSync(files.pkcs12Path!), passphrase: files.pkcs12Password! } });
      const reply = await authenticate(d);
      expect(reply.name).toBe('sessionToken');
      expect(reply.token.length).toBeGreaterThan(20);
    });

    it('logs in with mutual TLS using PEM certificate and key', async () => {
      const files = sandbox.identities.get('sandbox-bot')!;
      const d = newDispatcher({ clientCertificate: { certPem: readFileSync(files.certificatePath!, 'utf8'), keyPem: readFileSync(files.certificateKeyPath!, 'utf8') } });
      expect((await authenticate(d)).name).toBe('sessionToken');
    });

    it('is refused certificate login without a client certificate', async () => {
      const err = await rejection(authenticate(dispatcher));
      expect((err as HttpStatusError).status).toBe(401);
    });

    it('refuses a server whose CA it does not trust (NetworkError about the certificate), without retrying', async () => {
      const untrusting = createDispatcher();
      dispatchers.push(untrusting);
      const retries: RetryInfo[] = [];
      const err = await rejection(new HttpClient({ transport: untrusting, retry: FAST_RETRY, onRetry: (i) => retries.push(i) }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }));
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).message).toMatch(/^GET \/webcontroller\/public\/podInfo failed: TLS: .*certificate/);
      expect((err as NetworkError).retryable).toBe(false);
      expect(retries).toHaveLength(0);
    });

    it('refuses unusable TLS material when the dispatcher is made, without quoting it', () => {
      const files = sandbox.identities.get('sandbox-bot')!;
      const attempts: DispatcherOptions[] = [
        { clientCertificate: { pfx: readFileSync(files.pkcs12Path!), passphrase: 'wrong-password' } },
        { clientCertificate: { certPem: readFileSync(files.certificatePath!, 'utf8'), keyPem: 'not-a-key-SECRETPEM' } },
        { ca: 'not a certificate SECRETPEM' },
      ];
      for (const options of attempts) {
        let err: unknown;
        try {
          createDispatcher(options);
        } catch (e) {
          err = e;
        }
        expect(err).toHaveProperty('code', 'INVALID_ARGUMENT');
        expectNoSecret(err, 'wrong-password', 'SECRETPEM');
      }
    });
  });

  describe('connection pool and limits', () => {
    it('reuses kept-alive connections: 50 sequential requests open at most two', async () => {
      const d = newDispatcher();
      const client = new HttpClient({ transport: d });
      let connections = 0;
      const onConnect = () => { connections++; };
      subscribe('undici:client:connected', onConnect);
      const started = performance.now();
      try {
        for (let i = 0; i < 50; i++) await client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      } finally {
        unsubscribe('undici:client:connected', onConnect);
      }
      const elapsed = performance.now() - started;
      // Two, not one: undici frees a connection a tick after the body ends, so a request sent straight after the
      // first one finds it busy and opens a second; from then on the two alternate.
      expect(connections).toBeGreaterThanOrEqual(1);
      expect(connections).toBeLessThanOrEqual(2);
      expect(elapsed).toBeLessThan(3000);
    });

    it('caps the response size (declared and streamed) with a NetworkError', async () => {
      const small = newDispatcher({ maxResponseBytes: 64 });
      const retries: RetryInfo[] = [];
      const client = new HttpClient({ transport: small, retry: FAST_RETRY, onRetry: (i) => retries.push(i) });
      const declared = await rejection(client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }));
      expect(declared).toBeInstanceOf(NetworkError);
      expect(retries).toHaveLength(0); // it would be just as large again
      expect((declared as NetworkError).message).toContain('larger than 64 bytes');
      const get = () => sendStream(dispatcher, { method: 'GET', url: `${localUrl}/stream`, headers: {}, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
      const streamed = await rejection(get().then((r) => r.bytes(50_000)));
      expect((streamed as NetworkError).message).toContain('larger than 50000 bytes');
      // The connection is not poisoned: the next request works.
      expect((await (await get()).bytes()).length).toBe(102_400);
    });

    it('validates requests without echoing header values', async () => {
      const err = await rejection(sendStream(dispatcher, { method: 'GET', url: `${localUrl}/echo`, headers: { sessionToken: 'abc\r\nInjected: yes' }, headersTimeoutMs: 1000, bodyTimeoutMs: 1000 }));
      expect((err as Error).name).toBe('InvalidArgumentError');
      expectNoSecret(err, 'Injected');
      expect(await rejection(newClient().request({ method: 'POST', url: `${localUrl}/echo`, json: {}, form: {} }))).toHaveProperty('code', 'INVALID_ARGUMENT');
      expect(await rejection(newClient().request({ method: 'GET', url: 'ftp://127.0.0.1/x' }))).toHaveProperty('code', 'INVALID_ARGUMENT');
    });
  });

  describe('through a CONNECT proxy', () => {
    let proxy: TestProxy;
    let proxyUrl: string;

    beforeAll(async () => {
      proxy = await startProxy({ username: 'proxyuser', password: 'proxy pass' });
      proxyUrl = proxy.url;
    });

    afterAll(async () => {
      await proxy.close();
    });

    it('tunnels HTTPS with proxy credentials, reuses the tunnel, and keeps mutual TLS working', async () => {
      const files = sandbox.identities.get('sandbox-bot')!;
      const d = newDispatcher({
        proxy: { url: proxyUrl, username: 'proxyuser', password: 'proxy pass' },
        clientCertificate: { pfx: readFileSync(files.pkcs12Path!), passphrase: files.pkcs12Password! },
      });
      expect(d.description).toBe(`proxy ${proxyUrl}`);
      const client = new HttpClient({ transport: d });
      const before = proxy.tunnels.length;
      for (let i = 0; i < 5; i++) await client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` });
      const login = await client.request<{ token: string }>({ method: 'POST', url: `${sandbox.sessionAuthUrl}/v1/authenticate` });
      expect(login.token.length).toBeGreaterThan(20);
      expect(proxy.tunnels.length - before).toBeLessThanOrEqual(2); // see the keep-alive test
    });

    it('reports a proxy that refuses the tunnel (407) as a NetworkError, without the credentials', async () => {
      const d = newDispatcher({ proxy: { url: proxyUrl.replace('http://', 'http://proxyuser:wrongpass@') } });
      expect(d.description).not.toContain('wrongpass');
      const err = await rejection(new HttpClient({ transport: d, retry: { maxAttempts: 1 } }).request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` }));
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).message).toBe(`GET ${PODINFO} failed: proxy refused the tunnel (HTTP 407)`);
      expectNoSecret(err, 'wrongpass', Buffer.from('proxyuser:wrongpass').toString('base64'));
    });
  });
});
