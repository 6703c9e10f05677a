// Scale-out wiring (src/agent-host/cluster.ts): the configuration's store section, the shared store opened with the
// password from the environment, and the forwarding of calls to the host that runs an agent — relayed unchanged,
// never forwarded twice, 503 with Retry-After when that host cannot be reached — with one in-process host on a
// throwaway PostgreSQL server and a stand-in "owner" (a plain HTTP server) announced in the host directory.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARDED_HEADER, openConfiguredStore } from '../../../src/agent-host/cluster.js';
import { DEFAULT_TUNABLES, resolveHostConfig, type HostConfig } from '../../../src/agent-host/config.js';
import { hashPassword } from '../../../src/agent-host/password.js';
import { startAgentHost, type RunningAgentHost } from '../../../src/agent-host/server.js';
import type { SharedAgentHostStore } from '../../../src/agent-host/store/postgres.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { describePostgres, startPostgres, type RunningPostgres } from '../../helpers/postgres.js';

const HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const base = { superUser: { username: 'admin', passwordHash: HASH }, symphony: { host: '127.0.0.1' } };
const storeOf = (store: unknown) => resolveHostConfig({ ...base, store }, '/etc/allegro').store;

describe('the store section of the agent host configuration', () => {
  it('reads a postgres store, resolving forwardCa against the file\'s directory; sqlite or no section means the embedded store', () => {
    expect(storeOf({ kind: 'postgres', url: 'postgresql://host@db.example:5433/agents', passwordEnv: 'PGPASS', leaseTimeMs: 10_000, leaseIntervalMs: 2000, forwardCa: 'ca.pem', advertiseUrl: 'https://h1:8443', maxConnections: 4 }))
      .toEqual({ kind: 'postgres', url: 'postgresql://host@db.example:5433/agents', passwordEnv: 'PGPASS', leaseTimeMs: 10_000, leaseIntervalMs: 2000, forwardCaPath: '/etc/allegro/ca.pem', advertiseUrl: 'https://h1:8443', maxConnections: 4 });
    expect(storeOf({ kind: 'postgres', host: 'db', port: 5432, database: 'agents', user: 'host' })).toEqual({ kind: 'postgres', host: 'db', port: 5432, database: 'agents', user: 'host' });
    expect(storeOf({ kind: 'sqlite' })).toBeUndefined();
    expect(resolveHostConfig(base, '/').store).toBeUndefined();
  });

  it('refuses a password in the URL, unknown keys and kinds, a missing location, and an interval not shorter than the lease', () => {
    const refused = (store: unknown): InvalidConfigError => {
      try {
        storeOf(store);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidConfigError);
        return err as InvalidConfigError;
      }
      throw new Error('accepted');
    };
    const withPassword = refused({ kind: 'postgres', url: 'postgresql://host:s3cret-pw@db/agents' });
    expect(withPassword.key).toBe('store.url');
    expect(withPassword.message).not.toContain('s3cret-pw');
    expect(refused({ kind: 'postgres', url: 'mysql://db/agents' }).key).toBe('store.url');
    expect(refused({ kind: 'postgres', host: 'db', password: 'x' }).key).toBe('store.password');
    expect(refused({ kind: 'mongo' }).key).toBe('store.kind');
    expect(refused({ kind: 'postgres' }).key).toBe('store');
    expect(refused({ kind: 'postgres', host: 'db', leaseTimeMs: 1000, leaseIntervalMs: 1000 }).key).toBe('store.leaseIntervalMs');
    expect(refused({ kind: 'postgres', host: 'db', port: 70_000 }).key).toBe('store.port');
    expect(refused({ kind: 'sqlite', url: 'x' }).key).toBe('store.url');
  });

  it('needs the environment variable that passwordEnv names, and says which one', async () => {
    const err = await Promise.resolve().then(() => openConfiguredStore({ kind: 'postgres', host: '127.0.0.1', passwordEnv: 'NO_SUCH_VARIABLE_FOR_TESTS' }, {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as InvalidConfigError).key).toBe('store.passwordEnv');
    expect((err as Error).message).toContain('NO_SUCH_VARIABLE_FOR_TESTS');
  });
});

