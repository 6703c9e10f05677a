// CORS on a real sandbox over HTTPS, as a browser meets it: a preflight of every route kind a page uses, the CORS
// headers on successes, refusals (401, so a page can refresh its tokens), injected faults (429 with Retry-After)
// and range answers (206 with Content-Range readable), none for an origin not allowed, none on the control API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS } from '../../../src/sandbox/cors.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, login, type Login } from '../../helpers/sandbox.js';

const PAGE = 'http://127.0.0.1:5173';
let sandbox: RunningSandbox;
let alice: Login;

beforeAll(async () => {
  sandbox = await startSandbox({ control: true });
  alice = await login(sandbox, 'alice');
});
afterAll(() => sandbox?.close());

const preflight = (path: string, method: string, origin = PAGE) =>
  call(sandbox, 'OPTIONS', path, { headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'sessiontoken,keymanagertoken,authorization,content-type,range,x-trace-id' } });

describe('CORS (default: the loopback origins)', () => {
  it('answers the preflight of each route a page calls: pod, login, Key Manager, keystore, datafeed, Object Store, blobs', async () => {
    for (const [path, method] of [
      ['/pod/v2/sessioninfo', 'GET'], ['/login/pubkey/authenticate', 'POST'], ['/relay/keys/me', 'GET'],
      ['/webcontroller/keystore/wrappedAccountKeys/one', 'GET'], ['/keystore/cryptoRotationInfo/multiple', 'POST'],
      ['/datafeed2/api/v1/feeds', 'POST'], ['/object/v1/partitions/upsert', 'POST'], ['/object/v1/blobs/abc', 'PUT'], ['/object/v1/blobs/abc', 'DELETE'],
    ] as const) {
      const reply = await preflight(path, method);
      expect(reply.status, `${method} ${path}`).toBe(204);
      expect(reply.headers['access-control-allow-origin']).toBe(PAGE);
      expect(String(reply.headers['access-control-allow-methods']).split(', ')).toContain(method);
      expect(reply.headers['access-control-allow-headers']).toBe(CORS_ALLOW_HEADERS.join(', '));
    }
  });

  it('lets a page read a success, a 401 (to refresh its tokens) and an injected 429 with its Retry-After', async () => {
    const ok = await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { ...alice.headers, origin: PAGE } });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(PAGE);
    expect(ok.headers['access-control-expose-headers']).toBe(CORS_EXPOSE_HEADERS.join(', '));

    const refused = await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { sessionToken: 'stale', origin: PAGE } });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(PAGE);

    sandbox.faults.add({ path: '/pod/v1/streams/list', status: 429, retryAfterSeconds: 2, times: 1 });
    const limited = await call(sandbox, 'POST', '/pod/v1/streams/list', { headers: { ...alice.headers, origin: PAGE }, json: {} });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(limited.headers['access-control-allow-origin']).toBe(PAGE);
    expect(String(limited.headers['access-control-expose-headers'])).toContain('retry-after');
  });

  it('lets a page read a blob range (206) and its Content-Range', async () => {
    const api = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: alice.headers })).json.access_token}` };
    const body = new Uint8Array(64).fill(7);
    body.set(new TextEncoder().encode('ATB1'));
    expect((await call(sandbox, 'PUT', '/object/v1/blobs/cors-blob-0123456789', { headers: api, bytes: body })).status).toBe(201);
    const range = await call(sandbox, 'GET', '/object/v1/blobs/cors-blob-0123456789', { headers: { ...api, range: 'bytes=4-9', origin: PAGE } });
    expect(range.status).toBe(206);
    expect(range.headers['content-range']).toBe('bytes 4-9/64');
    expect(range.headers['access-control-allow-origin']).toBe(PAGE);
    expect(String(range.headers['access-control-expose-headers'])).toContain('content-range');
  });

  it('gives an origin that is not allowed no CORS header: its preflight goes to the router (405)', async () => {
    const refused = await preflight('/pod/v2/sessioninfo', 'GET', 'https://elsewhere.example');
    expect(refused.status).toBe(405);
    expect(Object.keys(refused.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const read = await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { ...alice.headers, origin: 'https://elsewhere.example' } });
    expect(read.status).toBe(200);
    expect(Object.keys(read.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('never answers CORS on the control API', async () => {
    expect((await preflight('/sandbox/v1/faults', 'POST')).headers['access-control-allow-origin']).toBeUndefined();
    const listed = await call(sandbox, 'GET', '/sandbox/v1/faults', { headers: { origin: PAGE } });
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS with corsOrigins', () => {
  it('allows exactly the configured origins, and none with []', async () => {
    const custom = await startSandbox({ corsOrigins: ['https://app.example'] });
    const none = await startSandbox({ corsOrigins: [] });
    try {
      const info = (s: RunningSandbox, origin: string) => call(s, 'GET', '/webcontroller/public/podInfo', { headers: { origin } });
      expect((await info(custom, 'https://app.example')).headers['access-control-allow-origin']).toBe('https://app.example');
      expect((await info(custom, PAGE)).headers['access-control-allow-origin']).toBeUndefined();
      expect((await info(none, PAGE)).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await Promise.all([custom.close(), none.close()]);
    }
    await expect(startSandbox({ corsOrigins: ['not an origin'] })).rejects.toThrow(/corsOrigins: "not an origin" is not an origin pattern/);
  });
});
