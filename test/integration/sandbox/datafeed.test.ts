// Datafeed 2.0 on the pod: at-least-once delivery with ackId, long polling, feed limits and expiry; and what
// survives a restart (database): state, tokens, acknowledged positions. Real HTTPS on 127.0.0.1.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import { partitionHashOf } from '../../../src/sandbox/store/objects.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { accountKey, call, contentKey, firstStream, login, type Login } from '../../helpers/sandbox.js';

async function datafeedToken(sandbox: RunningSandbox, who: Login): Promise<Record<string, string>> {
  const tokens = await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: who.headers });
  const entry = tokens.json.find((t: { service: string }) => t.service === 'datafeed2');
  return { authorization: `Bearer ${entry.token}` };
}

async function sendText(sandbox: RunningSandbox, who: Login, threadId: string, text: string): Promise<void> {
  const { accountKey: ak } = await accountKey(sandbox, who);
  const rotation = sandbox.store.stream(threadId)!.currentRotation;
  const ck = await contentKey(sandbox, who, ak, threadId, rotation) as AesKey;
  const reply = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', {
    headers: who.headers,
    form: { messagepayload: JSON.stringify({ threadId, text: await encryptText(ck, text, { rotationId: BigInt(rotation) }) }) },
  });
  expect(reply.status).toBe(200);
}

