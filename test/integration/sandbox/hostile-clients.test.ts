// Regression tests of issue 9: what one hostile or broken client could do to a sandbox shared with others. Each
// case reproduces one defect over real HTTPS (or raw TCP/TLS) on 127.0.0.1; each failed on the wave-1 sandbox
// (JSON-lines journal), before the move to SQLite and the connection limits.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import { partitionHashOf } from '../../../src/sandbox/store/objects.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { accountKey, call, contentKey, firstStream, login, type Login } from '../../helpers/sandbox.js';

/** JSON text nested `depth` levels deep: [[[…]]]. */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

async function bearer(sandbox: RunningSandbox, who: Login, kind: 'api' | 'datafeed'): Promise<Record<string, string>> {
  if (kind === 'api') return { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: who.headers })).json.access_token}` };
  return { authorization: `Bearer ${(await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: who.headers })).json[0].token}` };
}

/** A raw TLS connection to the sandbox that sends `head` (and `body`) and collects what comes back. */
function rawTls(sandbox: RunningSandbox, head: string, body?: Buffer): { socket: TLSSocket; done: Promise<Buffer> } {
  const socket = tlsConnect({ host: '127.0.0.1', port: sandbox.port, ca: readFileSync(sandbox.caCertPath, 'utf8'), servername: 'localhost' });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', () => { /* the server may reset a connection it drops */ });
  });
  socket.once('secureConnect', () => {
    socket.write(head);
    if (body !== undefined) socket.write(body);
  });
  return { socket, done };
}

/** Send `head`, read nothing for `stallMs`, then read everything that still comes; resolves to the bytes received. */
async function stalledRead(sandbox: RunningSandbox, head: string, stallMs: number): Promise<number> {
  const { socket, done } = rawTls(sandbox, head);
  socket.pause();
  await new Promise((r) => setTimeout(r, stallMs));
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), 20_000);
  const bytes = (await done).length;
  clearTimeout(timer);
  return bytes;
}

describe('hostile clients (issue 9 regressions)', () => {
  let sandbox: RunningSandbox;
  let bot: Login;
  let alice: Login;
  let roomId: string;
  let ck: AesKey;
  const errors: unknown[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      control: true, onError: (e) => errors.push(e),
      config: { datafeedWaitMs: 200, tlsHandshakeTimeoutMs: 500, sendTimeoutMs: 2000 },
    });
    [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
    roomId = await firstStream(sandbox, bot, 'ROOM');
    const { accountKey: ak } = await accountKey(sandbox, bot);
    ck = await contentKey(sandbox, bot, ak, roomId, 0) as AesKey;
  });
  afterAll(() => sandbox.close());

  const post = async (who: Login, payload: Record<string, unknown> | string) => call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', {
    headers: who.headers, form: { messagepayload: typeof payload === 'string' ? payload : JSON.stringify(payload) },
  });

  it('defect 2: a message nested 4,000+ levels deep is a 400 and breaks no one\'s history or datafeed', async () => {
    const df = await bearer(sandbox, alice, 'datafeed');
    const feed = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: df });
    const text = await encryptText(ck, 'hello', { rotationId: 0 });
    const threadId = Buffer.from(roomId, 'base64url').toString('base64');
    const deep = `{"threadId":${JSON.stringify(threadId)},"text":${JSON.stringify(text)},"extra":${nested(18_000)}}`;
    const refused = await post(bot, deep);
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 400, message: expect.stringContaining('deep') });
    expect((await post(bot, { threadId, text })).status).toBe(200);
    const history = await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${roomId}&limit=50`, { headers: alice.headers });
    expect(history.status).toBe(200);
    expect(history.json.some((m: { message: { extra?: unknown } }) => 'extra' in m.message)).toBe(false);
    const events = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers: df, json: {} });
    expect(events.status).toBe(200);
    expect(events.json.events).toHaveLength(1);
  });

  it('defect 2: an object whose header is nested that deep is a 400 and leaves its sort key free', async () => {
    const api = await bearer(sandbox, bot, 'api');
    const partition = (await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: api, json: { partitionId: { name: 'deep' } } })).json.hash;
    const object = (header: string) => `{"partitionHash":"${partition}","sortKey":"deep-key","threadId":"${roomId}","rotationId":0,` +
      `"encryptedPayload":"${Buffer.alloc(48, 1).toString('base64')}","header":${header}}`;
    const refused = await call(sandbox, 'PUT', `/object/v1/objects/${Buffer.alloc(32, 1).toString('base64url')}`, {
      headers: { ...api, 'content-type': 'application/json' }, raw: object(`{"a":${nested(18_000)}}`),
    });
    expect(refused.status).toBe(400);
    expect(refused.json.code).toBe(400);
    const stored = await call(sandbox, 'PUT', `/object/v1/objects/${Buffer.alloc(32, 2).toString('base64url')}`, {
      headers: { ...api, 'content-type': 'application/json' }, raw: object('{"kind":"fine"}'),
    });
    expect(stored.status).toBe(200);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partition}/page`, { headers: api })).status).toBe(200);
  });

  it('defect 3: nobody but its owner can create a partition by writing to it first', async () => {
    const aliceApi = await bearer(sandbox, alice, 'api');
    const botApi = await bearer(sandbox, bot, 'api');
    const future = partitionHashOf('future', bot.userId);
    const squat = await call(sandbox, 'PUT', `/object/v1/objects/${Buffer.alloc(32, 3).toString('base64url')}`, {
      headers: aliceApi, json: { partitionHash: future, sortKey: 'mine', threadId: roomId, rotationId: 0, encryptedPayload: Buffer.alloc(48, 1).toString('base64') },
    });
    expect(squat.status).toBe(403);
    const upsert = await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: botApi, json: { partitionId: { name: 'future' } } });
    expect(upsert.status).toBe(200);
    expect(upsert.json.hash).toBe(future);
    // The owner's own first write creates a partition too.
    const own = partitionHashOf('first-write', alice.userId);
    const first = await call(sandbox, 'PUT', `/object/v1/objects/${Buffer.alloc(32, 4).toString('base64url')}`, {
      headers: aliceApi, json: { partitionHash: own, sortKey: 'k', threadId: roomId, rotationId: 0, encryptedPayload: Buffer.alloc(48, 1).toString('base64') },
    });
    expect(first.status).toBe(200);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${own}`, { headers: aliceApi })).json.id.userId).toBe(alice.userId);
  });

  it('defect 4: a silent TCP connection (no TLS hello) is closed within the handshake timeout', async () => {
    const socket = netConnect(sandbox.port, '127.0.0.1');
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 4000);
      socket.on('close', () => { clearTimeout(timer); resolve(true); });
      socket.on('error', () => {});
    });
    socket.destroy();
    expect(closed).toBe(true);
  });

  it('defect 4: a reader that stops reading a blob is dropped (it never gets the whole answer)', async () => {
    const api = await bearer(sandbox, bot, 'api');
    const size = 32 * 1024 * 1024;
    const id = 'stalled-reader-blob-1';
    expect((await call(sandbox, 'PUT', `/object/v1/blobs/${id}`, { headers: api, bytes: Buffer.concat([Buffer.from('ATB1'), Buffer.alloc(size - 4)]) })).status).toBe(201);
    const received = await stalledRead(sandbox, `GET /object/v1/blobs/${id} HTTP/1.1\r\nhost: localhost\r\nauthorization: ${api.authorization}\r\n\r\n`, 5000);
    expect(received).toBeLessThan(size);
  });

  it('defect 4: a reader that stops reading a history page is dropped', async () => {
    const room = (await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'big history' } })).json.roomSystemInfo.id;
    const { accountKey: ak } = await accountKey(sandbox, bot);
    const key = await contentKey(sandbox, bot, ak, room, 0) as AesKey;
    const text = await encryptText(key, 'x'.repeat(700_000), { rotationId: 0 });
    const threadId = Buffer.from(room, 'base64url').toString('base64');
    for (let i = 0; i < 24; i++) expect((await post(bot, { threadId, text })).status).toBe(200);
    const path = `/dataquery/api/v3/messages/thread?id=${room}&limit=50`;
    // A reader that reads gets the whole page (about 22 MB) …
    const whole = await call(sandbox, 'GET', path, { headers: bot.headers });
    expect(whole.status).toBe(200);
    expect(whole.json).toHaveLength(24);
    // … one that stops reading does not.
    const received = await stalledRead(sandbox, `GET ${path} HTTP/1.1\r\nhost: localhost\r\nsessiontoken: ${bot.session}\r\n\r\n`, 5000);
    expect(received).toBeLessThan(whole.body.length);
  });

  it('defect 5: a forged ackId "<feedId>:0" on a new feed replays nothing', async () => {
    const df = await bearer(sandbox, alice, 'datafeed');
    const feed = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: df });
    const forged = Buffer.from(`${feed.json.id}:0`).toString('base64url');
    const read = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers: df, json: { ackId: forged } });
    expect(read.status).toBe(400);
    expect(read.json.code).toBe(400);
  });

  it('defect 7: a header block over the limit gets 431 with a JSON body; a malformed request 400 with a JSON body', async () => {
    const big = await rawTls(sandbox, `GET /pod/v2/sessioninfo HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(40_000)}\r\n\r\n`).done;
    expect(big.toString('latin1')).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(big.toString('utf8').split('\r\n\r\n')[1]!)).toMatchObject({ code: 431 });
    const bad = await rawTls(sandbox, 'NOT A REQUEST\r\n\r\n').done;
    expect(bad.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bad.toString('utf8').split('\r\n\r\n')[1]!)).toMatchObject({ code: 400 });
  });

  it('defect 7: a client that disconnects mid-body is not an internal error', async () => {
    const before = errors.length;
    const { socket, done } = rawTls(sandbox, `POST /pod/v3/room/create HTTP/1.1\r\nhost: localhost\r\nsessiontoken: ${bot.session}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`, Buffer.from('{"name":'));
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await done;
    await new Promise((r) => setTimeout(r, 300));
    expect(errors.slice(before)).toEqual([]);
  });

  it('defect 7: logout revokes every token of the session: session, Key Manager, Object Store and datafeed', async () => {
    const carol = await login(sandbox, 'bob');
    const api = await bearer(sandbox, carol, 'api');
    const df = await bearer(sandbox, carol, 'datafeed');
    expect((await call(sandbox, 'POST', '/sessionauth/v1/logout', { headers: carol.headers })).status).toBe(200);
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: carol.headers })).status).toBe(401);
    expect((await call(sandbox, 'GET', '/relay/keys/me', { headers: carol.kmHeaders })).status).toBe(401);
    expect((await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: api, json: { partitionId: { name: 'after-logout' } } })).status).toBe(401);
    expect((await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: df })).status).toBe(401);
  });

  it('defect 7: re-login leaves an earlier session valid until its TTL (docs/sandbox.md "Tokens"); logging out one session ends only it', async () => {
    const first = await login(sandbox, 'alice');
    const second = await login(sandbox, 'alice');
    const firstApi = await bearer(sandbox, first, 'api');
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: first.headers })).status).toBe(200);
    expect((await call(sandbox, 'POST', '/sessionauth/v1/logout', { headers: second.headers })).status).toBe(200);
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: second.headers })).status).toBe(401);
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: first.headers })).status).toBe(200);
    expect((await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: firstApi, json: { partitionId: { name: 'still-mine' } } })).status).toBe(200);
    // Key Manager tokens are per user: the logout ended those issued before it, a new login gets a working one.
    expect((await call(sandbox, 'GET', '/relay/keys/me', { headers: first.kmHeaders })).status).toBe(401);
    expect((await call(sandbox, 'GET', '/relay/keys/me', { headers: (await login(sandbox, 'alice')).kmHeaders })).status).toBe(200);
    alice = await login(sandbox, 'alice');
  });

  it('defect 7: the control API refuses a pattern that could backtrack catastrophically', async () => {
    const added = await call(sandbox, 'POST', '/sandbox/v1/faults', { json: { path: '^/(a+)+$', status: 503 } });
    expect(added.status).toBe(400);
    expect(added.json.code).toBe(400);
    await call(sandbox, 'DELETE', '/sandbox/v1/faults');
    expect((await call(sandbox, 'GET', `/${'a'.repeat(40)}!`)).status).toBe(404);
  });
});

