/**
 * The agent-host part of `allegro demo` (docs/agent-host.md): an agent host on the demo's sandbox, over HTTPS. The
 * super user provisions a web user and an agent (a new sandbox account, in the demo room), a token is issued for that
 * user, a message with parts is posted through plain JSON and Alice decrypts it natively, Alice's reply arrives
 * decrypted on the `/Events` long poll, and the contract shows: 403 for an unprovisioned channel, 503 while the
 * agent re-activates because Symphony cannot be reached.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_TUNABLES } from '../../agent-host/config.js';
import { hashPassword } from '../../agent-host/password.js';
import { startAgentHost, type RunningAgentHost } from '../../agent-host/server.js';
import type { AllegroClient } from '../../client.js';
import type { RunningSandbox } from '../../sandbox/server.js';
import type { DemoStep } from './demo-obo.js';

interface Answer { status: number; headers: Record<string, unknown>; json: any }

/** One JSON request over HTTPS to the host, trusting `ca`. */
function hostRequest(url: string, ca: string, method: string, body?: unknown, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(url, { ca, method, headers: { accept: 'application/json', 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `FCF ${token}` }) }, timeout: 40_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the agent host did not answer')));
    req.on('error', reject);
    req.end(data);
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run the agent-host steps on the demo's sandbox, room and clients. */
export async function agentHostSteps(step: DemoStep, sandbox: RunningSandbox, bot: AllegroClient, alice: AllegroClient, room: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allegro-demo-agent-host-'));
  const tlsDir = dirname(sandbox.caCertPath);
  const ca = sandbox.caCertPath;
  const caPem = await readFile(ca, 'utf8');
  let host: RunningAgentHost | undefined;
  try {
    host = await startAgentHost({
      host: '127.0.0.1', port: 0, tls: { certificatePath: join(tlsDir, 'server.pem'), privateKeyPath: join(tlsDir, 'server-key.pem') }, dataDir: join(dir, 'data'),
      superUser: { username: 'admin', passwordHash: await hashPassword('demo-admin-password') },
      symphony: { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: ca } } },
      tunables: { ...DEFAULT_TUNABLES, eventsWaitMs: 10_000, backoffInitialMs: 200, backoffMaxMs: 1000 },
    }, { log: () => undefined });
    const url = host.url;
    const call = (method: string, path: string, body?: unknown, token?: string) => hostRequest(`${url}${path}`, caPem, method, body, token);
    const channel = encodeURIComponent(`room:${room}`);
    let token: string | undefined;

    await step('Agent host: the super user provisions a web user and an agent, which logs on and joins the room', async () => {
      const admin = (await call('POST', '/Authentication/V1/Tokens', { Username: 'admin', Password: 'demo-admin-password', AgentId: '' })).json as string;
      const account = await sandbox.admin.createUser({ username: 'host-agent', displayName: 'Host Agent', type: 'SYSTEM' });
      await bot.pod.addMember(room, account.userId);
      const keyPath = join(dir, 'host-agent.pem');
      await writeFile(keyPath, account.privateKeyPem!, { mode: 0o600 });
      await call('PUT', '/Provisioning/V1/Users/app', { UserName: 'app', Password: 'app-password-1' }, admin);
      await call('PUT', '/Provisioning/V1/Agents/agent1', { UserName: 'host-agent', Identity: { Kind: 'rsa', PrivateKeyPath: keyPath }, Users: ['app'] }, admin);
      await until(async () => ((await call('GET', '/Provisioning/V1/Agents/agent1', undefined, admin)).json.State === 2 ? true : undefined), 'the agent to be Active');
      const joined = await call('PUT', `/Provisioning/V1/Agents/agent1/Channels/${channel}`, undefined, admin);
      token = (await call('POST', '/Authentication/V1/Tokens', { Username: 'app', Password: 'app-password-1', AgentId: 'agent1' })).json as string;
      return joined.json as { State: number; DisplayName: string };
    }, (c) => c.State === 2, (c) => `channel "${c.DisplayName}" Active; token issued for web user "app"`);
    if (token === undefined) return;

    await step('The app posts a message with parts as plain JSON; Alice decrypts it natively', async () => {
      const sent = await call('POST', `/Collaboration/V1/Channels/${channel}/Messages`, {
        MessageParts: [
          { __type: 'PlainTextMessagePart:http://schemas.fcg.im/foundation/v1/collaboration', Text: 'Hello from a REST app ' },
          { __type: 'HashtagMessagePart:http://schemas.fcg.im/foundation/v1/collaboration', Hashtag: '#agenthost' },
        ],
        IsAlert: true,
      }, token);
      const read = await alice.pod.message(sent.json.Id);
      return { status: sent.status, text: read.text };
    }, (r) => r.status === 200 && r.text === 'Hello from a REST app #agenthost', (r) => `Alice read "${r.text}"`);

    await step('Alice replies; the app\'s /Events long poll returns it decrypted', async () => {
      const start = (await call('GET', '/Collaboration/V1/Events?last-event=0&types=message', undefined, token)).json as Array<{ EventId: number; InstanceId: string }>;
      const last = Math.max(0, ...start.map((e) => e.EventId));
      const poll = call('GET', `/Collaboration/V1/Events?last-event=${last}&types=message&origins=remote`, undefined, token);
      await new Promise((r) => setTimeout(r, 200));
      await alice.pod.send(room, 'Hi app, I read your encrypted message');
      return ((await poll).json as Array<{ Content: string }>)[0]?.Content;
    }, (content) => content === 'Hi app, I read your encrypted message', (content) => `MessageEvent Content "${content}"`);

    await step('The contract: 403 for an unprovisioned channel, 503 with Retry-After while the agent re-activates', async () => {
      const im = await alice.pod.createIm([bot.userId]);
      const forbidden = await call('POST', `/Collaboration/V1/Channels/${encodeURIComponent(`im:${im}`)}/Messages`, { Text: 'no' }, token);
      sandbox.faults.add({ path: '/datafeed2/', status: 503 });
      sandbox.faults.add({ path: '/login/', status: 503 });
      try {
        const unavailable = await until(async () => {
          const r = await call('GET', '/Collaboration/V1/Channels', undefined, token);
          return r.status === 503 ? r : undefined;
        }, 'a 503');
        return { forbidden: forbidden.status, unavailable: unavailable.status, retryAfter: unavailable.headers['retry-after'] };
      } finally {
        sandbox.faults.clear();
      }
    }, (r) => r.forbidden === 403 && r.unavailable === 503 && r.retryAfter !== undefined, (r) => `403, then 503 with Retry-After: ${String(r.retryAfter)} s`);
  } finally {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
