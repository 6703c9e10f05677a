// OBO-backed agents over real HTTPS against an in-process sandbox (docs/agent-host.md "OBO agents"): the host
// configured with the sandbox's OBO app provisions an agent acting for bob, which logs on through the app (one cached
// app token for all its agents), shows presence AVAILABLE, joins the room and sends through the Agent what alice's own
// client decrypts; history is a 501 and /Events carries no MessageEvent (Symphony gives OBO sessions no datafeed).
// Failures: an app not installed for the user keeps the agent Activating with LastError until the sandbox installs
// it (then Active, no restart); uninstalling it while Active ends the session at the next call (503, Activating); a
// missing permission is a 403 naming it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentHost, type RunningAgentHost } from '../../../src/agent-host/server.js';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { eventually, hostCall, hostConfig, SUPER_USER, tokenFor, type HostCallOptions } from '../../helpers/agent-host.js';
import { identityConfig } from '../../helpers/client.js';

const APP_ID = 'sandbox-crm';
const WEB = { id: 'crm-web', username: 'crm-web', password: 'crm-web-password-1' };
const NS = 'http://schemas.fcg.im/foundation/v1/collaboration';

let sandbox: RunningSandbox;
let host: RunningAgentHost;
let dataDir: string;
let alice: AllegroClient;
let bob: AllegroClient;
let room: string;
let admin: string;
let token: string;

const api = (method: string, path: string, options: HostCallOptions = {}) => hostCall(host, sandbox, method, path, options);
const agent = async (id: string) => (await api('GET', `/Provisioning/V1/Agents/${id}`, { token: admin })).json;
const roomPath = () => `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}`;
const urlSafe = (id: string) => id.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 300 } });
  dataDir = mkdtempSync(join(tmpdir(), 'agent-host-obo-it-'));
  const files = sandbox.apps.get(APP_ID)!;
  host = await startAgentHost({ ...await hostConfig(sandbox, dataDir, { eventsWaitMs: 1000 }), oboApps: [{ appId: APP_ID, privateKeyPath: files.privateKeyPath! }] }, { log: () => undefined });
  [alice, bob] = await Promise.all([AllegroClient.create(identityConfig(sandbox, 'alice')), AllegroClient.create(identityConfig(sandbox, 'bob'))]);
  room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
  admin = await tokenFor(host, sandbox, SUPER_USER.username, SUPER_USER.password);
  await api('PUT', `/Provisioning/V1/Users/${WEB.id}`, { token: admin, json: { UserName: WEB.username, Password: WEB.password } });
}, 60_000);

