/**
 * The event log and the Datafeed 2.0 feeds that read it (docs/sandbox.md "Datafeed 2.0" and "Persistence"). One row per event in
 * `events` (kind, initiator, time, stream, affected user; a message event references its `messages` row instead of
 * copying it), and one row per (recipient, event) in `event_recipients`, so that a feed read is one indexed range
 * query from its cursor. The columns are the facts, not the wire shape: later readers (the Agent API's V4 events)
 * can read the same log.
 *
 * What is kept: an event is addressed only to the recipients that have a live feed when it is logged (a new feed
 * starts at "now", as Symphony's does, so a user with no feed needs nothing kept); a recipient's rows go once every
 * live feed of theirs has acknowledged them (or the feeds were deleted or expired), and an event goes with its last
 * recipient row, whatever other users' feeds still hold. Pruning is bounded per call ({@link PRUNE_BATCH} rows) and
 * finished by {@link EventLog.sweep}.
 *
 * Long polls wait per user ({@link EventLog.waitFor}) and are woken only after a commit that logged an event for
 * their user.
 */
import { Tx } from './transaction.js';
import { Waiters } from './waiters.js';
import type { Db } from './sqlite.js';
import type { Message } from './messages.js';

/** The room and conversation events Symphony's datafeed calls MAESTRO. */
export type MaestroKind =
  | 'CREATE_ROOM' | 'CREATE_IM' | 'UPDATE_ROOM' | 'DEACTIVATE_ROOM' | 'REACTIVATE_ROOM' | 'JOIN_ROOM' | 'LEAVE_ROOM' | 'PROMOTE_OWNER' | 'DEMOTE_OWNER';

/**
 * Events the Agent API's datafeed names that are not about a stream's membership or attributes: connection
 * requests and their acceptance (no stream; addressed to the two users), a message's suppression, and a Symphony
 * Elements form submitted (docs/sandbox.md "Agent API").
 */
export type OtherEventKind = 'CONNECTION_REQUESTED' | 'CONNECTION_ACCEPTED' | 'MESSAGE_SUPPRESSED' | 'ELEMENTS_ACTION';

/**
 * What happened: a message was sent, a MAESTRO event, or one of the others. The log stores any kind, with its
 * stream, affected user and a small payload as columns.
 */
export type EventKind = 'SOCIALMESSAGE' | MaestroKind | OtherEventKind;

/** One logged event. */
export interface LoggedEvent {
  seq: number;
  kind: EventKind;
  initiator: number;
  timestamp: number;
  /** The conversation it happened in; absent for an event of none (such as a connection request). */
  streamId?: string;
  /** The member an event is about (joined, left, promoted, demoted). */
  affectedUserId?: number;
  /** The message of a SOCIALMESSAGE event. */
  message?: Message;
  /** What else the event carries that its columns do not say, as small JSON. */
  payload?: Record<string, unknown>;
}

/**
 * The recipient the log addresses every event to while a datahose feed is live (./agent-feeds.ts, the Agent's
 * `/v5/events/read`): no user has id 0.
 */
export const POD_WIDE = 0;

/** An event to log: a {@link LoggedEvent} without its number, naming its message by row number. */
export type NewEvent = Omit<LoggedEvent, 'seq' | 'message'> & { messageSeq?: number };

/** A Datafeed 2.0 feed. */
export interface Feed {
  id: string;
  userId: number;
  createdAt: number;
  /** Highest event sequence number acknowledged; events after it are (re-)delivered. */
  ackSeq: number;
  lastReadAt: number;
}

/** Rows one pruning call deletes at most (the sweep goes on where it stopped). */
export const PRUNE_BATCH = 20_000;

interface EventRow {
  seq: number;
  kind: EventKind;
  initiator: number;
  ts: number;
  stream_id: string | null;
  affected_user: number | null;
  message_seq: number | null;
  payload: string | null;
  m_id: string | null;
  m_stream: string | null;
  m_from: number | null;
  m_date: number | null;
  m_payload: string | null;
}

