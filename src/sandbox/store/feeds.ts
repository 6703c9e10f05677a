/**
 * The Object Store feeds' data (docs/sandbox.md "Object Store"): the feeds (`object_feeds`: name, owner, subscribed
 * partitions with their sort-key prefixes, expiry, last use) and the messages queued in each
 * (`object_feed_messages`, in queueing order). Which writes queue a message, and who is delivered what when
 * (visibility timeouts and receipt handles, kept in memory), is routes/feeds.ts's. Long polls wait per feed
 * ({@link ObjectFeedTable.waitFor}) and are woken after a commit that queued a message in their feed.
 */
import { Tx } from './transaction.js';
import { Waiters } from './waiters.js';
import type { Db } from './sqlite.js';

/** A partition a feed subscribes to. */
export interface FeedSelection {
  partitionHash: string;
  /** Only sort keys that start with this ('' = all). */
  sortKeyPrefix: string;
}

/** An Object Store feed. */
export interface ObjectFeed {
  hash: string;
  name: string;
  owner: number;
  selections: FeedSelection[];
  /** Deleted by the store after this long unused (no upsert, read or acknowledgement), milliseconds. */
  expiryMs: number;
  createdAt: number;
  lastUsedAt: number;
}

/** A message queued in a feed: a copy of an object version (or deletion) written to a subscribed partition. */
export interface FeedMessage {
  messageId: string;
  /** The stored object as `GET /object/v1/objects/{hash}` answers it, or the deletion. */
  payload: Record<string, unknown>;
}

interface FeedRow {
  hash: string;
  name: string;
  owner: number;
  selections: string;
  expiry_ms: number;
  created_at: number;
  last_used_at: number;
}

function feedOf(r: FeedRow): ObjectFeed {
  return {
    hash: r.hash, name: r.name, owner: r.owner, selections: JSON.parse(r.selections) as FeedSelection[], expiryMs: r.expiry_ms,
    createdAt: r.created_at, lastUsedAt: r.last_used_at,
  };
}

/** Rows fetched per batch when a feed's queue is scanned. */
const SCAN_BATCH = 64;

/** The `object_feeds` and `object_feed_messages` tables. */
export class ObjectFeedTable {
  readonly #waiters = new Waiters<string>();
  readonly #feed;
  readonly #all;
  readonly #upsert;
  readonly #delete;
  readonly #deleteMessages;
  readonly #touch;
  readonly #insertMessage;
  readonly #scan;
  readonly #hasMessage;
  readonly #deleteMessage;
  readonly #countQueued;
  readonly #countFeeds;
  readonly #countAll;

  constructor(db: Db) {
    this.#feed = db.prepare<[string], FeedRow>('SELECT * FROM object_feeds WHERE hash = ?');
    this.#all = db.prepare<[], FeedRow>('SELECT * FROM object_feeds ORDER BY hash');
    this.#upsert = db.prepare(`INSERT INTO object_feeds (hash, name, owner, selections, expiry_ms, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET selections = excluded.selections, expiry_ms = excluded.expiry_ms, last_used_at = excluded.last_used_at`);
    this.#delete = db.prepare('DELETE FROM object_feeds WHERE hash = ?');
    this.#deleteMessages = db.prepare('DELETE FROM object_feed_messages WHERE feed_hash = ?');
    this.#touch = db.prepare('UPDATE object_feeds SET last_used_at = max(last_used_at, ?) WHERE hash = ?');
    this.#insertMessage = db.prepare('INSERT INTO object_feed_messages (feed_hash, message_id, payload) VALUES (?, ?, ?)');
    this.#scan = db.prepare<[string, number, number], { seq: number; message_id: string; payload: string }>(
      'SELECT seq, message_id, payload FROM object_feed_messages WHERE feed_hash = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.#hasMessage = db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM object_feed_messages WHERE feed_hash = ? AND message_id = ?');
    this.#deleteMessage = db.prepare('DELETE FROM object_feed_messages WHERE feed_hash = ? AND message_id = ?');
    this.#countQueued = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM object_feed_messages WHERE feed_hash = ?');
    this.#countFeeds = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM object_feeds');
    this.#countAll = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM object_feed_messages');
  }

  feed(hash: string): ObjectFeed | undefined {
    const r = this.#feed.get(hash);
    return r === undefined ? undefined : feedOf(r);
  }

  /** Every feed (expired ones included: the caller checks {@link expired}). */
  all(): ObjectFeed[] {
    return this.#all.all().map(feedOf);
  }

  /** Whether a feed has gone unused for longer than its expiry at `now`. */
  expired(feed: ObjectFeed, now: number): boolean {
    return now - feed.lastUsedAt > feed.expiryMs;
  }

  /** Create a feed, or replace its subscriptions and expiry (its queue and creation time are kept). */
  upsert(tx: Tx, feed: ObjectFeed): void {
    Tx.check(tx);
    this.#upsert.run(feed.hash, feed.name, feed.owner, JSON.stringify(feed.selections), feed.expiryMs, feed.createdAt, feed.lastUsedAt);
  }

  /** Delete a feed and its queue. */
  delete(tx: Tx, hash: string): void {
    Tx.check(tx);
    this.#deleteMessages.run(hash);
    this.#delete.run(hash);
  }

  /** Note a use (read or acknowledgement) of a feed at `at`. */
  touch(tx: Tx, hash: string, at: number): void {
    Tx.check(tx);
    this.#touch.run(at, hash);
  }

  /** Queue a message; long polls of the feed wake once the transaction has committed. */
  enqueue(tx: Tx, feedHash: string, message: FeedMessage): void {
    Tx.check(tx);
    this.#insertMessage.run(feedHash, message.messageId, JSON.stringify(message.payload));
    tx.afterCommit(() => this.#waiters.wake([feedHash]));
  }

  /** The queued messages of a feed, oldest first, read in batches as the caller iterates. */
  *messages(feedHash: string): Generator<FeedMessage> {
    let after = 0;
    for (;;) {
      const rows = this.#scan.all(feedHash, after, SCAN_BATCH);
      for (const r of rows) yield { messageId: r.message_id, payload: JSON.parse(r.payload) as Record<string, unknown> };
      if (rows.length < SCAN_BATCH) return;
      after = rows.at(-1)!.seq;
    }
  }

  has(feedHash: string, messageId: string): boolean {
    return this.#hasMessage.get(feedHash, messageId)!.n > 0;
  }

  /** Remove acknowledged messages. */
  acknowledge(tx: Tx, feedHash: string, messageIds: readonly string[]): void {
    Tx.check(tx);
    for (const id of messageIds) this.#deleteMessage.run(feedHash, id);
  }

  /** How many messages a feed holds. */
  queued(feedHash: string): number {
    return this.#countQueued.get(feedHash)!.n;
  }

  /** How many feeds there are. */
  count(): number {
    return this.#countFeeds.get()!.n;
  }

  /** How many messages all feeds hold. */
  queuedAll(): number {
    return this.#countAll.get()!.n;
  }

  /** Wait up to `ms` for a message queued in the feed, or until `signal` fires. */
  waitFor(feedHash: string, ms: number, signal: AbortSignal): Promise<void> {
    return this.#waiters.wait(feedHash, ms, signal);
  }
}
