// No acknowledged write is lost when the sandbox process is killed with SIGKILL in the middle of mixed writes, and
// the sandbox starts again every time (issue 9: ≥ 100 rounds with ALLEGRO_SLOW=1, a handful otherwise). Each round
// starts `allegro sandbox --data DIR` (the built CLI), keeps writers busy over HTTPS (messages, rooms, Object Store
// objects, presence, feed acknowledgements), kills it after a random time, and then reads the database itself:
// every write that was answered 2xx is there, and nothing is inconsistent.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import type { IdentityFiles, RunningSandbox } from '../../../src/sandbox/server.js';
import { partitionHashOf } from '../../../src/sandbox/store/objects.js';
import { SandboxStore } from '../../../src/sandbox/store/store.js';
import { accountKey, call, contentKey, login, type Login } from '../../helpers/sandbox.js';

const SLOW = process.env.ALLEGRO_SLOW === '1';
const ROUNDS = SLOW ? 100 : 4;
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/** What one round's writers got acknowledged. */
interface Acknowledged {
  messages: string[];
  rooms: string[];
  objects: string[];
  /** The last presence acknowledged, and those asked for since (a request whose answer was lost may have committed). */
  presence?: string;
  presenceSince: string[];
  feedAck?: { feed: string; seq: number };
}

