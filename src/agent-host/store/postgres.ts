/**
 * The agent host's shared storage: {@link AgentHostStore} (./types.ts) on PostgreSQL, for several host processes on
 * one database (docs/agent-host.md "Scale-out"), through the repository's one `pg` adapter (./pg.ts).
 *
 * - Every method is one transaction (READ COMMITTED; reads of the event buffer see one snapshot): its change is
 *   visible to others only after COMMIT, and a method that rejects changed nothing.
 * - Leases are rows `(agent_id, owner, generation, expires_at)` timed by the database's clock (hosts' clocks may
 *   differ). A claim succeeds when the lease is free, expired or already the claimer's, and increases the generation.
 *   A write that needs a lease (events, datafeed cursor, status, a runtime's channel state) locks the lease row
 *   (`FOR SHARE`) and is refused with {@link LeaseLostError} unless owner and generation are current, so a claim
 *   waits for a fenced write in flight and no stale owner's write lands after a takeover.
 * - Event ids come from the agent's `event_marks` row, updated in the appending transaction, so they are gapless
 *   and never repeat. The appending transaction also sends `NOTIFY allegro_agent_events, '<agent id>'`, which
 *   PostgreSQL delivers at COMMIT: {@link AgentHostStore.watchEvents} listeners in every host process wake then.
 * - Hosts announce the URL they answer at in `hosts` (the cluster's directory, {@link HostRegistry}), so that a host
 *   can forward a call to an agent's owner.
 * - The schema is versioned in `agent_host_schema`; migrations run under a transaction-scoped advisory lock, so
 *   hosts starting together migrate once. A database newer than this code is refused.
 */
import { AllegroError } from '../../errors.js';
import { PgDatabase, type PgConnectionOptions, type Queryable } from './pg.js';
import { toAgent, toChannel, toEvent, toThrottle, type AgentRow, type ChannelRow, type EventRow, type ThrottleRow } from './rows.js';
import {
  ConflictError, LeaseLostError, type ActivationState, type AgentHostStore, type AgentLease, type AgentStatus, type DatafeedCursor,
  type EventWindow, type HostEvent, type NewHostEvent, type StoredAgent, type StoredChannel,
  type StoredThrottle, type StoredToken, type StoredUser,
} from './types.js';

/** A host process of the cluster, as it announced itself. */
export interface HostEntry {
  /** The owner id it takes leases under. */
  owner: string;
  /** Where it answers the host API (for forwarded calls). */
  url: string;
  expiresAt: number;
}

/**
 * The cluster's directory of live hosts and current leases: what a host needs beyond {@link AgentHostStore} to share
 * agents with other hosts (balancing, forwarding). Implemented by the PostgreSQL store.
 */
export interface HostRegistry {
  /** Record that `owner` answers at `url` until `ttlMs` from now (the database's clock). */
  announceHost(owner: string, url: string, ttlMs: number): Promise<void>;
  /** Forget `owner` (a clean shutdown). */
  removeHost(owner: string): Promise<void>;
  /** The hosts whose announcement has not expired. */
  listHosts(): Promise<HostEntry[]>;
  /** Every agent's lease row (live or expired). */
  listLeases(): Promise<AgentLease[]>;
  /** The live lease of `agentId` with its owner's URL, when some live host holds it. */
  findOwner(agentId: string): Promise<{ lease: AgentLease; url: string } | undefined>;
  /** Milliseconds since the epoch by the database's clock (the clock leases expire by). */
  now(): Promise<number>;
}

/** The shared store: the host's storage plus the cluster directory. */
export interface SharedAgentHostStore extends AgentHostStore, HostRegistry {}

/** The `NOTIFY` channel of event appends. */
const EVENTS_CHANNEL = 'allegro_agent_events';

