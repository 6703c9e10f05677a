// Scale-out of the agent host (docs/agent-host.md "Scale-out"): three host processes (the built CLI) on one real
// PostgreSQL server (a throwaway one, test/helpers/postgres.ts) against an in-process sandbox over HTTPS. Any host
// answers any call (calls for the agent are forwarded to the host that runs it); the agent runs in exactly one host;
// when that host is killed with SIGKILL another takes the agent over within the lease time, and a client reading
// /Events through a surviving host — restarting from last-event=0 on 410, as MindLink's JavaScript sample does —
// sees every message alice sent before, during and after the kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashPassword } from '../../../src/agent-host/password.js';
import { PgDatabase } from '../../../src/agent-host/store/pg.js';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { eventually, SUPER_USER } from '../../helpers/agent-host.js';
import { identityConfig } from '../../helpers/client.js';
import { describePostgres, startPostgres, type RunningPostgres } from '../../helpers/postgres.js';
import { call, type Reply, type RequestOptions } from '../../helpers/sandbox.js';

const CLI = resolve(import.meta.dirname, '../../../dist/cli/main.js');
const APP = { id: 'app', username: 'app-user', password: 'app-password-1' };
const LEASE_MS = 3000;
const PASSWORD_ENV = 'AGENT_HOST_TEST_PG_PASSWORD';

interface HostProcess {
  child: ChildProcess;
  url: string;
  /** Its stderr, for the failure message. */
  log: string[];
}

