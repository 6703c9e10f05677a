/**
 * The agent host's storage interface (docs/agent-host.md "Storage"): everything the host keeps across restarts,
 * behind one Promise-returning interface so that the embedded SQLite backend (./sqlite.ts) and a shared PostgreSQL
 * backend implement the same contract.
 *
 * What is stored: the super user (from the configuration file, as a scrypt hash), web users (scrypt hashes), agents
 * with a *reference* to their Symphony identity (a key file path or an environment variable name — never key
 * material), each agent's channels with their state, its metadata, throttles, the issued tokens (as SHA-256 hashes),
 * each agent's runtime status (state, last error, next attempt, current instance id), the durable per-agent event
 * buffer, and each agent's datafeed cursor (feed id and ackId).
 *
 * Contract every backend keeps:
 * - A method's change is visible to any later call only once it is committed; a method that rejects changed nothing.
 * - {@link AgentHostStore.appendEvents} stores the events and the datafeed cursor that acknowledges them in one
 *   transaction: after a crash the host resumes the datafeed from the stored cursor, so an event is either buffered or
 *   re-delivered by Symphony, never lost (the host acknowledges a datafeed batch only by reading with the stored ackId).
 * - Event ids are a per-agent sequence (1, 2, …) that never repeats, across instances and restarts.
 * - Writes a runtime makes for an agent (events, cursor, status, channel states) carry the {@link AgentLease} it holds;
 *   a backend that shares agents between host processes refuses a write whose lease generation is stale with
 *   {@link LeaseLostError}. A single-process backend grants every claim.
 */
import { AllegroError } from '../../errors.js';

/** MindLink's ProvisionedAgentState and ProvisionedChannelState: 0 Idle, 1 Activating, 2 Active. */
export type ActivationState = 0 | 1 | 2;

/** The named values of {@link ActivationState}. */
export const ActivationStates = Object.freeze({ Idle: 0, Activating: 1, Active: 2 } as const);

/**
 * The Symphony identity behind an agent, by reference only: the host reads the key or certificate when the agent
 * logs on, from the file or the environment variable named here.
 */
export type IdentityRef =
  | { kind: 'rsa'; username: string; privateKeyPath?: string; privateKeyEnv?: string }
  | { kind: 'certificate'; username: string; certificatePath?: string; certificateEnv?: string; passwordEnv?: string }
  | { kind: 'obo'; appId: string; userId?: string; username?: string };

/** A web-service credential (never a Symphony identity). */
export interface StoredUser {
  id: string;
  userName: string;
  /** `scrypt$N$r$p$salt$hash` (base64url salt and hash); see ../password.ts. */
  passwordHash: string;
}

/** A provisioned agent, as the admin defined it. */
export interface StoredAgent {
  id: string;
  /** The Symphony username of its identity. */
  userName: string;
  identity: IdentityRef;
  /** Ids of the web users that may get a token for this agent. */
  users: string[];
  canProvision: boolean;
  /** MindLink ProvisioningMode: 0 Unspecified, 1 None, 2 System, 3 Self. */
  provisioningMode: number;
  /** MindLink ManagementMode: 0 None, 1 Group. */
  managementMode: number;
}

/** The runtime status of an agent (written by the host that runs it). */
export interface AgentStatus {
  state: ActivationState;
  /** Why the last attempt failed (no secrets), when it did. */
  lastError?: string;
  /** When the next activation attempt is due (epoch ms), while backing off. */
  nextAttemptAt?: number;
  /** The current runtime's instance id ('' before the first start). */
  instanceId: string;
}

/** A channel of an agent: `room:{streamId}`, `im:{streamId}` or `user:{userId}`. */
export interface StoredChannel {
  agentId: string;
  /** The channel id as provisioned. */
  channelId: string;
  state: ActivationState;
  /** Why the channel is Idle, when it is. */
  reason?: string;
  /** The Symphony stream id once resolved (an IM created for `user:`). */
  streamId?: string;
  /** Its display name, when known. */
  displayName?: string;
}

