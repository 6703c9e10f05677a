// OboApp without the network (src/obo/app.ts): what configurations it takes, and the configuration it builds for a
// tenant of the partner callback (the tenant's pod, session-auth and Agent URLs; the identity and settings kept).
// The app against a pod: test/integration/obo/.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config.js';
import { generateRsaKeyPair } from '../../../src/crypto/rsa.js';
import { OboApp } from '../../../src/obo/app.js';
import { TenantRegistry } from '../../../src/obo/tenants.js';
import { codeOf } from '../../helpers/errors.js';

const { privateKeyPem } = await generateRsaKeyPair();
const input = { host: 'pod.example.com', app: { appId: 'crm', privateKey: { content: privateKeyPem } }, retry: { maxAttempts: 2 } };

describe('OboApp.create', () => {
  it('takes a configuration input or a resolved one, with an app; without one it names the key', async () => {
    const app = await OboApp.create(input);
    expect(app.appId).toBe('crm');
    expect(app.stats).toEqual({ appLogins: 0, userLogins: 0 });
    await app.close();
    const withBot = await resolveConfig({ ...input, bot: { username: 'b', privateKey: { content: privateKeyPem } } });
    await (await OboApp.create(withBot)).close();
    expect(await codeOf(OboApp.create({ host: 'pod.example.com' }))).toBe('INVALID_CONFIG');
    expect(await codeOf(OboApp.create(await resolveConfig({ host: 'h', bot: { username: 'b', privateKey: { content: privateKeyPem } } })))).toBe('INVALID_CONFIG');
  });

  it('refuses a user that is neither an id nor a username before any request', async () => {
    const app = await OboApp.create(input);
    for (const bad of [0, -1, 1.5, '', 'a\nb', null]) expect(await codeOf(app.user(bad as never))).toBe('INVALID_ARGUMENT');
    await app.close();
  });
});

describe('OboApp.forTenant', () => {
  it('uses the tenant\'s URLs with the configuration\'s identity and settings', async () => {
    const tenants = await TenantRegistry.open(':memory:');
    tenants.record({ appId: 'crm', companyId: '196', eventType: 'appEnabled', payload: { podUrl: 'https://acme.symphony.com/pod', sessionAuthUrl: 'https://acme-api.symphony.com/sessionauth' } });
    let app = await OboApp.forTenant('196', { tenants, config: input });
    expect([app.config.pod.url, app.config.sessionAuth.url, app.config.agent.url])
      .toEqual(['https://acme.symphony.com', 'https://acme-api.symphony.com/sessionauth', 'https://acme.symphony.com/agent']);
    expect(app.config.retry.maxAttempts).toBe(2);
    expect(app.appId).toBe('crm');
    await app.close();
    tenants.record({ appId: 'crm', companyId: '196', eventType: 'agentRegistered', payload: { podUrl: 'https://x/pod', sessionAuthUrl: 'https://x', agentUrl: 'https://acme-agent.example' } });
    app = await OboApp.forTenant('196', { tenants, config: input });
    expect(app.config.agent.url).toBe('https://acme-agent.example/agent');
    await app.close();
    tenants.record({ appId: 'other', companyId: '7', eventType: 'appEnabled', payload: { podUrl: 'https://o/pod', sessionAuthUrl: 'https://o/sessionauth' } });
    expect(await codeOf(OboApp.forTenant('7', { tenants, config: input }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(OboApp.forTenant('404', { tenants, config: input }))).toBe('INVALID_ARGUMENT');
    tenants.close();
  });
});
