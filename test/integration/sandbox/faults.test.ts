// Fault injection, in process (`sandbox.faults`) and over the control API (`/sandbox/v1/faults`): latency, 429 with
// Retry-After, 5xx, dropped connections, `times`, method filters, prefix and regex paths, rule order, invalid rules;
// the control API only with `control: true`; and a clean shutdown with a datafeed long poll and a delayed request
// in flight. Real HTTPS on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/sandbox/http-error.js';
import type { FaultRule } from '../../../src/sandbox/faults.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, login, type Login, type Reply, type RequestOptions } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: Login;
const errors: unknown[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ control: true, config: { datafeedWaitMs: 20_000 }, onError: (error) => errors.push(error) });
  bot = await login(sandbox, 'sandbox-bot');
});
afterAll(() => sandbox?.close());
afterEach(() => sandbox?.faults.clear());

/** A request, and how long it took, in milliseconds. */
async function timed(method: string, path: string, options: RequestOptions = {}): Promise<{ reply: Reply; ms: number }> {
  const started = performance.now();
  const reply = await call(sandbox, method, path, options);
  return { reply, ms: performance.now() - started };
}

const sessionInfo = () => call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: bot.headers });

function expectInjected(reply: Reply, status: number): void {
  expect(reply.status).toBe(status);
  expect(String(reply.headers['content-type'])).toMatch(/^application\/json/);
  expect(reply.json).toEqual({ code: status, message: expect.stringContaining('injected fault') });
}