afterAll(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await host?.close();
  await sandbox?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('OBO agents', () => {
  it('refuses an obo identity of an app the host is not configured with, naming it', async () => {
    const reply = await api('PUT', '/Provisioning/V1/Agents/stranger', { token: admin, json: { UserName: 'bob', Identity: { Kind: 'obo', AppId: 'other-app', Username: 'bob' } } });
    expect(reply.status).toBe(400);
    expect(reply.json.message).toBe(`Identity.AppId "other-app" is not an OBO app of this host (configured: ${APP_ID})`);
    expect((await api('GET', '/Provisioning/V1/Agents/stranger', { token: admin })).status).toBe(404);
  });

  it('provisions an agent acting for bob through the app: Active, presence AVAILABLE, the room joined', async () => {
    const put = await api('PUT', '/Provisioning/V1/Agents/bob', { token: admin, json: { UserName: 'bob', Identity: { Kind: 'obo', AppId: APP_ID, Username: 'bob' }, Users: [WEB.id] } });
    expect(put.status).toBe(200);
    expect(put.json.Identity).toEqual({ Kind: 'obo', AppId: APP_ID, Username: 'bob' });
    await eventually(async () => ((await agent('bob')).State === 2 ? true : undefined), 20_000, 'the OBO agent to be Active');
    await bob.pod.setPresence('AWAY');
    // Presence is set at log-on: re-provisioning with the user's id logs on again.
    await api('PUT', '/Provisioning/V1/Agents/bob', { token: admin, json: { Identity: { Kind: 'obo', AppId: APP_ID, UserId: bob.userId } } });
    await eventually(async () => ((await bob.pod.presence()).category === 'AVAILABLE' ? true : undefined), 20_000, 'bob AVAILABLE');
    await eventually(async () => ((await agent('bob')).State === 2 ? true : undefined), 20_000, 'the OBO agent to be Active again');
    expect((await agent('bob')).Identity).toEqual({ Kind: 'obo', AppId: APP_ID, UserId: bob.userId });
    // Two user logins, one app login: the app's token is cached and shared.
    expect(host.host.oboApps.get(APP_ID)!.stats).toEqual({ appLogins: 1, userLogins: 2 });
    const channel = await api('PUT', `/Provisioning/V1/Agents/bob/Channels/${encodeURIComponent(`room:${room}`)}`, { token: admin });
    expect(channel.json).toMatchObject({ Id: `room:${room}`, State: 2, DisplayName: 'Sandbox room' });
    const found = await api('GET', '/Provisioning/V1/Channels?query=sandbox&agent=bob', { token: admin });
    expect(found.json).toEqual([expect.objectContaining({ Id: `room:${room}`, Type: 'ROOM' })]);
  });

  it('sends a message with parts and labels through the Agent, which alice\'s own client decrypts', async () => {
    token = await tokenFor(host, sandbox, WEB.username, WEB.password, 'bob');
    const sent = await api('POST', `${roomPath()}/Messages`, {
      token,
      json: {
        MessageParts: [{ __type: `PlainTextMessagePart:${NS}`, Text: 'Quote ' }, { __type: `HashtagMessagePart:${NS}`, Hashtag: '#rates' }],
        Subject: 'From the CRM', IsAlert: true, Classification: 'INTERNAL', SecurityContexts: ['desk-b'],
      },
    });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ ChannelId: `room:${room}`, SenderId: `user:${bob.userId}`, Subject: 'From the CRM', IsAlert: true, Classification: 'INTERNAL' });
    const read = (await alice.pod.history(room, { limit: 5 })).find((m) => urlSafe(m.messageId) === sent.json.Id)!;
    expect(read).toMatchObject({ fromUserId: bob.userId, text: expect.stringContaining('Quote #rates') });
    expect(read.entityJson.mindlinkLabels).toMatchObject({ IsAlert: true, Classification: 'INTERNAL', SecurityContexts: ['desk-b'] });
    // The Agent encrypted it for bob: the pod stored ciphertext.
    expect(JSON.stringify(sandbox.store.messages(room).map((m) => m.posted))).not.toContain('rates');
  });

  it('answers history with a 501, and carries channel states but no MessageEvent on /Events (no OBO datafeed)', async () => {
    const history = await api('GET', `${roomPath()}/Messages?take=5`, { token });
    expect(history.status).toBe(501);
    expect(history.json.message).toContain('An OBO agent cannot read messages');
    const first = (await api('GET', '/Collaboration/V1/Events?last-event=0', { token })).json as Array<{ __type: string; ChannelId: string; Active: boolean; EventId: number }>;
    expect(first).toEqual([expect.objectContaining({ __type: `ChannelStateEvent:${NS}`, ChannelId: `room:${room}`, Active: true })]);
    const poll = api('GET', `/Collaboration/V1/Events?last-event=${first.at(-1)!.EventId}&types=message`, { token });
    await alice.pod.send(room, '<messageML>reply from alice</messageML>');
    expect((await poll).json).toEqual([]);
  });

  it('answers 403 naming the permission when the app lacks it, keeping the channel Active', async () => {
    const granted = sandbox.store.app(APP_ID)!.permissions;
    await sandbox.admin.setAppPermissions(APP_ID, granted.filter((p) => p !== 'SEND_MESSAGES'));
    try {
      const refused = await api('POST', `${roomPath()}/Messages`, { token, json: { Text: 'not allowed' } });
      expect(refused.status).toBe(403);
      expect(refused.json.message).toContain('lacks the OBO permission SEND_MESSAGES');
      expect((await api('GET', `/Provisioning/V1/Agents/bob/Channels/${encodeURIComponent(`room:${room}`)}`, { token: admin })).json.State).toBe(2);
      expect((await agent('bob')).State).toBe(2);
    } finally {
      await sandbox.admin.setAppPermissions(APP_ID, granted);
    }
    expect((await api('POST', `${roomPath()}/Messages`, { token, json: { Text: 'allowed again' } })).status).toBe(200);
  });

  it('keeps an agent whose user has not installed the app Activating with LastError, and activates it once installed', async () => {
    const bot = sandbox.identities.get('sandbox-bot')!;
    await api('PUT', '/Provisioning/V1/Agents/bot', { token: admin, json: { UserName: bot.username, Identity: { Kind: 'obo', AppId: APP_ID, UserId: bot.userId }, Users: [WEB.id] } });
    const failing = await eventually(async () => {
      const s = await agent('bot');
      return typeof s.LastError === 'string' && typeof s.NextAttemptAt === 'number' ? s : undefined;
    }, 20_000, 'a failed OBO activation');
    expect(failing.State).toBe(1);
    expect(failing.LastError).toContain('APP_NOT_INSTALLED');
    const botToken = await tokenFor(host, sandbox, WEB.username, WEB.password, 'bot');
    expect((await api('GET', '/Collaboration/V1/Channels', { token: botToken })).status).toBe(503);
    await sandbox.admin.installApp(APP_ID, [bot.userId]);
    const active = await eventually(async () => {
      const s = await agent('bot');
      return s.State === 2 ? s : undefined;
    }, 20_000, 'the OBO agent to be Active once the app is installed');
    expect(active.LastError).toBeNull();
  });

  it('ends the session when the app is uninstalled while Active: 503 at the next call, Activating, back once reinstalled', async () => {
    await sandbox.admin.uninstallApp(APP_ID, [bob.userId]);
    const refused = await api('POST', `${roomPath()}/Messages`, { token, json: { Text: 'after the uninstall' } });
    expect(refused.status).toBe(503);
    expect(refused.json.message).toContain('APP_NOT_INSTALLED');
    const state = await eventually(async () => {
      const s = await agent('bob');
      return s.State === 1 && typeof s.LastError === 'string' ? s : undefined;
    }, 20_000, 'the OBO agent to be Activating');
    expect(state.LastError).toContain('APP_NOT_INSTALLED');
    await sandbox.admin.installApp(APP_ID, [bob.userId]);
    await eventually(async () => ((await agent('bob')).State === 2 ? true : undefined), 20_000, 'the OBO agent to be Active again');
    expect((await api('POST', `${roomPath()}/Messages`, { token, json: { Text: 'installed again' } })).status).toBe(200);
    expect((await alice.pod.history(room, { limit: 3 })).map((m) => m.text)).toContain('installed again');
  });
});
