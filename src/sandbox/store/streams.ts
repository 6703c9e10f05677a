/**
 * Conversations (IM, MIM, room, a user's wall), their members, and their content keys by rotation
 * (docs/sandbox.md "Persistence"). An IM or MIM also carries its conversation key (type and sorted member ids), by
 * which `/pod/v1/im/create` finds an existing one.
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** A conversation. */
export interface Stream {
  id: string;
  type: 'IM' | 'MIM' | 'ROOM' | 'POST';
  createdBy: number;
  createdAt: number;
  active: boolean;
  /** Room attributes as given at creation or update (V3RoomAttributes); empty for other types. */
  attributes: Record<string, unknown>;
  /** The current rotation id, decimal. */
  currentRotation: string;
  lastMessageDate: number;
}

/** One member of a stream. */
export interface Member {
  userId: number;
  owner: boolean;
  joinDate: number;
}

interface StreamRow {
  id: string;
  type: Stream['type'];
  created_by: number;
  created_at: number;
  active: number;
  attributes: string;
  current_rotation: string;
  last_message_date: number;
}

function stream(r: StreamRow): Stream {
  return {
    id: r.id, type: r.type, createdBy: r.created_by, createdAt: r.created_at, active: r.active === 1,
    attributes: JSON.parse(r.attributes) as Record<string, unknown>, currentRotation: r.current_rotation, lastMessageDate: r.last_message_date,
  };
}

/** The conversation key of an IM or MIM with these members. */
export function conversationKey(type: 'IM' | 'MIM', members: readonly number[]): string {
  return `${type}:${[...members].sort((a, b) => a - b).join(',')}`;
}

/** The `streams`, `members` and `rotations` tables. */
export class StreamTable {
  readonly #get;
  readonly #byConversation;
  readonly #count;
  readonly #ofUser;
  readonly #insert;
  readonly #update;
  readonly #touch;
  readonly #setRotation;
  readonly #members;
  readonly #member;
  readonly #upsertMember;
  readonly #removeMember;
  readonly #rotationKey;
  readonly #rotations;
  readonly #addRotation;

  constructor(db: Db) {
    this.#get = db.prepare<[string], StreamRow>('SELECT * FROM streams WHERE id = ?');
    this.#byConversation = db.prepare<[string], StreamRow>('SELECT * FROM streams WHERE conversation_key = ? ORDER BY created_at LIMIT 1');
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM streams');
    this.#ofUser = db.prepare<[number], StreamRow>('SELECT s.* FROM members m JOIN streams s ON s.id = m.stream_id WHERE m.user_id = ? ORDER BY s.created_at, s.id');
    this.#insert = db.prepare(`INSERT INTO streams (id, type, created_by, created_at, active, attributes, current_rotation, last_message_date, conversation_key)
      VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`);
    this.#update = db.prepare('UPDATE streams SET attributes = coalesce(?, attributes), active = coalesce(?, active) WHERE id = ?');
    this.#touch = db.prepare('UPDATE streams SET last_message_date = ? WHERE id = ?');
    this.#setRotation = db.prepare('UPDATE streams SET current_rotation = ? WHERE id = ?');
    this.#members = db.prepare<[string], { user_id: number; owner: number; join_date: number }>('SELECT user_id, owner, join_date FROM members WHERE stream_id = ? ORDER BY join_date, user_id');
    this.#member = db.prepare<[string, number], { owner: number; join_date: number }>('SELECT owner, join_date FROM members WHERE stream_id = ? AND user_id = ?');
    this.#upsertMember = db.prepare(`INSERT INTO members (stream_id, user_id, owner, join_date) VALUES (?, ?, ?, ?)
      ON CONFLICT (stream_id, user_id) DO UPDATE SET owner = excluded.owner`);
    this.#removeMember = db.prepare('DELETE FROM members WHERE stream_id = ? AND user_id = ?');
    this.#rotationKey = db.prepare<[string, string], { content_key: Buffer }>('SELECT content_key FROM rotations WHERE stream_id = ? AND rotation_id = ?');
    this.#rotations = db.prepare<[string], { rotation_id: string }>('SELECT rotation_id FROM rotations WHERE stream_id = ?');
    this.#addRotation = db.prepare('INSERT INTO rotations (stream_id, rotation_id, content_key) VALUES (?, ?, ?)');
  }

  get(id: string): Stream | undefined {
    const r = this.#get.get(id);
    return r === undefined ? undefined : stream(r);
  }

  /** The oldest IM or MIM with this conversation key. */
  byConversation(key: string): Stream | undefined {
    const r = this.#byConversation.get(key);
    return r === undefined ? undefined : stream(r);
  }

  count(): number {
    return this.#count.get()!.n;
  }

  /** The streams a user is a member of, oldest first (`/pod/v1/streams/list` pages in creation order). */
  ofUser(userId: number): Stream[] {
    return this.#ofUser.all(userId).map(stream);
  }

  /** Create a stream with its members and its first content key. */
  insert(tx: Tx, s: Stream, members: readonly Member[], contentKey: Buffer, conversation: string | undefined): void {
    Tx.check(tx);
    this.#insert.run(s.id, s.type, s.createdBy, s.createdAt, JSON.stringify(s.attributes), s.currentRotation, s.lastMessageDate, conversation ?? null);
    for (const m of members) this.#upsertMember.run(s.id, m.userId, m.owner ? 1 : 0, m.joinDate);
    this.#addRotation.run(s.id, s.currentRotation, contentKey);
  }

  update(tx: Tx, id: string, change: { attributes?: Record<string, unknown>; active?: boolean }): void {
    Tx.check(tx);
    this.#update.run(change.attributes === undefined ? null : JSON.stringify(change.attributes), change.active === undefined ? null : change.active ? 1 : 0, id);
  }

  setLastMessageDate(tx: Tx, id: string, at: number): void {
    Tx.check(tx);
    this.#touch.run(at, id);
  }

  members(streamId: string): Member[] {
    return this.#members.all(streamId).map((r) => ({ userId: r.user_id, owner: r.owner === 1, joinDate: r.join_date }));
  }

  /** The membership of one user, if a member. */
  member(streamId: string, userId: number): Member | undefined {
    const r = Number.isSafeInteger(userId) ? this.#member.get(streamId, userId) : undefined;
    return r === undefined ? undefined : { userId, owner: r.owner === 1, joinDate: r.join_date };
  }

  /** Add a member, or change an existing member's owner flag. */
  setMember(tx: Tx, streamId: string, m: Member): void {
    Tx.check(tx);
    this.#upsertMember.run(streamId, m.userId, m.owner ? 1 : 0, m.joinDate);
  }

  removeMember(tx: Tx, streamId: string, userId: number): void {
    Tx.check(tx);
    this.#removeMember.run(streamId, userId);
  }

  /** The content key of a rotation. */
  contentKey(streamId: string, rotationId: string): Buffer | undefined {
    return this.#rotationKey.get(streamId, rotationId)?.content_key;
  }

  /** The stream's rotation ids. */
  rotations(streamId: string): string[] {
    return this.#rotations.all(streamId).map((r) => r.rotation_id);
  }

  /** Add a rotation and make it current. */
  rotate(tx: Tx, streamId: string, rotationId: string, contentKey: Buffer): void {
    this.addRotation(tx, streamId, rotationId, contentKey);
    this.#setRotation.run(rotationId, streamId);
  }

  /** Add a rotation without making it current (migration of older rotations). */
  addRotation(tx: Tx, streamId: string, rotationId: string, contentKey: Buffer): void {
    Tx.check(tx);
    this.#addRotation.run(streamId, rotationId, contentKey);
  }
}