describe('in process: sandbox.faults', () => {
  it('adds latency to matching requests only, then serves them normally', async () => {
    sandbox.faults.clear();
    const delayedBefore = sandbox.faults.counts.delayed;
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', latencyMs: 300 });
    const slow = await timed('GET', '/pod/v2/sessioninfo', { headers: bot.headers });
    expect(slow.reply.status).toBe(200);
    expect(slow.reply.json.username).toBe('sandbox-bot');
    expect(slow.ms).toBeGreaterThanOrEqual(298);
    const other = await timed('GET', '/pod/v2/user/presence', { headers: bot.headers });
    expect(other.reply.status).toBe(200);
    expect(other.ms).toBeLessThan(250);
    expect(sandbox.faults.counts.delayed).toBe(delayedBefore + 1);
    sandbox.faults.clear();
  });

  it('answers 429 with a Retry-After header, for `times` requests', async () => {
    sandbox.faults.add({ path: '/pod/', status: 429, retryAfterSeconds: 7, times: 2 });
    for (let i = 0; i < 2; i++) {
      const reply = await sessionInfo();
      expectInjected(reply, 429);
      expect(reply.headers['retry-after']).toBe('7');
    }
    expect(sandbox.faults.list()).toEqual([{ path: '/pod/', status: 429, retryAfterSeconds: 7, times: 2, remaining: 0 }]);
    const after = await sessionInfo();
    expect(after.status).toBe(200);
    expect(after.headers['retry-after']).toBeUndefined();
    sandbox.faults.clear();
  });

  it('answers 503 (with or without Retry-After) and any 5xx, after the latency when both are set', async () => {
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', status: 503, retryAfterSeconds: 0, times: 1 });
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', status: 503, times: 1 });
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', status: 500, latencyMs: 150, times: 1 });
    const first = await sessionInfo();
    expectInjected(first, 503);
    expect(first.headers['retry-after']).toBe('0');
    const second = await sessionInfo();
    expectInjected(second, 503);
    expect(second.headers['retry-after']).toBeUndefined();
    const third = await timed('GET', '/pod/v2/sessioninfo', { headers: bot.headers });
    expectInjected(third.reply, 500);
    expect(third.ms).toBeGreaterThanOrEqual(148);
    expect((await sessionInfo()).status).toBe(200);
    sandbox.faults.clear();
  });

  it('answers a faulted request without reading its body, and keeps the connection usable', async () => {
    sandbox.faults.add({ path: '/pod/v3/room/create', status: 502, times: 1 });
    const reply = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'x'.repeat(900_000) } });
    expectInjected(reply, 502);
    const created = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'after a fault' } });
    expect(created.status).toBe(200);
    sandbox.faults.clear();
  });

  it('drops the connection: the client sees a socket hang up, and the next request is served', async () => {
    const droppedBefore = sandbox.faults.counts.dropped;
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', drop: true, times: 1 });
    await expect(sessionInfo()).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(sandbox.faults.counts.dropped).toBe(droppedBefore + 1);
    expect((await sessionInfo()).status).toBe(200);
    // Drop wins over a status; latency comes first.
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', drop: true, status: 503, latencyMs: 100, times: 1 });
    const started = performance.now();
    await expect(sessionInfo()).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(98);
    sandbox.faults.clear();
  });

  it('filters by method (case-insensitive in the rule)', async () => {
    const rule = sandbox.faults.add({ path: '/pod/v2/user/presence', method: 'post', status: 500 });
    expect(rule.method).toBe('POST');
    expectInjected(await call(sandbox, 'POST', '/pod/v2/user/presence', { headers: bot.headers, json: { category: 'BUSY' } }), 500);
    expect((await call(sandbox, 'GET', '/pod/v2/user/presence', { headers: bot.headers })).status).toBe(200);
    expect(sandbox.store.user(bot.userId)!.presence.category).toBe('AVAILABLE');
    sandbox.faults.clear();
  });

  it('matches a prefix, or a glob over the whole path when it has a *', async () => {
    const room = (await call(sandbox, 'POST', '/pod/v1/streams/list', { headers: bot.headers, json: { streamTypes: [{ type: 'ROOM' }] } })).json[0].id;
    sandbox.faults.add({ path: '/pod/v3/room/*/info', status: 502 });
    expectInjected(await call(sandbox, 'GET', `/pod/v3/room/${room}/info`, { headers: bot.headers }), 502);
    // Anchored: the router serves `/info/` (trailing slash) too, but the rule does not match it.
    expect((await call(sandbox, 'GET', `/pod/v3/room/${room}/info/`, { headers: bot.headers })).status).toBe(200);
    expect((await call(sandbox, 'GET', `/pod/v2/streams/${room}/info`, { headers: bot.headers })).status).toBe(200);
    sandbox.faults.clear();

    // A prefix is literal: no regex meaning, and it matches anything under it.
    sandbox.faults.add({ path: '/pod/v2/user', status: 504 });
    expectInjected(await call(sandbox, 'GET', '/pod/v2/user/presence', { headers: bot.headers }), 504);
    expectInjected(await call(sandbox, 'GET', `/pod/v2/user?uid=${bot.userId}`, { headers: bot.headers }), 504);
    expect((await call(sandbox, 'GET', `/pod/v3/users?uid=${bot.userId}`, { headers: bot.headers })).status).toBe(200);
    sandbox.faults.clear();
    sandbox.faults.add({ path: '/pod/v.', status: 504 });
    expect((await sessionInfo()).status).toBe(200);
    sandbox.faults.clear();

    // The query string is not part of the path a rule sees.
    sandbox.faults.add({ path: '/pod/*/users', status: 503, times: 1 }); // anchored at the end
    expectInjected(await call(sandbox, 'GET', `/pod/v3/users?uid=${bot.userId}`, { headers: bot.headers }), 503);
    sandbox.faults.clear();
  });

  it('applies the first matching rule with uses left, in order', async () => {
    sandbox.faults.add({ path: '/pod/', status: 500, times: 1 });
    sandbox.faults.add({ path: '/pod/v2/', status: 503, times: 2 });
    sandbox.faults.add({ path: '/pod/v2/sessioninfo', status: 429 });
    expect((await sessionInfo()).status).toBe(500);
    expect((await sessionInfo()).status).toBe(503);
    expect((await sessionInfo()).status).toBe(503);
    expect((await sessionInfo()).status).toBe(429);
    expect(sandbox.faults.list().map((r) => r.remaining)).toEqual([0, 0, null]);
    sandbox.faults.clear();
    expect(sandbox.faults.list()).toEqual([]);
    expect((await sessionInfo()).status).toBe(200);
  });

  it('refuses invalid rules with an HttpError 400 and installs nothing', () => {
    const invalid: unknown[] = [
      {}, { path: '' }, { path: 5 }, { path: '^(' }, { path: '/x', status: 404 }, { path: '/x', status: 200 }, { path: '/x', status: 600 },
      { path: '/x', status: 502.5 }, { path: '/x', latencyMs: -1 }, { path: '/x', latencyMs: 60_001 }, { path: '/x', latencyMs: 1.5 },
      { path: '/x', retryAfterSeconds: -1 }, { path: '/x', retryAfterSeconds: 3601 }, { path: '/x', times: 0 }, { path: '/x', times: 1.5 },
      { path: '/x', drop: 'yes' }, { path: '/x', method: 5 }, { path: '/x', status: '503' }, null, [], 'x',
    ];
    for (const rule of invalid) {
      let thrown: unknown;
      try {
        sandbox.faults.add(rule as FaultRule);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(rule)).toBeInstanceOf(HttpError);
      expect((thrown as HttpError).status).toBe(400);
    }
    expect(sandbox.faults.list()).toEqual([]);
  });
});