/** A rate limit applied to agents: a token bucket of `threshold` requests per `intervalMs`. */
export interface StoredThrottle {
  id: string;
  /** MindLink's throttle type (opaque to the host; see docs/agent-host.md "Throttles"). */
  type: number;
  threshold: number;
  intervalMs: number;
  agents: string[];
}

/** An issued host token, stored by the SHA-256 hash of the token. */
export interface StoredToken {
  /** Base64url SHA-256 of the token. */
  hash: string;
  username: string;
  /** '' for the super user. */
  agentId: string;
  expiresAt: number;
}

/** A buffered event's kind: MindLink's MessageEvent, ChannelStateEvent, MetaDataEvent. */
export type HostEventType = 'message' | 'channel-state' | 'meta-data';

/** An event to buffer: its kind, the channel it concerns, its sender, and its JSON body (without id and instance). */
export interface NewHostEvent {
  type: HostEventType;
  /** The channel id, for `message` and `channel-state`. */
  channelId?: string;
  /** Whether the agent itself sent it (`origins=remote` drops these). */
  local: boolean;
  /**
   * The Symphony event it came from, when it did: an event whose `sourceId` is already buffered for the agent is
   * skipped by {@link AgentHostStore.appendEvents} (a datafeed batch re-delivered after a crash between the commit and
   * the acknowledgement).
   */
  sourceId?: string;
  time: number;
  /** The event's fields as the API answers them, except `EventId` and `InstanceId`. */
  body: Record<string, unknown>;
}

/** A buffered event. */
export interface HostEvent extends NewHostEvent {
  /** The per-agent sequence number, MindLink's `EventId`. */
  eventId: number;
  /** The instance of the runtime that buffered it. */
  instanceId: string;
}

/** A window of an agent's event buffer. */
export interface EventWindow {
  events: HostEvent[];
  /** Events with ids ≤ this are no longer buffered (pruned); 0 when none was. */
  prunedThrough: number;
  /** The highest event id ever buffered for the agent (0 when none). */
  lastEventId: number;
}

/** Where an agent's datafeed stands: the feed and the ackId that acknowledges everything buffered. */
export interface DatafeedCursor {
  feedId: string;
  ackId: string;
}

/** An agent's ownership by one host process, fenced by a generation number. */
export interface AgentLease {
  agentId: string;
  /** The host process that holds it. */
  owner: string;
  /** Increases with every new holder; a write with an older one is refused. */
  generation: number;
  expiresAt: number;
}

/**
 * A write was refused because the writer's lease is no longer current (another host took the agent over): a
 * `CONFLICT` (the generation written against is no longer the latest), not retryable — the runtime stops.
 */
export class LeaseLostError extends AllegroError {
  declare readonly code: 'CONFLICT';
  /** The agent whose lease was lost. */
  readonly agentId: string;
  constructor(agentId: string) {
    super('CONFLICT', `The lease on agent ${agentId} is held by another host`);
    this.agentId = agentId;
  }
}

/** The agent host's storage. Every method may be called concurrently; each is atomic. */
export interface AgentHostStore {
  /** The super user: replaced from the configuration at every start (`undefined` until then). */
  getSuperUser(): Promise<{ userName: string; passwordHash: string } | undefined>;
  setSuperUser(userName: string, passwordHash: string): Promise<void>;

  listUsers(): Promise<StoredUser[]>;
  getUser(id: string): Promise<StoredUser | undefined>;
  /** By user name, case-insensitively. */
  findUserByName(userName: string): Promise<StoredUser | undefined>;
  /** Create or replace; a user name held by another id rejects with {@link ConflictError}. */
  putUser(user: StoredUser): Promise<void>;
  /** False when there was none. Also removes the user from every agent's `users`. */
  deleteUser(id: string): Promise<boolean>;

