/**
 * Revoked tokens (docs/sandbox.md "Tokens"), kept until the tokens they cover have expired, so that a logout
 * survives a restart. A revocation names a subject and a time: the tokens of that subject issued before the time
 * are refused. Subjects: `session:<sid>` (a login session and every token obtained with it) and `km:<userId>` (the
 * Key Manager tokens of a user).
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** The `revocations` table. */
export class RevocationTable {
  readonly #issuedBefore;
  readonly #upsert;
  readonly #prune;

  constructor(db: Db) {
    this.#issuedBefore = db.prepare<[string], { issued_before: number }>('SELECT issued_before FROM revocations WHERE subject = ?');
    this.#upsert = db.prepare(`INSERT INTO revocations (subject, issued_before, expires) VALUES (?, ?, ?)
      ON CONFLICT (subject) DO UPDATE SET issued_before = max(issued_before, excluded.issued_before), expires = max(expires, excluded.expires)`);
    this.#prune = db.prepare('DELETE FROM revocations WHERE expires < ?');
  }

  /** True when a token of `subject` issued at `issuedAt` (ms) is revoked. */
  isRevoked(subject: string, issuedAt: number): boolean {
    const r = this.#issuedBefore.get(subject);
    return r !== undefined && issuedAt < r.issued_before;
  }

  /** Revoke the tokens of `subject` issued before `issuedBefore`, until `expires` (ms; when they have all expired). */
  revoke(tx: Tx, subject: string, issuedBefore: number, expires: number): void {
    Tx.check(tx);
    this.#upsert.run(subject, issuedBefore, expires);
  }

  /** Forget revocations whose tokens have all expired. */
  prune(tx: Tx, now: number): void {
    Tx.check(tx);
    this.#prune.run(now);
  }
}
