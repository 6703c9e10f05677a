/**
 * Scale-out of the agent host (docs/agent-host.md "Scale-out"): several host processes on one PostgreSQL database.
 * Each process runs the agents whose leases its {@link LeaseKeeper} holds (exactly one datafeed reader per agent),
 * and answers any API call: a call that needs an agent's runtime — Collaboration (the agent named by the token) and
 * Provisioning under `/Provisioning/V1/Agents/{id}` — is forwarded, when another live host owns that agent, to the
 * URL that host announced, and the owner's answer is relayed unchanged. A forwarded call is never forwarded again
 * (the owner answers 503 while it does not run the agent), and an owner that cannot be reached is answered with 503
 * and `Retry-After`: its agents are taken over within the lease time.
 *
 * Forwarding over HTTPS trusts the system's CAs, or the CA certificates of the configuration's `store.forwardCa`.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidConfigError } from '../errors.js';
import { errorResponse, writeResponse } from '../sandbox/http.js';
import { agentOfToken } from './auth.js';
import type { PostgresStoreConfig } from './config.js';
import type { AgentHost } from './host.js';
import { LeaseKeeper } from './lease.js';
import { openPostgresStore, type SharedAgentHostStore } from './store/postgres.js';
import type { AgentHostStore } from './store/types.js';

/**
 * Open the shared store the configuration names, with the password read from the environment variable it names.
 * @throws InvalidConfigError when that variable is not set; the store's AllegroErrors when it cannot connect.
 */
export function openConfiguredStore(config: PostgresStoreConfig, env: NodeJS.ProcessEnv = process.env): Promise<SharedAgentHostStore> {
  const { url, host, port, database, user, maxConnections, passwordEnv } = config;
  const password = passwordEnv === undefined ? undefined : env[passwordEnv];
  if (passwordEnv !== undefined && password === undefined) throw new InvalidConfigError('store.passwordEnv', `the environment variable ${passwordEnv} is not set`);
  const options = { url, host, port, database, user, maxConnections, password };
  return openPostgresStore(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
}

/** True when `store` is a shared store with a host directory (the PostgreSQL store). */
export function isSharedStore(store: AgentHostStore): store is SharedAgentHostStore {
  return typeof (store as Partial<SharedAgentHostStore>).findOwner === 'function';
}

/** The header a forwarded call carries (the forwarding host's owner id). */
export const FORWARDED_HEADER = 'x-allegro-forwarded-by';

/** Hop-by-hop headers, not relayed (RFC 9110 §7.6.1), and `host`, which the forwarded request sets itself. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

/** How the cluster is tuned. */
export interface ClusterOptions {
  /** Lease time (default 15 s) and renewal interval (default a third of it). */
  leaseTtlMs?: number;
  leaseIntervalMs?: number;
  /** A PEM file of the CA certificates to trust when forwarding over HTTPS (default: the system's). */
  caPath?: string;
  /** Where failed lease rounds are reported (never secrets). */
  log?: (line: string) => void;
}

/** One host process's part of the cluster: its lease keeper and its forwarding of calls to agents' owners. */
export class Cluster {
  readonly keeper: LeaseKeeper;
  readonly #host: AgentHost;
  readonly #store: SharedAgentHostStore;
  readonly #ca: Buffer | undefined;

  constructor(host: AgentHost, store: SharedAgentHostStore, url: string, options: ClusterOptions = {}) {
    this.#host = host;
    this.#store = store;
    this.#ca = options.caPath === undefined ? undefined : readFileSync(options.caPath);
    this.keeper = new LeaseKeeper({
      store, registry: store, owner: host.owner, url,
      ...(options.leaseTtlMs === undefined ? {} : { ttlMs: options.leaseTtlMs }),
      ...(options.leaseIntervalMs === undefined ? {} : { intervalMs: options.leaseIntervalMs }),
      onAcquired: async (lease) => {
        const agent = await store.getAgent(lease.agentId);
        // Not if the lease was given up meanwhile (its runtime would be fenced out at its first write anyway).
        if (agent !== undefined && this.keeper.leaseOf(lease.agentId)?.generation === lease.generation) await host.startAgent(agent, lease);
      },
      onLost: (agentId) => host.stopAgent(agentId),
      onError: (err) => options.log?.(`leases: ${err instanceof Error ? err.message : String(err)}`),
    });
  }

  /**
   * Forward `req` to the owner of the agent it concerns when another live host owns it; false when this host is to
   * answer it (no agent, the agent runs here or nowhere, or the call was forwarded already).
   */
  async forward(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.headers[FORWARDED_HEADER] !== undefined) return false;
    const agentId = await this.#agentOf(req);
    if (agentId === undefined || this.#host.runtime(agentId) !== undefined) return false;
    const owner = await this.#store.findOwner(agentId);
    if (owner === undefined || owner.lease.owner === this.#host.owner) return false;
    await this.#relay(req, res, owner.url);
    return true;
  }

  /** The agent a call concerns: the token's for Collaboration, the path's under `/Provisioning/V1/Agents/{id}`. */
  async #agentOf(req: IncomingMessage): Promise<string | undefined> {
    const path = (req.url ?? '').split('?')[0]!;
    if (/^\/Collaboration\/V1\//i.test(path)) return agentOfToken(this.#host, req.headers.authorization);
    const m = /^\/Provisioning\/V1\/Agents\/([^/]+)(?:\/|$)/i.exec(path);
    if (m === null) return undefined;
    try {
      return decodeURIComponent(m[1]!);
    } catch {
      return undefined;
    }
  }

  #relay(req: IncomingMessage, res: ServerResponse, base: string): Promise<void> {
    return new Promise((resolve) => {
      const target = new URL(req.url ?? '/', base);
      const headers: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) if (!HOP_HEADERS.has(name)) headers[name] = value;
      headers[FORWARDED_HEADER] = this.#host.owner;
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const unavailable = (): void => {
        if (!res.headersSent) writeResponse(res, errorResponse(503, 'The host that runs this agent is not reachable; its agents move to another host within the lease time', { 'retry-after': '1' }));
        else res.destroy();
        resolve();
      };
      const out = send(target, { method: req.method, headers, ...(this.#ca === undefined ? {} : { ca: this.#ca }) }, (answer) => {
        const relayed: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_HEADERS.has(name)) relayed[name] = value;
        res.writeHead(answer.statusCode ?? 502, relayed);
        answer.pipe(res);
        answer.once('end', () => resolve());
        answer.once('error', unavailable);
      });
      out.once('error', unavailable);
      // The caller gave up (a long poll's client went away): end the forwarded call too.
      res.once('close', () => {
        if (!res.writableFinished) out.destroy();
        resolve();
      });
      req.pipe(out);
    });
  }
}