  listAgents(): Promise<StoredAgent[]>;
  getAgent(id: string): Promise<StoredAgent | undefined>;
  /** Create or replace the definition (channels, metadata, status and events are kept on replace). */
  putAgent(agent: StoredAgent): Promise<void>;
  /** False when there was none. Removes its channels, metadata, status, events, cursor, lease and throttle links. */
  deleteAgent(id: string): Promise<boolean>;

  getStatus(agentId: string): Promise<AgentStatus | undefined>;
  setStatus(lease: AgentLease, status: AgentStatus): Promise<void>;

  listChannels(agentId: string): Promise<StoredChannel[]>;
  getChannel(agentId: string, channelId: string): Promise<StoredChannel | undefined>;
  /** Create or replace (as provisioning does; no lease needed). */
  putChannel(channel: StoredChannel): Promise<void>;
  /** A runtime's state change of an existing channel; false when the channel is gone. */
  updateChannel(lease: AgentLease, channel: StoredChannel): Promise<boolean>;
  deleteChannel(agentId: string, channelId: string): Promise<boolean>;

  getMetadata(agentId: string): Promise<Map<string, string>>;
  /** Replace the whole dictionary. */
  setMetadata(agentId: string, entries: ReadonlyMap<string, string>): Promise<void>;
  putMetadataValue(agentId: string, key: string, value: string): Promise<void>;
  deleteMetadataValue(agentId: string, key: string): Promise<boolean>;

  listThrottles(): Promise<StoredThrottle[]>;
  getThrottle(id: string): Promise<StoredThrottle | undefined>;
  putThrottle(throttle: StoredThrottle): Promise<void>;
  deleteThrottle(id: string): Promise<boolean>;

  putToken(token: StoredToken): Promise<void>;
  getToken(hash: string): Promise<StoredToken | undefined>;
  /** Forget tokens that expired before `now`; returns how many. */
  deleteExpiredTokens(now: number): Promise<number>;

  /**
   * Buffer `events` for the agent (ids assigned in order; an event whose `sourceId` is already buffered is skipped)
   * and, in the same transaction, set the datafeed cursor when one is given. Returns the events stored (not the
   * skipped ones). Wakes {@link watchEvents} listeners after the commit.
   */
  appendEvents(lease: AgentLease, events: readonly NewHostEvent[], cursor?: DatafeedCursor): Promise<HostEvent[]>;
  /** Events with ids > `afterEventId`, oldest first, at most `limit`. */
  readEvents(agentId: string, afterEventId: number, limit: number): Promise<EventWindow>;
  /** Drop all but the newest `keep` events of the agent; returns how many were dropped. */
  pruneEvents(agentId: string, keep: number): Promise<number>;
  /** Call `listener` after each commit that buffers events for the agent. Returns the function that stops it. */
  watchEvents(agentId: string, listener: () => void): () => void;

  getCursor(agentId: string): Promise<DatafeedCursor | undefined>;
  /** Set or (with `undefined`) forget the cursor (a recreated datafeed). */
  setCursor(lease: AgentLease, cursor: DatafeedCursor | undefined): Promise<void>;

  /** Take the agent for `owner` for `ttlMs` if no live lease of another owner holds it; `undefined` otherwise. */
  claimAgent(agentId: string, owner: string, ttlMs: number): Promise<AgentLease | undefined>;
  /** Extend a held lease; `undefined` when it was lost. */
  renewLease(lease: AgentLease, ttlMs: number): Promise<AgentLease | undefined>;
  releaseLease(lease: AgentLease): Promise<void>;

  /** Close the store (after which every method rejects). */
  close(): Promise<void>;
}

/** A change conflicts with stored data (a user name already taken): a `CONFLICT`, not retryable. */
export class ConflictError extends AllegroError {
  declare readonly code: 'CONFLICT';
  constructor(message: string) {
    super('CONFLICT', message);
  }
}
