/**
 * The pod's own row: its id and name, the Object Store entitlement, the entity key, the secrets of the tokens and
 * of the datafeed `ackId`s (docs/sandbox.md "Persistence"), and the number of the next user.
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** The pod, as stored. */
export interface Pod {
  podId: number;
  name: string;
  objectStore: boolean;
  /** Entity key (hashtags), 32 bytes. */
  entityKey: Buffer;
  /** Secret of the tokens the sandbox issues. */
  tokenSecret: Buffer;
  /** Secret of the datafeed ackIds. */
  feedSecret: Buffer;
  /** The user number (bits 0..35 of a user id) the next new user gets. */
  nextUserNumber: number;
}

interface PodRow {
  pod_id: number;
  name: string;
  object_store: number;
  entity_key: Buffer;
  token_secret: Buffer;
  feed_secret: Buffer;
  next_user_number: number;
}

/** The `pod` table. */
export class PodTable {
  readonly #get;
  readonly #insert;
  readonly #entitlement;
  readonly #nextUser;

  constructor(db: Db) {
    this.#get = db.prepare<[], PodRow>('SELECT * FROM pod WHERE id = 1');
    this.#insert = db.prepare('INSERT INTO pod (id, pod_id, name, object_store, entity_key, token_secret, feed_secret, next_user_number) VALUES (1, ?, ?, ?, ?, ?, ?, ?)');
    this.#entitlement = db.prepare('UPDATE pod SET object_store = ? WHERE id = 1');
    this.#nextUser = db.prepare('UPDATE pod SET next_user_number = max(next_user_number, ?) WHERE id = 1');
  }

  /** The pod, or undefined in a database that was never seeded. */
  get(): Pod | undefined {
    const r = this.#get.get();
    return r === undefined ? undefined : {
      podId: r.pod_id, name: r.name, objectStore: r.object_store === 1, entityKey: r.entity_key, tokenSecret: r.token_secret,
      feedSecret: r.feed_secret, nextUserNumber: r.next_user_number,
    };
  }

  /** The pod; throws in a database that was never seeded. */
  require(): Pod {
    const pod = this.get();
    if (pod === undefined) throw new Error('The sandbox database holds no pod');
    return pod;
  }

  create(tx: Tx, pod: Pod): void {
    Tx.check(tx);
    this.#insert.run(pod.podId, pod.name, pod.objectStore ? 1 : 0, pod.entityKey, pod.tokenSecret, pod.feedSecret, pod.nextUserNumber);
  }

  setObjectStore(tx: Tx, enabled: boolean): void {
    Tx.check(tx);
    this.#entitlement.run(enabled ? 1 : 0);
  }

  /** Make sure the next new user's number is above `used`. */
  useUserNumber(tx: Tx, used: number): void {
    Tx.check(tx);
    this.#nextUser.run(used + 1);
  }
}
