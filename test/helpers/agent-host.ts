// An agent host in process against an in-process sandbox, over real HTTPS (the sandbox's server certificate, so that
// clients trust the host through the sandbox's CA), and requests to it.
import { dirname, join } from 'node:path';
import type { HostConfig, HostTunables } from '../../src/agent-host/config.js';
import { DEFAULT_TUNABLES } from '../../src/agent-host/config.js';
import { hashPassword } from '../../src/agent-host/password.js';
import { startAgentHost, type RunningAgentHost } from '../../src/agent-host/server.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, type Reply, type RequestOptions } from './sandbox.js';

export const SUPER_USER = { username: 'admin', password: 'admin-password-1' };

/** A host configuration against `sandbox`, HTTPS with the sandbox's server certificate, data in `dataDir`. */
export async function hostConfig(sandbox: RunningSandbox, dataDir: string | undefined, tunables: Partial<HostTunables> = {}): Promise<HostConfig> {
  const tlsDir = dirname(sandbox.caCertPath);
  return {
    host: '127.0.0.1', port: 0,
    tls: { certificatePath: join(tlsDir, 'server.pem'), privateKeyPath: join(tlsDir, 'server-key.pem') },
    ...(dataDir === undefined ? {} : { dataDir }),
    superUser: { username: SUPER_USER.username, passwordHash: await hashPassword(SUPER_USER.password) },
    symphony: { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } } },
    tunables: { ...DEFAULT_TUNABLES, eventsWaitMs: 2000, backoffInitialMs: 100, backoffMaxMs: 500, ...tunables },
  };
}

/** Start a host for `sandbox`. */
export async function startTestHost(sandbox: RunningSandbox, dataDir: string | undefined, tunables: Partial<HostTunables> = {}): Promise<RunningAgentHost> {
  return startAgentHost(await hostConfig(sandbox, dataDir, tunables), { log: () => undefined });
}

/** A request's options: the sandbox helper's, and a token. */
export type HostCallOptions = RequestOptions & { token?: string };

/** One HTTPS request to the host, trusting the sandbox's CA; `token` goes in `Authorization: FCF`. */
export function hostCall(host: RunningAgentHost, sandbox: RunningSandbox, method: string, path: string, options: HostCallOptions = {}): Promise<Reply> {
  const { token, ...rest } = options;
  const headers = { accept: 'application/json', ...(token === undefined ? {} : { authorization: `FCF ${token}` }), ...(rest.headers ?? {}) };
  return call({ podUrl: host.url, caCertPath: sandbox.caCertPath } as RunningSandbox, method, path, { ...rest, headers });
}

/** A token for the super user, or for `username` on `agentId`. */
export async function tokenFor(host: RunningAgentHost, sandbox: RunningSandbox, username: string, password: string, agentId = ''): Promise<string> {
  const reply = await hostCall(host, sandbox, 'POST', '/Authentication/V1/Tokens', { json: { Username: username, Password: password, AgentId: agentId } });
  if (reply.status !== 200 || typeof reply.json !== 'string') throw new Error(`token refused: ${reply.status} ${reply.body.toString()}`);
  return reply.json;
}

/** Poll `probe` until it returns a value other than undefined (at most `ms`). */
export async function eventually<T>(probe: () => Promise<T | undefined>, ms = 15_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