describe('over the control API: /sandbox/v1/faults', () => {
  it('POST installs a rule (201, the rule as parsed), GET lists them with remaining uses, DELETE removes all (204)', async () => {
    const added = await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '/pod/v2/sessioninfo', method: 'get', status: 503, retryAfterSeconds: 2, times: 2 } });
    expect(added.status).toBe(201);
    expect(added.json).toEqual({ path: '/pod/v2/sessioninfo', method: 'GET', status: 503, retryAfterSeconds: 2, times: 2 });
    await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '/pod/v1/**', latencyMs: 50 } });
    const reply = await sessionInfo();
    expectInjected(reply, 503);
    expect(reply.headers['retry-after']).toBe('2');
    const listed = await call(sandbox, 'GET', '/sandbox/v1/faults');
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual([
      { path: '/pod/v2/sessioninfo', method: 'GET', status: 503, retryAfterSeconds: 2, times: 2, remaining: 1 },
      { path: '/pod/v1/**', latencyMs: 50, remaining: null },
    ]);
    expect(sandbox.faults.list()).toEqual(listed.json);
    const slow = await timed('POST', '/pod/v1/streams/list', { headers: bot.headers, json: {} });
    expect(slow.reply.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(48);
    const cleared = await call(sandbox, 'DELETE', '/sandbox/v1/faults');
    expect(cleared.status).toBe(204);
    expect(cleared.body.length).toBe(0);
    expect((await call(sandbox, 'GET', '/sandbox/v1/faults')).json).toEqual([]);
    expect((await sessionInfo()).status).toBe(200);
  });

  it('drops, with a rule installed over HTTP', async () => {
    await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '/relay/keys/me', drop: true, times: 1 } });
    await expect(call(sandbox, 'GET', '/relay/keys/me', { headers: bot.kmHeaders })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await call(sandbox, 'GET', '/relay/keys/me', { headers: bot.kmHeaders })).status).toBe(200);
  });

  it('is itself exempt from faults, so that a catch-all rule can always be removed', async () => {
    await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '/', status: 503 } });
    await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '/sandbox/**', drop: true } });
    expectInjected(await sessionInfo(), 503);
    expectInjected(await call(sandbox, 'GET', '/nowhere'), 503);
    expect((await call(sandbox, 'GET', '/sandbox/v1/faults')).json).toHaveLength(2);
    expect((await call(sandbox, 'DELETE', '/sandbox/v1/faults')).status).toBe(204);
    expect((await sessionInfo()).status).toBe(200);
  });

  it('refuses invalid rules with 400 {code, message} and installs nothing', async () => {
    const bodies: RequestOptions[] = [
      { json: {} }, { json: { path: '' } }, { json: { path: '^(' } }, { json: { path: '/x', status: 404 } }, { json: { path: '/x', status: 429.5 } },
      { json: { path: '/x', latencyMs: -5 } }, { json: { path: '/x', latencyMs: 120_000 } }, { json: { path: '/x', retryAfterSeconds: 'soon' } },
      { json: { path: '/x', times: 0 } }, { json: { path: '/x', times: -3 } }, { json: { path: '/x', drop: 1 } }, { json: { path: ['/x'] } },
      { json: [] }, { json: null }, { json: 'x' }, { raw: '{"path": ', headers: { 'content-type': 'application/json' } }, { raw: '' },
    ];
    for (const options of bodies) {
      const reply = await call(sandbox, 'POST', '/sandbox/v1/faults', options);
      expect(reply.status, JSON.stringify(options)).toBe(400);
      expect(reply.json).toEqual({ code: 400, message: expect.any(String) });
    }
    expect((await call(sandbox, 'GET', '/sandbox/v1/faults')).json).toEqual([]);
    expect((await call(sandbox, 'PUT', '/sandbox/v1/faults', { json: { path: '/x' } })).status).toBe(405);
  });
});