/** The database's clock in epoch milliseconds (advances within a transaction). */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** The migrations; `MIGRATIONS[i]` takes a database from version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE super_user (id integer PRIMARY KEY CHECK (id = 1), user_name text NOT NULL, password_hash text NOT NULL);
  CREATE TABLE users (id text PRIMARY KEY, user_name text NOT NULL, user_name_key text NOT NULL UNIQUE, password_hash text NOT NULL);
  CREATE TABLE agents (
    id text PRIMARY KEY, user_name text NOT NULL, identity text NOT NULL, users text NOT NULL,
    can_provision boolean NOT NULL, provisioning_mode integer NOT NULL, management_mode integer NOT NULL
  );
  CREATE TABLE agent_status (
    agent_id text PRIMARY KEY, state smallint NOT NULL, last_error text, next_attempt_at bigint, instance_id text NOT NULL
  );
  CREATE TABLE channels (
    agent_id text NOT NULL, channel_id text NOT NULL, state smallint NOT NULL, reason text, stream_id text, display_name text,
    PRIMARY KEY (agent_id, channel_id)
  );
  CREATE TABLE metadata (agent_id text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (agent_id, key));
  CREATE TABLE throttles (id text PRIMARY KEY, type integer NOT NULL, threshold integer NOT NULL, interval_ms bigint NOT NULL, agents text NOT NULL);
  CREATE TABLE tokens (hash text PRIMARY KEY, username text NOT NULL, agent_id text NOT NULL, expires_at bigint NOT NULL);
  CREATE INDEX tokens_by_expiry ON tokens (expires_at);
  CREATE TABLE events (
    agent_id text NOT NULL, event_id bigint NOT NULL, instance_id text NOT NULL, type text NOT NULL, channel_id text,
    local boolean NOT NULL, time bigint NOT NULL, body text NOT NULL, source_id text,
    PRIMARY KEY (agent_id, event_id)
  );
  CREATE UNIQUE INDEX events_by_source ON events (agent_id, source_id) WHERE source_id IS NOT NULL;
  CREATE TABLE event_marks (agent_id text PRIMARY KEY, last_event_id bigint NOT NULL, pruned_through bigint NOT NULL);
  CREATE TABLE cursors (agent_id text PRIMARY KEY, feed_id text NOT NULL, ack_id text NOT NULL);
  CREATE TABLE leases (agent_id text PRIMARY KEY, owner text NOT NULL, generation bigint NOT NULL, expires_at bigint NOT NULL);
  CREATE TABLE hosts (owner text PRIMARY KEY, url text NOT NULL, expires_at bigint NOT NULL);
  `,
];

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** The advisory lock key the migrations hold (any constant; "allegro" in ASCII). */
const MIGRATION_LOCK = 0x616c6c6567726f;

async function migrate(db: PgDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS agent_host_schema (version integer NOT NULL)');
    const rows = await tx.query<{ version: number }>('SELECT version FROM agent_host_schema');
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await tx.query('INSERT INTO agent_host_schema (version) VALUES (0)');
    if (version > MIGRATIONS.length) {
      throw new AllegroError('UNSUPPORTED_VERSION', `The agent host database (${db.where}) has schema version ${version}; this host knows versions up to ${MIGRATIONS.length}`);
    }
    for (; version < MIGRATIONS.length; version++) {
      await tx.query(MIGRATIONS[version]!);
      await tx.query('UPDATE agent_host_schema SET version = $1', [version + 1]);
    }
  });
}

interface LeaseRow { agent_id: string; owner: string; generation: number; expires_at: number }
interface MarksRow { last_event_id: number; pruned_through: number }

function toLease(row: LeaseRow): AgentLease {
  return { agentId: row.agent_id, owner: row.owner, generation: row.generation, expiresAt: row.expires_at };
}

/** Where the shared store is, and how many connections a host may use. */
export type PostgresStoreOptions = PgConnectionOptions;

/**
 * Open the shared store (creating or migrating its tables) and its `LISTEN` connection. Rejects with an
 * {@link AllegroError} naming the server when it cannot connect.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<SharedAgentHostStore> {
  const db = PgDatabase.open(options);
  try {
    await migrate(db);
    const store = new PostgresStore(db);
    await store.startListening();
    return store;
  } catch (err) {
    await db.close();
    throw err;
  }
}

class PostgresStore implements SharedAgentHostStore {
  readonly #db: PgDatabase;
  readonly #watchers = new Map<string, Set<() => void>>();
  /** Tags this process's notifications, so that it does not wake its own watchers twice. */
  readonly #tag = `${process.pid}.${Math.random().toString(36).slice(2)}`;
  #listener: { close(): Promise<void> } | undefined;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async startListening(): Promise<void> {
    this.#listener = await this.#db.listen(EVENTS_CHANNEL, (payload) => {
      const at = payload.indexOf(' ');
      if (at < 0 || payload.slice(0, at) === this.#tag) return;
      this.#wake(payload.slice(at + 1));
    }, () => {
      // Notifications may have been missed while the connection was down: every watcher reads again.
      for (const agentId of [...this.#watchers.keys()]) this.#wake(agentId);
    });
  }

  #wake(agentId: string): void {
    for (const listener of [...(this.#watchers.get(agentId) ?? [])]) listener();
  }

  #tx<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction(fn);
  }

  /** Lock the agent's lease row and throw {@link LeaseLostError} unless `lease` is current. */
  async #fence(tx: Queryable, lease: AgentLease): Promise<void> {
    const rows = await tx.query<{ owner: string; generation: number }>('SELECT owner, generation FROM leases WHERE agent_id = $1 FOR SHARE', [lease.agentId]);
    const row = rows[0];
    if (row === undefined || row.owner !== lease.owner || row.generation !== lease.generation) throw new LeaseLostError(lease.agentId);
  }

  async getSuperUser(): Promise<{ userName: string; passwordHash: string } | undefined> {
    const rows = await this.#db.query<{ user_name: string; password_hash: string }>('SELECT user_name, password_hash FROM super_user WHERE id = 1');
    return rows[0] === undefined ? undefined : { userName: rows[0].user_name, passwordHash: rows[0].password_hash };
  }

  async setSuperUser(userName: string, passwordHash: string): Promise<void> {
    await this.#db.query(`INSERT INTO super_user (id, user_name, password_hash) VALUES (1, $1, $2)
      ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, password_hash = excluded.password_hash`, [userName, passwordHash]);
  }

  listUsers(): Promise<StoredUser[]> {
    return this.#db.query<StoredUser>('SELECT id, user_name AS "userName", password_hash AS "passwordHash" FROM users ORDER BY id');
  }

  async getUser(id: string): Promise<StoredUser | undefined> {
    return (await this.#db.query<StoredUser>('SELECT id, user_name AS "userName", password_hash AS "passwordHash" FROM users WHERE id = $1', [id]))[0];
  }

  async findUserByName(userName: string): Promise<StoredUser | undefined> {
    return (await this.#db.query<StoredUser>(
      'SELECT id, user_name AS "userName", password_hash AS "passwordHash" FROM users WHERE user_name_key = $1', [userName.toLowerCase()]))[0];
  }

  putUser(user: StoredUser): Promise<void> {
    return this.#tx(async (tx) => {
      const key = user.userName.toLowerCase();
      // Serialize writers of one user name: two ids may not take it at once.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`user:${key}`]);
      const holder = (await tx.query<{ id: string }>('SELECT id FROM users WHERE user_name_key = $1', [key]))[0];
      if (holder !== undefined && holder.id !== user.id) throw new ConflictError(`The user name ${user.userName} is taken by user ${holder.id}`);
      await tx.query(`INSERT INTO users (id, user_name, user_name_key, password_hash) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, user_name_key = excluded.user_name_key, password_hash = excluded.password_hash`,
      [user.id, user.userName, key, user.passwordHash]);
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return this.#tx(async (tx) => {
      const deleted = (await tx.query('DELETE FROM users WHERE id = $1 RETURNING id', [id])).length > 0;
      if (deleted) {
        for (const row of await tx.query<{ id: string; users: string }>('SELECT id, users FROM agents FOR UPDATE')) {
          const users = JSON.parse(row.users) as string[];
          if (users.includes(id)) await tx.query('UPDATE agents SET users = $1 WHERE id = $2', [JSON.stringify(users.filter((u) => u !== id)), row.id]);
        }
      }
      return deleted;
    });
  }

  async listAgents(): Promise<StoredAgent[]> {
    return (await this.#db.query<AgentRow>('SELECT * FROM agents ORDER BY id')).map(toAgent);
  }

  async getAgent(id: string): Promise<StoredAgent | undefined> {
    const row = (await this.#db.query<AgentRow>('SELECT * FROM agents WHERE id = $1', [id]))[0];
    return row === undefined ? undefined : toAgent(row);
  }

  async putAgent(agent: StoredAgent): Promise<void> {
    await this.#db.query(`INSERT INTO agents (id, user_name, identity, users, can_provision, provisioning_mode, management_mode) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, identity = excluded.identity, users = excluded.users,
      can_provision = excluded.can_provision, provisioning_mode = excluded.provisioning_mode, management_mode = excluded.management_mode`,
    [agent.id, agent.userName, JSON.stringify(agent.identity), JSON.stringify(agent.users), agent.canProvision, agent.provisioningMode, agent.managementMode]);
  }

  deleteAgent(id: string): Promise<boolean> {
    return this.#tx(async (tx) => {
      const deleted = (await tx.query('DELETE FROM agents WHERE id = $1 RETURNING id', [id])).length > 0;
      for (const table of ['agent_status', 'channels', 'metadata', 'events', 'event_marks', 'cursors', 'leases']) {
        await tx.query(`DELETE FROM ${table} WHERE agent_id = $1`, [id]);
      }
      for (const row of await tx.query<{ id: string; agents: string }>('SELECT id, agents FROM throttles FOR UPDATE')) {
        const agents = JSON.parse(row.agents) as string[];
        if (agents.includes(id)) await tx.query('UPDATE throttles SET agents = $1 WHERE id = $2', [JSON.stringify(agents.filter((a) => a !== id)), row.id]);
      }
      return deleted;
    });
  }

  async getStatus(agentId: string): Promise<AgentStatus | undefined> {
    const row = (await this.#db.query<{ state: number; last_error: string | null; next_attempt_at: number | null; instance_id: string }>(
      'SELECT state, last_error, next_attempt_at, instance_id FROM agent_status WHERE agent_id = $1', [agentId]))[0];
    if (row === undefined) return undefined;
    return {
      state: row.state as ActivationState, instanceId: row.instance_id, ...(row.last_error === null ? {} : { lastError: row.last_error }),
      ...(row.next_attempt_at === null ? {} : { nextAttemptAt: row.next_attempt_at }),
    };
  }

  setStatus(lease: AgentLease, status: AgentStatus): Promise<void> {
    return this.#tx(async (tx) => {
      await this.#fence(tx, lease);
      await tx.query(`INSERT INTO agent_status (agent_id, state, last_error, next_attempt_at, instance_id) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at, instance_id = excluded.instance_id`,
      [lease.agentId, status.state, status.lastError ?? null, status.nextAttemptAt ?? null, status.instanceId]);
    });
  }

  async listChannels(agentId: string): Promise<StoredChannel[]> {
    return (await this.#db.query<ChannelRow>('SELECT * FROM channels WHERE agent_id = $1 ORDER BY channel_id', [agentId])).map(toChannel);
  }

  async getChannel(agentId: string, channelId: string): Promise<StoredChannel | undefined> {
    const row = (await this.#db.query<ChannelRow>('SELECT * FROM channels WHERE agent_id = $1 AND channel_id = $2', [agentId, channelId]))[0];
    return row === undefined ? undefined : toChannel(row);
  }

  async #writeChannel(q: Queryable, channel: StoredChannel): Promise<void> {
    await q.query(`INSERT INTO channels (agent_id, channel_id, state, reason, stream_id, display_name) VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (agent_id, channel_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, stream_id = excluded.stream_id, display_name = excluded.display_name`,
    [channel.agentId, channel.channelId, channel.state, channel.reason ?? null, channel.streamId ?? null, channel.displayName ?? null]);
  }

  putChannel(channel: StoredChannel): Promise<void> {
    return this.#writeChannel(this.#db, channel);
  }

  updateChannel(lease: AgentLease, channel: StoredChannel): Promise<boolean> {
    return this.#tx(async (tx) => {
      await this.#fence(tx, lease);
      if ((await tx.query('SELECT 1 FROM channels WHERE agent_id = $1 AND channel_id = $2 FOR UPDATE', [channel.agentId, channel.channelId])).length === 0) return false;
      await this.#writeChannel(tx, channel);
      return true;
    });
  }

  async deleteChannel(agentId: string, channelId: string): Promise<boolean> {
    return (await this.#db.query('DELETE FROM channels WHERE agent_id = $1 AND channel_id = $2 RETURNING agent_id', [agentId, channelId])).length > 0;
  }

  async getMetadata(agentId: string): Promise<Map<string, string>> {
    const rows = await this.#db.query<{ key: string; value: string }>('SELECT key, value FROM metadata WHERE agent_id = $1 ORDER BY key', [agentId]);
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  setMetadata(agentId: string, entries: ReadonlyMap<string, string>): Promise<void> {
    return this.#tx(async (tx) => {
      await tx.query('DELETE FROM metadata WHERE agent_id = $1', [agentId]);
      if (entries.size === 0) return;
      await tx.query('INSERT INTO metadata (agent_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])', [agentId, [...entries.keys()], [...entries.values()]]);
    });
  }

  async putMetadataValue(agentId: string, key: string, value: string): Promise<void> {
    await this.#db.query('INSERT INTO metadata (agent_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value', [agentId, key, value]);
  }

  async deleteMetadataValue(agentId: string, key: string): Promise<boolean> {
    return (await this.#db.query('DELETE FROM metadata WHERE agent_id = $1 AND key = $2 RETURNING key', [agentId, key])).length > 0;
  }

  async listThrottles(): Promise<StoredThrottle[]> {
    return (await this.#db.query<ThrottleRow>('SELECT * FROM throttles ORDER BY id')).map(toThrottle);
  }

  async getThrottle(id: string): Promise<StoredThrottle | undefined> {
    const row = (await this.#db.query<ThrottleRow>('SELECT * FROM throttles WHERE id = $1', [id]))[0];
    return row === undefined ? undefined : toThrottle(row);
  }

  async putThrottle(throttle: StoredThrottle): Promise<void> {
    await this.#db.query(`INSERT INTO throttles (id, type, threshold, interval_ms, agents) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (id) DO UPDATE SET type = excluded.type, threshold = excluded.threshold, interval_ms = excluded.interval_ms, agents = excluded.agents`,
    [throttle.id, throttle.type, throttle.threshold, throttle.intervalMs, JSON.stringify(throttle.agents)]);
  }

  async deleteThrottle(id: string): Promise<boolean> {
    return (await this.#db.query('DELETE FROM throttles WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  async putToken(token: StoredToken): Promise<void> {
    await this.#db.query('INSERT INTO tokens (hash, username, agent_id, expires_at) VALUES ($1, $2, $3, $4)', [token.hash, token.username, token.agentId, token.expiresAt]);
  }

  async getToken(hash: string): Promise<StoredToken | undefined> {
    return (await this.#db.query<StoredToken>(
      'SELECT hash, username, agent_id AS "agentId", expires_at AS "expiresAt" FROM tokens WHERE hash = $1', [hash]))[0];
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return (await this.#db.query('DELETE FROM tokens WHERE expires_at < $1 RETURNING hash', [now])).length;
  }

  async appendEvents(lease: AgentLease, events: readonly NewHostEvent[], cursor?: DatafeedCursor): Promise<HostEvent[]> {
    const stored = await this.#tx(async (tx) => {
      await this.#fence(tx, lease);
      const fresh = await this.#unbuffered(tx, lease.agentId, events);
      const out: HostEvent[] = [];
      if (fresh.length > 0) {
        // Reserve the ids: the upsert locks the agent's marks row until COMMIT.
        const last = (await tx.query<{ last_event_id: number }>(`INSERT INTO event_marks (agent_id, last_event_id, pruned_through) VALUES ($1, $2, 0)
          ON CONFLICT (agent_id) DO UPDATE SET last_event_id = event_marks.last_event_id + $2 RETURNING last_event_id`, [lease.agentId, fresh.length]))[0]!.last_event_id;
        const instance = (await tx.query<{ instance_id: string }>('SELECT instance_id FROM agent_status WHERE agent_id = $1', [lease.agentId]))[0]?.instance_id ?? '';
        fresh.forEach((event, i) => out.push({ ...event, eventId: last - fresh.length + 1 + i, instanceId: instance }));
        await tx.query(`INSERT INTO events (agent_id, event_id, instance_id, type, channel_id, local, time, body, source_id)
          SELECT $1, e.id, $2, e.type, e.channel_id, e.local, e.time, e.body, e.source_id
          FROM unnest($3::bigint[], $4::text[], $5::text[], $6::boolean[], $7::bigint[], $8::text[], $9::text[]) AS e (id, type, channel_id, local, time, body, source_id)`, [
          lease.agentId, instance, out.map((e) => e.eventId), out.map((e) => e.type), out.map((e) => e.channelId ?? null), out.map((e) => e.local),
          out.map((e) => e.time), out.map((e) => JSON.stringify(e.body)), out.map((e) => e.sourceId ?? null),
        ]);
        await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, `${this.#tag} ${lease.agentId}`]);
      }
      if (cursor !== undefined) await this.#writeCursor(tx, lease.agentId, cursor);
      return out;
    });
    if (stored.length > 0) this.#wake(lease.agentId);
    return stored;
  }

  /** `events` without those whose `sourceId` is buffered already or came earlier in the batch. */
  async #unbuffered(tx: Queryable, agentId: string, events: readonly NewHostEvent[]): Promise<NewHostEvent[]> {
    const sources = events.flatMap((e) => (e.sourceId === undefined ? [] : [e.sourceId]));
    if (sources.length === 0) return [...events];
    const seen = new Set((await tx.query<{ source_id: string }>('SELECT source_id FROM events WHERE agent_id = $1 AND source_id = ANY($2::text[])', [agentId, sources])).map((r) => r.source_id));
    return events.filter((e) => {
      if (e.sourceId === undefined) return true;
      if (seen.has(e.sourceId)) return false;
      seen.add(e.sourceId);
      return true;
    });
  }

  readEvents(agentId: string, afterEventId: number, limit: number): Promise<EventWindow> {
    return this.#db.transaction(async (tx) => {
      const marks = (await tx.query<MarksRow>('SELECT last_event_id, pruned_through FROM event_marks WHERE agent_id = $1', [agentId]))[0];
      const rows = await tx.query<EventRow>(
        'SELECT event_id, instance_id, type, channel_id, local, time, body, source_id FROM events WHERE agent_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3',
        [agentId, afterEventId, limit]);
      return { events: rows.map(toEvent), prunedThrough: marks?.pruned_through ?? 0, lastEventId: marks?.last_event_id ?? 0 };
    }, 'repeatable read');
  }

  pruneEvents(agentId: string, keep: number): Promise<number> {
    return this.#tx(async (tx) => {
      const marks = (await tx.query<MarksRow>('SELECT last_event_id, pruned_through FROM event_marks WHERE agent_id = $1 FOR UPDATE', [agentId]))[0];
      if (marks === undefined) return 0;
      const through = marks.last_event_id - keep;
      if (through <= marks.pruned_through) return 0;
      const dropped = (await tx.query('DELETE FROM events WHERE agent_id = $1 AND event_id <= $2 RETURNING event_id', [agentId, through])).length;
      await tx.query('UPDATE event_marks SET pruned_through = $1 WHERE agent_id = $2', [through, agentId]);
      return dropped;
    });
  }

  watchEvents(agentId: string, listener: () => void): () => void {
    let set = this.#watchers.get(agentId);
    if (set === undefined) this.#watchers.set(agentId, (set = new Set()));
    const own = set;
    const entry = (): void => listener();
    own.add(entry);
    return () => {
      own.delete(entry);
      if (own.size === 0 && this.#watchers.get(agentId) === own) this.#watchers.delete(agentId);
    };
  }

  async getCursor(agentId: string): Promise<DatafeedCursor | undefined> {
    return (await this.#db.query<DatafeedCursor>('SELECT feed_id AS "feedId", ack_id AS "ackId" FROM cursors WHERE agent_id = $1', [agentId]))[0];
  }

  async #writeCursor(tx: Queryable, agentId: string, cursor: DatafeedCursor): Promise<void> {
    await tx.query('INSERT INTO cursors (agent_id, feed_id, ack_id) VALUES ($1, $2, $3) ON CONFLICT (agent_id) DO UPDATE SET feed_id = excluded.feed_id, ack_id = excluded.ack_id',
      [agentId, cursor.feedId, cursor.ackId]);
  }

  setCursor(lease: AgentLease, cursor: DatafeedCursor | undefined): Promise<void> {
    return this.#tx(async (tx) => {
      await this.#fence(tx, lease);
      if (cursor === undefined) await tx.query('DELETE FROM cursors WHERE agent_id = $1', [lease.agentId]);
      else await this.#writeCursor(tx, lease.agentId, cursor);
    });
  }

  async claimAgent(agentId: string, owner: string, ttlMs: number): Promise<AgentLease | undefined> {
    // One statement: the upsert locks the row, and its WHERE is checked against the latest committed version.
    const rows = await this.#db.query<LeaseRow>(`INSERT INTO leases AS l (agent_id, owner, generation, expires_at) VALUES ($1, $2, 1, ${NOW_MS} + $3)
      ON CONFLICT (agent_id) DO UPDATE SET owner = excluded.owner, generation = l.generation + 1, expires_at = excluded.expires_at
      WHERE l.owner = excluded.owner OR l.expires_at <= ${NOW_MS}
      RETURNING agent_id, owner, generation, expires_at`, [agentId, owner, ttlMs]);
    return rows[0] === undefined ? undefined : toLease(rows[0]);
  }

  async renewLease(lease: AgentLease, ttlMs: number): Promise<AgentLease | undefined> {
    const rows = await this.#db.query<LeaseRow>(`UPDATE leases SET expires_at = ${NOW_MS} + $4 WHERE agent_id = $1 AND owner = $2 AND generation = $3
      RETURNING agent_id, owner, generation, expires_at`, [lease.agentId, lease.owner, lease.generation, ttlMs]);
    return rows[0] === undefined ? undefined : toLease(rows[0]);
  }

  async releaseLease(lease: AgentLease): Promise<void> {
    await this.#db.query('UPDATE leases SET expires_at = 0 WHERE agent_id = $1 AND owner = $2 AND generation = $3', [lease.agentId, lease.owner, lease.generation]);
  }

  async announceHost(owner: string, url: string, ttlMs: number): Promise<void> {
    await this.#db.query(`INSERT INTO hosts (owner, url, expires_at) VALUES ($1, $2, ${NOW_MS} + $3)
      ON CONFLICT (owner) DO UPDATE SET url = excluded.url, expires_at = excluded.expires_at`, [owner, url, ttlMs]);
  }

  async removeHost(owner: string): Promise<void> {
    await this.#db.query('DELETE FROM hosts WHERE owner = $1', [owner]);
  }

  listHosts(): Promise<HostEntry[]> {
    return this.#db.query<HostEntry>(`SELECT owner, url, expires_at AS "expiresAt" FROM hosts WHERE expires_at > ${NOW_MS} ORDER BY owner`);
  }

  async listLeases(): Promise<AgentLease[]> {
    return (await this.#db.query<LeaseRow>('SELECT agent_id, owner, generation, expires_at FROM leases ORDER BY agent_id')).map(toLease);
  }

  async findOwner(agentId: string): Promise<{ lease: AgentLease; url: string } | undefined> {
    const row = (await this.#db.query<LeaseRow & { url: string }>(`SELECT l.agent_id, l.owner, l.generation, l.expires_at, h.url FROM leases l JOIN hosts h ON h.owner = l.owner
      WHERE l.agent_id = $1 AND l.expires_at > ${NOW_MS} AND h.expires_at > ${NOW_MS}`, [agentId]))[0];
    return row === undefined ? undefined : { lease: toLease(row), url: row.url };
  }

  async now(): Promise<number> {
    return (await this.#db.query<{ now: number }>(`SELECT ${NOW_MS} AS now`))[0]!.now;
  }

  async close(): Promise<void> {
    this.#watchers.clear();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
    await this.#db.close();
  }
}
