/** Who follows whom (pod-api-public.yaml `/v1/user/{uid}/follow`, `…/unfollow`, `…/followers`). */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** The `follows` table. */
export class FollowTable {
  readonly #followers;
  readonly #follow;
  readonly #unfollow;

  constructor(db: Db) {
    this.#followers = db.prepare<[number], { follower_id: number }>('SELECT follower_id FROM follows WHERE user_id = ? ORDER BY followed_at, follower_id');
    this.#follow = db.prepare('INSERT OR IGNORE INTO follows (user_id, follower_id, followed_at) VALUES (?, ?, ?)');
    this.#unfollow = db.prepare('DELETE FROM follows WHERE user_id = ? AND follower_id = ?');
  }

  /** The followers of a user, in the order they followed. */
  followers(userId: number): number[] {
    return this.#followers.all(userId).map((r) => r.follower_id);
  }

  /** `follower` follows `userId` (no change if already). */
  follow(tx: Tx, userId: number, follower: number, at: number): void {
    Tx.check(tx);
    this.#follow.run(userId, follower, at);
  }

  unfollow(tx: Tx, userId: number, follower: number): void {
    Tx.check(tx);
    this.#unfollow.run(userId, follower);
  }
}
