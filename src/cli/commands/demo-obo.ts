/**
 * The OBO part of `allegro demo` (docs/cli.md "Demo"): a CRM-style app authenticates once and acts for Alice and Bob
 * (presence, a connection request and its acceptance, an IM with a click-to-chat link, a message with an attachment
 * through the Agent that Alice's own native client decrypts), is refused with typed errors
 * where it lacks a permission and for the bot it is not installed for, and receives the partner callback, which a
 * tenant registry records; the app is then rebuilt for that tenant from the registry alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AllegroClient } from '../../client.js';
import { AllegroError } from '../../errors.js';
import { OboApp } from '../../obo/app.js';
import { createPartnerCallbackHandler } from '../../obo/partner-callback.js';
import { symphonyUri } from '../../obo/symphony-uri.js';
import { TenantRegistry } from '../../obo/tenants.js';
import type { RunningSandbox } from '../../sandbox/server.js';

/**
 * How the demo runs one step: `run` it, `check` what it gave (true, or why not), and say what it gave (`detail`).
 * Resolves to the value, or undefined when the step failed.
 */
export type DemoStep = <T>(name: string, run: () => Promise<T>, check: (value: T) => boolean | string, detail?: (value: T) => string) => Promise<T | undefined>;

/** The code of what `promise` rejected with, or what it resolved to. */
const refusal = (promise: Promise<unknown>) => promise.then(() => 'accepted', (err: unknown) => err);
const hasCode = (err: unknown, code: string) => err instanceof AllegroError && err.code === code;

/**
 * Run the OBO steps against `sandbox` (the seeded app `sandbox-crm`, installed for alice and bob); `connect` opens a
 * user's own native client.
 */
export async function oboSteps(sandbox: RunningSandbox, step: DemoStep, connect: (username: string) => Promise<AllegroClient>): Promise<void> {
  const crm = await step('A CRM app (OBO) authenticates once and acts for Alice and Bob with its cached app token', async () => {
    const app = await OboApp.create(sandbox.configPath);
    return { app, alice: await app.user('alice'), bob: await app.user('bob') };
  }, (c) => c.app.stats.appLogins === 1 && c.app.stats.userLogins === 2, (c) => `app ${c.app.appId}: ${c.app.stats.appLogins} app authentication, ${c.app.stats.userLogins} user sessions`);
  if (crm === undefined) return;
  const { app, alice, bob } = crm;
  const dir = await mkdtemp(join(tmpdir(), 'allegro-demo-obo-'));
  const registry = await TenantRegistry.open(join(dir, 'tenants.db'));
  const server = createServer(createPartnerCallbackHandler({ apiKey: 'demo-callback-key', store: registry, appId: app.appId }).node);
  try {
    const aliceId = (await alice.me()).id;
    const bobId = (await bob.me()).id;
    await step('The app sets Alice\'s presence; Bob\'s session reads it', async () => {
      await alice.setPresence('BUSY');
      return bob.userPresence(aliceId);
    }, (p) => p.category === 'BUSY', (p) => `Alice is ${p.category}`);
    await step('Alice (through the app) asks Bob to connect; Bob (through the app) accepts', async () => {
      await alice.requestConnection(bobId);
      await bob.acceptConnection(aliceId);
      return alice.connection(bobId);
    }, (c) => c.status === 'ACCEPTED');
    const im = await step('The app creates the IM of Alice and Bob, and hands Alice a click-to-chat link', async () => {
      const streamId = await alice.createIm([bobId]);
      return { streamId, link: symphonyUri({ streamId, streamType: 'im' }), members: (await bob.streamInfo(streamId)).members };
    }, (c) => c.members.includes(aliceId) && c.members.includes(bobId), (c) => c.link);
    if (im !== undefined) {
      await step('The app sends a message with an attachment for Alice, through the Agent; Alice\'s own client decrypts it natively', async () => {
        const messageId = await alice.send(im.streamId, '<messageML>Your <b>statement</b> is attached</messageML>', {
          attachments: [{ name: 'statement.txt', content: new TextEncoder().encode('balance: 1,000,000'), contentType: 'text/plain' }],
        });
        const native = await connect('alice');
        try {
          const read = await native.pod.message(messageId);
          const fileId = (sandbox.store.message(messageId)!.posted.attachments as Array<{ fileId: string }>)[0]!.fileId;
          return { read, file: new TextDecoder().decode(await native.pod.downloadAttachment(im.streamId, fileId)), aliceId: native.userId };
        } finally {
          await native.close();
        }
      }, (r) => r.read.fromUserId === r.aliceId && r.read.text.includes('statement is attached') && r.file === 'balance: 1,000,000',
      (r) => `"${r.read.text}" from ${r.read.fromUserId}, attachment "${r.file}"`);
    }
    await step('Without GET_PRESENCE the app is refused, typed: OBO_PERMISSION_DENIED naming it', async () => {
      const granted = sandbox.store.app(app.appId)!.permissions;
      await sandbox.admin.setAppPermissions(app.appId, granted.filter((p) => p !== 'GET_PRESENCE'));
      try {
        return await refusal(alice.presence());
      } finally {
        await sandbox.admin.setAppPermissions(app.appId, granted);
      }
    }, (err) => hasCode(err, 'OBO_PERMISSION_DENIED') && (err as { permission: string }).permission === 'GET_PRESENCE', (err) => (err as Error).message);
    await step('For the bot, for whom the app is not installed: APP_NOT_INSTALLED', () => refusal(app.user('sandbox-bot')),
      (err) => hasCode(err, 'APP_NOT_INSTALLED'), (err) => (err as Error).message);
    await step('Enabling the app sends the partner callback; the app\'s receiver records the pod as a tenant', async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/symphony/callback`;
      await sandbox.admin.setAppCallback(app.appId, { url, apiKey: 'demo-callback-key' });
      await sandbox.admin.enableApp(app.appId);
      await sandbox.admin.callbacksSettled();
      return registry.list();
    }, (tenants) => tenants.length === 1 && tenants[0]!.podUrl === `${sandbox.podUrl}/pod`,
    (tenants) => `company ${tenants[0]!.companyId}: pod ${tenants[0]!.podUrl}, Agent ${tenants[0]!.agentUrl ?? 'none'}`);
    await step('The app, rebuilt for that tenant from the registry, acts for Alice again', async () => {
      const tenantApp = await OboApp.forTenant(registry.list()[0]!.companyId, { tenants: registry, config: sandbox.configPath });
      try {
        return (await (await tenantApp.user('alice')).me()).username;
      } finally {
        await tenantApp.close();
      }
    }, (username) => username === 'alice');
  } finally {
    await new Promise((resolve) => server.close(resolve));
    registry.close();
    await rm(dir, { recursive: true, force: true });
    await app.close();
  }
}
