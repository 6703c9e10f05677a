// The sandbox's Object Store feeds over HTTPS on 127.0.0.1 (docs/sandbox.md §4.6): upsert checks and idempotence,
// what a write queues (prefix, later feeds only, READ permission, deletions), visibility timeouts and receipt
// handles (only the newest counts), extend, long poll, owner-only reads, delete, expiry, the entitlement, paged
// partition users, and queues that survive a restart.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, firstStream, login, type Login } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: Login;
let alice: Login;
let bob: Login;
let threadId: string;
let partitionHash: string;

const hash = () => randomBytes(34).toString('base64url');
const FEED = (h: string) => `/object/v1/feeds/${h}/objects`;

function object(sortKey: string, extra: Record<string, unknown> = {}) {
  return { partitionHash, sortKey, threadId, rotationId: 0, encryptedPayload: randomBytes(64).toString('base64'), ...extra };
}

async function put(sortKey: string, extra: Record<string, unknown> = {}): Promise<string> {
  const h = hash();
  const reply = await call(sandbox, 'PUT', `/object/v1/objects/${h}`, { headers: bot.headers, json: object(sortKey, extra) });
  expect(reply.status).toBe(200);
  return h;
}

async function upsert(who: Login, name: string, selections: unknown[] = [{ partitionHash }], extra: Record<string, unknown> = {}) {
  return call(sandbox, 'POST', '/object/v1/feeds/upsert', { headers: who.headers, json: { feedId: { name, userId: who.userId }, partitionSelections: selections, ...extra } });
}

async function read(who: Login, feed: string, body: Record<string, unknown>) {
  return call(sandbox, 'POST', FEED(feed), { headers: who.headers, json: body });
}

beforeAll(async () => {
  sandbox = await startSandbox({ control: true, config: { objectFeedVisibilitySeconds: 1 } });
  [bot, alice, bob] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice'), login(sandbox, 'bob')]);
  threadId = await firstStream(sandbox, bot, 'ROOM');
  const partition = await call(sandbox, 'POST', '/object/v1/partitions/upsert', {
    headers: bot.headers, json: { partitionId: { name: 'feed-source', userId: bot.userId }, userPermissions: [{ userId: alice.userId, permissions: ['READ'] }] },
  });
  partitionHash = partition.json.hash;
});
afterAll(() => sandbox.close());

describe('upsert', () => {
  it('creates a feed and answers the same hash for the same name and owner, replacing its subscriptions', async () => {
    const first = await upsert(alice, 'u', [{ partitionHash }], { expiryTime: 120_000 });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ id: { name: 'u', userId: alice.userId }, expiryTime: 120_000, partitionSelections: [{ partitionHash }] });
    const again = await upsert(alice, 'u', [{ partitionHash, sortKeyPrefix: 'a/' }]);
    expect(again.json.hash).toBe(first.json.hash);
    expect(again.json).toMatchObject({ expiryTime: 432_000_000, partitionSelections: [{ partitionHash, sortKeyPrefix: 'a/' }] });
    // Another owner's feed of the same name is another feed.
    expect((await upsert(bot, 'u')).json.hash).not.toBe(first.json.hash);
  });

  it('refuses bad requests, unknown partitions, partitions the caller may not read and another user\'s id', async () => {
    expect((await call(sandbox, 'POST', '/object/v1/feeds/upsert', { headers: alice.headers, json: { feedId: { name: 'x' } } })).status).toBe(400);
    expect((await upsert(alice, 'x', [])).status).toBe(400);
    expect((await upsert(alice, '')).status).toBe(400);
    expect((await upsert(alice, 'x', [{ partitionHash }], { expiryTime: 59_999 })).status).toBe(400);
    expect((await upsert(alice, 'x', [{ partitionHash: hash() }])).status).toBe(404);
    expect((await upsert(bob, 'x')).status).toBe(403);
    const foreign = await call(sandbox, 'POST', '/object/v1/feeds/upsert', { headers: alice.headers, json: { feedId: { name: 'x', userId: bob.userId }, partitionSelections: [{ partitionHash }] } });
    expect(foreign.status).toBe(403);
  });
});

