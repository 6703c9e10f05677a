// Object Store feeds and partition permissions through the client, against the sandbox over HTTPS on 127.0.0.1:
// upsert (idempotent) and delete, messages for puts, updates and deletions (sort-key prefix honoured), ack on
// handler success, retry with a growing delay on failure, renewal while a handler runs long, the for-await form,
// undecryptable objects, stop and abort, and grant/revoke with paged users.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import type { FeedChange, ObjectFeed } from '../../../src/store/object-store-client.js';
import type { FeedItem } from '../../../src/store/feed.js';
import { identityConfig } from '../../helpers/client.js';
import { codeOf } from '../../helpers/errors.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;
let alice: AllegroClient;
let bob: AllegroClient;
let room: string;
let partition: string;

beforeAll(async () => {
  sandbox = await startSandbox({ config: { objectFeedVisibilitySeconds: 2 } });
  const connect = (username: string) => AllegroClient.create(identityConfig(sandbox, username));
  [bot, alice, bob] = await Promise.all([connect('sandbox-bot'), connect('alice'), connect('bob')]);
  room = await bot.pod.createRoom({ name: 'feeds' });
  await bot.pod.addMember(room, alice.userId);
  await bot.pod.addMember(room, bob.userId);
  partition = await bot.objects.partition('feed-source', { readers: [alice.userId] });
});
afterAll(async () => {
  await Promise.all([bot, alice, bob].map((c) => c?.close()));
  await sandbox?.close();
});

/** Run `feed.listen` until `until` says so (or 30 s pass), collecting what the handler saw. */
async function listenUntil(feed: ObjectFeed, handler: (item: FeedItem<FeedChange>) => void | Promise<void>, until: () => boolean, options = {}) {
  const listening = feed.listen(handler, { waitTimeSeconds: 1, retryDelaySeconds: 0, ...options });
  for (let i = 0; i < 300 && !until(); i++) await new Promise((r) => setTimeout(r, 100));
  await feed.stop();
  await listening;
}

