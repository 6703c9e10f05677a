// The durable side of the sandbox's Object Store feeds: records applied in order (upsert keeps the queue and the
// creation time, messages queue only in live feeds, acks remove them, reads and acks keep the feed alive), expiry,
// and the snapshot round trip.
import { describe, expect, it } from 'vitest';
import { ObjectFeedStore, type ObjectFeedState } from '../../../src/sandbox/object-feeds.js';

const feed = (over: Partial<ObjectFeedState> = {}): ObjectFeedState => ({
  hash: 'F', name: 'orders', owner: 7, selections: [{ partitionHash: 'P', sortKeyPrefix: '' }], expiryMs: 60_000, createdAt: 1000, lastUsedAt: 1000, ...over,
});

describe('ObjectFeedStore', () => {
  it('queues messages in live feeds only, in order, and acknowledges them', () => {
    const store = new ObjectFeedStore();
    store.apply({ t: 'objectFeed', feed: feed() });
    store.apply({ t: 'objectFeed.messages', messages: [{ feedHash: 'F', messageId: 'm1', payload: { a: 1 } }, { feedHash: 'gone', messageId: 'x', payload: {} }, { feedHash: 'F', messageId: 'm2', payload: { a: 2 } }] });
    expect([...store.queues.get('F')!.values()].map((m) => [m.messageId, m.seq])).toEqual([['m1', 1], ['m2', 2]]);
    expect(store.queues.has('gone')).toBe(false);
    store.apply({ t: 'objectFeed.ack', hash: 'F', messageIds: ['m1', 'unknown'], at: 5000 });
    expect([...store.queues.get('F')!.keys()]).toEqual(['m2']);
    expect(store.feeds.get('F')!.lastUsedAt).toBe(5000);
  });

  it('keeps the queue and the creation time when a feed is upserted again; delete removes both', () => {
    const store = new ObjectFeedStore();
    store.apply({ t: 'objectFeed', feed: feed() });
    store.apply({ t: 'objectFeed.messages', messages: [{ feedHash: 'F', messageId: 'm1', payload: {} }] });
    store.apply({ t: 'objectFeed', feed: feed({ createdAt: 9000, lastUsedAt: 9000, selections: [{ partitionHash: 'Q', sortKeyPrefix: 'x' }] }) });
    expect(store.feeds.get('F')).toMatchObject({ createdAt: 1000, lastUsedAt: 9000, selections: [{ partitionHash: 'Q', sortKeyPrefix: 'x' }] });
    expect(store.queues.get('F')!.size).toBe(1);
    store.apply({ t: 'objectFeed.delete', hash: 'F' });
    expect(store.feeds.size + store.queues.size).toBe(0);
    // Records of a deleted feed change nothing.
    store.apply({ t: 'objectFeed.read', hash: 'F', at: 1 });
    store.apply({ t: 'objectFeed.ack', hash: 'F', messageIds: ['m1'], at: 1 });
    expect(store.feeds.size).toBe(0);
  });

  it('expires a feed unused for longer than its expiry; a read keeps it alive, and never moves its time back', () => {
    const store = new ObjectFeedStore();
    store.apply({ t: 'objectFeed', feed: feed() });
    const f = store.feeds.get('F')!;
    expect(store.expired(f, 61_000)).toBe(false);
    expect(store.expired(f, 61_001)).toBe(true);
    store.apply({ t: 'objectFeed.read', hash: 'F', at: 50_000 });
    store.apply({ t: 'objectFeed.read', hash: 'F', at: 40_000 });
    expect(store.expired(f, 100_000)).toBe(false);
    expect(f.lastUsedAt).toBe(50_000);
  });

  it('round-trips through its snapshot, sequence included', () => {
    const store = new ObjectFeedStore();
    store.apply({ t: 'objectFeed', feed: feed() });
    store.apply({ t: 'objectFeed.messages', messages: [{ feedHash: 'F', messageId: 'm1', payload: { a: 1 } }] });
    const copy = ObjectFeedStore.fromSnapshot(JSON.parse(JSON.stringify(store.toSnapshot())));
    expect(copy.toSnapshot()).toEqual(store.toSnapshot());
    copy.apply({ t: 'objectFeed.messages', messages: [{ feedHash: 'F', messageId: 'm2', payload: {} }] });
    expect(copy.queues.get('F')!.get('m2')!.seq).toBe(2);
    expect(ObjectFeedStore.fromSnapshot(undefined).feeds.size).toBe(0);
  });
});
