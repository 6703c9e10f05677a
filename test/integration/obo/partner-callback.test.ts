// The partner callback end to end, over real sockets on 127.0.0.1: the sandbox sends appEnabled and
// agentRegistered (docs/symphony-apis.md §1.11) to a receiver made with createPartnerCallbackHandler, which records
// tenants in a TenantRegistry on a SQLite file; a wrong key is refused and retried until the sandbox gives up, a
// malformed body is refused, a failed delivery is retried until it arrives, a replay changes nothing, the registry
// survives a restart, and OboApp.forTenant acts for a user of the registered pod.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OboApp } from '../../../src/obo/app.js';
import { createPartnerCallbackHandler } from '../../../src/obo/partner-callback.js';
import { TenantRegistry, type PartnerEvent } from '../../../src/obo/tenants.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appConfig } from '../../helpers/client.js';

const APP = 'sandbox-crm';
const KEY = 'the-callback-key';
let sandbox: RunningSandbox;
let dir: string;
let registry: TenantRegistry;
let server: Server;
let url: string;
/** Answer 503 to this many deliveries before handing them to the receiver. */
let failNext = 0;
let received: PartnerEvent[] = [];
let changes: boolean[] = [];
const logs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-obo-callback-'));
  registry = await TenantRegistry.open(join(dir, 'tenants.db'));
  const handler = createPartnerCallbackHandler({ apiKey: KEY, store: registry, appId: APP, onEvent: (e, result) => {
    received.push(e);
    changes.push(result.changed);
  } });
  server = createServer((req, res) => {
    if (failNext > 0) {
      failNext--;
      req.resume();
      res.writeHead(503).end();
      return;
    }
    handler.node(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/symphony/callback`;
  sandbox = await startSandbox({ callbacks: { initialDelayMs: 20, attempts: 4 }, onLog: (l) => logs.push(l) });
});
afterAll(async () => {
  await sandbox?.close();
  await new Promise((r) => server.close(r));
  registry.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  received = [];
  changes = [];
  failNext = 0;
});

const companyId = () => String(sandbox.store.pod().podId);

describe('the partner callback', () => {
  it('arrives when the app is enabled, and records the pod as a tenant; a replay changes nothing', async () => {
    await sandbox.admin.setAppCallback(APP, { url, apiKey: KEY });
    await sandbox.admin.enableApp(APP);
    await sandbox.admin.callbacksSettled();
    expect(received).toEqual([{
      appId: APP, companyId: companyId(), eventType: 'appEnabled',
      payload: { podUrl: `${sandbox.podUrl}/pod`, sessionAuthUrl: sandbox.sessionAuthUrl, agentUrl: sandbox.agentUrl, baseUrl: sandbox.podUrl, loginUrl: `${sandbox.podUrl}/login` },
    }]);
    const tenant = registry.get(companyId())!;
    expect(tenant).toMatchObject({ appId: APP, podUrl: `${sandbox.podUrl}/pod`, agentUrl: sandbox.agentUrl });
    await sandbox.admin.enableApp(APP);
    await sandbox.admin.callbacksSettled();
    expect(received).toHaveLength(2);
    expect(changes).toEqual([true, false]);
    expect(registry.get(companyId())).toEqual(tenant);
    expect(sandbox.admin.callbackAttempts().slice(-2).map((a) => a.status)).toEqual([200, 200]);
  });

  it('is retried with backoff after a failed delivery, until it arrives', async () => {
    failNext = 2;
    await sandbox.admin.enableApp(APP);
    await sandbox.admin.callbacksSettled();
    expect(sandbox.admin.callbackAttempts().slice(-3).map((a) => [a.attempt, a.status])).toEqual([[1, 503], [2, 503], [3, 200]]);
    expect(logs.some((l) => /attempt 3\/4 delivered/.test(l))).toBe(true);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('with a wrong key is refused (401), stores nothing, and is given up after its attempts', async () => {
    const before = registry.list();
    await sandbox.admin.setAppCallback(APP, { url, apiKey: 'not-the-key' });
    try {
      await sandbox.admin.enableApp(APP);
      await sandbox.admin.callbacksSettled();
      expect(sandbox.admin.callbackAttempts().slice(-4).map((a) => a.status)).toEqual([401, 401, 401, 401]);
      expect(logs.at(-1)).toMatch(/given up after 4 attempts/);
      expect(received).toEqual([]);
      expect(registry.list()).toEqual(before);
    } finally {
      await sandbox.admin.setAppCallback(APP, { url, apiKey: KEY });
    }
  });

  it('with a body that is not the callback, even with the right key, is refused (400) and stores nothing', async () => {
    const before = registry.list();
    const good = { appId: APP, companyId: 'malformed', eventType: 'appEnabled', payload: { podUrl: 'https://acme.example/pod', sessionAuthUrl: 'https://acme.example/sessionauth' } };
    for (const body of ['{"appId":', JSON.stringify({ ...good, eventType: 'appDisabled' }), JSON.stringify({ ...good, payload: { ...good.payload, podUrl: 'ftp://acme' } })]) {
      const reply = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body });
      expect(reply.status, body).toBe(400);
      expect(await reply.json()).toMatchObject({ code: 400, message: expect.any(String) });
    }
    expect(received).toEqual([]);
    expect(registry.list()).toEqual(before);
  });

  it('announces a new Agent URL (agentRegistered), which changes only the tenant\'s Agent URL', async () => {
    const before = registry.get(companyId())!;
    await sandbox.admin.registerAgent('https://agent.example.com/agent');
    await sandbox.admin.callbacksSettled();
    expect(received.map((e) => [e.eventType, e.payload.agentUrl])).toEqual([['agentRegistered', 'https://agent.example.com/agent']]);
    expect(registry.get(companyId())).toEqual({ ...before, agentUrl: 'https://agent.example.com/agent', updatedAt: expect.any(Number) });
    // The same URL again is no change: nothing is sent.
    await sandbox.admin.registerAgent('https://agent.example.com/agent');
    await sandbox.admin.callbacksSettled();
    expect(received).toHaveLength(1);
    await sandbox.admin.registerAgent();
    await sandbox.admin.callbacksSettled();
    expect(registry.get(companyId())!.agentUrl).toBe(sandbox.agentUrl);
  });

  it('leaves a registry that survives a restart, from which OboApp.forTenant acts for a user of the pod', async () => {
    registry.close();
    registry = await TenantRegistry.open(join(dir, 'tenants.db'));
    const tenant = registry.get(companyId())!;
    expect(tenant).toMatchObject({ appId: APP, sessionAuthUrl: sandbox.sessionAuthUrl });
    const base = appConfig(sandbox, APP);
    // Another host in the configuration: only the tenant's URLs can lead to the sandbox.
    const app = await OboApp.forTenant(companyId(), { tenants: registry, config: { ...base, host: 'unused.invalid' } });
    try {
      expect(app.config.pod.url).toBe(sandbox.podUrl);
      const alice = await app.user('alice');
      expect((await alice.me()).username).toBe('alice');
    } finally {
      await app.close();
    }
  });
});
