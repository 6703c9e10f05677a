/**
 * What happens to a message after it is sent (docs/sandbox.md "Agent API"): an update (`/agent/v4/stream/{sid}/
 * message/{mid}/update`) stores a new message that names the one it replaces (the SocialMessage's `replacing`), and
 * `message_replacements` answers the other way, which message replaced this one (`V4Message.replacedBy`); a
 * suppression (`/pod/v1/admin/messagesuppression/{id}/suppress`) is a row of `message_suppressions`. Messages
 * themselves stay immutable (./messages.ts).
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** A message's suppression. */
export interface Suppression {
  messageId: string;
  by: number;
  at: number;
}

/** The `message_replacements` and `message_suppressions` tables. */
export class MessageEditTable {
  readonly #replacedBy;
  readonly #replace;
  readonly #suppression;
  readonly #suppress;

  constructor(db: Db) {
    this.#replacedBy = db.prepare<[string], { replacement: string }>('SELECT replacement FROM message_replacements WHERE original = ?');
    this.#replace = db.prepare('INSERT INTO message_replacements (original, replacement) VALUES (?, ?) ON CONFLICT (original) DO UPDATE SET replacement = excluded.replacement');
    this.#suppression = db.prepare<[string], { message_id: string; by_user: number; at: number }>('SELECT * FROM message_suppressions WHERE message_id = ?');
    this.#suppress = db.prepare('INSERT INTO message_suppressions (message_id, by_user, at) VALUES (?, ?, ?) ON CONFLICT (message_id) DO NOTHING');
  }

  /** The id of the message that replaced `messageId` (the latest update), if any. */
  replacedBy(messageId: string): string | undefined {
    return this.#replacedBy.get(messageId)?.replacement;
  }

  /** Note that `replacement` replaces `original`. */
  replace(tx: Tx, original: string, replacement: string): void {
    Tx.check(tx);
    this.#replace.run(original, replacement);
  }

  suppression(messageId: string): Suppression | undefined {
    const r = this.#suppression.get(messageId);
    return r === undefined ? undefined : { messageId: r.message_id, by: r.by_user, at: r.at };
  }

  /** Suppress a message; returns false when it already was. */
  suppress(tx: Tx, s: Suppression): boolean {
    Tx.check(tx);
    return this.#suppress.run(s.messageId, s.by, s.at).changes === 1;
  }
}