interface FeedRow {
  id: string;
  user_id: number;
  created_at: number;
  ack_seq: number;
  last_read_at: number;
}

function feed(r: FeedRow): Feed {
  return { id: r.id, userId: r.user_id, createdAt: r.created_at, ackSeq: r.ack_seq, lastReadAt: r.last_read_at };
}

function event(r: EventRow): LoggedEvent {
  const e: LoggedEvent = { seq: r.seq, kind: r.kind, initiator: r.initiator, timestamp: r.ts };
  if (r.stream_id !== null) e.streamId = r.stream_id;
  if (r.affected_user !== null) e.affectedUserId = r.affected_user;
  if (r.payload !== null) e.payload = JSON.parse(r.payload) as Record<string, unknown>;
  if (r.message_seq !== null && r.m_id !== null) {
    e.message = {
      seq: r.message_seq, messageId: r.m_id, streamId: r.m_stream!, fromUserId: r.m_from!, ingestionDate: r.m_date!,
      posted: JSON.parse(r.m_payload!) as Record<string, unknown>,
    };
  }
  return e;
}

/** The `events`, `event_recipients` and `feeds` tables, and the long polls waiting on them. */
export class EventLog {
  readonly #waiters = new Waiters<number>();
  readonly #lastSeq;
  readonly #recipients;
  readonly #insertEvent;
  readonly #withLiveFeed;
  readonly #insertRecipient;
  readonly #forUser;
  readonly #count;
  readonly #countRecipients;
  readonly #feed;
  readonly #feedsOf;
  readonly #feedCount;
  readonly #insertFeed;
  readonly #deleteFeed;
  readonly #ack;
  readonly #minLiveAck;
  readonly #pruneUser;
  readonly #expired;
  readonly #recipientUsers;
  readonly #dropIfOrphan;
  readonly #hasFeed;
  readonly #restoreEvent;
  readonly #setSequence;
  readonly #insertSequence;