describe('upsertFeed / deleteFeed', () => {
  it('creates a feed once, finds it again, and deletes it (a consumer of a deleted feed ends with NOT_FOUND)', async () => {
    const first = await alice.objects.upsertFeed({ name: 'watch', partitions: [partition], expirySeconds: 600 });
    const again = await alice.objects.upsertFeed({ name: 'watch', partitions: [{ partition, sortKeyPrefix: 'x/' }] });
    expect(again.hash).toBe(first.hash);
    expect(again).toMatchObject({ name: 'watch', owner: alice.userId, partitions: [{ partition, sortKeyPrefix: 'x/' }], expirySeconds: 432_000 });
    const listening = again.listen(() => undefined, { waitTimeSeconds: 1 });
    await alice.objects.deleteFeed(again);
    await expect(listening).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await codeOf(alice.objects.deleteFeed(first.hash))).toBe('NOT_FOUND');
  });

  it('refuses what the store would refuse, naming the field', async () => {
    await expect(alice.objects.upsertFeed({ name: '', partitions: [partition] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'name' });
    await expect(alice.objects.upsertFeed({ name: 'f', partitions: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'partitions' });
    await expect(alice.objects.upsertFeed({ name: 'f', partitions: [partition], expirySeconds: 59 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'expirySeconds' });
    // bob may not read the partition.
    expect(await codeOf(bob.objects.upsertFeed({ name: 'f', partitions: [partition] }))).toBe('FORBIDDEN');
    const feed = await alice.objects.upsertFeed({ name: 'options', partitions: [partition] });
    await expect(feed.listen(() => undefined, { maxItems: 11 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'options.maxItems' });
    await alice.objects.deleteFeed(feed);
  });
});

describe('listen', () => {
  it('delivers puts, updates and deletions in the subscribed partition (prefix honoured), decrypted, each once', async () => {
    const feed = await alice.objects.upsertFeed({ name: 'changes', partitions: [{ partition, sortKeyPrefix: 'order/' }] });
    const a = await bot.objects.put({ partition, sortKey: 'order/1', threadId: room, payload: { n: 1 } });
    await bot.objects.put({ partition, sortKey: 'other/1', threadId: room, payload: 'not subscribed' });
    const a2 = await bot.objects.update(a, { payload: { n: 2 } });
    await bot.objects.delete(a2, 'LOGICAL');
    const seen: string[] = [];
    await listenUntil(feed, (item) => {
      if (item.change === 'put') seen.push(`put ${item.ref.sortKey} v${item.ref.version} ${JSON.stringify(item.object?.json())}`);
      else seen.push(`delete ${item.deletion.sortKey} ${item.deletion.deletionType}`);
    }, () => seen.length >= 3);
    expect(seen.sort()).toEqual(['delete order/1 LOGICAL', 'put order/1 v1 {"n":1}', 'put order/1 v2 {"n":2}']);
    expect(feed.stats.handled).toBe(3);
    // Everything was acknowledged: a new consumer finds nothing.
    expect(sandbox.store.queuedFeedMessages(feed.hash)).toBe(0);
    await alice.objects.deleteFeed(feed);
  });

  it('retries a failing handler with a growing delay, then acknowledges it; the attempt number counts up', async () => {
    const feed = await alice.objects.upsertFeed({ name: 'retries', partitions: [partition] });
    await bot.objects.put({ partition, sortKey: 'flaky', threadId: room, payload: 'x' });
    const attempts: number[] = [];
    const errors: unknown[] = [];
    await listenUntil(feed, (item) => {
      attempts.push(item.attempt);
      if (item.attempt < 3) throw new Error('not yet');
    }, () => attempts.includes(3), { onError: (err: unknown) => errors.push(err) });
    expect(attempts).toEqual([1, 2, 3]);
    expect(errors).toHaveLength(2);
    expect(feed.stats).toMatchObject({ handled: 1, handlerFailures: 2 });
    await alice.objects.deleteFeed(feed);
  });

  it('renews the visibility of a message while its handler runs longer than the visibility timeout', async () => {
    const feed = await alice.objects.upsertFeed({ name: 'slow', partitions: [partition] });
    await bot.objects.put({ partition, sortKey: 'slow', threadId: room, payload: 'x' });
    let calls = 0;
    let done = false;
    // The sandbox hides a message for 2 s; the handler takes 4.5 s.
    await listenUntil(feed, async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 4500));
      done = true;
    }, () => done, { visibilityTimeoutSeconds: 2 });
    expect(calls).toBe(1);
    expect(feed.stats.extends).toBeGreaterThanOrEqual(3);
    expect(feed.stats.duplicatesSkipped).toBe(0);
    await alice.objects.deleteFeed(feed);
  });

  it('hands over an object it cannot decrypt with the typed error, and goes on', async () => {
    const other = await bot.pod.createRoom({ name: 'not for alice' });
    const feed = await alice.objects.upsertFeed({ name: 'poison', partitions: [partition] });
    await bot.objects.put({ partition, sortKey: 'secret', threadId: other, payload: 'x' });
    await bot.objects.put({ partition, sortKey: 'fine', threadId: room, payload: 'y' });
    const seen: string[] = [];
    await listenUntil(feed, (item) => {
      if (item.change === 'put') seen.push(item.error === undefined ? `${item.ref.sortKey} ok` : `${item.ref.sortKey} ${item.error.code}`);
    }, () => seen.length >= 2);
    expect(seen.sort()).toEqual(['fine ok', 'secret CONTENT_KEY_UNAVAILABLE']);
    await alice.objects.deleteFeed(feed);
  });

  it('stops promptly during a long poll, and on an abort signal', async () => {
    const feed = await alice.objects.upsertFeed({ name: 'idle', partitions: [partition] });
    const started = Date.now();
    const listening = feed.listen(() => undefined, { waitTimeSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    await feed.stop();
    await listening;
    const controller = new AbortController();
    const second = feed.listen(() => undefined, { waitTimeSeconds: 20, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await second;
    expect(Date.now() - started).toBeLessThan(5000);
    await alice.objects.deleteFeed(feed);
  });
});

describe('for await', () => {
  it('acknowledges each item when the loop asks for the next; break gives the current one back unless acknowledged', async () => {
    const feed = await alice.objects.upsertFeed({ name: 'loop', partitions: [partition] });
    for (const k of ['l1', 'l2', 'l3']) await bot.objects.put({ partition, sortKey: `loop/${k}`, threadId: room, payload: k });
    const seen: string[] = [];
    for await (const item of feed.items({ waitTimeSeconds: 1, maxItems: 1 })) {
      if (item.change !== 'put') continue;
      seen.push(item.ref.sortKey);
      if (seen.length === 2) break; // the second is given back
    }
    const again: string[] = [];
    for await (const item of feed.items({ waitTimeSeconds: 1 })) {
      if (item.change !== 'put') continue;
      again.push(item.ref.sortKey);
      item.ack();
      if (again.length === 2) break;
    }
    expect(new Set([...seen.slice(0, 1), ...again]).size).toBe(3);
    expect(again).toContain(seen[1]);
    for (let i = 0; i < 20 && sandbox.store.queuedFeedMessages(feed.hash) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(sandbox.store.queuedFeedMessages(feed.hash)).toBe(0);
    await alice.objects.deleteFeed(feed);
  });
});

describe('partition permissions', () => {
  it('describes a partition, pages its users, grants and revokes', async () => {
    const hash = await bot.objects.partition('shared');
    expect(await bot.objects.getPartition(hash)).toEqual({ hash, name: 'shared', owner: bot.userId });
    expect(await codeOf(bob.objects.getPartition(hash))).toBe('FORBIDDEN');
    await bot.objects.grant(hash, bob.userId, 'READ');
    expect(await bob.objects.getPartition(hash)).toMatchObject({ name: 'shared' });
    await bot.objects.grant(hash, alice.userId, ['WRITE']);
    const users = [];
    for await (const u of bot.objects.partitionUsers(hash, { pageSize: 1 })) users.push(u);
    expect(users).toEqual([
      { userId: bot.userId, permissions: ['READ', 'WRITE'] },
      ...[{ userId: alice.userId, permissions: ['READ', 'WRITE'] }, { userId: bob.userId, permissions: ['READ'] }].sort((x, y) => x.userId - y.userId),
    ]);
    // alice may write now; bob may not.
    await alice.objects.put({ partition: hash, sortKey: 'by-alice', threadId: room, payload: 1 });
    expect(await codeOf(bob.objects.put({ partition: hash, sortKey: 'by-bob', threadId: room, payload: 1 }))).toBe('FORBIDDEN');
    await bot.objects.revoke(hash, alice.userId, 'WRITE');
    expect(await codeOf(alice.objects.put({ partition: hash, sortKey: 'again', threadId: room, payload: 1 }))).toBe('FORBIDDEN');
    expect((await alice.objects.getBySortKey(hash, 'by-alice')).json()).toBe(1);
    await bot.objects.revoke(hash, alice.userId);
    expect(await codeOf(alice.objects.getPartition(hash))).toBe('FORBIDDEN');
    await bot.objects.revoke(hash, bob.userId, 'READ');
    const left = [];
    for await (const u of bot.objects.partitionUsers(hash)) left.push(u.userId);
    expect(left).toEqual([bot.userId]);
  });

  it('refuses changes the bot may not make, naming the parameter', async () => {
    const hash = await bot.objects.partition('mine');
    await expect(alice.objects.grant(hash, bob.userId, 'READ')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await bot.objects.grant(hash, alice.userId, 'READ');
    await expect(alice.objects.grant(hash, bob.userId, 'READ')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'partition' });
    await expect(bot.objects.revoke(hash, bot.userId)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'userId' });
    await expect(bot.objects.grant(hash, alice.userId, 'ADMIN' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'permissions' });
    await expect(bot.objects.grant(hash, -1, 'READ')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'userId' });
  });
});
