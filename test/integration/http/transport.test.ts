// The exchange contract (src/http/transport.ts) as one behavioural suite, run over every transport: the undici pool
// (createDispatcher), the fetch transport over undici's fetch with a dispatcher that trusts the sandbox CA, and the
// fetch transport over Node's own global fetch (plain HTTP only: it cannot be given a CA). Against the sandbox over
// HTTPS on 127.0.0.1 and a plain-HTTP loopback server for what the sandbox cannot do (stalls, cut connections, early
// answers, redirects): streamed request and response bodies, status and headers as sent, no redirect followed,
// timeouts (TimeoutError), aborts (AbortedError), refused / lost connections and TLS refusals (NetworkError with its
// reason), the size cap, the body length held to content-length, the caller's iterator error passed through,
// close(), and HttpClient (retries, upload, download) on top.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, HttpStatusError, InvalidArgumentError, NetworkError, TimeoutError } from '../../../src/errors.js';
import { createFetchTransport } from '../../../src/http/fetch-transport.js';
import { HttpClient, type RetryInfo } from '../../../src/http/http-client.js';
import { createDispatcher } from '../../../src/http/pool.js';
import { sendStream, type StreamRequest, type Transport } from '../../../src/http/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { rejection } from '../../helpers/errors.js';
import { call, login } from '../../helpers/sandbox.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PODINFO = '/webcontroller/public/podInfo';

let sandbox: RunningSandbox;
let ca: string;
let local: Server;
let localUrl: string;
let closedPort: number;
const stalled = new Set<ServerResponse>();
const agents: Agent[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** `size` bytes in 64 KiB chunks, each filled with its index. */
async function* chunks(size: number, onChunk?: () => void): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < size; at += 64 * KiB, i++) {
    onChunk?.();
    yield new Uint8Array(Math.min(64 * KiB, size - at)).fill(i % 256);
  }
}

beforeAll(async () => {
  sandbox = await startSandbox({ control: true });
  ca = readFileSync(sandbox.caCertPath, 'utf8');
  local = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/count') {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        hash.update(c);
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ size, sha256: hash.digest('hex'), chunked: req.headers['transfer-encoding'] === 'chunked' })));
    } else if (path === '/stream') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-repeated': ['a', 'b'] });
      for (let i = 0; i < 100; i++) res.write(Buffer.alloc(KiB, i));
      res.end();
    } else if (path === '/declared') {
      res.writeHead(200, { 'content-length': String(10_000) }).end(Buffer.alloc(10_000, 1));
    } else if (path === '/slow-head') {
      stalled.add(res);
      setTimeout(() => res.writeHead(200).end('late'), 2000).unref();
    } else if (path === '/stall-body') {
      stalled.add(res);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(KiB, 7));
    } else if (path === '/drop') {
      req.socket.destroy();
    } else if (path === '/cut') {
      res.writeHead(200, { 'content-length': String(100 * KiB) });
      res.write(Buffer.alloc(10 * KiB, 3), () => setTimeout(() => req.socket.destroy(), 20));
    } else if (path === '/early') {
      // Answer before reading the body, then discard it (as the sandbox does), so the client can read the answer.
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"no"}');
      req.resume();
    } else if (path === '/hold') {
      // Never read the body, never answer: the client's sending blocks once the socket buffers are full.
      stalled.add(res);
      req.pause();
    } else if (path === '/redirect') {
      res.writeHead(302, { location: '/stream' }).end();
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"nothing here"}');
    }
  });
  localUrl = `http://127.0.0.1:${await listen(local)}`;
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterEach(() => {
  sandbox.faults.clear();
});

afterAll(async () => {
  for (const res of stalled) res.destroy();
  local.closeAllConnections();
  await new Promise<void>((resolve) => local.close(() => resolve()));
  await Promise.all(agents.map((a) => a.destroy()));
  await sandbox.close();
});

interface Kind {
  name: string;
  /** Whether it can reach the sandbox over HTTPS (trusting its CA, or not when `trusting` is false). */
  https: boolean;
  /** Whether it collects a streamed request body before sending it (fetch in browsers: no backpressure). */
  collects?: boolean;
  make(options?: { maxResponseBytes?: number; trusting?: boolean }): Transport;
}