  constructor(db: Db) {
    this.#lastSeq = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    this.#recipients = db.prepare<[string, number], { user_id: number }>(`SELECT DISTINCT m.user_id FROM members m JOIN feeds f ON f.user_id = m.user_id
      WHERE m.stream_id = ? AND f.last_read_at >= ?`);
    this.#insertEvent = db.prepare('INSERT INTO events (kind, initiator, ts, stream_id, affected_user, message_seq, payload) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#withLiveFeed = db.prepare<[number, number], { id: string }>('SELECT id FROM feeds WHERE user_id = ? AND last_read_at >= ? LIMIT 1');
    this.#insertRecipient = db.prepare('INSERT INTO event_recipients (user_id, seq) VALUES (?, ?)');
    this.#forUser = db.prepare<[number, number, number, number], EventRow>(`SELECT e.*, m.id AS m_id, m.stream_id AS m_stream, m.from_user AS m_from,
      m.ingestion_date AS m_date, m.payload AS m_payload
      FROM event_recipients r JOIN events e ON e.seq = r.seq LEFT JOIN messages m ON m.seq = e.message_seq
      WHERE r.user_id = ? AND r.seq > ? AND r.seq <= ? ORDER BY r.seq LIMIT ?`);
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');
    this.#countRecipients = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM event_recipients');
    this.#feed = db.prepare<[string], FeedRow>('SELECT * FROM feeds WHERE id = ?');
    this.#feedsOf = db.prepare<[number, number], FeedRow>('SELECT * FROM feeds WHERE user_id = ? AND last_read_at >= ? ORDER BY created_at, id');
    this.#feedCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM feeds');
    this.#insertFeed = db.prepare('INSERT INTO feeds (id, user_id, created_at, ack_seq, last_read_at) VALUES (?, ?, ?, ?, ?)');
    this.#deleteFeed = db.prepare('DELETE FROM feeds WHERE id = ?');
    this.#ack = db.prepare('UPDATE feeds SET ack_seq = max(ack_seq, ?), last_read_at = ? WHERE id = ?');
    this.#minLiveAck = db.prepare<[number, number], { seq: number | null }>('SELECT min(ack_seq) AS seq FROM feeds WHERE user_id = ? AND last_read_at >= ?');
    this.#pruneUser = db.prepare<{ user: number; upTo: number; budget: number }, { seq: number }>(`DELETE FROM event_recipients WHERE user_id = @user AND seq IN
      (SELECT seq FROM event_recipients WHERE user_id = @user AND seq <= @upTo ORDER BY seq LIMIT @budget) RETURNING seq`);
    this.#dropIfOrphan = db.prepare<[number, number]>('DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM event_recipients WHERE seq = ?)');
    this.#expired = db.prepare<[number], FeedRow>('SELECT * FROM feeds WHERE last_read_at < ?');
    // Distinct recipients without reading every row: a skip scan over the primary key.
    this.#recipientUsers = db.prepare<[], { id: number }>(`WITH RECURSIVE u(id) AS (
      SELECT min(user_id) FROM event_recipients
      UNION ALL SELECT (SELECT min(user_id) FROM event_recipients WHERE user_id > u.id) FROM u WHERE u.id IS NOT NULL)
      SELECT id FROM u WHERE id IS NOT NULL`);
    this.#hasFeed = db.prepare<[number], { id: string }>('SELECT id FROM feeds WHERE user_id = ? LIMIT 1');
    this.#restoreEvent = db.prepare('INSERT INTO events (seq, kind, initiator, ts, stream_id, affected_user, message_seq, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.#setSequence = db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'events'");
    this.#insertSequence = db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)");
  }

  /** Sequence number of the newest event ever logged (0 when none). */
  lastSeq(): number {
    return this.#lastSeq.get()?.seq ?? 0;
  }

  /**
   * Log an event addressed to `to` (default: the current members of its stream) that have a feed live since
   * `liveSince`; nothing is logged when none has. Wakes their long polls after the commit. Returns the event's
   * sequence number, if logged.
   */
  append(tx: Tx, e: NewEvent, liveSince: number, to?: readonly number[]): number | undefined {
    Tx.check(tx);
    const recipients = to === undefined
      ? (e.streamId === undefined ? [] : this.#recipients.all(e.streamId, liveSince).map((r) => r.user_id))
      : [...new Set(to)].filter((id) => this.#withLiveFeed.get(id, liveSince) !== undefined);
    // While a datahose feed is live, every event is also addressed to the pod-wide recipient.
    if (this.#withLiveFeed.get(POD_WIDE, liveSince) !== undefined) recipients.push(POD_WIDE);
    if (recipients.length === 0) return undefined;
    const seq = Number(this.#insertEvent.run(e.kind, e.initiator, e.timestamp, e.streamId ?? null, e.affectedUserId ?? null, e.messageSeq ?? null,
      e.payload === undefined ? null : JSON.stringify(e.payload)).lastInsertRowid);
    for (const userId of recipients) this.#insertRecipient.run(userId, seq);
    tx.afterCommit(() => this.#waiters.wake(recipients));
    return seq;
  }

  /** Events for `userId` after `afterSeq` (and at most `upToSeq`), oldest first, at most `limit`. */
  forUser(userId: number, afterSeq: number, limit: number, upToSeq = Number.MAX_SAFE_INTEGER): LoggedEvent[] {
    return this.#forUser.all(userId, afterSeq, upToSeq, limit).map(event);
  }

  count(): { events: number; recipients: number } {
    return { events: this.#count.get()!.n, recipients: this.#countRecipients.get()!.n };
  }

  feed(id: string): Feed | undefined {
    const r = this.#feed.get(id);
    return r === undefined ? undefined : feed(r);
  }

  /** A user's feeds read since `liveSince`, oldest first. */
  liveFeeds(userId: number, liveSince: number): Feed[] {
    return this.#feedsOf.all(userId, liveSince).map(feed);
  }

  /** Every feed row, live or expired but not yet swept. */
  feedCount(): number {
    return this.#feedCount.get()!.n;
  }

  /** A new feed, starting after the newest event. */
  createFeed(tx: Tx, id: string, userId: number, at: number): Feed {
    Tx.check(tx);
    const f: Feed = { id, userId, createdAt: at, ackSeq: this.lastSeq(), lastReadAt: at };
    this.#insertFeed.run(f.id, f.userId, f.createdAt, f.ackSeq, f.lastReadAt);
    return f;
  }

  deleteFeed(tx: Tx, f: Feed, liveSince: number): void {
    Tx.check(tx);
    this.#deleteFeed.run(f.id);
    this.pruneUser(tx, f.userId, liveSince);
  }

  /** Move a feed's acknowledged position forward (never back) and note the read; prunes what it makes deliverable by no feed. */
  acknowledge(tx: Tx, f: Feed, ackSeq: number, at: number, liveSince: number): void {
    Tx.check(tx);
    this.#ack.run(ackSeq, at, f.id);
    this.pruneUser(tx, f.userId, liveSince);
  }

  /**
   * Delete up to {@link PRUNE_BATCH} of a user's rows that no live feed of theirs can deliver any more, and the
   * events that no one is left to receive; returns how many rows went.
   */
  pruneUser(tx: Tx, userId: number, liveSince: number, budget = PRUNE_BATCH): number {
    Tx.check(tx);
    const upTo = this.#minLiveAck.get(userId, liveSince)?.seq ?? this.lastSeq();
    const pruned = this.#pruneUser.all({ user: userId, upTo, budget });
    for (const { seq } of pruned) this.#dropIfOrphan.run(seq, seq);
    return pruned.length;
  }

  /**
   * Delete feeds not read since `liveSince`, then up to {@link PRUNE_BATCH} rows no live feed can deliver (and the
   * events they leave without a recipient). Returns true when it stopped at the budget (call again soon).
   */
  sweep(tx: Tx, liveSince: number): boolean {
    Tx.check(tx);
    for (const f of this.#expired.all(liveSince)) this.#deleteFeed.run(f.id);
    let budget = PRUNE_BATCH;
    for (const { id } of this.#recipientUsers.all()) {
      budget -= this.pruneUser(tx, id, liveSince, budget);
      if (budget <= 0) return true;
    }
    return false;
  }

  /** True when the user has a feed row (migration: every feed counts). */
  hasFeed(userId: number): boolean {
    return this.#hasFeed.get(userId) !== undefined;
  }

  /** Store a feed as it was (migration). */
  restoreFeed(tx: Tx, f: Feed): void {
    Tx.check(tx);
    this.#insertFeed.run(f.id, f.userId, f.createdAt, f.ackSeq, f.lastReadAt);
  }

  /** Store an event under the sequence number it had (migration). */
  restoreEvent(tx: Tx, e: NewEvent & { seq: number }, recipients: readonly number[]): void {
    Tx.check(tx);
    this.#restoreEvent.run(e.seq, e.kind, e.initiator, e.timestamp, e.streamId ?? null, e.affectedUserId ?? null, e.messageSeq ?? null,
      e.payload === undefined ? null : JSON.stringify(e.payload));
    for (const userId of recipients) this.#insertRecipient.run(userId, e.seq);
  }

  /** Make the next event's sequence number follow `lastSeq` (migration). */
  restoreSequence(tx: Tx, lastSeq: number): void {
    Tx.check(tx);
    if (this.#setSequence.run(lastSeq).changes === 0) this.#insertSequence.run(lastSeq);
  }

  /**
   * Wait until an event for `userId` commits, `ms` pass or `signal` aborts. Only commits that logged an event for
   * this user wake it.
   */
  waitFor(userId: number, ms: number, signal: AbortSignal): Promise<void> {
    return this.#waiters.wait(userId, ms, signal);
  }

  /** How many long polls wait (inspection). */
  waiting(): number {
    return this.#waiters.count();
  }
}