describe('Datafeed 2.0', () => {
  let sandbox: RunningSandbox;
  let bot: Login;
  let alice: Login;
  let roomId: string;
  let feedHeaders: Record<string, string>;

  beforeAll(async () => {
    sandbox = await startSandbox({ config: { datafeedWaitMs: 300, maxFeedsPerUser: 3, feedTtlMs: 1500 } });
    [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
    roomId = await firstStream(sandbox, bot, 'ROOM');
    feedHeaders = await datafeedToken(sandbox, alice);
  });
  afterAll(() => sandbox.close());

  it('delivers events after the ackId, redelivers unacknowledged ones, and acknowledges with the next ackId', async () => {
    const feed = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
    expect(feed.status).toBe(201);
    const read = (ackId?: string) => call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers: feedHeaders, json: ackId === undefined ? {} : { ackId } });
    const empty = await read();
    expect(empty.json.events).toEqual([]);
    await sendText(sandbox, bot, roomId, 'one');
    await sendText(sandbox, bot, roomId, 'two');
    const first = await read(empty.json.ackId);
    expect(first.json.events.map((e: { name: string }) => e.name)).toEqual(['SOCIALMESSAGE', 'SOCIALMESSAGE']);
    expect(first.json.events[0].payload.threadId).toBe(Buffer.from(roomId, 'base64url').toString('base64'));
    expect(first.json.events[0].userId).toBe(bot.userId);
    // Not acknowledged: reading with the old ackId delivers the same events again.
    const again = await read(empty.json.ackId);
    expect(again.json.events.map((e: { eventId: string }) => e.eventId)).toEqual(first.json.events.map((e: { eventId: string }) => e.eventId));
    // Acknowledged: the next ackId moves on, and an empty ackId resumes from the server-side position.
    expect((await read(first.json.ackId)).json.events).toEqual([]);
    expect((await read()).json.events).toEqual([]);
  });

  it('wakes a waiting read as soon as an event arrives (long poll)', async () => {
    const slow = await startSandbox({ config: { datafeedWaitMs: 10_000 } });
    try {
      const [b, a] = await Promise.all([login(slow, 'sandbox-bot'), login(slow, 'alice')]);
      const headers = await datafeedToken(slow, a);
      const feed = await call(slow, 'POST', '/datafeed2/api/v1/feeds', { headers });
      const room = await firstStream(slow, b, 'ROOM');
      const started = Date.now();
      const pending = call(slow, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers, json: {} });
      await new Promise((r) => setTimeout(r, 200));
      await sendText(slow, b, room, 'wake up');
      const reply = await pending;
      expect(reply.json.events).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await slow.close();
    }
  });

  it('refuses a malformed or foreign ackId, more feeds than allowed, and other users\' feeds', async () => {
    const mine = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
    for (const ackId of ['garbage', Buffer.from('otherfeed:1').toString('base64url'), 42]) {
      const r = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${mine.json.id}/events`, { headers: feedHeaders, json: { ackId } });
      expect(r.status).toBe(400);
    }
    const botHeaders = await datafeedToken(sandbox, bot);
    expect((await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${mine.json.id}/events`, { headers: botHeaders, json: {} })).status).toBe(400);
    expect((await call(sandbox, 'DELETE', `/datafeed2/api/v1/feeds/${mine.json.id}`, { headers: botHeaders })).status).toBe(404);
    // Earlier feeds of this file may have expired (feedTtlMs 1.5 s): fill up to the limit of 3.
    while ((await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json.length < 3) {
      expect((await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).status).toBe(201);
    }
    const over = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
    expect(over.status).toBe(403);
    expect((await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json).toHaveLength(3);
    expect((await call(sandbox, 'DELETE', `/datafeed2/api/v1/feeds/${mine.json.id}`, { headers: feedHeaders })).status).toBe(204);
    expect((await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${mine.json.id}/events`, { headers: feedHeaders, json: {} })).status).toBe(400);
    expect((await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('expires a feed that is not read for feedTtlMs', async () => {
    await new Promise((r) => setTimeout(r, 1600));
    expect((await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json).toEqual([]);
    const feed = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
    expect(feed.status).toBe(201);
  });
});

describe('at scale: what is kept, and ackIds (issue 9, defect 5)', () => {
  let sandbox: RunningSandbox;
  let bot: Login;
  let alice: Login;
  let bob: Login;
  let roomId: string;
  const errors: unknown[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ config: { datafeedWaitMs: 100, feedTtlMs: 1200 }, onError: (e) => errors.push(e) });
    [bot, alice, bob] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice'), login(sandbox, 'bob')]);
    roomId = (await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'busy' } })).json.roomSystemInfo.id;
    await call(sandbox, 'POST', `/pod/v1/room/${roomId}/membership/add`, { headers: bot.headers, json: { id: alice.userId } });
  });
  afterAll(() => sandbox.close());

  const feedOf = async (who: Login) => {
    const headers = await datafeedToken(sandbox, who);
    const id = (await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers })).json.id as string;
    const read = async (ackId?: string) => call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${id}/events`, { headers, json: ackId === undefined ? {} : { ackId } });
    return { id, headers, read };
  };
  const kept = () => ({ events: sandbox.store.counts().events, recipients: sandbox.store.counts().eventRecipients });

  it('keeps nothing for users without a live feed, and prunes what every feed of the user acknowledged', async () => {
    for (let i = 0; i < 5; i++) await sendText(sandbox, bot, roomId, `unseen ${i}`);
    expect(kept()).toEqual({ events: 0, recipients: 0 });
    const first = await feedOf(alice);
    for (let i = 0; i < 3; i++) await sendText(sandbox, bot, roomId, `seen ${i}`);
    expect(kept()).toEqual({ events: 3, recipients: 3 });
    const read = await first.read();
    expect(read.json.events).toHaveLength(3);
    await first.read(read.json.ackId);
    expect(kept()).toEqual({ events: 0, recipients: 0 });
    // A second feed of the same user that has not read holds them; deleting it lets them go.
    const second = await feedOf(alice);
    for (let i = 0; i < 2; i++) await sendText(sandbox, bot, roomId, `twice ${i}`);
    const again = await first.read(read.json.ackId);
    await first.read(again.json.ackId);
    expect(kept()).toEqual({ events: 2, recipients: 2 });
    expect((await call(sandbox, 'DELETE', `/datafeed2/api/v1/feeds/${second.id}`, { headers: second.headers })).status).toBe(204);
    expect(kept()).toEqual({ events: 0, recipients: 0 });
    expect(errors).toEqual([]);
  });

  it('drops what only an expired feed could deliver, at the next sweep', async () => {
    const idle = await feedOf(alice);
    await sendText(sandbox, bot, roomId, 'for the idle feed');
    expect(kept().recipients).toBeGreaterThan(0);
    // feedTtlMs 1.2 s: the sweep runs every 600 ms.
    await vi.waitFor(() => expect(kept()).toEqual({ events: 0, recipients: 0 }), { timeout: 5000, interval: 100 });
    expect((await idle.read()).status).toBe(400);
  });

  it('a new feed starts at "now": it never delivers what was logged before it, even what another feed still holds', async () => {
    const older = await feedOf(alice);
    await sendText(sandbox, bot, roomId, 'before the new feed');
    const newer = await feedOf(alice);
    expect((await newer.read()).json.events).toEqual([]);
    const held = await older.read();
    expect(held.json.events).toHaveLength(1);
    // The older feed's ackId names a position of that feed only.
    expect((await newer.read(held.json.ackId)).status).toBe(400);
    await sendText(sandbox, bot, roomId, 'after');
    expect((await newer.read()).json.events.map((e: { payload: { text: string } }) => e.payload.text)).toHaveLength(1);
  });

  it('refuses a made-up, altered or wave-1-style ackId with 400 and replays nothing', async () => {
    const feed = await feedOf(bob);
    const real = (await feed.read()).json.ackId as string;
    const bytes = Buffer.from(real, 'base64url');
    const altered = Buffer.from(bytes);
    altered[7]! ^= 1; // another position, same MAC
    const remac = Buffer.from(bytes);
    remac[bytes.length - 1]! ^= 1;
    for (const ackId of [
      altered.toString('base64url'), remac.toString('base64url'), Buffer.from(`${feed.id}:0`).toString('base64url'), Buffer.from(`${feed.id}:5`).toString('base64url'),
      Buffer.concat([Buffer.alloc(8), bytes.subarray(8)]).toString('base64url'), real.slice(0, -2), `${real}AA`, 'A'.repeat(2000),
    ]) {
      const reply = await feed.read(ackId);
      expect(reply.status, ackId).toBe(400);
      expect(reply.json).toEqual({ code: 400, message: 'The ackId is not one this feed returned' });
    }
    expect((await feed.read(real)).status).toBe(200);
  });
});

