/**
 * Signals (agent-api-public.yaml `/v1/signals/…`; docs/sandbox.md "OBO apps"): a user's saved queries over hashtags,
 * cashtags and authors, and their subscribers (a subscription made for someone else may be `pushed`: they cannot
 * leave it).
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** A signal as stored. */
export interface Signal {
  id: string;
  owner: number;
  name: string;
  query: string;
  visibleOnProfile: boolean;
  companyWide: boolean;
  createdAt: number;
}

/** One subscriber of a signal. */
export interface SignalSubscriber {
  userId: number;
  pushed: boolean;
  subscribedAt: number;
}

interface SignalRow {
  id: string;
  owner: number;
  name: string;
  query: string;
  visible_on_profile: number;
  company_wide: number;
  created_at: number;
}

function signal(r: SignalRow): Signal {
  return { id: r.id, owner: r.owner, name: r.name, query: r.query, visibleOnProfile: r.visible_on_profile === 1, companyWide: r.company_wide === 1, createdAt: r.created_at };
}

/** The `signals` and `signal_subscribers` tables. */
export class SignalTable {
  readonly #get;
  readonly #ofUser;
  readonly #upsert;
  readonly #delete;
  readonly #subscribers;
  readonly #subscriber;
  readonly #subscribe;
  readonly #unsubscribe;

  constructor(db: Db) {
    this.#get = db.prepare<[string], SignalRow>('SELECT * FROM signals WHERE id = ?');
    this.#ofUser = db.prepare<[number, number], SignalRow>(`SELECT * FROM signals WHERE owner = ? OR id IN (SELECT signal_id FROM signal_subscribers WHERE user_id = ?)
      ORDER BY created_at, id`);
    this.#upsert = db.prepare(`INSERT INTO signals (id, owner, name, query, visible_on_profile, company_wide, created_at)
      VALUES (@id, @owner, @name, @query, @visible, @companyWide, @createdAt)
      ON CONFLICT (id) DO UPDATE SET name = @name, query = @query, visible_on_profile = @visible, company_wide = @companyWide`);
    this.#delete = db.prepare('DELETE FROM signals WHERE id = ?');
    this.#subscribers = db.prepare<[string], { user_id: number; pushed: number; subscribed_at: number }>('SELECT * FROM signal_subscribers WHERE signal_id = ? ORDER BY subscribed_at, user_id');
    this.#subscriber = db.prepare<[string, number], { user_id: number; pushed: number; subscribed_at: number }>('SELECT * FROM signal_subscribers WHERE signal_id = ? AND user_id = ?');
    this.#subscribe = db.prepare('INSERT OR IGNORE INTO signal_subscribers (signal_id, user_id, pushed, subscribed_at) VALUES (?, ?, ?, ?)');
    this.#unsubscribe = db.prepare('DELETE FROM signal_subscribers WHERE signal_id = ? AND user_id = ?');
  }

  get(id: string): Signal | undefined {
    const r = this.#get.get(id);
    return r === undefined ? undefined : signal(r);
  }

  /** The signals a user created or subscribed to, oldest first. */
  ofUser(userId: number): Signal[] {
    return this.#ofUser.all(userId, userId).map(signal);
  }

  /** Store a new signal, or a signal's new definition (its owner and creation time stay). */
  put(tx: Tx, s: Signal): void {
    Tx.check(tx);
    this.#upsert.run({ id: s.id, owner: s.owner, name: s.name, query: s.query, visible: s.visibleOnProfile ? 1 : 0, companyWide: s.companyWide ? 1 : 0, createdAt: s.createdAt });
  }

  /** Delete a signal and its subscriptions. */
  delete(tx: Tx, id: string): void {
    Tx.check(tx);
    for (const s of this.subscribers(id)) this.#unsubscribe.run(id, s.userId);
    this.#delete.run(id);
  }

  subscribers(id: string): SignalSubscriber[] {
    return this.#subscribers.all(id).map((r) => ({ userId: r.user_id, pushed: r.pushed === 1, subscribedAt: r.subscribed_at }));
  }

  subscriber(id: string, userId: number): SignalSubscriber | undefined {
    const r = this.#subscriber.get(id, userId);
    return r === undefined ? undefined : { userId: r.user_id, pushed: r.pushed === 1, subscribedAt: r.subscribed_at };
  }

  /** Subscribe a user (no change if they are already). */
  subscribe(tx: Tx, id: string, userId: number, pushed: boolean, at: number): void {
    Tx.check(tx);
    this.#subscribe.run(id, userId, pushed ? 1 : 0, at);
  }

  unsubscribe(tx: Tx, id: string, userId: number): void {
    Tx.check(tx);
    this.#unsubscribe.run(id, userId);
  }
}