/** undici's fetch bound to a dispatcher that trusts the sandbox CA (or Node's roots only): how Node's fetch gets TLS options. */
function undiciFetchWith(trusting: boolean): typeof fetch {
  const agent = new Agent(trusting ? { connect: { ca } } : {});
  agents.push(agent);
  return ((url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
}

const KINDS: Kind[] = [
  { name: 'undici pool', https: true, make: (o = {}) => createDispatcher({ ...(o.trusting === false ? {} : { ca }), ...(o.maxResponseBytes === undefined ? {} : { maxResponseBytes: o.maxResponseBytes }) }) },
  { name: 'fetch (undici fetch + CA)', https: true, make: (o = {}) => createFetchTransport({ fetch: undiciFetchWith(o.trusting !== false), ...(o.maxResponseBytes === undefined ? {} : { maxResponseBytes: o.maxResponseBytes }) }) },
  { name: "fetch (Node's global fetch)", https: false, make: (o = {}) => createFetchTransport(o.maxResponseBytes === undefined ? {} : { maxResponseBytes: o.maxResponseBytes }) },
  {
    name: 'fetch, request bodies collected first (as in browsers)', https: true, collects: true,
    make: (o = {}) => createFetchTransport({ fetch: undiciFetchWith(o.trusting !== false), streamRequestBodies: false, ...(o.maxResponseBytes === undefined ? {} : { maxResponseBytes: o.maxResponseBytes }) }),
  },
];

describe.each(KINDS)('transport: $name', (kind) => {
  const transports: Transport[] = [];
  const open = (options?: { maxResponseBytes?: number; trusting?: boolean }): Transport => {
    const t = kind.make(options);
    transports.push(t);
    return t;
  };
  let transport: Transport;
  const req = (path: string, extra: Partial<StreamRequest> = {}): StreamRequest => ({
    method: 'GET', url: `${localUrl}${path}`, headers: {}, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, ...extra,
  });

  beforeAll(() => {
    transport = open();
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close({ force: true })));
  });

  it.runIf(kind.https)('GETs from the sandbox over HTTPS: status, lower-case headers, body', async () => {
    const response = await sendStream(transport, { method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, headers: { Accept: 'application/json' }, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(new TextDecoder().decode(await response.bytes()))).toHaveProperty('data');
  });

  it('streams a response body as it arrives; repeated headers are joined', async () => {
    const response = await sendStream(transport, req('/stream'));
    expect(response.headers['x-repeated']).toBe('a, b');
    let size = 0;
    let last = -1;
    for await (const chunk of response.body) {
      size += chunk.length;
      last = chunk[chunk.length - 1]!;
    }
    expect([size, last]).toEqual([100 * KiB, 99]);
    expect(() => response.body[Symbol.asyncIterator]()).toThrow(InvalidArgumentError);
  });

  it('streams a request body, with a content-length and chunked', async () => {
    for (const withLength of [true, false]) {
      const size = 3 * MiB + 5;
      const expected = createHash('sha256');
      for await (const c of chunks(size)) expected.update(c);
      const response = await sendStream(transport, req('/count', {
        method: 'PUT', body: chunks(size), headers: withLength ? { 'content-length': String(size) } : {},
      }));
      const answer = JSON.parse(new TextDecoder().decode(await response.bytes())) as { size: number; sha256: string; chunked: boolean };
      expect(answer).toMatchObject({ size, sha256: expected.digest('hex') });
      if (withLength) expect(answer.chunked).toBe(false);
    }
  });

  it.skipIf(kind.collects === true)('pulls a streamed body as the transport takes it (backpressure), not all at once', async () => {
    let produced = 0;
    const controller = new AbortController();
    const pending = rejection(sendStream(transport, req('/hold', { method: 'PUT', body: chunks(512 * MiB, () => { produced++; }), signal: controller.signal })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
    // 512 MiB is 8192 chunks; with a server that reads nothing only the socket buffers' worth can have been asked for.
    expect(produced).toBeLessThan(8192 / 4);
  });

  it.runIf(kind.collects === true)('sends a streamed body as one Blob, copied chunk by chunk, with no duplex stream', async () => {
    const seen: Array<{ body: unknown; duplex: unknown }> = [];
    const inner = undiciFetchWith(true);
    const recording = createFetchTransport({ streamRequestBodies: false, fetch: ((url: string, init: RequestInit & { duplex?: unknown }) => {
      seen.push({ body: init.body, duplex: init.duplex });
      return inner(url, init);
    }) as typeof fetch });
    transports.push(recording);
    // One buffer reused for every chunk: a collector that kept references would send the last chunk's bytes only.
    // A Node Buffer too, whose slice() is a view, not a copy.
    const expected = createHash('sha256');
    for (let i = 0; i < 16; i++) expected.update(new Uint8Array(64 * KiB).fill(i));
    const sha256 = expected.digest('hex');
    for (const reused of [new Uint8Array(64 * KiB), Buffer.alloc(64 * KiB)]) {
      async function* reusing(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 16; i++) {
          reused.fill(i);
          yield reused;
        }
      }
      const response = await sendStream(recording, req('/count', { method: 'PUT', body: reusing() }));
      expect(JSON.parse(new TextDecoder().decode(await response.bytes()))).toMatchObject({ size: 16 * 64 * KiB, sha256 });
    }
    expect(seen).toHaveLength(2);
    expect(seen[0]!.body).toBeInstanceOf(Blob);
    expect(seen[0]!.duplex).toBeUndefined();
    expect(() => createFetchTransport({ streamRequestBodies: 'no' as never })).toThrow(InvalidArgumentError);
  });

  it('returns what the server answers before the whole body is sent', async () => {
    const response = await sendStream(transport, req('/early', { method: 'PUT', body: chunks(20 * MiB), headers: { 'content-length': String(20 * MiB) } }));
    expect(response.status).toBe(403);
    expect(new TextDecoder().decode(await response.bytes())).toBe('{"message":"no"}');
  });

  it('returns statuses as they are and does not follow redirects', async () => {
    const missing = await sendStream(transport, req('/nothing'));
    expect(missing.status).toBe(404);
    expect(new TextDecoder().decode(await missing.bytes())).toBe('{"message":"nothing here"}');
    const redirect = await sendStream(transport, req('/redirect'));
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('/stream');
    redirect.cancel();
  });

  it('caps a collected body: declared and counted (NetworkError too-large); the connection stays usable', async () => {
    const declared = await rejection((await sendStream(transport, req('/declared'))).bytes(1000));
    expect(declared).toBeInstanceOf(NetworkError);
    expect(declared).toMatchObject({ reason: 'too-large', retryable: false, message: 'GET /declared failed: response body larger than 1000 bytes' });
    const counted = await rejection((await sendStream(transport, req('/stream'))).bytes(50_000));
    expect(counted).toMatchObject({ reason: 'too-large', message: 'GET /stream failed: response body larger than 50000 bytes' });
    const small = open({ maxResponseBytes: 64 });
    expect(await rejection((await sendStream(small, req('/stream'))).bytes())).toMatchObject({ reason: 'too-large' });
    expect((await (await sendStream(transport, req('/stream'))).bytes()).length).toBe(100 * KiB);
  });

  it('times out the wait for the response head, and for a body chunk (TimeoutError)', async () => {
    let started = performance.now();
    const head = await rejection(sendStream(transport, req('/slow-head', { headersTimeoutMs: 300 })));
    expect(head).toBeInstanceOf(TimeoutError);
    expect((head as TimeoutError).message).toBe('GET /slow-head timed out after 300 ms');
    expect(performance.now() - started).toBeLessThan(1500);

    const response = await sendStream(transport, req('/stall-body', { bodyTimeoutMs: 300 }));
    started = performance.now();
    let read = 0;
    const body = await rejection((async () => {
      for await (const chunk of response.body) read += chunk.length;
    })());
    expect(body).toBeInstanceOf(TimeoutError);
    expect((body as TimeoutError).message).toBe('GET /stall-body timed out after 300 ms');
    expect(read).toBe(KiB);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('aborts on the signal: before the head, while the body is read, and at once when already aborted', async () => {
    const started = performance.now();
    expect(await rejection(sendStream(transport, req('/slow-head', { signal: AbortSignal.timeout(100) })))).toBeInstanceOf(AbortedError);
    expect(performance.now() - started).toBeLessThan(1000);

    const controller = new AbortController();
    const response = await sendStream(transport, req('/stall-body', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    const err = await rejection((async () => {
      for await (const chunk of response.body) if (chunk.length < 0) break;
    })());
    expect(err).toBeInstanceOf(AbortedError);

    const aborted = new AbortController();
    aborted.abort();
    expect(await rejection(sendStream(transport, req('/stream', { signal: aborted.signal })))).toBeInstanceOf(AbortedError);
  });

  it('gives up a streamed body that stalls when the signal fires', async () => {
    const controller = new AbortController();
    async function* stalledSource(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      await new Promise(() => {}); // never yields again
    }
    setTimeout(() => controller.abort(), 200);
    expect(await rejection(sendStream(transport, req('/count', { method: 'PUT', body: stalledSource(), signal: controller.signal })))).toBeInstanceOf(AbortedError);
  });

  it('reports a refused connection and a lost one as NetworkErrors with their reasons', async () => {
    const refused = await rejection(sendStream(transport, { ...req('/x'), url: `http://127.0.0.1:${closedPort}/x` }));
    expect(refused).toBeInstanceOf(NetworkError);
    expect(refused).toMatchObject({ reason: 'refused', retryWhen: 'always', route: 'GET /x' });
    expect((refused as NetworkError).message).toContain('ECONNREFUSED');

    const dropped = await rejection(sendStream(transport, req('/drop')));
    expect(dropped).toBeInstanceOf(NetworkError);
    expect(dropped).toMatchObject({ reason: 'lost', retryWhen: 'idempotent' });

    const cut = await sendStream(transport, req('/cut'));
    const lost = await rejection(cut.bytes());
    expect(lost).toBeInstanceOf(NetworkError);
    expect((lost as NetworkError).retryWhen).toBe('idempotent');
  });

  it.runIf(kind.https)('refuses a server whose CA it does not trust: NetworkError tls, never retried', async () => {
    const untrusting = open({ trusting: false });
    const err = await rejection(sendStream(untrusting, { method: 'GET', url: `${sandbox.podUrl}${PODINFO}`, headers: {}, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 }));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ reason: 'tls', retryable: false });
    expect((err as NetworkError).message).toMatch(/^GET \/webcontroller\/public\/podInfo failed: TLS: .*certificate/);
  });

  it('holds a streamed body to its content-length and passes the iterator\'s own error through unchanged', async () => {
    const short = await rejection(sendStream(transport, req('/count', { method: 'PUT', body: chunks(1000), headers: { 'content-length': '2000' } })));
    expect(short).toBeInstanceOf(InvalidArgumentError);
    const long = await rejection(sendStream(transport, req('/count', { method: 'PUT', body: chunks(3000), headers: { 'Content-Length': '2000' } })));
    expect(long).toBeInstanceOf(InvalidArgumentError);
    const boom = new Error('source failed');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* chunks(256 * KiB);
      throw boom;
    }
    expect(await rejection(sendStream(transport, req('/count', { method: 'PUT', body: failing() })))).toBe(boom);
    async function* wrongType(): AsyncGenerator<Uint8Array> {
      yield 'text' as unknown as Uint8Array;
    }
    expect(await rejection(sendStream(transport, req('/count', { method: 'PUT', body: wrongType() })))).toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses malformed requests before sending, without echoing header values', async () => {
    const err = await rejection(sendStream(transport, req('/count', { headers: { sessionToken: 'abc\r\nInjected: yes' } })));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(String((err as Error).message)).not.toContain('Injected');
    expect(await rejection(sendStream(transport, { ...req('/x'), url: 'ftp://127.0.0.1/x' }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(sendStream(transport, req('/x', { headersTimeoutMs: 0 })))).toBeInstanceOf(InvalidArgumentError);
  });

  it('close() lets in-flight exchanges finish and refuses new ones; close({ force }) ends them', async () => {
    const gentle = open();
    const pending = sendStream(gentle, req('/stream'));
    const closing = gentle.close();
    expect(await rejection(sendStream(gentle, req('/stream')))).toBeInstanceOf(AbortedError);
    expect((await (await pending).bytes()).length).toBe(100 * KiB);
    await closing;

    const forced = open();
    const stalledBody = await sendStream(forced, req('/stall-body'));
    const reading = rejection(stalledBody.bytes());
    await forced.close({ force: true });
    expect(await reading).toBeInstanceOf(AbortedError);
  });

  describe.runIf(kind.https)('under HttpClient, against the sandbox', () => {
    it('retries 503s, uploads a blob and downloads it back', async () => {
      const retries: RetryInfo[] = [];
      const client = new HttpClient({ transport, retry: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 }, onRetry: (i) => retries.push(i) });
      sandbox.faults.add({ path: PODINFO, status: 503, times: 2 });
      expect(await client.request({ method: 'GET', url: `${sandbox.podUrl}${PODINFO}` })).toHaveProperty('data');
      expect(retries.map((r) => r.attempt)).toEqual([1, 2]);

      const bot = await login(sandbox, 'sandbox-bot');
      const token = (await call(sandbox, 'POST', '/login/idm/tokens', { headers: bot.headers })).json.access_token as string;
      const auth = { headers: () => ({ authorization: `Bearer ${token}` }) };
      const id = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url');
      const url = `${sandbox.objectStoreUrl}/object/v1/blobs/${id}`;
      async function* blob(): AsyncGenerator<Uint8Array> {
        yield new TextEncoder().encode('ATB1');
        yield* chunks(2 * MiB);
      }
      expect(await client.upload({ method: 'PUT', url, body: blob(), contentLength: 2 * MiB + 4, auth })).toEqual({ blobId: id, size: 2 * MiB + 4 });
      const download = await client.download({ url, auth });
      let size = 0;
      for await (const chunk of download.body) size += chunk.length;
      expect(size).toBe(2 * MiB + 4);
      const missing = await rejection(client.download({ url: `${url}x`, auth }));
      expect(missing).toBeInstanceOf(HttpStatusError);
      expect(missing).toMatchObject({ status: 404 });
      await client.close();
    });
  });
});