describe(`the sandbox under kill -9 (${ROUNDS} rounds)`, () => {
  let dir: string;
  beforeAll(async () => {
    // `npm test` builds first; a direct `vitest run` may find no build, or one older than the source.
    if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest(join(ROOT, 'src'))) {
      const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    }
    dir = await mkdtemp(join(tmpdir(), 'allegro-sandbox-kill-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Start the CLI on the data directory; resolves once it prints its ready line. */
  async function start(): Promise<{ child: ChildProcess; sandbox: RunningSandbox }> {
    const child = spawn(process.execPath, [CLI, 'sandbox', '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code, signal) => reject(new Error(`the sandbox did not start (exit ${code} ${signal}): ${stderr}`)));
    });
    const ready = JSON.parse(line) as { podUrl: string; caCertPath: string };
    const saved = JSON.parse(readFileSync(join(dir, 'identities.json'), 'utf8')) as { identities: IdentityFiles[] };
    const identities = new Map(saved.identities.map((f) => [f.username, { ...f, privateKeyPath: join(dir, f.privateKeyPath!) }]));
    return { child, sandbox: { podUrl: ready.podUrl, caCertPath: ready.caCertPath, identities } as unknown as RunningSandbox };
  }

  /** Writers that keep writing until `stop` is set; what was answered 2xx goes into `acked`. */
  async function write(sandbox: RunningSandbox, who: Login, roomId: string, ck: AesKey, feed: { id: string; headers: Record<string, string> }, acked: Acknowledged, stop: { now: boolean }): Promise<void> {
    const threadId = Buffer.from(roomId, 'base64url').toString('base64');
    const api = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: who.headers })).json.access_token}` };
    const partition = partitionHashOf('kill-9', who.userId);
    const text = await encryptText(ck, 'acknowledged', { rotationId: 0 });
    let n = 0;
    const attempt = async (f: () => Promise<void>) => {
      try {
        await f();
      } catch {
        // The process was killed under this request: it was not acknowledged.
      }
    };
    const writers = [
      async () => {
        const r = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', { headers: who.headers, form: { messagepayload: JSON.stringify({ threadId, text }) } });
        if (r.status === 200) acked.messages.push(r.json.messageId);
      },
      async () => {
        const r = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: who.headers, json: { name: `room ${n++}` } });
        if (r.status === 200) acked.rooms.push(r.json.roomSystemInfo.id);
      },
      async () => {
        const hash = Buffer.from(`kill-9 object ${process.pid} ${Date.now()} ${n++}`).toString('base64url');
        const r = await call(sandbox, 'PUT', `/object/v1/objects/${hash}`, {
          headers: api, json: { partitionHash: partition, sortKey: hash, threadId: roomId, rotationId: 0, encryptedPayload: Buffer.alloc(48, 1).toString('base64') },
        });
        if (r.status === 200) acked.objects.push(hash);
      },
      async () => {
        const category = ['BUSY', 'AWAY', 'AVAILABLE'][n++ % 3]!;
        acked.presenceSince.push(category);
        const r = await call(sandbox, 'POST', '/pod/v2/user/presence', { headers: who.headers, json: { category } });
        if (r.status === 200) {
          acked.presence = category;
          acked.presenceSince = [];
        }
      },
      async () => {
        const r = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.id}/events`, { headers: feed.headers, json: {} });
        if (r.status !== 200 || r.json.events.length === 0) return;
        const seq = Number(r.json.events.at(-1).eventId.slice(1));
        const ack = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feed.id}/events`, { headers: feed.headers, json: { ackId: r.json.ackId } });
        // The acknowledgement is committed before the answer to the read that carried it.
        if (ack.status === 200) acked.feedAck = { feed: feed.id, seq };
      },
    ];
    await Promise.all(writers.map(async (writer) => {
      while (!stop.now) await attempt(writer);
    }));
  }

  it('loses no acknowledged write and starts every time', async () => {
    const all: Acknowledged = { messages: [], rooms: [], objects: [], presenceSince: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const { child, sandbox } = await start();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const bot = await login(sandbox, 'sandbox-bot');
      const rooms = await call(sandbox, 'POST', '/pod/v1/streams/list', { headers: bot.headers, json: { streamTypes: [{ type: 'ROOM' }] } });
      const roomId = rooms.json.find((s: { roomAttributes?: { name: string } }) => s.roomAttributes?.name === 'Sandbox room').id as string;
      const { accountKey: ak } = await accountKey(sandbox, bot);
      const ck = await contentKey(sandbox, bot, ak, roomId, 0) as AesKey;
      const dfToken = (await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: bot.headers })).json[0].token;
      const feedHeaders = { authorization: `Bearer ${dfToken}` };
      const feeds = await call(sandbox, 'GET', '/datafeed2/api/v1/feeds', { headers: feedHeaders });
      const feedId = (feeds.json[0]?.id ?? (await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json.id) as string;

      const acked: Acknowledged = { messages: [], rooms: [], objects: [], presenceSince: [] };
      const stop = { now: false };
      const writing = write(sandbox, bot, roomId, ck, { id: feedId, headers: feedHeaders }, acked, stop);
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 600)));
      child.kill('SIGKILL');
      await exited;
      stop.now = true;
      await writing;
      expect(child.signalCode).toBe('SIGKILL');

      // The lock went with the process: the database opens, and holds everything acknowledged, in every round so far.
      all.messages.push(...acked.messages);
      all.rooms.push(...acked.rooms);
      all.objects.push(...acked.objects);
      const store = SandboxStore.open(join(dir, 'sandbox.db'));
      try {
        const view = store.view();
        expect(all.messages.filter((id) => view.message(id) === undefined)).toEqual([]);
        expect(all.rooms.filter((id) => view.stream(id) === undefined)).toEqual([]);
        expect(all.objects.filter((hash) => store.objects.version(hash) === undefined)).toEqual([]);
        if (acked.presence !== undefined) expect([acked.presence, ...acked.presenceSince]).toContain(view.user('sandbox-bot')!.presence.category);
        if (acked.feedAck !== undefined) expect(store.events.feed(acked.feedAck.feed)!.ackSeq).toBeGreaterThanOrEqual(acked.feedAck.seq);
        expect(view.check()).toEqual([]);
      } finally {
        store.close();
      }
    }
    expect(all.messages.length + all.rooms.length + all.objects.length).toBeGreaterThan(ROUNDS * 5);
  }, SLOW ? 1_800_000 : 120_000);
});