describe('reading', () => {
  it('queues the versions written after the feed exists, in its partitions and under its prefix, deletions included', async () => {
    await put('q/before');
    const feed = (await upsert(alice, 'queue', [{ partitionHash, sortKeyPrefix: 'q/' }])).json.hash as string;
    const h1 = await put('q/one');
    await put('other/one');
    const h2 = await put('q/two');
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: bot.headers, json: { _type: 'com.symphony.s2.model.object.DeletedApplicationObject', baseHash: h2, deletionType: 'PHYSICAL' } })).status).toBe(204);
    const got = await read(alice, feed, { maxItems: 10 });
    expect(got.status).toBe(200);
    expect(got.json.map((m: { payload: { sortKey: string; absoluteHash?: string; deletionType?: string } }) => [m.payload.sortKey, m.payload.deletionType ?? m.payload.absoluteHash])).toEqual([
      ['q/one', h1], ['q/two', h2], ['q/two', 'PHYSICAL'],
    ]);
    expect(got.json[0]).toMatchObject({ messageId: expect.any(String), receiptHandle: expect.any(String), payload: { encryptedPayload: expect.any(String), version: 1, owner: bot.userId } });
    expect(got.json[2].payload).toEqual({ _type: 'com.symphony.s2.model.object.DeletedApplicationObject', baseHash: h2, partitionHash, sortKey: 'q/two', deletionType: 'PHYSICAL' });
  });

  it('hides a message it returned, then delivers it again with a new handle; only the newest handle deletes it', async () => {
    const feed = (await upsert(alice, 'visibility', [{ partitionHash, sortKeyPrefix: 'v/' }])).json.hash as string;
    await put('v/1');
    const first = (await read(alice, feed, { maxItems: 10 })).json;
    expect(first).toHaveLength(1);
    expect((await read(alice, feed, { maxItems: 10 })).json).toEqual([]);
    // Invisible for 1 s (objectFeedVisibilitySeconds), then back, with another receipt handle.
    const second = (await read(alice, feed, { maxItems: 10, waitTimeSeconds: 3 })).json;
    expect(second).toHaveLength(1);
    expect(second[0].messageId).toBe(first[0].messageId);
    expect(second[0].receiptHandle).not.toBe(first[0].receiptHandle);
    // The stale handle is ignored (no error), the newest deletes.
    expect((await read(alice, feed, { maxItems: 0, delete: [{ receiptHandle: first[0].receiptHandle }] })).status).toBe(200);
    expect(sandbox.store.queuedFeedMessages(feed)).toBe(1);
    expect((await read(alice, feed, { maxItems: 0, delete: [{ receiptHandle: second[0].receiptHandle }, { receiptHandle: 'never-issued' }] })).json).toEqual([]);
    expect(sandbox.store.queuedFeedMessages(feed)).toBe(0);
  });

  it('extends: 0 makes a message visible at once, a long timeout keeps it hidden', async () => {
    const feed = (await upsert(alice, 'extend', [{ partitionHash, sortKeyPrefix: 'e/' }])).json.hash as string;
    await put('e/1');
    const [m] = (await read(alice, feed, { maxItems: 1 })).json;
    const again = (await read(alice, feed, { maxItems: 1, extend: [{ receiptHandle: m.receiptHandle, visibilityTimeout: 0 }] })).json;
    expect(again.map((x: { messageId: string }) => x.messageId)).toEqual([m.messageId]);
    await read(alice, feed, { maxItems: 0, extend: [{ receiptHandle: again[0].receiptHandle, visibilityTimeout: 60 }] });
    expect((await read(alice, feed, { maxItems: 1, waitTimeSeconds: 2 })).json).toEqual([]);
    expect((await read(alice, feed, { extend: [{ receiptHandle: 'x', visibilityTimeout: 43_201 }] })).status).toBe(400);
    expect((await read(alice, feed, { maxItems: 11 })).status).toBe(400);
    expect((await read(alice, feed, { delete: Array.from({ length: 11 }, () => ({ receiptHandle: 'x' })) })).status).toBe(400);
  });

  it('long-polls until a message arrives', async () => {
    const feed = (await upsert(alice, 'poll', [{ partitionHash, sortKeyPrefix: 'p/' }])).json.hash as string;
    const started = Date.now();
    const reading = read(alice, feed, { maxItems: 5, waitTimeSeconds: 10 });
    await new Promise((r) => setTimeout(r, 300));
    await put('p/1');
    const got = await reading;
    expect(got.json).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is for the owner only; a deleted feed is gone', async () => {
    const feed = (await upsert(alice, 'private')).json.hash as string;
    expect((await read(bob, feed, { maxItems: 1 })).status).toBe(403);
    expect((await call(sandbox, 'DELETE', `/object/v1/feeds/${feed}`, { headers: bob.headers })).status).toBe(403);
    expect((await call(sandbox, 'DELETE', `/object/v1/feeds/${feed}`, { headers: alice.headers })).status).toBe(204);
    expect((await read(alice, feed, { maxItems: 1 })).status).toBe(404);
    expect((await call(sandbox, 'DELETE', `/object/v1/feeds/${feed}`, { headers: alice.headers })).status).toBe(404);
  });

  it('queues nothing for an owner who may no longer read the partition', async () => {
    const own = await call(sandbox, 'POST', '/object/v1/partitions/upsert', {
      headers: bot.headers, json: { partitionId: { name: 'revocable', userId: bot.userId }, userPermissions: [{ userId: alice.userId, permissions: ['READ'] }] },
    });
    const feed = (await upsert(alice, 'revoked', [{ partitionHash: own.json.hash }])).json.hash as string;
    await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: bot.headers, json: { partitionId: { name: 'revocable', userId: bot.userId }, userPermissions: [] } });
    await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: bot.headers, json: object('r/1', { partitionHash: own.json.hash }) });
    expect(sandbox.store.queuedFeedMessages(feed)).toBe(0);
  });

  it('answers 403 "This feature is disabled for your pod." without the entitlement', async () => {
    const feed = (await upsert(alice, 'entitled')).json.hash as string;
    await sandbox.admin.setObjectStoreEntitlement(false);
    try {
      const refused = await read(alice, feed, { maxItems: 1 });
      expect(refused.status).toBe(403);
      expect(refused.json.message).toBe('This feature is disabled for your pod.');
    } finally {
      await sandbox.admin.setObjectStoreEntitlement(true);
    }
  });
});

