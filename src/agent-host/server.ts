/**
 * startAgentHost: the agent host's HTTP(S) server (docs/agent-host.md). It opens the store (SQLite in the data
 * directory, or in memory), writes the super user from the configuration, opens its OBO apps (./obo-agent.ts), starts
 * every stored agent, and serves the Authentication, Provisioning and Collaboration routes with the sandbox's bounded
 * router (bodies, JSON depth and field lengths) and connection limits (count, head, request and idle timeouts): every
 * error is JSON `{code, message}`, a handler bug is a 500 and the server keeps running. HTTPS when the configuration
 * names a certificate, HTTP otherwise; 127.0.0.1 by default. `close()` stops accepting, ends long polls, stops the
 * agents and closes the store.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { guardConnections, serverOptions, type ConnectionLimits } from '../sandbox/connections.js';
import { errorResponse, handleRequest, Router, writeResponse, type RouteInfo } from '../sandbox/http.js';
import { authRoutes } from './auth.js';
import { collaborationRoutes } from './collaboration.js';
import type { HostConfig } from './config.js';
import { AgentHost } from './host.js';
import { openOboApps } from './obo-agent.js';
import { Cluster, isSharedStore, openConfiguredStore } from './cluster.js';
import { provisioningRoutes } from './provisioning.js';
import { SESSION_RETRY } from './runtime.js';
import { openSqliteStore } from './store/sqlite.js';
import type { AgentHostStore } from './store/types.js';

/** The database file in the data directory. */
export const DATABASE_FILE = 'agent-host.db';

/** How often expired tokens are forgotten. */
const TOKEN_SWEEP_MS = 60_000;

/** A running agent host. */
export interface RunningAgentHost {
  /** `https://127.0.0.1:PORT` (or `http://…`). */
  url: string;
  port: number;
  /** The host's state (runtimes, store), for tests and tools. */
  host: AgentHost;
  /** Every route it serves, as registered (the fuzz test covers exactly these). */
  routes: RouteInfo[];
  /** Stop serving, stop every agent, close the store. Idempotent. */
  close(): Promise<void>;
}

/** How to start a host beyond its configuration. */
export interface StartOptions {
  /** Use this store instead of opening one from the configuration (another backend). */
  store?: AgentHostStore;
  /** Unexpected errors and agent events worth a log line (never secrets). Default: stderr. */
  log?: (line: string) => void;
}

/** Start an agent host. */
export async function startAgentHost(config: HostConfig, options: StartOptions = {}): Promise<RunningAgentHost> {
  const log = options.log ?? ((line: string) => process.stderr.write(`agent-host: ${line}\n`));
  let store = options.store;
  if (store === undefined && config.store !== undefined) store = await openConfiguredStore(config.store);
  if (store === undefined) {
    if (config.dataDir !== undefined) mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    store = openSqliteStore(config.dataDir === undefined ? undefined : join(config.dataDir, DATABASE_FILE));
  }
  await store.setSuperUser(config.superUser.username, config.superUser.passwordHash);
  const opened = store;
  // A bad app key is a configuration error (INVALID_CONFIG naming it): the host does not start.
  const oboApps = await openOboApps(config.oboApps ?? [], { ...SESSION_RETRY, ...config.symphony }).catch(async (err: unknown) => {
    await opened.close();
    throw err;
  });
  const host = new AgentHost(config, store, log, oboApps);
  const router = new Router(config.tunables.bodyLimit);
  authRoutes(router, host);
  provisioningRoutes(router, host);
  collaborationRoutes(router, host);

  const limits: ConnectionLimits = {
    maxConnections: config.tunables.maxConnections, tlsHandshakeTimeoutMs: 10_000, headersTimeoutMs: 10_000, requestTimeoutMs: config.tunables.requestTimeoutMs,
    idleTimeoutMs: 5_000, sendTimeoutMs: 30_000, maxHeaderBytes: 16 * 1024,
  };
  // On a shared store, a call for an agent another live host runs is forwarded to it (./cluster.ts).
  let cluster: Cluster | undefined;
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    // A `.` or `..` segment would be resolved by URL parsing (`…/Agents/bot/Channels/..` is the agent itself): refused.
    if (hasDotSegment(req.url ?? '/')) {
      req.resume();
      writeResponse(res, errorResponse(400, 'A path segment may not be . or .. (percent-encoded or not)'));
      return;
    }
    if (cluster !== undefined && await cluster.forward(req, res).catch((err: unknown) => {
      log(`forwarding failed: ${(err as Error)?.message ?? String(err)}`);
      return false;
    })) return;
    void handleRequest(router, req, res, {
      internalErrorMessage: 'Internal error of the agent host',
      onError: (err) => log(`internal error: ${(err as Error)?.stack ?? String(err)}`),
    });
  };
  const server: Server | HttpsServer = config.tls === undefined
    ? createHttpServer(serverOptions(limits), serve)
    : createHttpsServer({ ...serverOptions(limits), cert: readFileSync(config.tls.certificatePath), key: readFileSync(config.tls.privateKeyPath) }, serve);
  const sockets = new Set<Socket>();
  const stopGuard = guardConnections(server as HttpsServer, limits, sockets);
  const sweep = setInterval(() => void host.store.deleteExpiredTokens(Date.now()).catch(() => undefined), TOKEN_SWEEP_MS);
  sweep.unref();

  const shared = isSharedStore(store) ? store : undefined;
  try {
    if (shared === undefined) await host.startAll();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (shared !== undefined) {
      // The keeper announces the URL the other hosts forward to, so it starts once the server listens.
      cluster = new Cluster(host, shared, config.store?.advertiseUrl ?? urlOf(config, server), {
        ...(config.store?.leaseTimeMs === undefined ? {} : { leaseTtlMs: config.store.leaseTimeMs }),
        ...(config.store?.leaseIntervalMs === undefined ? {} : { leaseIntervalMs: config.store.leaseIntervalMs }),
        ...(config.store?.forwardCaPath === undefined ? {} : { caPath: config.store.forwardCaPath }),
        log,
      });
      host.keeper = cluster.keeper;
      await host.startAll();
    }
  } catch (err) {
    clearInterval(sweep);
    stopGuard();
    await host.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(config, server),
    port: (server.address() as AddressInfo).port,
    host,
    routes: router.routes(),
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        stopGuard();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        host.closing.abort();
        server.closeIdleConnections();
        // Long polls end at once (host.closing); anything still open after a moment is cut.
        const cut = setTimeout(() => { for (const s of sockets) s.destroy(); }, 1000);
        await closed;
        clearTimeout(cut);
        await host.close();
      })();
      return closing;
    },
  };
}

/** The URL a listening server answers at. */
function urlOf(config: HostConfig, server: Server | HttpsServer): string {
  const { port } = server.address() as AddressInfo;
  const name = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.tls === undefined ? 'http' : 'https'}://${name}:${port}`;
}

/** True when the path of a request target has a `.` or `..` segment (also as `%2E`), which URL parsing resolves. */
export function hasDotSegment(target: string): boolean {
  const path = target.split(/[?#]/, 1)[0]!;
  return path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}
