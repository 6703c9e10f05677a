/**
 * `allegro bench sandbox`: throughput of the sandbox on loopback, measured from another process. It starts
 * `allegro sandbox` as a child process (../sandbox-process.ts; a data directory with synchronous commits, or in memory), logs the default
 * bot in with raw HTTPS requests, checks that the content key it fetches decrypts the message it will send, and then
 * keeps a fixed number of requests in flight, after a warm-up, for: message submissions
 * (`/webcontroller/ingestor/v2/MessageService`, an encrypted SocialMessage each) and content-key fetches
 * (`/keystore/wrappedContentKeys/one`). Loopback only; bounded in time; stops by itself.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { AesKey } from '../../crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512, unwrapKey } from '../../crypto/rsa.js';
import { decryptText, decryptTransport, encryptText } from '../../crypto/transport.js';
import { load, warmUpSecondsFor } from '../harness.js';
import { loadErrors, loadTable, makeReport, type BenchReport } from '../report.js';
import { spawnSandbox } from '../sandbox-process.js';

/** Options of {@link runSandboxBench}. */
export interface SandboxBenchOptions {
  /** Seconds per operation (default 3), after a warm-up of a third of it (at most 1 s). */
  seconds?: number;
  /** Requests in flight (default 32). */
  concurrency?: number;
  /** Run the sandbox in memory instead of with a data directory. */
  memory?: boolean;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Run the sandbox benchmark (about 2 × (seconds + warm-up) plus start-up). */
export async function runSandboxBench(options: SandboxBenchOptions = {}): Promise<BenchReport> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 32;
  const memory = options.memory === true;
  const ready = await spawnSandbox(memory);
  const agent = new Agent({ ca: readFileSync(ready.caCertPath, 'utf8'), keepAlive: true, maxSockets: concurrency });
  try {
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
    const ok = async (method: string, path: string, headers: Record<string, string>, body?: string) => {
      const reply = await send(method, path, headers, body);
      if (reply.status !== 200) throw new Error(`${method} ${path.split('?')[0]} answered HTTP ${reply.status}`);
      return reply;
    };
    const config = JSON.parse(readFileSync(ready.configPath, 'utf8')) as { bot: { username: string; privateKey: { path: string } } };
    const botKey = new RsaPrivateKey(readFileSync(config.bot.privateKey.path, 'utf8'));
    const json = { 'content-type': 'application/json' };
    const login = JSON.stringify({ token: await signJwtRs512(botKey, { sub: config.bot.username }) });
    const session = (JSON.parse((await ok('POST', '/login/pubkey/authenticate', json, login)).text) as { token: string }).token;
    const km = (JSON.parse((await ok('POST', '/relay/pubkey/authenticate', json, login)).text) as { token: string }).token;
    const auth = { sessionToken: session };
    const me = JSON.parse((await ok('GET', '/pod/v2/sessioninfo', auth)).text) as { id: number };
    const rooms = JSON.parse((await ok('POST', '/pod/v1/streams/list', { ...auth, ...json }, JSON.stringify({ streamTypes: [{ type: 'ROOM' }] }))).text) as Array<{ id: string }>;
    const roomId = rooms[0]!.id;
    const userKeys = JSON.parse((await ok('GET', '/relay/keys/me', { keyManagerToken: km })).text) as { privateKey: string };
    const wrappedAk = JSON.parse((await ok('GET', `/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=0&userId=${me.id}`, auth)).text);
    const ak = new AesKey(await unwrapKey(new RsaPrivateKey(userKeys.privateKey), Buffer.from(wrappedAk.data.wrappedAccountKey, 'base64'), 'pkcs1-v1_5'));
    const keyPath = `/keystore/wrappedContentKeys/one?threadId=${roomId}&rotationId=0&userId=${me.id}`;
    const wrappedCk = JSON.parse((await ok('GET', keyPath, auth)).text);
    const ck = new AesKey(await decryptTransport(ak, Buffer.from(wrappedCk.data.wrappedContentKey, 'base64')));
    const text = 'benchmark message '.repeat(20);
    const encrypted = await encryptText(ck, text, { rotationId: 0 });
    if (await decryptText(ck, encrypted) !== text) throw new Error('sandbox bench: the message does not round-trip under the fetched content key');
    const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
    const payload = new URLSearchParams({ messagepayload: JSON.stringify({ threadId: roomId, msgFeatures: 3, text: encrypted }) }).toString();

    const cases = [];
    for (const [name, op] of [
      ['message submission', () => ok('POST', '/webcontroller/ingestor/v2/MessageService', form, payload)],
      ['content-key fetch', () => ok('GET', keyPath, auth)],
    ] as const) {
      cases.push({ name, result: await load(op, { concurrency, seconds }) });
      options.progress?.(`measured ${name}`);
    }
    return makeReport({
      name: memory ? 'sandbox-memory' : 'sandbox',
      title: `sandbox on loopback (${memory ? 'in memory' : 'SQLite, synchronous commits'}), separate client process`,
      method: `A sandbox in a child process, driven from this process over HTTPS with ${concurrency} requests in flight: each ` +
        `operation is warmed up for ${warmUpSecondsFor(seconds).toFixed(2)} s, then timed for ${seconds} s. ops/s counts HTTP 200 answers; ` +
        'latency percentiles cover every request of the timed phase.',
      tables: [loadTable('operations', cases)],
      notes: loadErrors(cases),
    });
  } finally {
    agent.destroy();
    await ready.stop();
  }
}
