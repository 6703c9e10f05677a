/**
 * Users and bots with their Key Manager keys (key pair, account key) and presence, and the connection requests
 * between users (docs/sandbox.md "Persistence").
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** A user or bot of the pod. */
export interface User {
  id: number;
  username: string;
  displayName: string;
  email: string;
  type: 'NORMAL' | 'SYSTEM';
  /** RSA public key (SPKI PEM) registered for JWT login; undefined = certificate login only. */
  loginPublicKeyPem?: string;
  /** The user's Key Manager key pair (`GET /relay/keys/me`), PEM. */
  kmPublicKeyPem: string;
  kmPrivateKeyPem: string;
  /** Account key, rotation 0, 32 bytes. */
  accountKey: Buffer;
  /** The user's wall (POST) stream, used by Symphony as the salt thread of hashtag search tokens. */
  wallStreamId: string;
  presence: { category: string; timestamp: number };
}

/** A connection request between two users. */
export interface Connection {
  from: number;
  to: number;
  status: 'PENDING' | 'ACCEPTED' | 'REJECTED';
  firstRequestedAt: number;
  updatedAt: number;
  requestCounter: number;
}

interface UserRow {
  id: number;
  username: string;
  display_name: string;
  email: string;
  type: 'NORMAL' | 'SYSTEM';
  login_public_key: string | null;
  km_public_key: string;
  km_private_key: string;
  account_key: Buffer;
  wall_stream_id: string;
  presence: string;
  presence_at: number;
}

interface ConnectionRow {
  from_user: number;
  to_user: number;
  status: Connection['status'];
  first_requested_at: number;
  updated_at: number;
  request_counter: number;
}

function user(r: UserRow): User {
  return {
    id: r.id, username: r.username, displayName: r.display_name, email: r.email, type: r.type,
    ...(r.login_public_key === null ? {} : { loginPublicKeyPem: r.login_public_key }),
    kmPublicKeyPem: r.km_public_key, kmPrivateKeyPem: r.km_private_key, accountKey: r.account_key, wallStreamId: r.wall_stream_id,
    presence: { category: r.presence, timestamp: r.presence_at },
  };
}

function connection(r: ConnectionRow): Connection {
  return { from: r.from_user, to: r.to_user, status: r.status, firstRequestedAt: r.first_requested_at, updatedAt: r.updated_at, requestCounter: r.request_counter };
}

/** The `users` and `connections` tables. */
export class UserTable {
  readonly #byId;
  readonly #byName;
  readonly #byEmail;
  readonly #all;
  readonly #count;
  readonly #insert;
  readonly #presence;
  readonly #connection;
  readonly #connectionsOf;
  readonly #upsertConnection;
  readonly #restoreConnection;
  readonly #removeConnection;

  constructor(db: Db) {
    this.#byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
    this.#byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username_key = ?');
    this.#byEmail = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email_key = ? ORDER BY id LIMIT 1');
    this.#all = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY id');
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');
    this.#insert = db.prepare(`INSERT INTO users (id, username, username_key, display_name, email, email_key, type, login_public_key, km_public_key,
      km_private_key, account_key, wall_stream_id, presence, presence_at) VALUES (@id, @username, @usernameKey, @displayName, @email, @emailKey, @type,
      @login, @kmPublic, @kmPrivate, @accountKey, @wall, @presence, @presenceAt)`);
    this.#presence = db.prepare('UPDATE users SET presence = ?, presence_at = ? WHERE id = ?');
    this.#connection = db.prepare<[number, number], ConnectionRow>('SELECT * FROM connections WHERE from_user = ? AND to_user = ?');
    this.#connectionsOf = db.prepare<[number, number], ConnectionRow>('SELECT * FROM connections WHERE from_user = ? UNION ALL SELECT * FROM connections WHERE to_user = ? ORDER BY 1, 2');
    this.#upsertConnection = db.prepare(`INSERT INTO connections (from_user, to_user, status, first_requested_at, updated_at, request_counter)
      VALUES (@from, @to, @status, @at, @at, @pending)
      ON CONFLICT (from_user, to_user) DO UPDATE SET status = @status, updated_at = @at, request_counter = request_counter + @pending`);
    this.#restoreConnection = db.prepare('INSERT INTO connections (from_user, to_user, status, first_requested_at, updated_at, request_counter) VALUES (?, ?, ?, ?, ?, ?)');
    this.#removeConnection = db.prepare('DELETE FROM connections WHERE (from_user = ? AND to_user = ?) OR (from_user = ? AND to_user = ?)');
  }

  get(id: number): User | undefined {
    const r = Number.isSafeInteger(id) ? this.#byId.get(id) : undefined;
    return r === undefined ? undefined : user(r);
  }

  /** The user with this username, case-insensitively. */
  byName(username: string): User | undefined {
    const r = this.#byName.get(username.toLowerCase());
    return r === undefined ? undefined : user(r);
  }

  /** The first user with this e-mail address, case-insensitively. */
  byEmail(email: string): User | undefined {
    const r = this.#byEmail.get(email.toLowerCase());
    return r === undefined ? undefined : user(r);
  }

  /** Every user, by id (inspection, migration). */
  all(): User[] {
    return this.#all.all().map(user);
  }

  count(): number {
    return this.#count.get()!.n;
  }

  insert(tx: Tx, u: User): void {
    Tx.check(tx);
    this.#insert.run({
      id: u.id, username: u.username, usernameKey: u.username.toLowerCase(), displayName: u.displayName, email: u.email, emailKey: u.email.toLowerCase(),
      type: u.type, login: u.loginPublicKeyPem ?? null, kmPublic: u.kmPublicKeyPem, kmPrivate: u.kmPrivateKeyPem, accountKey: u.accountKey,
      wall: u.wallStreamId, presence: u.presence.category, presenceAt: u.presence.timestamp,
    });
  }

  setPresence(tx: Tx, userId: number, category: string, at: number): void {
    Tx.check(tx);
    this.#presence.run(category, at, userId);
  }

  /** The request from `from` to `to`, if any. */
  connection(from: number, to: number): Connection | undefined {
    const r = this.#connection.get(from, to);
    return r === undefined ? undefined : connection(r);
  }

  /** Every request a user sent or received. */
  connectionsOf(userId: number): Connection[] {
    return this.#connectionsOf.all(userId, userId).map(connection);
  }

  /** Store a connection as it was (migration). */
  restoreConnection(tx: Tx, c: Connection): void {
    Tx.check(tx);
    this.#restoreConnection.run(c.from, c.to, c.status, c.firstRequestedAt, c.updatedAt, c.requestCounter);
  }

  /** Forget the connection between two users, whichever asked. */
  removeConnection(tx: Tx, a: number, b: number): void {
    Tx.check(tx);
    this.#removeConnection.run(a, b, b, a);
  }

  /** Record a request (PENDING, counted) or its answer. */
  setConnection(tx: Tx, from: number, to: number, status: Connection['status'], at: number): void {
    Tx.check(tx);
    this.#upsertConnection.run({ from, to, status, at, pending: status === 'PENDING' ? 1 : 0 });
  }
}