describe('partition users', () => {
  it('pages the owner first, then the users granted something, by user id', async () => {
    const own = await call(sandbox, 'POST', '/object/v1/partitions/upsert', {
      headers: bot.headers,
      json: { partitionId: { name: 'crowd', userId: bot.userId }, userPermissions: [{ userId: bob.userId, permissions: ['READ'] }, { userId: alice.userId, permissions: ['READ', 'WRITE'] }] },
    });
    const users: unknown[] = [];
    let after: string | null = null;
    do {
      const page = await call(sandbox, 'GET', `/object/v1/partitions/${own.json.hash}/users?limit=1${after === null ? '' : `&after=${after}`}`, { headers: bot.headers });
      expect(page.json.data).toHaveLength(1);
      users.push(...page.json.data);
      after = page.json.pagination.cursors.after;
    } while (after !== null);
    expect(users).toEqual([
      { userId: bot.userId, permissions: ['READ', 'WRITE'] },
      ...[{ userId: alice.userId, permissions: ['READ', 'WRITE'] }, { userId: bob.userId, permissions: ['READ'] }].sort((a, b) => a.userId - b.userId),
    ]);
  });
});

describe('persistence', () => {
  it('keeps feeds and unacknowledged messages across a restart; acknowledged ones stay gone; a feed unused for its expiry is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allegro-feeds-'));
    try {
      let s = await startSandbox({ dataDir: dir });
      let b = await login(s, 'sandbox-bot');
      let a = await login(s, 'alice');
      const thread = await firstStream(s, b, 'ROOM');
      const p = (await call(s, 'POST', '/object/v1/partitions/upsert', { headers: b.headers, json: { partitionId: { name: 'durable' }, userPermissions: [{ userId: a.userId, permissions: ['READ'] }] } })).json.hash;
      const feed = (await call(s, 'POST', '/object/v1/feeds/upsert', { headers: a.headers, json: { feedId: { name: 'durable' }, partitionSelections: [{ partitionHash: p }] } })).json.hash;
      const stale = (await call(s, 'POST', '/object/v1/feeds/upsert', { headers: a.headers, json: { feedId: { name: 'stale' }, partitionSelections: [{ partitionHash: p }], expiryTime: 60_000 } })).json.hash;
      for (const k of ['k1', 'k2']) {
        await call(s, 'PUT', `/object/v1/objects/${hash()}`, { headers: b.headers, json: { partitionHash: p, sortKey: k, threadId: thread, rotationId: 0, encryptedPayload: randomBytes(40).toString('base64') } });
      }
      const got = (await call(s, 'POST', FEED(feed), { headers: a.headers, json: { maxItems: 10 } })).json;
      const k1 = got.find((m: { payload: { sortKey: string } }) => m.payload.sortKey === 'k1');
      await call(s, 'POST', FEED(feed), { headers: a.headers, json: { maxItems: 0, delete: [{ receiptHandle: k1.receiptHandle }] } });
      await s.close();
      // A minute and more of disuse for the feed "stale", without waiting for it.
      const db = new Database(join(dir, 'sandbox.db'));
      db.prepare('UPDATE object_feeds SET last_used_at = last_used_at - 61000 WHERE hash = ?').run(stale);
      db.close();
      s = await startSandbox({ dataDir: dir });
      b = await login(s, 'sandbox-bot');
      a = await login(s, 'alice');
      // k2 was read but not acknowledged: after the restart it is visible again at once.
      const after = (await call(s, 'POST', FEED(feed), { headers: a.headers, json: { maxItems: 10 } })).json;
      expect(after.map((m: { payload: { sortKey: string } }) => m.payload.sortKey)).toEqual(['k2']);
      expect((await call(s, 'POST', FEED(stale), { headers: a.headers, json: { maxItems: 1 } })).status).toBe(404);
      expect(s.store.counts().objectFeeds).toBe(1);
      expect(s.store.check()).toEqual([]);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
