/**
 * The agent host's embedded storage: {@link AgentHostStore} (./types.ts) on SQLite, in one file of the host's data
 * directory (docs/agent-host.md "Storage"). It opens the database through the repository's one better-sqlite3
 * adapter (sandbox/store/sqlite.ts: WAL, synchronous=FULL, an exclusive lock held by one process, 0600), so a second
 * host on the same data directory fails at once; leases are therefore granted to this process alone (those of the previous process are
 * expired on open), but still fenced by generation like the shared backend's. Each method runs in one transaction; waiters are woken after
 * the commit. The schema is versioned with `PRAGMA user_version`.
 */
import { openDatabase, type Db } from '../../sandbox/store/sqlite.js';
import { toAgent, toChannel, toEvent, toThrottle, type AgentRow, type ChannelRow, type EventRow, type ThrottleRow } from './rows.js';
import {
  ConflictError, LeaseLostError, type ActivationState, type AgentHostStore, type AgentLease, type AgentStatus, type DatafeedCursor,
  type EventWindow, type HostEvent, type NewHostEvent, type StoredAgent, type StoredChannel,
  type StoredThrottle, type StoredToken, type StoredUser,
} from './types.js';

/** The migrations; `MIGRATIONS[i]` takes a database from version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE super_user (id INTEGER PRIMARY KEY CHECK (id = 1), user_name TEXT NOT NULL, password_hash TEXT NOT NULL);
  CREATE TABLE users (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, user_name_key TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
  CREATE TABLE agents (
    id TEXT PRIMARY KEY, user_name TEXT NOT NULL, identity TEXT NOT NULL, users TEXT NOT NULL,
    can_provision INTEGER NOT NULL, provisioning_mode INTEGER NOT NULL, management_mode INTEGER NOT NULL
  );
  CREATE TABLE agent_status (
    agent_id TEXT PRIMARY KEY, state INTEGER NOT NULL, last_error TEXT, next_attempt_at INTEGER, instance_id TEXT NOT NULL
  );
  CREATE TABLE channels (
    agent_id TEXT NOT NULL, channel_id TEXT NOT NULL, state INTEGER NOT NULL, reason TEXT, stream_id TEXT, display_name TEXT,
    PRIMARY KEY (agent_id, channel_id)
  ) WITHOUT ROWID;
  CREATE TABLE metadata (agent_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (agent_id, key)) WITHOUT ROWID;
  CREATE TABLE throttles (id TEXT PRIMARY KEY, type INTEGER NOT NULL, threshold INTEGER NOT NULL, interval_ms INTEGER NOT NULL, agents TEXT NOT NULL);
  CREATE TABLE tokens (hash TEXT PRIMARY KEY, username TEXT NOT NULL, agent_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
  CREATE INDEX tokens_by_expiry ON tokens (expires_at);
  CREATE TABLE events (
    agent_id TEXT NOT NULL, event_id INTEGER NOT NULL, instance_id TEXT NOT NULL, type TEXT NOT NULL, channel_id TEXT,
    local INTEGER NOT NULL, time INTEGER NOT NULL, body TEXT NOT NULL, source_id TEXT,
    PRIMARY KEY (agent_id, event_id)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX events_by_source ON events (agent_id, source_id) WHERE source_id IS NOT NULL;
  CREATE TABLE event_marks (agent_id TEXT PRIMARY KEY, last_event_id INTEGER NOT NULL, pruned_through INTEGER NOT NULL);
  CREATE TABLE cursors (agent_id TEXT PRIMARY KEY, feed_id TEXT NOT NULL, ack_id TEXT NOT NULL);
  CREATE TABLE leases (agent_id TEXT PRIMARY KEY, owner TEXT NOT NULL, generation INTEGER NOT NULL, expires_at INTEGER NOT NULL);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) throw new Error(`The agent host database has schema version ${version}; this host knows versions up to ${MIGRATIONS.length}`);
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Open the agent host's SQLite store at `path` (created if needed), or an in-memory one without a path. Throws
 * the adapter's DatabaseLockedError when another process holds the file.
 */
export function openSqliteStore(path?: string): AgentHostStore {
  const db = openDatabase(path);
  try {
    migrate(db);
    // The exclusive lock proves that no other process uses this database: every lease left is a dead host's.
    db.prepare('UPDATE leases SET expires_at = 0').run();
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db);
}