describe('persistence across a restart', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-sandbox-persist-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps users, streams, rotations, messages, objects, entitlements, tokens, feeds and acknowledged positions', async () => {
    const first = await startSandbox({ dataDir: dir, config: { datafeedWaitMs: 100 } });
    const bot = await login(first, 'sandbox-bot');
    const alice = await login(first, 'alice');
    const room = await call(first, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'durable' } });
    const roomId = room.json.roomSystemInfo.id;
    await call(first, 'POST', `/pod/v1/room/${roomId}/membership/add`, { headers: bot.headers, json: { id: alice.userId } });
    await first.admin.rotate(roomId);
    const headers = await datafeedToken(first, alice);
    const feed = await call(first, 'POST', '/datafeed2/api/v1/feeds', { headers });
    await sendText(first, bot, roomId, 'before restart 1');
    await sendText(first, bot, roomId, 'before restart 2');
    const read = await call(first, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers, json: {} });
    expect(read.json.events.length).toBeGreaterThanOrEqual(2);
    // Acknowledge everything read so far.
    await call(first, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers, json: { ackId: read.json.ackId } });
    const api = { authorization: `Bearer ${bot.session}` };
    const objectHash = Buffer.alloc(34, 7).toString('base64url');
    const stored = await call(first, 'PUT', `/object/v1/objects/${objectHash}`, {
      headers: api, json: { partitionHash: partitionHashOf('restart', bot.userId), sortKey: 'k', threadId: roomId, rotationId: 1, encryptedPayload: Buffer.alloc(48, 1).toString('base64') },
    });
    expect(stored.status).toBe(200);
    await first.admin.setObjectStoreEntitlement(false);
    const caBefore = first.caCertPath;
    const stateBefore = { ...first.store.counts(), events: first.store.lastEventSeq() };
    await first.close();

    const second = await startSandbox({ dataDir: dir, config: { datafeedWaitMs: 100 } });
    try {
      expect({ ...second.store.counts(), events: second.store.lastEventSeq() }).toEqual(stateBefore);
      expect(second.caCertPath).toBe(caBefore);
      expect(second.store.stream(roomId)!.currentRotation).toBe('1');
      // Tokens issued before the restart still work.
      expect((await call(second, 'GET', '/pod/v2/sessioninfo', { headers: alice.headers })).status).toBe(200);
      const history = await call(second, 'GET', `/dataquery/api/v3/messages/thread?id=${roomId}&limit=10`, { headers: alice.headers });
      expect(history.json).toHaveLength(2);
      // Acknowledged events are not delivered again; new ones are.
      await sendText(second, bot, roomId, 'after restart');
      const after = await call(second, 'POST', `/datafeed2/api/v1/feeds/${feed.json.id}/events`, { headers, json: {} });
      expect(after.json.events).toHaveLength(1);
      expect(second.identities.get('alice')?.privateKeyPath).toBeDefined();
      expect((await call(second, 'GET', `/object/v1/objects/${objectHash}`, { headers: api })).status).toBe(403);
      await second.admin.setObjectStoreEntitlement(true);
      expect((await call(second, 'GET', `/object/v1/objects/${objectHash}`, { headers: api })).json.sortKey).toBe('k');
    } finally {
      await second.close();
    }
  });
});
