// `allegro agent-host` as a user runs it: --sandbox prints one ready line with the super user, the sandbox, the
// identities and a demo agent that becomes Active over HTTPS; --config serves a configuration file; both exit 0 on a
// signal. hash-password prints a hash the configuration accepts.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isPasswordHash, verifyPassword } from '../../../src/agent-host/password.js';

const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'allegro-cli-agent-host-')); });
afterAll(() => rm(dir, { recursive: true, force: true }));

async function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'agent-host', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, ready: JSON.parse(line) as Record<string, any> };
}

function call(url: string, ca: string, method: string, body?: unknown, token?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    request(url, { ca, method, headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `FCF ${token}` }) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) }));
    }).on('error', reject).end(data);
  });
}

function stop(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

it('--sandbox: the ready line, the demo agent Active with its room, the super user provisioning; exits 0 on SIGTERM', async () => {
  const { child, ready } = await start(['--sandbox', '--data', join(dir, 'sandbox-mode')]);
  try {
    expect(ready).toMatchObject({ ready: true, url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), configPath: join(dir, 'sandbox-mode', 'agent-host.yaml') });
    expect(ready.superUser.username).toBe('admin');
    expect(ready.sandbox).toMatchObject({ ready: true, podUrl: expect.stringMatching(/^https:/) });
    expect(ready.identities.map((i: { username: string }) => i.username)).toEqual(['sandbox-bot', 'alice', 'bob']);
    // The configuration holds the hash, never the password.
    expect(readFileSync(ready.configPath, 'utf8')).not.toContain(ready.superUser.password);
    const ca = readFileSync(ready.sandbox.caCertPath, 'utf8');
    const token = (await call(`${ready.url}/Authentication/V1/Tokens`, ca, 'POST', { Username: ready.demo.user.username, Password: ready.demo.user.password, AgentId: ready.demo.agentId })).json;
    let channels: { status: number; json: any } = { status: 0, json: undefined };
    for (let i = 0; i < 200 && channels.status !== 200; i++) {
      channels = await call(`${ready.url}/Collaboration/V1/Channels`, ca, 'GET', undefined, token);
      if (channels.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(channels.json.map((c: { Id: string }) => c.Id)).toEqual([ready.demo.channel]);
    const admin = (await call(`${ready.url}/Authentication/V1/Tokens`, ca, 'POST', { Username: 'admin', Password: ready.superUser.password, AgentId: '' })).json;
    expect((await call(`${ready.url}/Provisioning/V1/Agents`, ca, 'GET', undefined, admin)).json.map((a: { Id: string }) => a.Id)).toEqual(['demo']);
    // The sandbox's OBO app is configured: an agent acting for alice through it becomes Active.
    const crm = `${ready.url}/Provisioning/V1/Agents/crm-alice`;
    expect((await call(crm, ca, 'PUT', { UserName: 'alice', Identity: { Kind: 'obo', AppId: ready.sandbox.oboApp.appId, Username: 'alice' } }, admin)).status).toBe(200);
    let state = 0;
    for (let i = 0; i < 200 && state !== 2; i++) {
      state = (await call(crm, ca, 'GET', undefined, admin)).json.State;
      if (state !== 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe(2);
  } finally {
    expect(await stop(child, 'SIGTERM')).toBe(0);
  }
}, 60_000);

it('--config: serves the file\'s host on HTTP when it names no certificate, --port overriding; exits 0 on SIGINT', async () => {
  const hashed = spawnSync(process.execPath, [CLI, 'agent-host', 'hash-password'], { input: 'a-long-password\n', encoding: 'utf8' });
  expect(hashed.status).toBe(0);
  const hash = hashed.stdout.trim();
  expect(isPasswordHash(hash)).toBe(true);
  expect(await verifyPassword('a-long-password', hash)).toBe(true);
  const configPath = join(dir, 'host.yaml');
  writeFileSync(configPath, `superUser:\n  username: root\n  passwordHash: "${hash}"\ndataDir: data\nsymphony:\n  host: 127.0.0.1\n  port: 1\n`);
  const { child, ready } = await start(['--config', configPath, '--port', '0']);
  try {
    expect(ready).toEqual({ ready: true, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), configPath });
    const reply = await fetch(`${ready.url}/Authentication/V1/Tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Username: 'root', Password: 'a-long-password', AgentId: '' }) });
    expect(reply.status).toBe(200);
    expect(typeof (await reply.json())).toBe('string');
    const unknown = await fetch(`${ready.url}/Nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 404, message: 'No such endpoint: GET /Nope' });
  } finally {
    expect(await stop(child, 'SIGINT')).toBe(0);
  }
}, 30_000);

it('refuses a configuration with a clear error naming the key, and a usage without --config or --sandbox', () => {
  const configPath = join(dir, 'bad.yaml');
  writeFileSync(configPath, 'superUser:\n  username: root\n  passwordHash: plain-password\nsymphony: {}\n');
  const bad = spawnSync(process.execPath, [CLI, 'agent-host', '--config', configPath], { encoding: 'utf8' });
  expect(bad.status).toBe(3);
  expect(bad.stderr).toContain('INVALID_CONFIG: Invalid configuration superUser.passwordHash');
  expect(bad.stderr).not.toContain('plain-password');
  const usage = spawnSync(process.execPath, [CLI, 'agent-host'], { encoding: 'utf8' });
  expect(usage.status).toBe(2);
});