class SqliteStore implements AgentHostStore {
  readonly #db: Db;
  readonly #watchers = new Map<string, Set<() => void>>();
  #closed = false;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Run `fn` in one transaction (an exception rolls it back). */
  #tx<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The agent host store is closed'));
    try {
      return Promise.resolve(this.#db.transaction(fn).immediate());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Throw {@link LeaseLostError} unless `lease` is the agent's current lease. */
  #fence(lease: AgentLease): void {
    const row = this.#db.prepare('SELECT owner, generation FROM leases WHERE agent_id = ?').get(lease.agentId) as { owner: string; generation: number } | undefined;
    if (row === undefined || row.owner !== lease.owner || row.generation !== lease.generation) throw new LeaseLostError(lease.agentId);
  }

  getSuperUser(): Promise<{ userName: string; passwordHash: string } | undefined> {
    return this.#tx(() => {
      const row = this.#db.prepare('SELECT user_name, password_hash FROM super_user WHERE id = 1').get() as { user_name: string; password_hash: string } | undefined;
      return row === undefined ? undefined : { userName: row.user_name, passwordHash: row.password_hash };
    });
  }

  setSuperUser(userName: string, passwordHash: string): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare('INSERT INTO super_user (id, user_name, password_hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, password_hash = excluded.password_hash').run(userName, passwordHash);
    });
  }

  listUsers(): Promise<StoredUser[]> {
    return this.#tx(() => (this.#db.prepare('SELECT id, user_name AS userName, password_hash AS passwordHash FROM users ORDER BY id').all() as StoredUser[]));
  }

  getUser(id: string): Promise<StoredUser | undefined> {
    return this.#tx(() => this.#db.prepare('SELECT id, user_name AS userName, password_hash AS passwordHash FROM users WHERE id = ?').get(id) as StoredUser | undefined);
  }

  findUserByName(userName: string): Promise<StoredUser | undefined> {
    return this.#tx(() => this.#db.prepare('SELECT id, user_name AS userName, password_hash AS passwordHash FROM users WHERE user_name_key = ?').get(userName.toLowerCase()) as StoredUser | undefined);
  }

  putUser(user: StoredUser): Promise<void> {
    return this.#tx(() => {
      const holder = this.#db.prepare('SELECT id FROM users WHERE user_name_key = ?').get(user.userName.toLowerCase()) as { id: string } | undefined;
      if (holder !== undefined && holder.id !== user.id) throw new ConflictError(`The user name ${user.userName} is taken by user ${holder.id}`);
      this.#db.prepare(`INSERT INTO users (id, user_name, user_name_key, password_hash) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, user_name_key = excluded.user_name_key, password_hash = excluded.password_hash`)
        .run(user.id, user.userName, user.userName.toLowerCase(), user.passwordHash);
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return this.#tx(() => {
      const deleted = this.#db.prepare('DELETE FROM users WHERE id = ?').run(id).changes > 0;
      if (deleted) {
        for (const row of this.#db.prepare('SELECT id, users FROM agents').all() as { id: string; users: string }[]) {
          const users = JSON.parse(row.users) as string[];
          if (users.includes(id)) this.#db.prepare('UPDATE agents SET users = ? WHERE id = ?').run(JSON.stringify(users.filter((u) => u !== id)), row.id);
        }
      }
      return deleted;
    });
  }

  listAgents(): Promise<StoredAgent[]> {
    return this.#tx(() => (this.#db.prepare('SELECT * FROM agents ORDER BY id').all() as AgentRow[]).map(toAgent));
  }

  getAgent(id: string): Promise<StoredAgent | undefined> {
    return this.#tx(() => {
      const row = this.#db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as AgentRow | undefined;
      return row === undefined ? undefined : toAgent(row);
    });
  }

  putAgent(agent: StoredAgent): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare(`INSERT INTO agents (id, user_name, identity, users, can_provision, provisioning_mode, management_mode) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, identity = excluded.identity, users = excluded.users,
        can_provision = excluded.can_provision, provisioning_mode = excluded.provisioning_mode, management_mode = excluded.management_mode`)
        .run(agent.id, agent.userName, JSON.stringify(agent.identity), JSON.stringify(agent.users), agent.canProvision ? 1 : 0, agent.provisioningMode, agent.managementMode);
    });
  }

  deleteAgent(id: string): Promise<boolean> {
    return this.#tx(() => {
      const deleted = this.#db.prepare('DELETE FROM agents WHERE id = ?').run(id).changes > 0;
      for (const table of ['agent_status', 'channels', 'metadata', 'events', 'event_marks', 'cursors', 'leases']) {
        this.#db.prepare(`DELETE FROM ${table} WHERE agent_id = ?`).run(id);
      }
      for (const row of this.#db.prepare('SELECT id, agents FROM throttles').all() as { id: string; agents: string }[]) {
        const agents = JSON.parse(row.agents) as string[];
        if (agents.includes(id)) this.#db.prepare('UPDATE throttles SET agents = ? WHERE id = ?').run(JSON.stringify(agents.filter((a) => a !== id)), row.id);
      }
      return deleted;
    });
  }

  getStatus(agentId: string): Promise<AgentStatus | undefined> {
    return this.#tx(() => {
      const row = this.#db.prepare('SELECT state, last_error, next_attempt_at, instance_id FROM agent_status WHERE agent_id = ?').get(agentId) as
        { state: number; last_error: string | null; next_attempt_at: number | null; instance_id: string } | undefined;
      if (row === undefined) return undefined;
      return {
        state: row.state as ActivationState, instanceId: row.instance_id, ...(row.last_error === null ? {} : { lastError: row.last_error }),
        ...(row.next_attempt_at === null ? {} : { nextAttemptAt: row.next_attempt_at }),
      };
    });
  }

  setStatus(lease: AgentLease, status: AgentStatus): Promise<void> {
    return this.#tx(() => {
      this.#fence(lease);
      this.#db.prepare(`INSERT INTO agent_status (agent_id, state, last_error, next_attempt_at, instance_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at, instance_id = excluded.instance_id`)
        .run(lease.agentId, status.state, status.lastError ?? null, status.nextAttemptAt ?? null, status.instanceId);
    });
  }

  listChannels(agentId: string): Promise<StoredChannel[]> {
    return this.#tx(() => (this.#db.prepare('SELECT * FROM channels WHERE agent_id = ? ORDER BY channel_id').all(agentId) as ChannelRow[]).map(toChannel));
  }

  getChannel(agentId: string, channelId: string): Promise<StoredChannel | undefined> {
    return this.#tx(() => {
      const row = this.#db.prepare('SELECT * FROM channels WHERE agent_id = ? AND channel_id = ?').get(agentId, channelId) as ChannelRow | undefined;
      return row === undefined ? undefined : toChannel(row);
    });
  }

  #writeChannel(channel: StoredChannel): void {
    this.#db.prepare(`INSERT INTO channels (agent_id, channel_id, state, reason, stream_id, display_name) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (agent_id, channel_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, stream_id = excluded.stream_id, display_name = excluded.display_name`)
      .run(channel.agentId, channel.channelId, channel.state, channel.reason ?? null, channel.streamId ?? null, channel.displayName ?? null);
  }

  putChannel(channel: StoredChannel): Promise<void> {
    return this.#tx(() => this.#writeChannel(channel));
  }

  updateChannel(lease: AgentLease, channel: StoredChannel): Promise<boolean> {
    return this.#tx(() => {
      this.#fence(lease);
      if (this.#db.prepare('SELECT 1 FROM channels WHERE agent_id = ? AND channel_id = ?').get(channel.agentId, channel.channelId) === undefined) return false;
      this.#writeChannel(channel);
      return true;
    });
  }

  deleteChannel(agentId: string, channelId: string): Promise<boolean> {
    return this.#tx(() => this.#db.prepare('DELETE FROM channels WHERE agent_id = ? AND channel_id = ?').run(agentId, channelId).changes > 0);
  }

  getMetadata(agentId: string): Promise<Map<string, string>> {
    return this.#tx(() => new Map((this.#db.prepare('SELECT key, value FROM metadata WHERE agent_id = ? ORDER BY key').all(agentId) as { key: string; value: string }[]).map((r) => [r.key, r.value])));
  }

  setMetadata(agentId: string, entries: ReadonlyMap<string, string>): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare('DELETE FROM metadata WHERE agent_id = ?').run(agentId);
      const insert = this.#db.prepare('INSERT INTO metadata (agent_id, key, value) VALUES (?, ?, ?)');
      for (const [key, value] of entries) insert.run(agentId, key, value);
    });
  }

  putMetadataValue(agentId: string, key: string, value: string): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare('INSERT INTO metadata (agent_id, key, value) VALUES (?, ?, ?) ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value').run(agentId, key, value);
    });
  }

  deleteMetadataValue(agentId: string, key: string): Promise<boolean> {
    return this.#tx(() => this.#db.prepare('DELETE FROM metadata WHERE agent_id = ? AND key = ?').run(agentId, key).changes > 0);
  }

  listThrottles(): Promise<StoredThrottle[]> {
    return this.#tx(() => (this.#db.prepare('SELECT * FROM throttles ORDER BY id').all() as ThrottleRow[]).map(toThrottle));
  }

  getThrottle(id: string): Promise<StoredThrottle | undefined> {
    return this.#tx(() => {
      const row = this.#db.prepare('SELECT * FROM throttles WHERE id = ?').get(id) as ThrottleRow | undefined;
      return row === undefined ? undefined : toThrottle(row);
    });
  }

  putThrottle(throttle: StoredThrottle): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare(`INSERT INTO throttles (id, type, threshold, interval_ms, agents) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET type = excluded.type, threshold = excluded.threshold, interval_ms = excluded.interval_ms, agents = excluded.agents`)
        .run(throttle.id, throttle.type, throttle.threshold, throttle.intervalMs, JSON.stringify(throttle.agents));
    });
  }

  deleteThrottle(id: string): Promise<boolean> {
    return this.#tx(() => this.#db.prepare('DELETE FROM throttles WHERE id = ?').run(id).changes > 0);
  }

  putToken(token: StoredToken): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare('INSERT INTO tokens (hash, username, agent_id, expires_at) VALUES (?, ?, ?, ?)').run(token.hash, token.username, token.agentId, token.expiresAt);
    });
  }

  getToken(hash: string): Promise<StoredToken | undefined> {
    return this.#tx(() => this.#db.prepare('SELECT hash, username, agent_id AS agentId, expires_at AS expiresAt FROM tokens WHERE hash = ?').get(hash) as StoredToken | undefined);
  }

  deleteExpiredTokens(now: number): Promise<number> {
    return this.#tx(() => this.#db.prepare('DELETE FROM tokens WHERE expires_at < ?').run(now).changes);
  }

  async appendEvents(lease: AgentLease, events: readonly NewHostEvent[], cursor?: DatafeedCursor): Promise<HostEvent[]> {
    const stored = await this.#tx(() => {
      this.#fence(lease);
      const marks = this.#db.prepare('SELECT last_event_id FROM event_marks WHERE agent_id = ?').get(lease.agentId) as { last_event_id: number } | undefined;
      let last = marks?.last_event_id ?? 0;
      const instance = (this.#db.prepare('SELECT instance_id FROM agent_status WHERE agent_id = ?').get(lease.agentId) as { instance_id: string } | undefined)?.instance_id ?? '';
      const insert = this.#db.prepare('INSERT INTO events (agent_id, event_id, instance_id, type, channel_id, local, time, body, source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      const known = this.#db.prepare('SELECT 1 FROM events WHERE agent_id = ? AND source_id = ?');
      const out: HostEvent[] = [];
      for (const event of events) {
        if (event.sourceId !== undefined && known.get(lease.agentId, event.sourceId) !== undefined) continue;
        last += 1;
        insert.run(lease.agentId, last, instance, event.type, event.channelId ?? null, event.local ? 1 : 0, event.time, JSON.stringify(event.body), event.sourceId ?? null);
        out.push({ ...event, eventId: last, instanceId: instance });
      }
      this.#db.prepare(`INSERT INTO event_marks (agent_id, last_event_id, pruned_through) VALUES (?, ?, 0)
        ON CONFLICT (agent_id) DO UPDATE SET last_event_id = excluded.last_event_id`).run(lease.agentId, last);
      if (cursor !== undefined) this.#writeCursor(lease.agentId, cursor);
      return out;
    });
    if (stored.length > 0) for (const listener of this.#watchers.get(lease.agentId) ?? []) listener();
    return stored;
  }

  readEvents(agentId: string, afterEventId: number, limit: number): Promise<EventWindow> {
    return this.#tx(() => {
      const marks = this.#db.prepare('SELECT last_event_id, pruned_through FROM event_marks WHERE agent_id = ?').get(agentId) as { last_event_id: number; pruned_through: number } | undefined;
      const rows = this.#db.prepare('SELECT * FROM events WHERE agent_id = ? AND event_id > ? ORDER BY event_id LIMIT ?').all(agentId, afterEventId, limit) as EventRow[];
      return { events: rows.map(toEvent), prunedThrough: marks?.pruned_through ?? 0, lastEventId: marks?.last_event_id ?? 0 };
    });
  }

  pruneEvents(agentId: string, keep: number): Promise<number> {
    return this.#tx(() => {
      const marks = this.#db.prepare('SELECT last_event_id, pruned_through FROM event_marks WHERE agent_id = ?').get(agentId) as { last_event_id: number; pruned_through: number } | undefined;
      if (marks === undefined) return 0;
      const through = marks.last_event_id - keep;
      if (through <= marks.pruned_through) return 0;
      const dropped = this.#db.prepare('DELETE FROM events WHERE agent_id = ? AND event_id <= ?').run(agentId, through).changes;
      this.#db.prepare('UPDATE event_marks SET pruned_through = ? WHERE agent_id = ?').run(through, agentId);
      return dropped;
    });
  }

  watchEvents(agentId: string, listener: () => void): () => void {
    let set = this.#watchers.get(agentId);
    if (set === undefined) this.#watchers.set(agentId, (set = new Set()));
    const own = set;
    const entry = () => listener();
    own.add(entry);
    return () => {
      own.delete(entry);
      if (own.size === 0 && this.#watchers.get(agentId) === own) this.#watchers.delete(agentId);
    };
  }

  getCursor(agentId: string): Promise<DatafeedCursor | undefined> {
    return this.#tx(() => this.#db.prepare('SELECT feed_id AS feedId, ack_id AS ackId FROM cursors WHERE agent_id = ?').get(agentId) as DatafeedCursor | undefined);
  }

  #writeCursor(agentId: string, cursor: DatafeedCursor): void {
    this.#db.prepare('INSERT INTO cursors (agent_id, feed_id, ack_id) VALUES (?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET feed_id = excluded.feed_id, ack_id = excluded.ack_id')
      .run(agentId, cursor.feedId, cursor.ackId);
  }

  setCursor(lease: AgentLease, cursor: DatafeedCursor | undefined): Promise<void> {
    return this.#tx(() => {
      this.#fence(lease);
      if (cursor === undefined) this.#db.prepare('DELETE FROM cursors WHERE agent_id = ?').run(lease.agentId);
      else this.#writeCursor(lease.agentId, cursor);
    });
  }

  claimAgent(agentId: string, owner: string, ttlMs: number): Promise<AgentLease | undefined> {
    return this.#tx(() => {
      const now = Date.now();
      const row = this.#db.prepare('SELECT owner, generation, expires_at FROM leases WHERE agent_id = ?').get(agentId) as { owner: string; generation: number; expires_at: number } | undefined;
      if (row !== undefined && row.owner !== owner && row.expires_at > now) return undefined;
      const lease: AgentLease = { agentId, owner, generation: (row?.generation ?? 0) + 1, expiresAt: now + ttlMs };
      this.#db.prepare(`INSERT INTO leases (agent_id, owner, generation, expires_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (agent_id) DO UPDATE SET owner = excluded.owner, generation = excluded.generation, expires_at = excluded.expires_at`)
        .run(agentId, owner, lease.generation, lease.expiresAt);
      return lease;
    });
  }

  renewLease(lease: AgentLease, ttlMs: number): Promise<AgentLease | undefined> {
    return this.#tx(() => {
      const expiresAt = Date.now() + ttlMs;
      const changed = this.#db.prepare('UPDATE leases SET expires_at = ? WHERE agent_id = ? AND owner = ? AND generation = ?').run(expiresAt, lease.agentId, lease.owner, lease.generation).changes;
      return changed === 0 ? undefined : { ...lease, expiresAt };
    });
  }

  releaseLease(lease: AgentLease): Promise<void> {
    return this.#tx(() => {
      this.#db.prepare('UPDATE leases SET expires_at = 0 WHERE agent_id = ? AND owner = ? AND generation = ?').run(lease.agentId, lease.owner, lease.generation);
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#watchers.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}
