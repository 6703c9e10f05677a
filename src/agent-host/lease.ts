/**
 * The agent host's lease keeper: decides which agents this host process runs, so that each agent runs in exactly
 * one live host (docs/agent-host.md "Scale-out"). An agent is run by the holder of its lease row (agent id, owner,
 * generation, expiry) in the store; the keeper claims free or expired leases, renews the ones it holds every
 * `intervalMs`, and gives up a lease locally the moment its renewal can no longer be proven (`ttlMs` after the last
 * successful renewal *began*, which is never later than the expiry the database recorded; a tenth of `ttlMs` earlier,
 * for a timer that fires late), so the old holder stops
 * its datafeed reader before any other host can claim the agent. The generation fences the rest: the store refuses
 * an owner-only write (events, datafeed cursor, status, channel state) made with a superseded lease.
 *
 * With a {@link HostRegistry} (the shared PostgreSQL store) the keeper also announces this host and its URL, and
 * balances: it holds at most ⌈agents / live hosts⌉ agents, claims free ones up to that share, and hands one back per
 * round while it holds more. Without one (the embedded SQLite store, one process) it claims every agent.
 */
import type { HostRegistry } from './store/postgres.js';
import type { AgentHostStore, AgentLease } from './store/types.js';

/** Why the keeper stopped running an agent. */
export type LeaseLossReason =
  /** Another host holds it now (the renewal found a newer generation or owner). */
  | 'lost'
  /** The renewal could not be confirmed in time (the store is unreachable). */
  | 'expired'
  /** This host handed it back (balancing, or a clean shutdown). */
  | 'released'
  /** The agent is no longer provisioned. */
  | 'deleted';

/** What the keeper needs from the store. */
export type LeaseStore = Pick<AgentHostStore, 'listAgents' | 'claimAgent' | 'renewLease' | 'releaseLease'>;

/** The keeper's settings and the host's hooks. */
export interface LeaseKeeperOptions {
  store: LeaseStore;
  /** The cluster directory, when the store is shared by several hosts. */
  registry?: HostRegistry;
  /** This host process's owner id: unique per process (a restarted host is a new owner). */
  owner: string;
  /** The URL this host answers at, announced in the registry for forwarded calls. */
  url?: string;
  /** How long a lease lasts without renewal (default 15 s): the longest an agent stays unowned after its host dies. */
  ttlMs?: number;
  /** How often the keeper renews and claims (default a third of `ttlMs`). */
  intervalMs?: number;
  /**
   * The host now owns the agent: start its runtime, writing with `lease` (read {@link LeaseKeeper.leaseOf} later, it
   * changes at each renewal). Not awaited.
   */
  onAcquired(lease: AgentLease): void | Promise<void>;
  /** The host no longer owns the agent: stop its runtime (awaited before a lease is handed back). */
  onLost(agentId: string, reason: LeaseLossReason): void | Promise<void>;
  /** A round failed (the store is unreachable); the keeper goes on. */
  onError?(err: unknown): void;
}

interface Held {
  lease: AgentLease;
  /** Fires when the lease can no longer be proven held. */
  timer: NodeJS.Timeout;
}

