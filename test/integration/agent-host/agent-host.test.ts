// The agent host over real HTTPS against an in-process sandbox: provisioning as the super user, tokens, sending
// with parts that alice's own allegro-ts client decrypts, alice's reply on /Events, 403 for an unprovisioned channel,
// 503 while the agent re-activates (sandbox faults), throttles (429), and a restart: 410 for the old instance and no
// acknowledged event lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgentHost } from '../../../src/agent-host/server.js';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { eventually, hostCall, startTestHost, SUPER_USER, tokenFor, type HostCallOptions } from '../../helpers/agent-host.js';
import { identityConfig } from '../../helpers/client.js';

const APP = { id: 'app', username: 'app-user', password: 'app-password-1' };
const NS = 'http://schemas.fcg.im/foundation/v1/collaboration';

let sandbox: RunningSandbox;
let host: RunningAgentHost;
let dataDir: string;
let alice: AllegroClient;
let room: string;
let im: string;
let admin: string;
let token: string;

const api = (method: string, path: string, options: HostCallOptions = {}) => hostCall(host, sandbox, method, path, options);
const agentState = async () => (await api('GET', '/Provisioning/V1/Agents/bot', { token: admin })).json;

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 300 } });
  dataDir = mkdtempSync(join(tmpdir(), 'agent-host-it-'));
  host = await startTestHost(sandbox, dataDir);
  alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
  room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
  im = (await alice.pod.streams({ types: ['IM'] }))[0]!.id;
  admin = await tokenFor(host, sandbox, SUPER_USER.username, SUPER_USER.password);
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await host?.close();
  await sandbox?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the agent host', () => {
  it('provisions a user, an agent that logs on, and a room channel, as the super user', async () => {
    expect((await api('PUT', `/Provisioning/V1/Users/${APP.id}`, { token: admin, json: { UserName: APP.username, Password: APP.password } })).json).toEqual({ Id: APP.id, UserName: APP.username });
    const files = sandbox.identities.get('sandbox-bot')!;
    const put = await api('PUT', '/Provisioning/V1/Agents/bot', { token: admin, json: { UserName: 'sandbox-bot', Identity: { Kind: 'rsa', PrivateKeyPath: files.privateKeyPath }, Users: [APP.id] } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ Id: 'bot', UserName: 'sandbox-bot', Users: [APP.id], Identity: { Kind: 'rsa', Username: 'sandbox-bot', PrivateKeyPath: files.privateKeyPath } });
    await eventually(async () => ((await agentState()).State === 2 ? true : undefined), 20_000, 'the agent to be Active');
    // Presence AVAILABLE as soon as it is Active.
    const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
    expect((await bot.pod.presence()).category).toBe('AVAILABLE');
    await bot.close();
    const channel = await api('PUT', `/Provisioning/V1/Agents/bot/Channels/${encodeURIComponent(`room:${room}`)}`, { token: admin });
    expect(channel.json).toMatchObject({ Id: `room:${room}`, State: 2, DisplayName: 'Sandbox room' });
    expect((await agentState()).Channels).toEqual([expect.objectContaining({ Id: `room:${room}`, State: 2 })]);
  });

  it('refuses an obo identity of an app it is not configured with, and key material, with a 400 naming the field', async () => {
    const obo = await api('PUT', '/Provisioning/V1/Agents/obo1', { token: admin, json: { UserName: 'alice', Identity: { Kind: 'obo', AppId: 'app', Username: 'alice' } } });
    expect(obo.status).toBe(400);
    expect(obo.json.message).toContain('Identity.AppId "app" is not an OBO app of this host');
    const key = await api('PUT', '/Provisioning/V1/Agents/k1', { token: admin, json: { UserName: 'alice', Identity: { Kind: 'rsa', PrivateKey: '-----BEGIN' } } });
    expect(key.status).toBe(400);
    expect(key.json.message).toContain('Identity.PrivateKey');
    expect((await api('GET', '/Provisioning/V1/Agents/obo1', { token: admin })).status).toBe(404);
  });

  it('issues tokens for a user on an agent, describes them, and keeps the super user out of Collaboration', async () => {
    token = await tokenFor(host, sandbox, APP.username, APP.password, 'bot');
    const details = await api('GET', `/Authentication/V1/Tokens/${token}`);
    expect(details.json).toMatchObject({ Username: APP.username, AgentId: 'bot' });
    expect(details.json.ExpiresTimestamp).toBeGreaterThan(Date.now() + 3_500_000);
    expect((await api('GET', '/Authentication/V1/Tokens/not-a-token-at-all')).status).toBe(400);
    expect((await api('POST', '/Authentication/V1/Tokens', { json: { Username: APP.username, Password: 'wrong-password', AgentId: 'bot' } })).status).toBe(401);
    expect((await api('POST', '/Authentication/V1/Tokens', { json: { Username: APP.username, Password: APP.password, AgentId: 'nope' } })).status).toBe(401);
    expect((await api('GET', '/Collaboration/V1/Channels', { token: admin })).status).toBe(401);
    expect((await api('GET', '/Collaboration/V1/Channels')).status).toBe(401);
    // Bearer works as FCF does; an agent without provisioning rights may not provision.
    const bearer = await hostCall(host, sandbox, 'GET', '/Collaboration/V1/Channels', { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.json).toEqual([expect.objectContaining({ Id: `room:${room}`, DisplayName: 'Sandbox room' })]);
    expect((await api('GET', '/Provisioning/V1/Agents', { token })).status).toBe(403);
  });

  it('lets a Self agent provision only itself, and retries a bad identity forever with LastError and NextAttemptAt', async () => {
    await api('PUT', '/Provisioning/V1/Agents/selfie', { token: admin, json: { UserName: 'nobody', Identity: { Kind: 'rsa', PrivateKeyPath: join(dataDir, 'no-such-key.pem') }, Users: [APP.id], ProvisioningMode: 3 } });
    const state = await eventually(async () => {
      const s = (await api('GET', '/Provisioning/V1/Agents/selfie', { token: admin })).json;
      return typeof s.LastError === 'string' && typeof s.NextAttemptAt === 'number' ? s : undefined;
    }, 10_000, 'a failed activation');
    expect(state.State).toBe(1);
    const selfToken = await tokenFor(host, sandbox, APP.username, APP.password, 'selfie');
    expect((await api('GET', '/Provisioning/V1/Agents/selfie', { token: selfToken })).status).toBe(200);
    expect((await api('GET', '/Provisioning/V1/Agents', { token: selfToken })).json.map((a: { Id: string }) => a.Id)).toEqual(['selfie']);
    expect((await api('GET', '/Provisioning/V1/Agents/bot', { token: selfToken })).status).toBe(403);
    expect((await api('PUT', '/Provisioning/V1/Agents/selfie', { token: selfToken, json: { ProvisioningMode: 2 } })).status).toBe(403);
    expect((await api('DELETE', '/Provisioning/V1/Agents/selfie', { token: selfToken })).status).toBe(403);
    expect((await api('GET', '/Collaboration/V1/Channels', { token: selfToken })).status).toBe(503);
    expect((await api('DELETE', '/Provisioning/V1/Agents/selfie', { token: admin })).status).toBe(204);
  });

  it('sends a message with parts and labels that alice\'s own client decrypts, and reads it back from history', async () => {
    const sent = await api('POST', `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}/Messages`, {
      token,
      json: {
        MessageParts: [
          { __type: `PlainTextMessagePart:${NS}`, Text: 'Deal ' }, { __type: `HashtagMessagePart:${NS}`, Hashtag: '#bonds' },
          { __type: `HyperlinkMessagePart:${NS}`, Text: ' terms', Url: 'https://example.com/t' },
          { __type: `CodeBlockMessagePart:${NS}`, CodeBlock: 'x = 1', Language: 'python', DisplayMode: 1 },
        ],
        Subject: 'Morning note', IsAlert: true, Classification: 'CONFIDENTIAL', SecurityContexts: ['desk-a'],
      },
    });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ ChannelId: `room:${room}`, IsAlert: true, Subject: 'Morning note', Classification: 'CONFIDENTIAL', SecurityContexts: ['desk-a'] });
    // (history gives the payload's standard base64 id; the host answers ids URL-safe)
    const mine = (await alice.pod.history(room, { limit: 5 })).find((m) => m.messageId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') === sent.json.Id)!;
    expect(mine.text).toContain('Deal #bonds');
    expect(mine.presentationML).toContain('<pre>x = 1</pre>');
    expect(mine.entityJson.mindlinkLabels).toMatchObject({ IsAlert: true, Classification: 'CONFIDENTIAL', SecurityContexts: ['desk-a'] });
    // The pod saw only ciphertext.
    expect(JSON.stringify(sandbox.store.messages(room).map((m) => m.posted))).not.toContain('bonds');

    const history = await api('GET', `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}/Messages?take=5`, { token });
    const read = history.json.find((m: { Id: string }) => m.Id === sent.json.Id);
    expect(read).toMatchObject({ Subject: 'Morning note', IsAlert: true, Classification: 'CONFIDENTIAL', SecurityContexts: ['desk-a'], SenderId: sent.json.SenderId });
    expect(read.MessageParts).toEqual([
      { __type: `PlainTextMessagePart:${NS}`, Text: 'Deal ' }, { __type: `HashtagMessagePart:${NS}`, Hashtag: '#bonds' },
      { __type: `HyperlinkMessagePart:${NS}`, Text: ' terms', Url: 'https://example.com/t' },
      { __type: `CodeBlockMessagePart:${NS}`, CodeBlock: 'x = 1', Language: 'python', DisplayMode: 1 },
    ]);
    // Paging: the page before the newest message does not contain it.
    const older = await api('GET', `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}/Messages?take=5&before=${read.Token}`, { token });
    expect(older.status).toBe(200);
    expect(older.json.map((m: { Id: string }) => m.Id)).not.toContain(sent.json.Id);
    expect((await api('GET', `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}/Messages?before=bogus`, { token })).status).toBe(400);
  });

  it('answers 200 to a plain Text send with null labels and to /Me, as MindLink\'s samples expect', async () => {
    const path = `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}`;
    const sent = await api('POST', `${path}/Messages`, { token, json: { Text: 'plain hello', IsAlert: null, Classification: null, SecurityContexts: null } });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ Text: 'plain hello', IsAlert: false, Classification: null });
    expect((await api('POST', `${path}/Me`, { token, json: { IsComposing: true } })).status).toBe(200);
    expect((await api('POST', `${path}/Messages`, { token, json: { Text: 'a', MessageParts: [] } })).status).toBe(400);
  });

  it('reports the presence of an IM channel\'s other party as MindLink\'s PresenceState; a room has none (0 Unknown)', async () => {
    const aliceId = sandbox.identities.get('alice')!.userId;
    const userChannel = encodeURIComponent(`user:${aliceId}`);
    const added = await api('PUT', `/Provisioning/V1/Agents/bot/Channels/${userChannel}`, { token: admin });
    expect(added.json).toMatchObject({ State: 2 });
    const state = async (channel: string) => (await api('GET', `/Collaboration/V1/Channels/${channel}/State`, { token })).json;
    try {
      await alice.pod.setPresence('BUSY');
      expect(await state(userChannel)).toEqual({ Subject: null, PresenceState: 200, PresenceText: 'BUSY' });
      await alice.pod.setPresence('BE_RIGHT_BACK');
      expect(await state(userChannel)).toEqual({ Subject: null, PresenceState: 400, PresenceText: 'BE_RIGHT_BACK' });
      // The same IM provisioned by its stream id: its other member is found from the stream.
      const imChannel = encodeURIComponent(`im:${(await alice.pod.createIm([sandbox.identities.get('sandbox-bot')!.userId]))}`);
      expect((await api('PUT', `/Provisioning/V1/Agents/bot/Channels/${imChannel}`, { token: admin })).json).toMatchObject({ State: 2 });
      await alice.pod.setPresence('AVAILABLE');
      expect(await state(imChannel)).toEqual({ Subject: null, PresenceState: 100, PresenceText: 'AVAILABLE' });
      expect((await api('DELETE', `/Provisioning/V1/Agents/bot/Channels/${imChannel}`, { token: admin })).status).toBe(204);
      expect(await state(encodeURIComponent(`room:${room}`))).toEqual({ Subject: null, PresenceState: 0, PresenceText: '' });
    } finally {
      expect((await api('DELETE', `/Provisioning/V1/Agents/bot/Channels/${userChannel}`, { token: admin })).status).toBe(204);
    }
  });

  it('delivers alice\'s reply on /Events, decrypted, with the filters of MindLink\'s clients', async () => {
    const first = await api('GET', '/Collaboration/V1/Events?last-event=0', { token });
    expect(first.status).toBe(200);
    const last = Math.max(0, ...first.json.map((e: { EventId: number }) => e.EventId));
    const instance = first.json[0]?.InstanceId as string;
    const poll = api('GET', `/Collaboration/V1/Events?last-event=${last}&instance=${instance}&types=message&channels=${encodeURIComponent(`room:${room}`)}&regex=&origins=remote`, { token });
    await new Promise((r) => setTimeout(r, 200));
    await alice.pod.send(room, '<messageML>reply from <b>alice</b></messageML>');
    const events = (await poll).json;
    expect(events).toEqual([expect.objectContaining({
      __type: `MessageEvent:${NS}`, ChannelId: `room:${room}`, Content: 'reply from alice', InstanceId: instance,
      Sender: `user:${sandbox.identities.get('alice')!.userId}`,
    })]);
    expect(events[0].EventId).toBeGreaterThan(last);
    // The agent's own messages are there without origins=remote, and dropped with it; a regex filters on content.
    const all = (await api('GET', '/Collaboration/V1/Events?last-event=0&types=message', { token })).json as Array<{ Content: string }>;
    expect(all.map((e) => e.Content)).toEqual(expect.arrayContaining(['plain hello', 'reply from alice']));
    const remote = (await api('GET', '/Collaboration/V1/Events?last-event=0&types=message&origins=remote', { token })).json as Array<{ Content: string }>;
    expect(remote.map((e) => e.Content)).toEqual(['reply from alice']);
    const regex = (await api('GET', '/Collaboration/V1/Events?last-event=0&types=message&types=channel-state&regex=%5Eplain', { token })).json as Array<{ Content?: string; __type: string }>;
    expect(regex.filter((e) => e.__type.startsWith('MessageEvent')).map((e) => e.Content)).toEqual(['plain hello']);
    expect(regex.some((e) => e.__type.startsWith('ChannelStateEvent'))).toBe(true);
    expect((await api('GET', '/Collaboration/V1/Events?types=nope', { token })).status).toBe(400);
    expect((await api('GET', '/Collaboration/V1/Events?regex=(', { token })).status).toBe(400);
    // An old instance is gone.
    expect((await api('GET', '/Collaboration/V1/Events?last-event=1&instance=not-the-instance', { token })).status).toBe(410);
  });

  it('answers 403 for a channel that is not provisioned, and for an unknown channel id form', async () => {
    const reply = await api('POST', `/Collaboration/V1/Channels/${encodeURIComponent(`im:${im}`)}/Messages`, { token, json: { Text: 'hi' } });
    expect(reply.status).toBe(403);
    expect(reply.json).toEqual({ code: 403, message: 'The channel is not provisioned for this agent' });
    expect((await api('GET', '/Collaboration/V1/Channels/chat-room%3Ax', { token })).status).toBe(403);
  });

  it('answers 429 with Retry-After once a throttle is exceeded', async () => {
    expect((await api('PUT', '/Provisioning/V1/Throttles/t1', { token: admin, json: { Type: 1, Threshold: 2, Agents: ['bot'] } })).json).toEqual({ Id: 't1', Type: 1, Threshold: 2, IntervalMs: 60_000, Agents: ['bot'] });
    const path = `/Collaboration/V1/Channels/${encodeURIComponent(`room:${room}`)}/Messages`;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await api('POST', path, { token, json: { Text: `throttled ${i}` } }));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(Number(statuses[2]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await api('DELETE', '/Provisioning/V1/Throttles/t1', { token: admin })).status).toBe(204);
    expect((await api('POST', path, { token, json: { Text: 'free again' } })).status).toBe(200);
  });

  it('answers 503 with Retry-After while the agent re-activates, with LastError, and recovers by itself', async () => {
    const feedFault = sandbox.faults.add({ path: '/datafeed2/', status: 503 });
    const loginFault = sandbox.faults.add({ path: '/login/', status: 503 });
    try {
      const state = await eventually(async () => {
        const s = await agentState();
        return s.State === 1 && s.LastError !== null ? s : undefined;
      }, 20_000, 'the agent to be Activating');
      expect(state.LastError).toContain('503');
      const reply = await api('GET', '/Collaboration/V1/Channels', { token });
      expect(reply.status).toBe(503);
      expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await api('GET', '/Collaboration/V1/Events?last-event=0', { token })).status).toBe(503);
    } finally {
      sandbox.faults.clear();
      void feedFault;
      void loginFault;
    }
    await eventually(async () => ((await agentState()).State === 2 ? true : undefined), 20_000, 'the agent to be Active again');
    expect((await api('GET', '/Collaboration/V1/Channels', { token })).status).toBe(200);
  });

  it('after a restart: 410 for the old instance, and no acknowledged event lost, including those sent while it was down', async () => {
    const before = (await api('GET', '/Collaboration/V1/Events?last-event=0&types=message', { token })).json as Array<{ EventId: number; InstanceId: string; Content: string }>;
    const oldInstance = before[0]!.InstanceId;
    const lastSeen = before.at(-1)!.EventId;
    // A message buffered but not yet read by the client, then the host goes down and alice writes twice.
    await alice.pod.send(room, 'buffered before the restart');
    await eventually(async () => {
      const e = (await api('GET', `/Collaboration/V1/Events?last-event=${lastSeen}&types=message`, { token })).json as Array<{ Content: string }>;
      return e.some((x) => x.Content === 'buffered before the restart') ? true : undefined;
    });
    await host.close();
    await alice.pod.send(room, 'sent while the host was down 1');
    await alice.pod.send(room, 'sent while the host was down 2');
    // (restarted with a buffer of 3 events: older ones are pruned at the next append)
    host = await startTestHost(sandbox, dataDir, { eventBufferSize: 3 });
    await eventually(async () => ((await agentState()).State === 2 ? true : undefined), 20_000, 'the agent to be Active after the restart');
    expect((await api('GET', `/Collaboration/V1/Events?last-event=${lastSeen}&instance=${oldInstance}`, { token })).status).toBe(410);
    const contents = await eventually(async () => {
      const e = (await api('GET', `/Collaboration/V1/Events?last-event=${lastSeen}&types=message`, { token })).json as Array<{ Content: string; InstanceId: string }>;
      return e.length >= 3 ? e : undefined;
    });
    expect(contents.map((e) => e.Content)).toEqual(['buffered before the restart', 'sent while the host was down 1', 'sent while the host was down 2']);
    expect(contents[0]!.InstanceId).not.toBe(oldInstance);
    // A last-event that fell out of the buffer is a 410; last-event=0 (MindLink's restart) is served.
    expect((await api('GET', '/Collaboration/V1/Events?last-event=1', { token })).status).toBe(410);
    expect((await api('GET', '/Collaboration/V1/Events?last-event=0&types=message', { token })).json.map((e: { Content: string }) => e.Content)).toEqual(contents.map((e) => e.Content));
    // The token and the provisioning survived the restart too.
    expect((await api('GET', '/Provisioning/V1/Users', { token: admin })).json).toEqual([{ Id: APP.id, UserName: APP.username }]);
  });

  it('emits a MetaDataEvent on a metadata change, and serves /Metadata', async () => {
    expect((await api('PUT', '/Provisioning/V1/Agents/bot/MetaData/colour', { token: admin, json: 'blue' })).status).toBe(200);
    expect((await api('GET', '/Collaboration/V1/Metadata', { token })).json).toEqual([{ Key: 'colour', Value: 'blue' }]);
    const events = await eventually(async () => {
      const e = (await api('GET', '/Collaboration/V1/Events?last-event=0&types=meta-data', { token })).json as Array<{ Key: string; Value: string }>;
      return e.length > 0 ? e : undefined;
    });
    expect(events).toEqual([expect.objectContaining({ __type: `MetaDataEvent:${NS}`, Key: 'colour', Value: 'blue' })]);
  });

  it('finds the channels an identity can join, and deletes what it provisioned', async () => {
    const found = await api('GET', '/Provisioning/V1/Channels?query=sandbox&agent=bot', { token: admin });
    expect(found.json).toEqual([expect.objectContaining({ Id: `room:${room}`, DisplayName: 'Sandbox room', Type: 'ROOM' })]);
    expect((await api('DELETE', `/Provisioning/V1/Agents/bot/Channels/${encodeURIComponent(`room:${room}`)}`, { token: admin })).status).toBe(204);
    expect((await api('GET', '/Collaboration/V1/Channels', { token })).json).toEqual([]);
    expect((await api('DELETE', '/Provisioning/V1/Agents/bot', { token: admin })).status).toBe(204);
    expect((await api('GET', '/Provisioning/V1/Agents/bot', { token: admin })).status).toBe(404);
    expect((await api('GET', '/Collaboration/V1/Channels', { token })).status).toBe(503);
  });
});
