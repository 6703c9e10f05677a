/**
 * `allegro agent-host --config FILE [--data DIR] [--port N]` runs the agent host (docs/agent-host.md) until SIGINT or
 * SIGTERM, printing one line of JSON `{"ready":true,"url":…,"configPath":…}` once it accepts connections.
 * `allegro agent-host --sandbox [--data DIR] [--port N]` first starts an embedded sandbox, writes a host configuration
 * for it (HTTPS with the sandbox's server certificate; a generated super-user password, printed — dev only; the
 * sandbox's OBO apps under `oboApps`, so that `obo` agents can act through them), and provisions a demo agent (the sandbox's bot, with the sandbox room, for a web user `demo`); its ready line also has
 * `superUser`, `sandbox` (the sandbox's ready object), `identities` and `demo`. `allegro agent-host hash-password`
 * reads a password on stdin and prints its scrypt hash for the configuration's `superUser.passwordHash`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadHostConfig } from '../../agent-host/config.js';
import { AllegroClient } from '../../index.js';
import { hashPassword } from '../../agent-host/password.js';
import { startAgentHost, type RunningAgentHost } from '../../agent-host/server.js';
import { ActivationStates } from '../../agent-host/store/types.js';
import { startSandbox, type RunningSandbox } from '../../sandbox/server.js';
import { toYamlText } from '../../util/yaml.js';
import { runUntilSignal, sandboxReady } from './sandbox.js';

/** What the command was asked. */
export interface AgentHostCommandOptions {
  config?: string;
  dataDir?: string;
  port?: number;
  sandbox: boolean;
}

/** The id of the demo agent and its web user in `--sandbox` mode. */
export const DEMO = { agentId: 'demo', userId: 'demo', userName: 'demo' } as const;

/** Read all of stdin. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `hash-password`: the scrypt hash of the password on stdin (its last line break removed). */
export async function hashPasswordCommand(print: (line: string) => void): Promise<number> {
  const password = (await readStdin()).replace(/\r?\n$/, '');
  if (password.length < 8) throw new Error('the password must have at least 8 characters');
  print(await hashPassword(password));
  return 0;
}

/** A running host with what `--sandbox` started beside it. */
interface Running {
  host: RunningAgentHost;
  configPath: string;
  extra: Record<string, unknown>;
  close(): Promise<void>;
}

async function startWithConfig(configPath: string, options: AgentHostCommandOptions): Promise<Running> {
  const config = loadHostConfig(configPath);
  const host = await startAgentHost({ ...config, ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }), ...(options.port === undefined ? {} : { port: options.port }) });
  return { host, configPath: config.path!, extra: {}, close: () => host.close() };
}

async function startWithSandbox(options: AgentHostCommandOptions): Promise<Running> {
  const scratch = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'allegro-agent-host-')) : undefined;
  const root = options.dataDir ?? scratch!;
  let sandbox: RunningSandbox | undefined;
  try {
    sandbox = await startSandbox({ dataDir: join(root, 'sandbox'), onError: (err) => process.stderr.write(`sandbox: internal error: ${(err as Error)?.stack ?? String(err)}\n`) });
    const password = randomBytes(18).toString('base64url');
    const tlsDir = dirname(sandbox.caCertPath);
    const configPath = join(root, 'agent-host.yaml');
    writeFileSync(configPath, toYamlText({
      host: '127.0.0.1', port: options.port ?? 0, dataDir: join(root, 'host'),
      tls: { certificate: join(tlsDir, 'server.pem'), privateKey: join(tlsDir, 'server-key.pem') },
      superUser: { username: 'admin', passwordHash: await hashPassword(password) },
      symphony: { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } } },
      oboApps: [...sandbox.apps.values()].filter((a) => a.privateKeyPath !== undefined).map((a) => ({ appId: a.appId, privateKey: a.privateKeyPath })),
    }, 'allegro agent-host --sandbox: generated configuration (dev only)'), { mode: 0o600 });
    const host = await startAgentHost(loadHostConfig(configPath));
    const demoPassword = randomBytes(12).toString('base64url');
    const bot = sandbox.identities.get('sandbox-bot')!;
    const botClient = await AllegroClient.create(sandbox.configPath);
    const room = await botClient.pod.streams({ types: ['ROOM'] }).then((rooms) => rooms[0]).finally(() => botClient.close());
    const { store } = host.host;
    await store.putUser({ id: DEMO.userId, userName: DEMO.userName, passwordHash: await hashPassword(demoPassword) });
    const agent = { id: DEMO.agentId, userName: bot.username, identity: { kind: 'rsa' as const, username: bot.username, privateKeyPath: bot.privateKeyPath! }, users: [DEMO.userId], canProvision: false, provisioningMode: 0, managementMode: 0 };
    await store.putAgent(agent);
    const channel = room === undefined ? undefined : `room:${room.id}`;
    if (channel !== undefined && (await store.getChannel(agent.id, channel)) === undefined) await store.putChannel({ agentId: agent.id, channelId: channel, state: ActivationStates.Activating });
    await host.host.startAgent(agent);
    const running = sandbox;
    return {
      host, configPath,
      extra: {
        superUser: { username: 'admin', password },
        sandbox: sandboxReady(running),
        identities: [...running.identities.values()].map((i) => ({ username: i.username, userId: i.userId, ...(i.privateKeyPath === undefined ? {} : { privateKeyPath: i.privateKeyPath }) })),
        demo: { agentId: DEMO.agentId, user: { username: DEMO.userName, password: demoPassword }, ...(channel === undefined ? {} : { channel }) },
      },
      async close() {
        await host.close();
        await running.close();
        if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await sandbox?.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}

/** Run the agent host until a signal. */
export function runAgentHostCommand(options: AgentHostCommandOptions, print: (line: string) => void): Promise<number> {
  return runUntilSignal(
    () => (options.sandbox ? startWithSandbox(options) : startWithConfig(options.config!, options)),
    (r) => ({ ready: true, url: r.host.url, configPath: r.configPath, ...r.extra }),
    print,
  );
}