/** Claims, renews, balances and gives up agents' leases for one host process. */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #ttlMs: number;
  readonly #intervalMs: number;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#intervalMs = options.intervalMs ?? Math.max(1, Math.floor(this.#ttlMs / 3));
    if (!(this.#intervalMs < this.#ttlMs)) throw new RangeError(`The lease interval (${this.#intervalMs} ms) must be shorter than the lease time (${this.#ttlMs} ms)`);
  }

  /** The lease time in milliseconds. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Run the first round now, then one every `intervalMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.round();
    this.#schedule();
  }

  /** The lease this host holds on `agentId`, for its fenced writes. */
  leaseOf(agentId: string): AgentLease | undefined {
    return this.#held.get(agentId)?.lease;
  }

  /** The ids of the agents this host holds. */
  held(): string[] {
    return [...this.#held.keys()];
  }

  /** One round: announce, drop deleted agents, renew what is held, balance, claim free agents. Never rejects. */
  round(): Promise<void> {
    this.#round ??= this.#runRound().catch((err: unknown) => this.#options.onError?.(err)).finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /**
   * Stop: with `release` (a clean shutdown) stop every runtime and hand its lease back, so that other hosts take the
   * agents over at their next round; without it leave the leases to expire (what a crash does).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
    for (const agentId of [...this.#held.keys()]) {
      const held = this.#drop(agentId);
      if (held === undefined) continue;
      await this.#options.onLost(agentId, 'released');
      if (options.release === true) await this.#options.store.releaseLease(held.lease).catch((err: unknown) => this.#options.onError?.(err));
    }
    if (options.release === true) await this.#options.registry?.removeHost(this.#options.owner).catch((err: unknown) => this.#options.onError?.(err));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.round().then(() => this.#schedule());
    }, this.#intervalMs);
  }

  async #runRound(): Promise<void> {
    const { store, registry, owner } = this.#options;
    if (this.#stopped) return;
    if (registry !== undefined && this.#options.url !== undefined) await registry.announceHost(owner, this.#options.url, this.#ttlMs);
    const agents = (await store.listAgents()).map((a) => a.id);
    const provisioned = new Set(agents);
    for (const agentId of this.held()) {
      if (provisioned.has(agentId)) continue;
      const held = this.#drop(agentId);
      if (held === undefined) continue;
      await this.#options.onLost(agentId, 'deleted');
      await store.releaseLease(held.lease);
    }
    await this.#renewAll();

    let share = agents.length;
    let candidates = agents.filter((id) => !this.#held.has(id));
    if (registry !== undefined) {
      const hosts = await registry.listHosts();
      const live = new Set(hosts.map((h) => h.owner));
      live.add(owner);
      share = Math.ceil(agents.length / live.size);
      const now = await registry.now();
      const leases = new Map((await registry.listLeases()).map((l) => [l.agentId, l]));
      candidates = candidates.filter((id) => {
        const lease = leases.get(id);
        return lease === undefined || lease.expiresAt <= now;
      });
      if (this.#held.size > share) {
        const agentId = this.held().at(-1)!;
        const held = this.#drop(agentId);
        if (held !== undefined) {
          await this.#options.onLost(agentId, 'released');
          await store.releaseLease(held.lease);
        }
      }
    }
    // Hosts that look at the same free agents try them in different orders.
    shuffle(candidates);
    for (const agentId of candidates) {
      if (this.#stopped || this.#held.size >= share) break;
      const started = Date.now();
      const lease = await store.claimAgent(agentId, owner, this.#ttlMs);
      if (lease === undefined) continue;
      this.#hold(lease, started);
      // Not awaited: a runtime's start (logging on to Symphony) must not delay the renewals.
      void Promise.resolve().then(() => this.#options.onAcquired(lease)).catch((err: unknown) => this.#options.onError?.(err));
    }
  }

  async #renewAll(): Promise<void> {
    await Promise.all(this.held().map(async (agentId) => {
      const held = this.#held.get(agentId);
      if (held === undefined) return;
      const started = Date.now();
      const renewed = await this.#options.store.renewLease(held.lease, this.#ttlMs);
      if (this.#held.get(agentId) !== held) return; // given up meanwhile
      if (renewed === undefined) {
        this.#drop(agentId);
        await this.#options.onLost(agentId, 'lost');
        return;
      }
      this.#hold(renewed, started);
    }));
  }

  /**
   * Record `lease` as held until `ttlMs` after `since` (local clock), less a tenth of it for a late timer, replacing
   * the previous expiry timer.
   */
  #hold(lease: AgentLease, since: number): void {
    const previous = this.#held.get(lease.agentId);
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      if (this.#held.get(lease.agentId)?.lease !== lease) return;
      this.#drop(lease.agentId);
      void Promise.resolve(this.#options.onLost(lease.agentId, 'expired')).catch((err: unknown) => this.#options.onError?.(err));
    }, Math.max(0, since + this.#ttlMs - Math.floor(this.#ttlMs / 10) - Date.now()));
    timer.unref();
    this.#held.set(lease.agentId, { lease, timer });
  }

  #drop(agentId: string): Held | undefined {
    const held = this.#held.get(agentId);
    if (held === undefined) return undefined;
    clearTimeout(held.timer);
    this.#held.delete(agentId);
    return held;
  }
}

/** Shuffle `items` in place (Fisher–Yates with Math.random: the order only spreads contention). */
function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
