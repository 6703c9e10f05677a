import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Faults, globMatcher, parseFaultRule } from '../../../src/sandbox/faults.js';
import { HttpError } from '../../../src/sandbox/http-error.js';
import { handleRequest, Router } from '../../../src/sandbox/http.js';

afterEach(() => {
  vi.useRealTimers();
});

function fakeResponse() {
  const writeHead = vi.fn();
  const end = vi.fn();
  const destroy = vi.fn();
  const res = { writeHead, end, socket: { destroy }, headersSent: false, destroyed: false } as unknown as ServerResponse;
  return {
    res, writeHead, end, destroy,
    /** The one response written: status, headers and JSON body. */
    written(): { status: number; headers: Record<string, unknown>; body: unknown } {
      expect(writeHead).toHaveBeenCalledTimes(1);
      expect(end).toHaveBeenCalledTimes(1);
      const [status, headers] = writeHead.mock.calls[0] as [number, Record<string, unknown>];
      const body = end.mock.calls[0]![0] as Buffer;
      expect(headers['content-length']).toBe(body.length);
      return { status, headers, body: JSON.parse(body.toString('utf8')) };
    },
    untouched(): void {
      expect(writeHead).not.toHaveBeenCalled();
      expect(end).not.toHaveBeenCalled();
      expect(destroy).not.toHaveBeenCalled();
    },
  };
}

