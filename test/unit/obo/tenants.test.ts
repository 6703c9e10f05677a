// The tenant registry (src/obo/tenants.ts) on a real SQLite file in a temporary directory: what each event records,
// idempotence, agentRegistered touching only the Agent URL, persistence across a close and reopen, the file's mode.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TenantRegistry, type PartnerEvent } from '../../../src/obo/tenants.js';
import { codeOf } from '../../helpers/errors.js';

const enabled: PartnerEvent = {
  appId: 'crm', companyId: '196', eventType: 'appEnabled',
  payload: { podUrl: 'https://acme.symphony.com/pod', sessionAuthUrl: 'https://acme-api.symphony.com/sessionauth' },
};
const agent: PartnerEvent = {
  ...enabled, eventType: 'agentRegistered',
  payload: { podUrl: 'https://elsewhere.example/pod', sessionAuthUrl: 'https://elsewhere.example/sessionauth', agentUrl: 'https://acme-agent.symphony.com/agent' },
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-tenants-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TenantRegistry', () => {
  it('records appEnabled, then an Agent without moving the other URLs, and survives a restart', async () => {
    const path = join(dir, 'tenants.db');
    const registry = await TenantRegistry.open(path);
    expect(registry.record(enabled, 1_000)).toEqual({
      changed: true,
      tenant: { companyId: '196', appId: 'crm', podUrl: enabled.payload.podUrl, sessionAuthUrl: enabled.payload.sessionAuthUrl, createdAt: 1_000, updatedAt: 1_000 },
    });
    const afterAgent = registry.record(agent, 2_000);
    expect(afterAgent.changed).toBe(true);
    expect(afterAgent.tenant).toMatchObject({ podUrl: enabled.payload.podUrl, sessionAuthUrl: enabled.payload.sessionAuthUrl, agentUrl: agent.payload.agentUrl, createdAt: 1_000, updatedAt: 2_000 });
    registry.close();
    registry.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const reopened = await TenantRegistry.open(path);
    expect(reopened.get('196')).toEqual(afterAgent.tenant);
    expect(reopened.list()).toEqual([afterAgent.tenant]);
    reopened.close();
  });

  it('is idempotent: the same event again changes nothing, not even updatedAt', async () => {
    const registry = await TenantRegistry.open(join(dir, 't.db'));
    const first = registry.record(enabled, 1_000);
    expect(registry.record(enabled, 5_000)).toEqual({ tenant: first.tenant, changed: false });
    registry.record(agent, 6_000);
    expect(registry.record(agent, 7_000).changed).toBe(false);
    expect(registry.get('196')!.updatedAt).toBe(6_000);
    registry.close();
  });

  it('re-enabling resets every URL; an unknown company is created by either event', async () => {
    const registry = await TenantRegistry.open(':memory:');
    registry.record(enabled, 1);
    registry.record(agent, 2);
    const moved = registry.record({ ...enabled, payload: { podUrl: 'https://new.example/pod', sessionAuthUrl: 'https://new.example/sessionauth' } }, 3);
    expect(moved.tenant).toEqual({ companyId: '196', appId: 'crm', podUrl: 'https://new.example/pod', sessionAuthUrl: 'https://new.example/sessionauth', createdAt: 1, updatedAt: 3 });
    const fresh = registry.record({ ...agent, companyId: '7' }, 4);
    expect(fresh.tenant).toMatchObject({ companyId: '7', podUrl: agent.payload.podUrl, agentUrl: agent.payload.agentUrl, createdAt: 4 });
    expect(registry.list().map((t) => t.companyId)).toEqual(['196', '7']);
    registry.close();
  });

  it('refuses an empty path and use after close', async () => {
    expect(await codeOf(TenantRegistry.open(''))).toBe('INVALID_ARGUMENT');
    const registry = await TenantRegistry.open(':memory:');
    registry.close();
    expect(await codeOf(() => registry.get('196'))).toBe('ABORTED');
  });
});
