// The Object Store feeds' tables: upsert keeps the queue and the creation time, messages in queueing order (past
// one read batch), acknowledgements, touch never moves back, expiry, delete with its queue, and long polls woken
// only after the commit that queued a message in their feed.
import { describe, expect, it } from 'vitest';
import type { ObjectFeed } from '../../../../src/sandbox/store/feeds.js';
import { storeWithUsers, T0, U1 } from '../../../helpers/sandbox-store.js';

const feed = (over: Partial<ObjectFeed> = {}): ObjectFeed => ({
  hash: 'F', name: 'orders', owner: U1, selections: [{ partitionHash: 'P', sortKeyPrefix: '' }], expiryMs: 60_000, createdAt: T0, lastUsedAt: T0, ...over,
});

describe('ObjectFeedTable', () => {
  it('queues messages in order, past one read batch, and acknowledges them', async () => {
    const store = await storeWithUsers();
    const { objectFeeds } = store;
    await store.write((tx) => {
      objectFeeds.upsert(tx, feed());
      for (let i = 0; i < 150; i++) objectFeeds.enqueue(tx, 'F', { messageId: `m${i}`, payload: { i } });
    });
    const all = [...objectFeeds.messages('F')];
    expect(all.map((m) => m.payload.i)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(objectFeeds.has('F', 'm7')).toBe(true);
    await store.write((tx) => objectFeeds.acknowledge(tx, 'F', ['m7', 'unknown']));
    expect(objectFeeds.has('F', 'm7')).toBe(false);
    expect(objectFeeds.queued('F')).toBe(149);
    expect(store.view().queuedFeedMessages('F')).toBe(149);
    expect(store.counts()).toMatchObject({ objectFeeds: 1, objectFeedMessages: 149 });
    store.close();
  });

  it('keeps the queue and the creation time on a second upsert; delete removes both', async () => {
    const store = await storeWithUsers();
    const { objectFeeds } = store;
    await store.write((tx) => {
      objectFeeds.upsert(tx, feed());
      objectFeeds.enqueue(tx, 'F', { messageId: 'm1', payload: {} });
    });
    await store.write((tx) => objectFeeds.upsert(tx, feed({ createdAt: T0 + 9, lastUsedAt: T0 + 9, expiryMs: 120_000, selections: [{ partitionHash: 'Q', sortKeyPrefix: 'x' }] })));
    expect(objectFeeds.feed('F')).toEqual(feed({ lastUsedAt: T0 + 9, expiryMs: 120_000, selections: [{ partitionHash: 'Q', sortKeyPrefix: 'x' }] }));
    expect(objectFeeds.queued('F')).toBe(1);
    await store.write((tx) => objectFeeds.delete(tx, 'F'));
    expect([objectFeeds.feed('F'), objectFeeds.queued('F'), objectFeeds.count()]).toEqual([undefined, 0, 0]);
    expect(store.check()).toEqual([]);
    store.close();
  });

  it('expires a feed unused for longer than its expiry; a touch keeps it alive and never moves its time back', async () => {
    const store = await storeWithUsers();
    const { objectFeeds } = store;
    await store.write((tx) => objectFeeds.upsert(tx, feed()));
    expect(objectFeeds.expired(objectFeeds.feed('F')!, T0 + 60_000)).toBe(false);
    expect(objectFeeds.expired(objectFeeds.feed('F')!, T0 + 60_001)).toBe(true);
    await store.write((tx) => {
      objectFeeds.touch(tx, 'F', T0 + 50_000);
      objectFeeds.touch(tx, 'F', T0 + 40_000);
    });
    expect(objectFeeds.feed('F')!.lastUsedAt).toBe(T0 + 50_000);
    expect(objectFeeds.expired(objectFeeds.feed('F')!, T0 + 100_000)).toBe(false);
    store.close();
  });

  it('wakes a long poll of a feed after the commit that queued a message in it, not before, and not for another feed', async () => {
    const store = await storeWithUsers();
    const { objectFeeds } = store;
    await store.write((tx) => {
      objectFeeds.upsert(tx, feed());
      objectFeeds.upsert(tx, feed({ hash: 'G' }));
    });
    const controller = new AbortController();
    let woken = false;
    const waiting = objectFeeds.waitFor('F', 10_000, controller.signal).then(() => { woken = true; });
    await store.write((tx) => objectFeeds.enqueue(tx, 'G', { messageId: 'g', payload: {} }));
    await new Promise((r) => setTimeout(r, 20));
    expect(woken).toBe(false);
    const committed = store.write((tx) => {
      objectFeeds.enqueue(tx, 'F', { messageId: 'f', payload: {} });
      expect(woken).toBe(false);
    });
    await committed;
    await waiting;
    expect(woken).toBe(true);
    // A signal ends a wait at once.
    controller.abort();
    await objectFeeds.waitFor('F', 10_000, controller.signal);
    store.close();
  });
});
