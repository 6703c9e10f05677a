/**
 * `allegro bench sandbox`: throughput of the sandbox on loopback, measured from another process. It starts
 * `allegro sandbox` as a child process (with a data directory, so every acknowledged write is fsync'd, or in memory
 * with `--memory`), logs the default bot in, and for a fixed time keeps a fixed number of requests in flight for:
 * message submissions (`/webcontroller/ingestor/v2/MessageService`, an encrypted SocialMessage each) and content-key
 * fetches (`/keystore/wrappedContentKeys/one`). Loopback only; bounded in time; stops by itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AesKey } from '../../crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512, unwrapKey } from '../../crypto/rsa.js';
import { decryptTransport, encryptText } from '../../crypto/transport.js';

/** One measured operation. */
export interface SandboxBenchCase {
  name: string;
  concurrency: number;
  seconds: number;
  ok: number;
  failed: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** The ready line of `allegro sandbox`. */
export interface SandboxProcess {
  podUrl: string;
  caCertPath: string;
  configPath: string;
  port: number;
  /** Stop the sandbox and remove its data directory. */
  stop(): Promise<void>;
}

/** Start `allegro sandbox` as a child process (with a temporary data directory unless `memory`). */
export async function spawnSandbox(memory: boolean): Promise<SandboxProcess> {
  const dataDir = memory ? undefined : await mkdtemp(join(tmpdir(), 'allegro-bench-sandbox-'));
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'sandbox', ...(dataDir === undefined ? [] : ['--data', dataDir])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<Omit<SandboxProcess, 'stop'>>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => resolve(JSON.parse(line) as Omit<SandboxProcess, 'stop'>));
      child.once('exit', (code) => reject(new Error(`sandbox exited with ${code} before it was ready`)));
    });
    return { ...ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The p-th percentile of ascending `sorted` values (0 when empty). */
export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Run the sandbox benchmark. */
export async function runSandboxBench(options: { seconds?: number; concurrency?: number; memory?: boolean } = {}): Promise<{ persistent: boolean; cases: SandboxBenchCase[] }> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 32;
  const ready = await spawnSandbox(options.memory === true);
  try {
    const agent = new Agent({ ca: readFileSync(ready.caCertPath, 'utf8'), keepAlive: true, maxSockets: concurrency });
    const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${ready.podUrl}${path}`, { method, agent, headers, timeout: 30_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => { text += c; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(body);
      });
    const config = JSON.parse(readFileSync(ready.configPath, 'utf8')) as { bot: { username: string; privateKey: { path: string } } };
    const botKey = new RsaPrivateKey(readFileSync(config.bot.privateKey.path, 'utf8'));
    const json = { 'content-type': 'application/json' };
    const session = JSON.parse((await send('POST', '/login/pubkey/authenticate', json, JSON.stringify({ token: await signJwtRs512(botKey, { sub: config.bot.username }) }))).text).token as string;
    const km = JSON.parse((await send('POST', '/relay/pubkey/authenticate', json, JSON.stringify({ token: await signJwtRs512(botKey, { sub: config.bot.username }) }))).text).token as string;
    const auth = { sessionToken: session };
    const me = JSON.parse((await send('GET', '/pod/v2/sessioninfo', auth)).text) as { id: number };
    const rooms = JSON.parse((await send('POST', '/pod/v1/streams/list', { ...auth, ...json }, JSON.stringify({ streamTypes: [{ type: 'ROOM' }] }))).text) as Array<{ id: string }>;
    const roomId = rooms[0]!.id;
    const userKeys = JSON.parse((await send('GET', '/relay/keys/me', { keyManagerToken: km })).text) as { privateKey: string };
    const wrappedAk = JSON.parse((await send('GET', `/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=0&userId=${me.id}`, auth)).text);
    const ak = new AesKey(await unwrapKey(new RsaPrivateKey(userKeys.privateKey), Buffer.from(wrappedAk.data.wrappedAccountKey, 'base64'), 'pkcs1-v1_5'));
    const keyPath = `/keystore/wrappedContentKeys/one?threadId=${roomId}&rotationId=0&userId=${me.id}`;
    const wrappedCk = JSON.parse((await send('GET', keyPath, auth)).text);
    const ck = new AesKey(await decryptTransport(ak, Buffer.from(wrappedCk.data.wrappedContentKey, 'base64')));
    const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
    const payload = new URLSearchParams({
      messagepayload: JSON.stringify({ threadId: roomId, msgFeatures: 3, text: await encryptText(ck, 'benchmark message '.repeat(20), { rotationId: 0 }) }),
    }).toString();

    async function measure(name: string, op: () => Promise<{ status: number }>): Promise<SandboxBenchCase> {
      const latencies: number[] = [];
      let ok = 0;
      let failed = 0;
      const deadline = performance.now() + seconds * 1000;
      const start = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          const reply = await op().catch(() => ({ status: 0 }));
          latencies.push(performance.now() - t);
          if (reply.status === 200) ok++;
          else failed++;
        }
      }));
      const elapsed = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      return { name, concurrency, seconds: elapsed, ok, failed, opsPerSec: ok / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
    }

    const cases = [
      await measure('message submission', () => send('POST', '/webcontroller/ingestor/v2/MessageService', form, payload)),
      await measure('content-key fetch', () => send('GET', keyPath, auth)),
    ];
    agent.destroy();
    return { persistent: options.memory !== true, cases };
  } finally {
    await ready.stop();
  }
}

/** Render the cases as a Markdown table. */
export function formatSandboxBench(result: { persistent: boolean; cases: SandboxBenchCase[] }): string {
  const lines = [
    `Sandbox on loopback (${result.persistent ? 'journal with fsync' : 'in memory'}), separate client process`,
    '',
    '| operation | in flight | ops/s | p50 ms | p99 ms | failed |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const c of result.cases) {
    lines.push(`| ${c.name} | ${c.concurrency} | ${Math.round(c.opsPerSec).toLocaleString('en-US')} | ${c.p50Ms.toFixed(2)} | ${c.p99Ms.toFixed(2)} | ${c.failed} |`);
  }
  return lines.join('\n');
}