describe('without control: true', () => {
  it('serves no control API (404), but applies the faults given at start', async () => {
    const plain = await startSandbox({
      seed: { users: [{ username: 'solo' }] },
      faults: [{ path: '/pod/v2/sessioninfo', status: 503, times: 1 }],
    });
    try {
      for (const [method, options] of [['GET', {}], ['POST', { json: { path: '/', status: 503 } }], ['DELETE', {}]] as const) {
        const reply = await call(plain, method, '/sandbox/v1/faults', options);
        expect(reply.status, method).toBe(404);
        expect(reply.json).toEqual({ code: 404, message: expect.any(String) });
      }
      expect((await call(plain, 'POST', '/sandbox/v1/users', { json: { username: 'intruder' } })).status).toBe(404);
      expect(plain.store.user('intruder')).toBeUndefined();
      expect(plain.faults.list()).toEqual([{ path: '/pod/v2/sessioninfo', status: 503, times: 1, remaining: 1 }]);
      expect((await call(plain, 'GET', '/pod/v2/sessioninfo')).status).toBe(503);
      expect((await call(plain, 'GET', '/pod/v2/sessioninfo')).status).toBe(401);
      // In process, rules still work.
      plain.faults.add({ path: '/pod/', status: 429, times: 1 });
      expect((await call(plain, 'GET', '/pod/v2/sessioninfo')).status).toBe(429);
    } finally {
      await plain.close();
    }
  });

  it('refuses an invalid rule given at start, before touching the data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allegro-faults-'));
    try {
      await expect(startSandbox({ dataDir: dir, faults: [{ path: '/x', status: 200 }] })).rejects.toThrow(/status/);
      // Nothing was left open: the same directory starts at once.
      const again = await startSandbox({ dataDir: dir, seed: { users: [{ username: 'solo' }] } });
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown', () => {
  it('close() resolves promptly with a datafeed long poll and a delayed request in flight, and ends them', async () => {
    const ca = readFileSync(sandbox.caCertPath, 'utf8'); // the directory is removed on close
    const tokens = await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: bot.headers });
    const feedHeaders = { authorization: `Bearer ${tokens.json.find((t: { service: string }) => t.service === 'datafeed2').token}` };
    const feed = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
    expect(feed.status).toBe(201);

    // A long poll (datafeedWaitMs 20 s, nothing to deliver) and a request held by a 1 s latency fault.
    const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value, at: performance.now() }), (error: unknown) => ({ ok: false as const, error, at: performance.now() }));
    const poll = settle(call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers: feedHeaders, json: {}, timeoutMs: 30_000 }));
    sandbox.faults.add({ path: '/pod/v2/user/presence', latencyMs: 1000 });
    const delayed = settle(call(sandbox, 'GET', '/pod/v2/user/presence', { headers: bot.headers, timeoutMs: 30_000 }));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const started = performance.now();
    await sandbox.close();
    const closeMs = performance.now() - started;
    expect(closeMs).toBeLessThan(2000);

    // Both in-flight requests ended, without waiting for their 20 s and 1 s, and without an answer.
    const [pollResult, delayedResult] = await Promise.all([poll, delayed]);
    for (const result of [pollResult, delayedResult]) {
      expect(result.at - started).toBeLessThan(2000);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(String(result.error)).toMatch(/socket hang up|ECONNRESET/);
    }
    // The server is gone, close() stays resolved, and the delayed handler, once its timer fires, reports nothing.
    const refused = await new Promise<unknown>((resolve) => {
      const req = httpsRequest(`${sandbox.podUrl}/pod/v2/sessioninfo`, { ca, timeout: 2000 }, (res) => resolve(res.statusCode));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', resolve);
      req.end();
    });
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    await expect(sandbox.close()).resolves.toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(errors).toEqual([]);
  });
});
