// `allegro sandbox` as a user runs it: one ready line of JSON, serving HTTPS, a clean exit on SIGTERM and SIGINT,
// with --data a restart that keeps what was acknowledged, and --cors-origin replacing the loopback origins.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'allegro-cli-sandbox-')); });
afterAll(() => rm(dir, { recursive: true, force: true }));

async function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'sandbox', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
  return { child, ready: JSON.parse(line) as Record<string, unknown> & { podUrl: string; caCertPath: string; configPath: string } };
}

function get(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject).end();
  });
}

function stop(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

it('prints the ready line, serves the pod over HTTPS on 127.0.0.1, and exits 0 on SIGTERM', async () => {
  const { child, ready } = await start(['--data', dir]);
  expect(Object.keys(ready)).toEqual(expect.arrayContaining(['ready', 'podUrl', 'keyManagerUrl', 'sessionAuthUrl', 'keyAuthUrl', 'objectStoreUrl', 'agentUrl', 'caCertPath', 'configPath']));
  expect(ready.ready).toBe(true);
  expect(ready.podUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = readFileSync(ready.caCertPath, 'utf8');
  const info = await get(`${ready.podUrl}/webcontroller/public/podInfo`, ca);
  expect(JSON.parse(info.body).data.podId).toBe(196);
  expect(JSON.parse(readFileSync(ready.configPath, 'utf8')).bot.username).toBe('sandbox-bot');
  const started = Date.now();
  expect(await stop(child, 'SIGTERM')).toBe(0);
  expect(Date.now() - started).toBeLessThan(5000);
}, 30_000);

it('restarts on the same data directory with the same CA and bot, and exits 0 on SIGINT', async () => {
  const { child, ready } = await start(['--data', dir]);
  expect(ready.caCertPath).toBe(join(dir, 'tls', 'ca.pem'));
  expect(JSON.parse(readFileSync(ready.configPath, 'utf8')).bot.username).toBe('sandbox-bot');
  expect(await stop(child, 'SIGINT')).toBe(0);
}, 30_000);

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

it('refuses --data at the root of a git work tree (exit 2, nothing written) unless --force', async () => {
  const repo = join(dir, 'repo');
  await mkdir(join(repo, '.git'), { recursive: true });
  const refused = await run(['sandbox', '--data', repo]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('root of a git work tree');
  expect(readdirSync(repo)).toEqual(['.git']);
  const { child, ready } = await start(['--data', repo, '--force']);
  expect(ready.configPath).toBe(join(repo, 'config.json'));
  expect(await stop(child, 'SIGTERM')).toBe(0);
}, 30_000);

it('has no default config file: a chat command without --config or ALLEGRO_CONFIG is a usage error', async () => {
  const env = { ...process.env };
  delete env.ALLEGRO_CONFIG;
  const { code, stderr } = await run(['streams'], env);
  expect(code).toBe(2);
  expect(stderr).toContain('give --config FILE or set ALLEGRO_CONFIG');
});

it('creates its files and directories 0700/0600 whatever the umask (here 000)', async () => {
  const data = join(dir, 'umask');
  const child = spawn('/bin/sh', ['-c', `umask 000 && exec "${process.execPath}" "${CLI}" sandbox --data "${data}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
  expect(await stop(child, 'SIGTERM')).toBe(0);
  const modes: Record<string, string> = {};
  const walk = (path: string, name: string) => {
    const mode = statSync(path).mode;
    modes[name] = (mode & 0o777).toString(8);
    if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry), `${name}/${entry}`);
  };
  walk(data, '.');
  const wrong = Object.entries(modes).filter(([name, mode]) => mode !== (statSync(join(data, name)).isDirectory() ? '700' : '600'));
  expect(wrong).toEqual([]);
  expect(Object.keys(modes).length).toBeGreaterThan(8);
}, 30_000);

it('answers CORS for the loopback origins by default, and for exactly the --cors-origin ones when given', async () => {
  const origin = (o: string) => ({ origin: o });
  const loopback = await start([]);
  const ca = readFileSync(loopback.ready.caCertPath, 'utf8');
  const podInfo = `${loopback.ready.podUrl}/webcontroller/public/podInfo`;
  expect((await get(podInfo, ca, origin('http://localhost:5173'))).headers['access-control-allow-origin']).toBe('http://localhost:5173');
  expect((await get(podInfo, ca, origin('https://app.example'))).headers['access-control-allow-origin']).toBeUndefined();
  expect(await stop(loopback.child, 'SIGTERM')).toBe(0);

  const custom = await start(['--cors-origin', 'https://app.example', '--cors-origin', 'http://dev.example:*']);
  const url = `${custom.ready.podUrl}/webcontroller/public/podInfo`;
  const allowed = async (o: string) => (await get(url, readFileSync(custom.ready.caCertPath, 'utf8'), origin(o))).headers['access-control-allow-origin'];
  expect(await allowed('https://app.example')).toBe('https://app.example');
  expect(await allowed('http://dev.example:3000')).toBe('http://dev.example:3000');
  expect(await allowed('http://localhost:5173')).toBeUndefined();
  expect(await stop(custom.child, 'SIGTERM')).toBe(0);
}, 30_000);

it('refuses a --cors-origin that is not an origin pattern (exit 2, naming it)', async () => {
  const refused = await run(['sandbox', '--cors-origin', 'localhost:8000']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('--cors-origin: "localhost:8000" is not an origin pattern');
}, 30_000);
