/**
 * The durable side of the sandbox's Object Store feeds (docs/sandbox.md §4.6, docs/protocol.md §4.6): the feeds
 * (name, owner, subscribed partitions with their sort-key prefixes, expiry) and the messages queued in each, changed
 * only by the records below, which SandboxState.apply hands to {@link ObjectFeedStore.apply}. Which messages a write
 * queues, and who is delivered what when (visibility timeouts, receipt handles: not persisted), is decided by
 * routes/feeds.ts before a record is made, so applying one is deterministic.
 */

/** A partition a feed subscribes to. */
export interface FeedSelection {
  partitionHash: string;
  /** Only sort keys that start with this ('' = all). */
  sortKeyPrefix: string;
}

/** An Object Store feed. */
export interface ObjectFeedState {
  hash: string;
  name: string;
  owner: number;
  selections: FeedSelection[];
  /** Deleted by the store after this long unread, milliseconds. */
  expiryMs: number;
  createdAt: number;
  /** Last upsert, read or acknowledgement. */
  lastUsedAt: number;
}

/** A message queued in a feed: a copy of an object version (or deletion) written to a subscribed partition. */
export interface FeedMessageState {
  messageId: string;
  /** Order of queueing within the sandbox (oldest delivered first). */
  seq: number;
  /** The stored object as `GET /object/v1/objects/{hash}` answers it, or the deletion. */
  payload: Record<string, unknown>;
}

/** The changes of feeds, as journaled. */
export type ObjectFeedRecord =
  | { t: 'objectFeed'; feed: ObjectFeedState }
  | { t: 'objectFeed.delete'; hash: string }
  | { t: 'objectFeed.messages'; messages: Array<{ feedHash: string; messageId: string; payload: Record<string, unknown> }> }
  | { t: 'objectFeed.ack'; hash: string; messageIds: string[]; at: number }
  | { t: 'objectFeed.read'; hash: string; at: number };

/** JSON form of the feeds and their queues. */
export interface ObjectFeedSnapshot {
  nextSeq: number;
  feeds: Array<ObjectFeedState & { messages: FeedMessageState[] }>;
}

/** The feeds and their queued messages. */
export class ObjectFeedStore {
  readonly feeds = new Map<string, ObjectFeedState>();
  /** Queued messages of each feed, by message id, in queueing order. */
  readonly queues = new Map<string, Map<string, FeedMessageState>>();
  #nextSeq = 1;

  /** Apply one feed record (a record of an unknown feed is ignored: the feed was deleted before it). */
  apply(r: ObjectFeedRecord): void {
    switch (r.t) {
      case 'objectFeed': {
        const existing = this.feeds.get(r.feed.hash);
        this.feeds.set(r.feed.hash, { ...r.feed, selections: r.feed.selections.map((s) => ({ ...s })), createdAt: existing?.createdAt ?? r.feed.createdAt });
        if (!this.queues.has(r.feed.hash)) this.queues.set(r.feed.hash, new Map());
        return;
      }
      case 'objectFeed.delete':
        this.feeds.delete(r.hash);
        this.queues.delete(r.hash);
        return;
      case 'objectFeed.messages':
        for (const m of r.messages) this.queues.get(m.feedHash)?.set(m.messageId, { messageId: m.messageId, seq: this.#nextSeq++, payload: m.payload });
        return;
      case 'objectFeed.ack': {
        const queue = this.queues.get(r.hash);
        for (const id of r.messageIds) queue?.delete(id);
        this.#touch(r.hash, r.at);
        return;
      }
      case 'objectFeed.read':
        this.#touch(r.hash, r.at);
        return;
    }
  }

  #touch(hash: string, at: number): void {
    const feed = this.feeds.get(hash);
    if (feed !== undefined) feed.lastUsedAt = Math.max(feed.lastUsedAt, at);
  }

  /** Whether a feed has gone unused for longer than its expiry at `now`. */
  expired(feed: ObjectFeedState, now: number): boolean {
    return now - feed.lastUsedAt > feed.expiryMs;
  }

  toSnapshot(): ObjectFeedSnapshot {
    return {
      nextSeq: this.#nextSeq,
      feeds: [...this.feeds.values()].map((f) => ({ ...f, messages: [...(this.queues.get(f.hash)?.values() ?? [])] })),
    };
  }

  static fromSnapshot(snapshot: ObjectFeedSnapshot | undefined): ObjectFeedStore {
    const store = new ObjectFeedStore();
    if (snapshot === undefined) return store;
    store.#nextSeq = snapshot.nextSeq;
    for (const { messages, ...feed } of snapshot.feeds) {
      store.feeds.set(feed.hash, feed);
      store.queues.set(feed.hash, new Map(messages.map((m) => [m.messageId, m])));
    }
    return store;
  }
}