describePostgres('agent hosts on one PostgreSQL database', () => {
  let server: RunningPostgres;
  let db: PgDatabase;
  let sandbox: RunningSandbox;
  let alice: AllegroClient;
  let dir: string;
  let configPath: string;
  const hosts: HostProcess[] = [];

  const api = (h: HostProcess, method: string, path: string, options: RequestOptions & { token?: string } = {}): Promise<Reply> => {
    const { token, ...rest } = options;
    const headers = { accept: 'application/json', ...(token === undefined ? {} : { authorization: `FCF ${token}` }), ...(rest.headers ?? {}) };
    return call({ podUrl: h.url, caCertPath: sandbox.caCertPath } as RunningSandbox, method, path, { timeoutMs: 10_000, ...rest, headers });
  };
  const tokenFor = async (h: HostProcess, username: string, password: string, agentId = ''): Promise<string> => {
    const reply = await api(h, 'POST', '/Authentication/V1/Tokens', { json: { Username: username, Password: password, AgentId: agentId } });
    if (reply.status !== 200) throw new Error(`token refused: ${reply.status} ${reply.body.toString()}`);
    return reply.json as string;
  };

  /** Start one `allegro agent-host` process and wait for its ready line. */
  const startHost = (): Promise<HostProcess> => new Promise((resolveHost, reject) => {
    const child = spawn(process.execPath, [CLI, 'agent-host', '--config', configPath], {
      env: { ...process.env, [PASSWORD_ENV]: server.password }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => log.push(line));
    const timer = setTimeout(() => reject(new Error(`no ready line within 30 s:\n${log.join('\n')}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"ready":true')) return;
      clearTimeout(timer);
      const h: HostProcess = { child, url: (JSON.parse(line) as { url: string }).url, log };
      hosts.push(h);
      resolveHost(h);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent-host exited with ${code}:\n${log.join('\n')}`));
    });
  });

  /** The host whose process runs the agent now (by the lease and the URL its holder announced). */
  const ownerOf = async (agentId: string): Promise<HostProcess | undefined> => {
    const rows = await db.query<{ url: string }>(`SELECT h.url FROM leases l JOIN hosts h ON h.owner = l.owner
      WHERE l.agent_id = $1 AND l.expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint`, [agentId]);
    return rows.length === 1 ? hosts.find((h) => h.url === rows[0]!.url) : undefined;
  };

  beforeAll(async () => {
    server = await startPostgres();
    const database = await server.createDatabase();
    db = PgDatabase.open({ url: server.url(database) });
    sandbox = await startSandbox({ config: { datafeedWaitMs: 300 } });
    alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
    dir = mkdtempSync(join(tmpdir(), 'agent-host-scale-'));
    const tlsDir = dirname(sandbox.caCertPath);
    configPath = join(dir, 'agent-host.json');
    writeFileSync(configPath, JSON.stringify({
      host: '127.0.0.1', port: 0,
      tls: { certificate: join(tlsDir, 'server.pem'), privateKey: join(tlsDir, 'server-key.pem') },
      store: {
        kind: 'postgres', url: `postgresql://${server.user}@127.0.0.1:${server.port}/${database}`, passwordEnv: PASSWORD_ENV,
        leaseTimeMs: LEASE_MS, leaseIntervalMs: 500, forwardCa: sandbox.caCertPath,
      },
      superUser: { username: SUPER_USER.username, passwordHash: await hashPassword(SUPER_USER.password) },
      symphony: { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } } },
      tunables: { eventsWaitMs: 2000, backoffInitialMs: 100, backoffMaxMs: 500 },
    }));
    await Promise.all([startHost(), startHost(), startHost()]);
  }, 120_000);

  afterAll(async () => {
    for (const h of hosts) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGTERM');
    await Promise.all(hosts.map((h) => (h.child.exitCode === null && h.child.signalCode === null ? new Promise((r) => h.child.once('exit', r)) : undefined)));
    await alice?.close();
    await sandbox?.close();
    await db?.close();
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs the agent in one host, answers through any host, and takes the agent over after a SIGKILL with no event lost', async () => {
    const [first] = hosts as [HostProcess];
    const admin = await tokenFor(first, SUPER_USER.username, SUPER_USER.password);
    expect((await api(first, 'PUT', `/Provisioning/V1/Users/${APP.id}`, { token: admin, json: { UserName: APP.username, Password: APP.password } })).status).toBe(200);
    const files = sandbox.identities.get('sandbox-bot')!;
    const put = await api(first, 'PUT', '/Provisioning/V1/Agents/bot', { token: admin, json: { UserName: 'sandbox-bot', Identity: { Kind: 'rsa', PrivateKeyPath: files.privateKeyPath }, Users: [APP.id] } });
    expect(put.status).toBe(200);
    const owner = await eventually(() => ownerOf('bot'), 20_000, 'a host to own the agent');
    // Every host answers for the agent: the non-owners forward to the owner.
    for (const h of hosts) {
      await eventually(async () => ((await api(h, 'GET', '/Provisioning/V1/Agents/bot', { token: admin })).json?.State === 2 ? true : undefined), 20_000, 'the agent to be Active');
    }
    const room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
    const channelId = encodeURIComponent(`room:${room}`);
    const others = hosts.filter((h) => h !== owner) as [HostProcess, HostProcess];
    expect((await api(others[0], 'PUT', `/Provisioning/V1/Agents/bot/Channels/${channelId}`, { token: admin })).json).toMatchObject({ State: 2 });
    const token = await tokenFor(others[1], APP.username, APP.password, 'bot');
    const sent = await api(others[1], 'POST', `/Collaboration/V1/Channels/${channelId}/Messages`, { token, json: { Text: 'hello through a host that forwards' } });
    expect(sent.status).toBe(200);
    expect((await alice.pod.history(room, { limit: 5 })).map((m) => m.text)).toContain('hello through a host that forwards');

    // A client follows /Events through a host that survives, as MindLink's JavaScript sample does: on 410 it starts
    // again from last-event=0 without instance; on any other failure it waits and repeats the request.
    const reader = others[0];
    const seen = new Map<number, string>();
    let statuses: number[] = [];
    let following = true;
    const follow = (async () => {
      let last = 0;
      let instance = '';
      while (following) {
        const reply = await api(reader, 'GET', `/Collaboration/V1/Events?last-event=${last}${instance === '' ? '' : `&instance=${instance}`}&types=message&origins=remote`, { token }).catch(() => undefined);
        statuses.push(reply?.status ?? 0);
        if (reply?.status === 410) {
          last = 0;
          instance = '';
        } else if (reply?.status === 200) {
          for (const e of reply.json as Array<{ EventId: number; InstanceId: string; Content: string }>) {
            seen.set(e.EventId, e.Content);
            last = Math.max(last, e.EventId);
            instance = e.InstanceId;
          }
        } else await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const contents = () => [...seen.values()];

    for (const n of [1, 2, 3]) await alice.pod.send(room, `before ${n}`);
    await eventually(async () => (contents().includes('before 3') ? true : undefined), 20_000, 'the messages sent before the kill');

    owner!.child.kill('SIGKILL');
    const killed = Date.now();
    statuses = [];
    for (const n of [1, 2, 3]) await alice.pod.send(room, `during ${n}`);
    const next = await eventually(async () => {
      const h = await ownerOf('bot');
      return h !== undefined && h !== owner ? h : undefined;
    }, LEASE_MS * 5, 'another host to take the agent over');
    const tookOver = Date.now() - killed;
    await eventually(async () => ((await api(reader, 'GET', '/Provisioning/V1/Agents/bot', { token: admin })).json?.State === 2 ? true : undefined), 20_000, 'the agent to be Active again');
    const active = Date.now() - killed;
    for (const n of [1, 2, 3]) await alice.pod.send(room, `after ${n}`);
    await eventually(async () => (contents().includes('after 3') ? true : undefined), 30_000, 'the messages sent after the takeover');
    following = false;
    await follow;

    const expected = ['before', 'during', 'after'].flatMap((w) => [1, 2, 3].map((n) => `${w} ${n}`));
    expect(contents().filter((c) => expected.includes(c)).sort()).toEqual([...expected].sort());
    // The new owner runs it alone (one lease, one owner), and the client was told the instance changed (410).
    expect(hosts.includes(next)).toBe(true);
    expect(await db.query('SELECT owner FROM leases WHERE agent_id = $1', ['bot'])).toHaveLength(1);
    expect(statuses).toContain(410);
    console.log(`takeover after SIGKILL: lease taken ${tookOver} ms, agent Active ${active} ms after the kill (lease time ${LEASE_MS} ms)`);
    expect(tookOver).toBeLessThan(LEASE_MS * 5);
  });
});