describePostgres('forwarding calls to the host that runs the agent', () => {
  let server: RunningPostgres;
  let host: RunningAgentHost;
  let store: SharedAgentHostStore;
  let owner: Server;
  let ownerUrl: string;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  let admin: string;

  const request = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const res = await fetch(`${host.url}${path}`, { method, headers: { accept: 'application/json', ...headers }, ...(body === undefined ? {} : { body }) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  beforeAll(async () => {
    server = await startPostgres();
    const config: HostConfig = {
      host: '127.0.0.1', port: 0, superUser: { username: 'admin', passwordHash: await hashPassword('admin-password-1') },
      symphony: { host: '127.0.0.1', port: 1 }, tunables: { ...DEFAULT_TUNABLES },
      store: { kind: 'postgres', url: `postgresql://${server.user}@127.0.0.1:${server.port}/postgres`, passwordEnv: 'CLUSTER_TEST_PG_PASSWORD', leaseTimeMs: 60_000 },
    };
    store = await openConfiguredStore(config.store!, { CLUSTER_TEST_PG_PASSWORD: server.password });
    // The stand-in owner answers every call with what it received.
    seen = [];
    owner = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(207, { 'content-type': 'application/json', 'x-owner': 'yes', connection: 'close' });
        res.end(JSON.stringify({ from: 'owner' }));
      });
    });
    await new Promise<void>((resolve) => owner.listen(0, '127.0.0.1', resolve));
    ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
    await store.putAgent({ id: 'bot', userName: 'bot', identity: { kind: 'rsa', username: 'bot', privateKeyEnv: 'NONE' }, users: ['u1'], canProvision: false, provisioningMode: 0, managementMode: 0 });
    await store.putAgent({ id: 'gone', userName: 'gone', identity: { kind: 'rsa', username: 'gone', privateKeyEnv: 'NONE' }, users: [], canProvision: false, provisioningMode: 0, managementMode: 0 });
    await store.putUser({ id: 'u1', userName: 'app', passwordHash: await hashPassword('app-password-1') });
    await store.announceHost('owner', ownerUrl, 60_000);
    await store.claimAgent('bot', 'owner', 60_000);
    await store.announceHost('dead', 'http://127.0.0.1:1', 60_000);
    await store.claimAgent('gone', 'dead', 60_000);
    host = await startAgentHost(config, { store, log: () => undefined });
    const token = await request('POST', '/Authentication/V1/Tokens', { 'content-type': 'application/json' }, JSON.stringify({ Username: 'admin', Password: 'admin-password-1', AgentId: '' }));
    admin = JSON.parse(token.text) as string;
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await new Promise((resolve) => owner?.close(resolve));
    await server?.stop();
  });

  it('relays a call for an agent another host runs to that host, unchanged, and its answer back', async () => {
    const reply = await request('PUT', '/Provisioning/V1/Agents/bot/MetaData/colour?x=1', { authorization: `FCF ${admin}`, 'content-type': 'application/json' }, '"blue"');
    expect(reply).toMatchObject({ status: 207, text: '{"from":"owner"}' });
    expect(reply.headers.get('x-owner')).toBe('yes');
    const call = seen.at(-1)!;
    expect(call).toMatchObject({ method: 'PUT', url: '/Provisioning/V1/Agents/bot/MetaData/colour?x=1', body: '"blue"' });
    expect(call.headers.authorization).toBe(`FCF ${admin}`);
    expect(call.headers[FORWARDED_HEADER]).toBe(host.host.owner);

    // Collaboration: the agent is the token's.
    const app = JSON.parse((await request('POST', '/Authentication/V1/Tokens', { 'content-type': 'application/json' }, JSON.stringify({ Username: 'app', Password: 'app-password-1', AgentId: 'bot' }))).text) as string;
    expect((await request('GET', '/Collaboration/V1/Events?last-event=0', { authorization: `Bearer ${app}` })).status).toBe(207);
    expect(seen.at(-1)!.url).toBe('/Collaboration/V1/Events?last-event=0');
    // Every Collaboration route the host registers, the composing state (/Me) and sends with their bodies included.
    const channel = `/Collaboration/V1/Channels/${encodeURIComponent('room:abcdefgh')}`;
    const calls: Array<[string, string, string?]> = [
      ['GET', '/Collaboration/V1/Channels'], ['GET', channel], ['GET', `${channel}/State`], ['GET', `${channel}/Messages?take=5`],
      ['POST', `${channel}/Messages`, '{"Text":"hi"}'], ['POST', `${channel}/Me`, '{"IsComposing":true}'], ['GET', '/Collaboration/V1/Metadata'],
    ];
    const registered = host.routes.filter((r) => r.pattern.startsWith('/Collaboration/')).map((r) => r.method + ' ' + r.pattern);
    expect(registered).toHaveLength(calls.length + 1);
    for (const [method, path, body] of calls) {
      const forwarded = await request(method, path, { authorization: `FCF ${app}`, 'content-type': 'application/json' }, body);
      expect(forwarded.status, `${method} ${path}`).toBe(207);
      expect(seen.at(-1)!).toMatchObject({ method, url: path, body: body ?? '' });
    }
  });

  it('answers itself what concerns no agent, or a call forwarded already (never forwarding twice)', async () => {
    const before = seen.length;
    expect((await request('GET', '/Provisioning/V1/Users', { authorization: `FCF ${admin}` })).status).toBe(200);
    const local = await request('GET', '/Provisioning/V1/Agents/bot', { authorization: `FCF ${admin}`, [FORWARDED_HEADER]: 'another-host' });
    expect(local.status).toBe(200);
    expect(JSON.parse(local.text)).toMatchObject({ Id: 'bot' });
    expect((await request('GET', '/Collaboration/V1/Channels')).status).toBe(401);
    expect(seen.length).toBe(before);
  });

  it('answers 503 with Retry-After when the host that runs the agent cannot be reached', async () => {
    const reply = await request('GET', '/Provisioning/V1/Agents/gone', { authorization: `FCF ${admin}` });
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(reply.text)).toMatchObject({ code: 503 });
  });
});
