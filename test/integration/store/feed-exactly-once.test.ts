// The done-when of issue 13's stored state: a bot writes objects and a feed listener in ANOTHER PROCESS
// (feed-listener.child.mjs, on the built package) sees each exactly once, while the sandbox — through its control
// API, over HTTPS on 127.0.0.1 — loses and fails acknowledgements and renewals: acks ignored inside the store
// (redelivered later), acks applied but their answers lost, 503s, renewals ignored (redelivered while the handler
// still runs) and dropped, a read whose answer is lost, a 429. Handlers also fail once (extend and retry) and run
// longer than the visibility timeout (renewals). At the end every message is acknowledged.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { call } from '../../helpers/sandbox.js';

const root = join(import.meta.dirname, '../../..');
let sandbox: RunningSandbox;
let bot: AllegroClient;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'allegro-feed-'));
  sandbox = await startSandbox({ control: true, config: { objectFeedVisibilitySeconds: 2 } });
  bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
});
afterAll(async () => {
  await bot?.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Line { event: string; messageId?: string; sortKey?: string; version?: number; absoluteHash?: string; attempt?: number; value?: unknown; hash?: string; kind?: string; stats?: Record<string, number> }

it('delivers every object version to a listener in another process exactly once through ack and extend faults', async () => {
  const alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
  const room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
  await alice.close();
  const partition = await bot.objects.partition('orders', { readers: [sandbox.identities.get('alice')!.userId] });
  const configPath = join(dir, 'alice.json');
  writeFileSync(configPath, JSON.stringify(identityConfig(sandbox, 'alice')));

  const FEED = '/object/v1/feeds/*/objects';
  const rules = [
    { path: FEED, feedAction: 'receive', status: 429, retryAfterSeconds: 1, times: 1 },
    { path: FEED, feedAction: 'delete', ignore: true, times: 4 },
    { path: FEED, feedAction: 'delete', dropAfter: true, times: 2 },
    { path: FEED, feedAction: 'delete', status: 503, times: 2 },
    { path: FEED, feedAction: 'extend', ignore: true, times: 4 },
    { path: FEED, feedAction: 'extend', drop: true, times: 2 },
    { path: FEED, feedAction: 'receive', dropAfter: true, times: 1 },
  ];

  const versions = 40 + 10;
  const child = spawn(process.execPath, [join(import.meta.dirname, 'feed-listener.child.mjs'), configPath, partition, 'orders-feed', String(versions), '6000'], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let stderr = '';
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as Line);
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    for (let i = 0; i < 200 && !lines.some((l) => l.event === 'listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(lines.find((l) => l.event === 'listening'), stderr).toBeDefined();
    const feedHash = lines.find((l) => l.event === 'listening')!.hash!;
    for (const rule of rules) expect((await call(sandbox, 'POST', '/sandbox/v1/faults', { json: rule })).status).toBe(201);

    // The bot writes 40 objects and then 10 new versions, while the listener runs.
    const written = new Map<string, unknown>();
    const refs = [];
    for (let i = 0; i < 40; i++) {
      const ref = await bot.objects.put({ partition, sortKey: `order/${String(i).padStart(2, '0')}`, threadId: room, payload: { order: i } });
      written.set(ref.absoluteHash, { order: i });
      refs.push(ref);
    }
    for (const ref of refs.slice(0, 10)) {
      const next = await bot.objects.update(ref, { payload: { order: ref.sortKey, updated: true } });
      written.set(next.absoluteHash, { order: ref.sortKey, updated: true });
    }

    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))]);
    expect(code, `${stderr}\n${lines.slice(-20).map((l) => JSON.stringify(l)).join('\n')}`).toBe(0);

    const handled = lines.filter((l) => l.event === 'handled');
    // Exactly once: every version written was handled, none twice, with the content written.
    expect(handled.map((l) => l.absoluteHash).sort()).toEqual([...written.keys()].sort());
    for (const l of handled) expect(l.value).toEqual(written.get(l.absoluteHash!));
    // Handlers that failed once came back as attempt 2.
    const failed = lines.filter((l) => l.event === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(4);
    for (const f of failed) expect(handled.find((h) => h.messageId === f.messageId)?.attempt).toBe(2);

    // The faults did happen, and the listener saw their consequences without passing them on.
    const stats = lines.find((l) => l.event === 'stopped')!.stats!;
    expect(sandbox.faults.list().filter((r) => r.remaining !== 0)).toEqual([]);
    expect(sandbox.faults.counts.ignored).toBe(8);
    expect(stats.duplicatesSkipped).toBeGreaterThan(0);
    expect(stats.handled).toBe(versions);
    expect(stats.extends).toBeGreaterThan(0);
    // Nothing is left in the feed: every message was acknowledged in the end.
    expect(sandbox.store.queuedFeedMessages(feedHash)).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
});