function ruleError(value: unknown): HttpError {
  try {
    parseFaultRule(value);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return err as HttpError;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe('parseFaultRule', () => {
  it('keeps the known fields, upper-cases the method and drops unknown fields', () => {
    expect(parseFaultRule({ path: '/pod/', method: 'post', latencyMs: 0, status: 503, retryAfterSeconds: 0, drop: false, times: 1, other: 1 }))
      .toEqual({ path: '/pod/', method: 'POST', latencyMs: 0, status: 503, retryAfterSeconds: 0, drop: false, times: 1 });
    expect(parseFaultRule({ path: '/v*/x' })).toEqual({ path: '/v*/x' });
    expect(parseFaultRule({ path: '/x', method: null, status: null })).toEqual({ path: '/x' });
  });

  it('accepts the bounds', () => {
    for (const status of [429, 500, 599]) expect(parseFaultRule({ path: '/', status }).status).toBe(status);
    expect(parseFaultRule({ path: '/', latencyMs: 60_000 }).latencyMs).toBe(60_000);
    expect(parseFaultRule({ path: '/', retryAfterSeconds: 3600 }).retryAfterSeconds).toBe(3600);
    expect(parseFaultRule({ path: '/', times: 1e6 }).times).toBe(1e6);
  });

  it.each([
    [null, /rule must be a JSON object/],
    [[], /rule must be a JSON object/],
    [{}, /"path" is required/],
    [{ path: '' }, /"path" is required/],
    [{ path: 5 }, /"path" must be a string/],
    [{ path: '^(' }, /"path" must start with "\/".*regular expressions are not accepted/],
    [{ path: '^[a-' }, /"path" must start with "\/".*regular expressions are not accepted/],
    [{ path: `/${'a'.repeat(256)}` }, /"path" must be at most 256 characters/],
    [{ path: '/', method: 1 }, /"method" must be a string/],
    [{ path: '/', latencyMs: -1 }, /"latencyMs" must be an integer from 0 to 60000/],
    [{ path: '/', latencyMs: 60_001 }, /"latencyMs"/],
    [{ path: '/', latencyMs: 1.5 }, /"latencyMs"/],
    [{ path: '/', latencyMs: '5' }, /"latencyMs" must be a number/],
    [{ path: '/', status: 428 }, /"status" must be 401, 429 or 500-599/],
    [{ path: '/', status: 499 }, /"status"/],
    [{ path: '/', status: 600 }, /"status"/],
    [{ path: '/', status: 500.5 }, /"status"/],
    [{ path: '/', status: 200 }, /"status"/],
    [{ path: '/', retryAfterSeconds: -1 }, /"retryAfterSeconds" must be an integer from 0 to 3600/],
    [{ path: '/', retryAfterSeconds: 3601 }, /"retryAfterSeconds"/],
    [{ path: '/', retryAfterSeconds: 0.5 }, /"retryAfterSeconds"/],
    [{ path: '/', drop: 'yes' }, /"drop" must be a boolean/],
    [{ path: '/', dropAfter: 1 }, /"dropAfter" must be a boolean/],
    [{ path: '/', dropAfter: true, drop: true }, /"dropAfter" cannot be combined/],
    [{ path: '/', dropAfter: true, status: 503 }, /"dropAfter" cannot be combined/],
    [{ path: '/', times: 0 }, /"times" must be a positive integer/],
    [{ path: '/', times: -2 }, /"times"/],
    [{ path: '/', times: 1.5 }, /"times"/],
  ])('rejects %j', (value, message) => {
    expect(ruleError(value).message).toMatch(message);
  });
});

describe('globMatcher', () => {
  /** The same glob as a regular expression (a reference for short inputs only). */
  const reference = (glob: string) => new RegExp(`^${glob.split(/(\*\*|\*)/).map((t) => (t === '**' ? '.*' : t === '*' ? '[^/]*' : t.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 's');

  it('agrees with the regular expression of the glob (property)', () => {
    const chars = fc.constantFrom('a', 'b', '/', '*');
    fc.assert(fc.property(fc.string({ unit: chars, maxLength: 10 }), fc.string({ unit: fc.constantFrom('a', 'b', '/'), maxLength: 12 }), (glob, path) => {
      expect(globMatcher(glob)(path)).toBe(reference(glob).test(path));
    }), { numRuns: 2000 });
  });

  it('takes time linear in the path, even for patterns a backtracking matcher chokes on', () => {
    const glob = `/${'*a'.repeat(60)}*b`;
    const path = `/${'a'.repeat(50_000)}`;
    const started = performance.now();
    expect(globMatcher(glob)(path)).toBe(false);
    // A backtracking regex (/^\/(?:[^/]*a){60}[^/]*b$/) takes astronomically long here; the automaton a few ms.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('Faults', () => {
  it('lets every request through when no rule is installed', async () => {
    const faults = new Faults();
    const r = fakeResponse();
    expect(await faults.apply('GET', '/pod/v1/x', r.res)).toBe('continue');
    r.untouched();
    expect(faults.counts).toEqual({ delayed: 0, failed: 0, dropped: 0, ignored: 0 });
  });

  it('add validates, installs nothing on error, and returns the parsed rule', () => {
    const faults = new Faults();
    expect(() => faults.add({ path: '/', status: 200 })).toThrow(HttpError);
    expect(faults.list()).toEqual([]);
    expect(faults.add({ path: '/a', method: 'get', status: 500, times: 2 })).toEqual({ path: '/a', method: 'GET', status: 500, times: 2 });
    faults.add({ path: '/b*' });
    expect(faults.list()).toEqual([
      { path: '/a', method: 'GET', status: 500, times: 2, remaining: 2 },
      { path: '/b*', remaining: null },
    ]);
    faults.clear();
    expect(faults.list()).toEqual([]);
  });

  it('fails with the status, a JSON error and Retry-After', async () => {
    const faults = new Faults();
    faults.add({ path: '/datafeed2/', status: 429, retryAfterSeconds: 7 });
    faults.add({ path: '/pod/', status: 503 });
    const a = fakeResponse();
    expect(await faults.apply('GET', '/datafeed2/v2/feeds', a.res)).toBe('handled');
    expect(a.written()).toEqual({
      status: 429,
      headers: { 'retry-after': '7', 'content-type': 'application/json', 'content-length': expect.any(Number) },
      body: { code: 429, message: 'Too many requests (injected fault)' },
    });
    const b = fakeResponse();
    expect(await faults.apply('POST', '/pod/v1/x', b.res)).toBe('handled');
    const written = b.written();
    expect(written.status).toBe(503);
    expect(written.headers['retry-after']).toBeUndefined();
    expect(written.body).toEqual({ code: 503, message: 'Server error (injected fault)' });
    expect(faults.counts).toEqual({ delayed: 0, failed: 2, dropped: 0, ignored: 0 });
  });

  it('matches a path by prefix, or by a glob over the whole path when it has a *', async () => {
    const faults = new Faults();
    faults.add({ path: '/pod/v1/', status: 500 });
    faults.add({ path: '/agent/v*/stream/*/message', status: 502 });
    faults.add({ path: '/deep/**/end', status: 503 });
    const statusOf = async (path: string) => {
      const r = fakeResponse();
      return (await faults.apply('GET', path, r.res)) === 'handled' ? r.written().status : (r.untouched(), 'continue');
    };
    expect(await statusOf('/pod/v1/sessioninfo')).toBe(500);
    expect(await statusOf('/pod/v1/')).toBe(500);
    expect(await statusOf('/pod/v1')).toBe('continue');
    expect(await statusOf('/x/pod/v1/')).toBe('continue');
    expect(await statusOf('/agent/v4/stream/abc/message')).toBe(502);
    expect(await statusOf('/agent/v4/stream/abc/message/create')).toBe('continue');
    expect(await statusOf('/agent/v4/stream/abc/def/message')).toBe('continue'); // * stays within a segment
    expect(await statusOf('/x/agent/v4/stream/abc/message')).toBe('continue');
    expect(await statusOf('/deep/a/b/c/end')).toBe(503); // ** does not
    expect(await statusOf('/deep/end/more')).toBe('continue');
  });

  it('matches only its method when it names one', async () => {
    const faults = new Faults();
    faults.add({ path: '/', method: 'delete', status: 500 });
    const get = fakeResponse();
    expect(await faults.apply('GET', '/x', get.res)).toBe('continue');
    get.untouched();
    const del = fakeResponse();
    expect(await faults.apply('DELETE', '/x', del.res)).toBe('handled');
    expect(del.written().status).toBe(500);
  });

  it('applies the first matching rule with uses left, in order', async () => {
    const faults = new Faults();
    faults.add({ path: '/a', status: 500, times: 2 });
    faults.add({ path: '/', status: 503, times: 1 });
    faults.add({ path: '/a/b', status: 502 });
    const seen: Array<number | string> = [];
    for (let i = 0; i < 5; i++) {
      const r = fakeResponse();
      seen.push((await faults.apply('GET', '/a/b', r.res)) === 'handled' ? r.written().status : 'continue');
    }
    expect(seen).toEqual([500, 500, 503, 502, 502]);
    expect(faults.list().map((r) => r.remaining)).toEqual([0, 0, null]);
    expect(faults.counts.failed).toBe(5);
  });

  it('a rule without an effect uses up its times and lets the request through', async () => {
    const faults = new Faults();
    faults.add({ path: '/', times: 1 });
    faults.add({ path: '/', status: 500 });
    const first = fakeResponse();
    expect(await faults.apply('GET', '/x', first.res)).toBe('continue');
    first.untouched();
    const second = fakeResponse();
    expect(await faults.apply('GET', '/x', second.res)).toBe('handled');
  });

  it('drops the connection without an answer', async () => {
    const faults = new Faults();
    faults.add({ path: '/', drop: true, status: 500, times: 1 });
    const r = fakeResponse();
    expect(await faults.apply('GET', '/x', r.res)).toBe('handled');
    expect(r.destroy).toHaveBeenCalledTimes(1);
    expect(r.writeHead).not.toHaveBeenCalled();
    expect(r.end).not.toHaveBeenCalled();
    expect(faults.counts).toEqual({ delayed: 0, failed: 0, dropped: 1, ignored: 0 });
  });

  it('delays by latencyMs, then serves or fails', async () => {
    vi.useFakeTimers();
    const faults = new Faults();
    faults.add({ path: '/slow', latencyMs: 1000, times: 1 });
    faults.add({ path: '/slow', latencyMs: 500, status: 503, times: 1 });
    let outcome: string | undefined;
    const r = fakeResponse();
    void faults.apply('GET', '/slow', r.res).then((o) => { outcome = o; });
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBe('continue');
    r.untouched();

    outcome = undefined;
    const s = fakeResponse();
    void faults.apply('GET', '/slow', s.res).then((o) => { outcome = o; });
    await vi.advanceTimersByTimeAsync(499);
    expect(outcome).toBeUndefined();
    expect(s.writeHead).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBe('handled');
    expect(s.written().status).toBe(503);
    expect(faults.counts).toEqual({ delayed: 2, failed: 1, dropped: 0, ignored: 0 });
  });

  it('drops a real connection (node:http, as handleRequest\'s before hook)', async () => {
    const faults = new Faults();
    faults.add({ path: '/drop', drop: true });
    const router = new Router().add('GET', '/drop', () => ({ json: 'served' })).add('GET', '/ok', () => ({ json: 'served' }));
    const server = createServer((req, res) => void handleRequest(router, req, res, { before: (m, p, r) => faults.apply(m, p, r) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const get = (path: string) => new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      }).on('error', reject).end();
    });
    try {
      expect(await get('/ok')).toBe('200 "served"');
      await expect(get('/drop')).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect(faults.counts.dropped).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('dropAfter lets the route run, then destroys the connection instead of answering', async () => {
    const faults = new Faults();
    expect(faults.add({ path: '/write', dropAfter: true, latencyMs: 0, times: 1 })).toEqual({ path: '/write', dropAfter: true, latencyMs: 0, times: 1 });
    let served = 0;
    const router = new Router().add('PUT', '/write', () => {
      served++;
      return { json: 'written' };
    });
    const server = createServer((req, res) => void handleRequest(router, req, res, { before: (m, p, r) => faults.apply(m, p, r) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const put = () => new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/write', method: 'PUT', agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      }).on('error', reject).end();
    });
    try {
      await expect(put()).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect(served).toBe(1);
      expect(faults.counts).toEqual({ delayed: 0, failed: 0, dropped: 1, ignored: 0 });
      expect(await put()).toBe('200 "written"');
      expect(served).toBe(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('feed fault rules', () => {
  const FEED = '/object/v1/feeds/F/objects';
  const socket = () => ({ destroy: vi.fn() }) as unknown as import('node:net').Socket & { destroy: ReturnType<typeof vi.fn> };

  it('parse feedAction and ignore, and refuse what makes no sense', () => {
    expect(parseFaultRule({ path: '/object/', feedAction: 'delete', ignore: true, times: 2 })).toEqual({ path: '/object/', feedAction: 'delete', ignore: true, times: 2 });
    expect(parseFaultRule({ path: '/object/', feedAction: 'receive', dropAfter: true })).toEqual({ path: '/object/', feedAction: 'receive', dropAfter: true });
    expect(ruleError({ path: '/', feedAction: 'ack' }).message).toMatch(/feedAction/);
    expect(ruleError({ path: '/', ignore: true }).message).toMatch(/needs "feedAction" delete or extend/);
    expect(ruleError({ path: '/', feedAction: 'receive', ignore: true }).message).toMatch(/needs "feedAction" delete or extend/);
    expect(ruleError({ path: '/', feedAction: 'delete', ignore: true, status: 503 }).message).toMatch(/cannot be combined/);
  });

  it('are left to the feed route: the pre-routing check skips them', async () => {
    const faults = new Faults();
    faults.add({ path: '/', feedAction: 'delete', status: 503 });
    const r = fakeResponse();
    expect(await faults.apply('POST', FEED, r.res)).toBe('continue');
    r.untouched();
    expect(faults.list()[0]!.remaining).toBeNull();
  });

  it('apply to a feed request only when it carries the action, first matching rule first', async () => {
    const faults = new Faults();
    faults.add({ path: '/object/', feedAction: 'extend', ignore: true, times: 1 });
    faults.add({ path: '/object/', feedAction: 'delete', ignore: true, times: 1 });
    faults.add({ path: '/object/', feedAction: 'delete', dropAfter: true, times: 1 });
    expect(await faults.applyToFeed('POST', FEED, ['receive'], socket())).toEqual({ drop: false, ignore: new Set(), dropAfter: false });
    expect(await faults.applyToFeed('POST', FEED, ['delete', 'extend'], socket())).toEqual({ drop: false, ignore: new Set(['extend']), dropAfter: false });
    expect(await faults.applyToFeed('POST', FEED, ['delete'], socket())).toEqual({ drop: false, ignore: new Set(['delete']), dropAfter: false });
    expect(await faults.applyToFeed('POST', FEED, ['delete'], socket())).toEqual({ drop: false, ignore: new Set(), dropAfter: true });
    expect(await faults.applyToFeed('POST', FEED, ['delete'], socket())).toEqual({ drop: false, ignore: new Set(), dropAfter: false });
    expect(faults.counts).toEqual({ delayed: 0, failed: 0, dropped: 1, ignored: 2 });
  });

  it('fail with the HttpError to answer, or drop the connection', async () => {
    const faults = new Faults();
    faults.add({ path: '/object/', feedAction: 'receive', status: 429, retryAfterSeconds: 2, times: 1 });
    faults.add({ path: '/object/', feedAction: 'receive', drop: true, times: 1 });
    const failed = await faults.applyToFeed('POST', FEED, ['receive'], socket()).catch((e: unknown) => e as HttpError);
    expect(failed).toBeInstanceOf(HttpError);
    expect(failed).toMatchObject({ status: 429, headers: { 'retry-after': '2' } });
    const s = socket();
    expect(await faults.applyToFeed('POST', FEED, ['receive'], s)).toEqual({ drop: true });
    expect(s.destroy).toHaveBeenCalledTimes(1);
    expect(faults.counts).toMatchObject({ failed: 1, dropped: 1 });
  });
});