describe('connection limits (issue 9: one client cannot hold the server\'s sockets)', () => {
  let sandbox: RunningSandbox;
  const errors: unknown[] = [];
  beforeAll(async () => {
    sandbox = await startSandbox({
      onError: (e) => errors.push(e),
      config: { maxConnections: 4, headersTimeoutMs: 600, requestTimeoutMs: 1500, idleTimeoutMs: 700, tlsHandshakeTimeoutMs: 2000 },
    });
  });
  afterAll(() => sandbox.close());

  /** A TLS connection that is open (handshake done), and a promise of its close with what it received. */
  const open = async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: sandbox.port, ca: readFileSync(sandbox.caCertPath, 'utf8'), servername: 'localhost' });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    const closed = new Promise<{ at: number; received: string }>((resolve) => socket.on('close', () => resolve({ at: Date.now(), received: Buffer.concat(chunks).toString('utf8') })));
    const up = await new Promise<boolean>((resolve) => {
      socket.once('secureConnect', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    return { socket, up, closed };
  };

  it('answers a request head that trickles in too slowly (slowloris) with 408 JSON and closes the connection', async () => {
    const { socket, closed } = await open();
    const started = Date.now();
    socket.write('GET /webcontroller/public/podInfo HTTP/1.1\r\nhost: localhost\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 100);
    const { at, received } = await closed;
    clearInterval(trickle);
    expect(at - started).toBeLessThan(5000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(received.split('\r\n\r\n')[1]!)).toMatchObject({ code: 408 });
  });

  it('answers a body that trickles in past the request timeout with 408 JSON', async () => {
    const { socket, closed } = await open();
    socket.write('POST /pod/v3/room/create HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{');
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    const { received } = await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(received.split('\r\n\r\n')[1]!)).toMatchObject({ code: 408 });
  });

  it('closes an idle keep-alive connection after idleTimeoutMs', async () => {
    const { socket, closed } = await open();
    socket.write('GET /webcontroller/public/podInfo HTTP/1.1\r\nhost: localhost\r\n\r\n');
    const answered = Date.now();
    const { at, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(at - answered).toBeGreaterThanOrEqual(500);
    expect(at - answered).toBeLessThan(5000);
  });

  it('holds at most maxConnections: one more is closed at once; once one goes, a new one is served', async () => {
    const held = await Promise.all([open(), open(), open(), open()]);
    expect(held.every((c) => c.up)).toBe(true);
    const extra = await open();
    expect(extra.up).toBe(false);
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await vi.waitFor(async () => expect((await call(sandbox, 'GET', '/webcontroller/public/podInfo')).status).toBe(200), { timeout: 5000, interval: 100 });
    expect(errors).toEqual([]);
  });
});

describe('hostile clients across a restart (issue 9 regressions)', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'allegro-sandbox-hostile-')); });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('defect 7: revocations survive a restart', async () => {
    const first = await startSandbox({ dataDir: dir });
    const bob = await login(first, 'bob');
    expect((await call(first, 'POST', '/sessionauth/v1/logout', { headers: bob.headers })).status).toBe(200);
    await first.close();
    const second = await startSandbox({ dataDir: dir });
    try {
      expect((await call(second, 'GET', '/pod/v2/sessioninfo', { headers: bob.headers })).status).toBe(401);
      expect((await call(second, 'GET', '/relay/keys/me', { headers: bob.kmHeaders })).status).toBe(401);
    } finally {
      await second.close();
    }
  });
});
