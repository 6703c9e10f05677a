/**
 * The agent host's state in one process (docs/agent-host.md "Architecture"): the configuration, the store, one
 * {@link AgentRuntime} per agent this process owns, the OBO apps its `obo` agents share, the throttles' buckets, and
 * the waits of `/Events` long polls.
 * Routes reach the runtimes through it; it starts every stored agent at start-up and stops them all on close.
 */
import { randomUUID } from 'node:crypto';
import type { OboApp } from '../obo/index.js';
import type { HostConfig } from './config.js';
import type { LeaseKeeper } from './lease.js';
import { AgentRuntime, describeFailure } from './runtime.js';
import type { AgentHostStore, AgentLease, NewHostEvent, StoredAgent } from './store/types.js';
import { Throttles } from './throttle.js';

/** The host's shared state. */
export class AgentHost {
  readonly config: HostConfig;
  readonly store: AgentHostStore;
  /** This process's id, the owner of its leases. */
  readonly owner = randomUUID();
  readonly throttles = new Throttles();
  readonly #runtimes = new Map<string, AgentRuntime>();
  readonly #log: (line: string) => void;
  /** The configuration's OBO apps by app id, one per app, shared by its `obo` agents (for tests and tools: their stats). */
  readonly oboApps: ReadonlyMap<string, OboApp>;
  /** Aborted on close: ends every long poll at once. */
  readonly closing = new AbortController();
  /**
   * On a shared store (docs/agent-host.md "Scale-out"): the lease keeper that decides which agents this process runs
   * (it calls {@link startAgent} with the lease it holds, and {@link stopAgent}). Absent: this process runs them all.
   */
  keeper: LeaseKeeper | undefined;

  /** `oboApps`: the configuration's OBO apps, opened (./obo-agent.ts `openOboApps`); the host closes them. */
  constructor(config: HostConfig, store: AgentHostStore, log: (line: string) => void, oboApps: ReadonlyMap<string, OboApp> = new Map()) {
    this.config = config;
    this.store = store;
    this.#log = log;
    this.oboApps = oboApps;
  }

  /** Start the runtimes of every stored agent (with a lease keeper: of those it claims). */
  async startAll(): Promise<void> {
    if (this.keeper !== undefined) return this.keeper.start();
    for (const agent of await this.store.listAgents()) await this.startAgent(agent);
  }

  /** The runtime of an agent this process runs. */
  runtime(agentId: string): AgentRuntime | undefined {
    return this.#runtimes.get(agentId);
  }

  /**
   * Start (or redefine) the runtime of `agent`, under `lease` when the lease keeper holds one. With a keeper and no
   * lease, a new agent is left to the keeper's next round (which may give it to another host).
   */
  async startAgent(agent: StoredAgent, lease?: AgentLease): Promise<void> {
    const running = this.#runtimes.get(agent.id);
    if (running !== undefined) {
      running.redefine(agent);
      return;
    }
    if (this.keeper !== undefined && lease === undefined) {
      void this.keeper.round();
      return;
    }
    const runtime = new AgentRuntime(agent, { store: this.store, owner: this.owner, symphony: this.config.symphony, oboApps: this.oboApps, tunables: this.config.tunables, log: this.#log });
    this.#runtimes.set(agent.id, runtime);
    try {
      if (!(await runtime.start(lease))) {
        this.#runtimes.delete(agent.id);
        this.#log(`agent ${agent.id}: held by another host`);
      }
    } catch (err) {
      this.#runtimes.delete(agent.id);
      this.#log(`agent ${agent.id}: could not start: ${describeFailure(err)}`);
    }
  }

  /** Stop an agent's runtime (deleted agent). */
  async stopAgent(agentId: string): Promise<void> {
    const runtime = this.#runtimes.get(agentId);
    this.#runtimes.delete(agentId);
    await runtime?.stop();
  }

  /** Buffer host-made events (metadata changes) for an agent this process runs. */
  async appendEvents(agentId: string, events: NewHostEvent[]): Promise<void> {
    await this.#runtimes.get(agentId)?.appendEvents(events);
  }

  /** Stop every runtime, close the OBO apps and the store. */
  async close(): Promise<void> {
    this.closing.abort();
    // A clean stop hands the leases back: other hosts take the agents over at their next round.
    await this.keeper?.stop({ release: true });
    await Promise.all([...this.#runtimes.values()].map((r) => r.stop()));
    this.#runtimes.clear();
    await Promise.all([...this.oboApps.values()].map((a) => a.close()));
    await this.store.close();
  }
}
