/**
 * The Agent API's kinds of feed (docs/sandbox.md "Agent API"), kept as columns of the Datafeed 2.0 `feeds` table:
 * an Agent datafeed (v5) *is* a Datafeed 2.0 feed, as on a real pod where the Agent reads the pod's datafeed for
 * its bots, so it shares the event log, the acknowledgement, the expiry and the per-user limit with the feeds
 * native clients read (./events.ts). Besides `datafeed` (the default: native and v5 feeds), a feed is `legacy`
 * (the Agent's v4 datafeed: every read acknowledges what it returns) or `datahose` (`/agent/v5/events/read`: every
 * event of the pod, read by `owner` under a `tag` and a `filter` of event types). A datahose feed's `user_id` is
 * {@link POD_WIDE}, the recipient the event log addresses every event to while such a feed is live.
 */
import { POD_WIDE, type Feed } from './events.js';
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

export { POD_WIDE };

/** What a feed is. */
export type FeedKind = 'datafeed' | 'legacy' | 'datahose';

/** A feed with its Agent columns. */
export interface AgentFeed extends Feed {
  kind: FeedKind;
  tag?: string;
  /** The user who reads a datahose feed. */
  owner?: number;
  /** A datahose feed's event types (sorted), or undefined for every type. */
  filter?: string[];
}

interface Row {
  id: string;
  user_id: number;
  created_at: number;
  ack_seq: number;
  last_read_at: number;
  kind: FeedKind;
  tag: string | null;
  owner: number | null;
  filter: string | null;
}

function agentFeed(r: Row): AgentFeed {
  const f: AgentFeed = { id: r.id, userId: r.user_id, createdAt: r.created_at, ackSeq: r.ack_seq, lastReadAt: r.last_read_at, kind: r.kind };
  if (r.tag !== null) f.tag = r.tag;
  if (r.owner !== null) f.owner = r.owner;
  if (r.filter !== null) f.filter = JSON.parse(r.filter) as string[];
  return f;
}

/** The Agent columns of `feeds`. */
export class AgentFeedTable {
  readonly #get;
  readonly #live;
  readonly #datahose;
  readonly #datahoseCount;
  readonly #mark;

  constructor(db: Db) {
    this.#get = db.prepare<[string], Row>('SELECT id, user_id, created_at, ack_seq, last_read_at, kind, tag, owner, filter FROM feeds WHERE id = ?');
    this.#live = db.prepare<[number, string, number], Row>(`SELECT id, user_id, created_at, ack_seq, last_read_at, kind, tag, owner, filter FROM feeds
      WHERE user_id = ? AND kind = ? AND last_read_at >= ? ORDER BY created_at, id`);
    this.#datahose = db.prepare<[number, string, string, number], Row>(`SELECT id, user_id, created_at, ack_seq, last_read_at, kind, tag, owner, filter FROM feeds
      WHERE owner = ? AND tag = ? AND kind = 'datahose' AND filter = ? AND last_read_at >= ? ORDER BY created_at, id LIMIT 1`);
    this.#datahoseCount = db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM feeds WHERE owner = ? AND kind = 'datahose' AND last_read_at >= ?");
    this.#mark = db.prepare('UPDATE feeds SET kind = ?, tag = ?, owner = ?, filter = ? WHERE id = ?');
  }

  get(id: string): AgentFeed | undefined {
    const r = this.#get.get(id);
    return r === undefined ? undefined : agentFeed(r);
  }

  /** A user's live feeds of one kind, oldest first. */
  live(userId: number, kind: FeedKind, liveSince: number): AgentFeed[] {
    return this.#live.all(userId, kind, liveSince).map(agentFeed);
  }

  /** The live datahose feed `owner` reads under `tag` and `filter`, if any. */
  datahose(owner: number, tag: string, filter: readonly string[] | undefined, liveSince: number): AgentFeed | undefined {
    const r = this.#datahose.get(owner, tag, JSON.stringify(filter ?? null), liveSince);
    return r === undefined ? undefined : agentFeed(r);
  }

  /** How many live datahose feeds `owner` reads. */
  datahoseCount(owner: number, liveSince: number): number {
    return this.#datahoseCount.get(owner, liveSince)!.n;
  }

  /** Set the Agent columns of a feed just created (./events.ts `createFeed`) in the same write. */
  mark(tx: Tx, feedId: string, f: { kind: FeedKind; tag?: string; owner?: number; filter?: readonly string[] }): void {
    Tx.check(tx);
    this.#mark.run(f.kind, f.tag ?? null, f.owner ?? null, f.kind === 'datahose' ? JSON.stringify(f.filter ?? null) : null, feedId);
  }
}
