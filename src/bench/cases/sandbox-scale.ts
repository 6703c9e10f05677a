/**
 * The scale part of `allegro bench sandbox` (docs/cli.md "Benchmarks"; the targets of issue 9): a sandbox child
 * process on one data directory, pre-filled to each level of stored messages through the bench-only fast path
 * (../sandbox-fill.ts, with the sandbox stopped), then restarted and measured:
 * - message submissions/s with no feed, and with `idleFeeds` feeds of another user long-polling all along (they get
 *   no event of the room), and the ratio of each to the first level's;
 * - the restart time (spawn to ready line), the bytes on disk (`sandbox.db` and its WAL) and the sandbox's RSS
 *   right after the restart and after the load, per level, and the bytes on disk and RSS after the restart per
 *   stored message between the first and the last level;
 * - at the last level, the latency of a normal client (one submission at a time) while `stalled` readers (a history
 *   page of 500 messages asked for, never read) and `stalled` slowloris connections (a request head sent one line a
 *   second) are open, and the sandbox's peak RSS meanwhile.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { load, type LoadResult } from '../harness.js';
import type { BenchTable } from '../report.js';
import { logIn, logInBot, messageSubmission, roomKey, sandboxClient, type SandboxClient, type Session } from '../sandbox-client.js';
import { fillMessages } from '../sandbox-fill.js';
import { rssBytes, spawnSandbox, type SandboxProcess } from '../sandbox-process.js';

/** Options of {@link measureScale}. */
export interface ScaleOptions {
  /** Levels of stored messages, ascending (the first is usually 0). */
  stored: readonly number[];
  /** Feeds long-polling during the second measurement of each level (at most 20: one user's limit). */
  idleFeeds: number;
  /** Stalled readers, and as many slowloris connections, at the last level. */
  stalled: number;
  seconds: number;
  concurrency: number;
  progress?: (line: string) => void;
}

const MiB = 1024 * 1024;

async function fileSize(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/** Long polls of `feeds` feeds until `stop()`: each reads again as soon as its read answers. */
async function idleFeeds(client: SandboxClient, who: Session, count: number): Promise<() => Promise<void>> {
  const tokens = await client.ok<Array<{ token: string }>>('GET', '/settings-web/api/v1/tokens', who.headers);
  const headers = { authorization: `Bearer ${tokens[0]!.token}`, 'content-type': 'application/json' };
  const live = await client.ok<Array<{ id: string }>>('GET', '/datafeed2/api/v1/feeds', headers);
  const ids = live.map((f) => f.id).slice(0, count);
  while (ids.length < count) ids.push((await client.ok<{ id: string }>('POST', '/datafeed2/api/v1/feeds', headers)).id);
  let stopped = false;
  const loops = ids.map(async (id) => {
    while (!stopped) await client.send('POST', `/datafeed2/api/v1/feeds/${id}/events`, headers, '{}').catch(() => undefined);
  });
  return async () => {
    stopped = true;
    client.close();
    await Promise.all(loops);
  };
}

/** Open `count` TLS connections to the sandbox, `parallel` handshakes at a time, each sending `head` once up. */
async function openConnections(ready: SandboxProcess, count: number, head: string): Promise<TLSSocket[]> {
  const ca = readFileSync(ready.caCertPath, 'utf8');
  const sockets: TLSSocket[] = [];
  const one = () => new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: ready.port, ca, servername: 'localhost' });
    socket.on('error', () => resolve());
    socket.once('secureConnect', () => {
      socket.write(head);
      sockets.push(socket);
      resolve();
    });
  });
  for (let done = 0; done < count; done += 50) await Promise.all(Array.from({ length: Math.min(50, count - done) }, one));
  return sockets;
}

/** Run the scale measurements; returns their tables and notes. */
export async function measureScale(o: ScaleOptions): Promise<{ tables: BenchTable[]; notes: string[] }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'allegro-bench-scale-'));
  const dbPath = join(dataDir, 'sandbox.db');
  const notes: string[] = [];
  const submissions: Array<Record<string, number | null>> = [];
  const storage: Array<Record<string, number | null>> = [];
  let ready: SandboxProcess | undefined;
  try {
    // A room of the bot alone (so that no feed gets its events), the message it posts, and alice's login for the feeds.
    ready = await spawnSandbox(false, dataDir);
    let client = sandboxClient(ready, o.concurrency);
    const bot = await logInBot(client, ready.configPath);
    const roomId = (await client.ok<{ roomSystemInfo: { id: string } }>('POST', '/pod/v3/room/create', { ...bot.headers, 'content-type': 'application/json' }, JSON.stringify({ name: 'bench scale' }))).roomSystemInfo.id;
    const { key } = await roomKey(client, bot, roomId);
    const { posted, form } = await messageSubmission(key, roomId, 'benchmark message '.repeat(20));
    const identities = JSON.parse(readFileSync(join(dataDir, 'identities.json'), 'utf8')) as { identities: Array<{ username: string; privateKeyPath?: string }> };
    const aliceKey = readFileSync(join(dataDir, identities.identities.find((i) => i.username === 'alice')!.privateKeyPath!), 'utf8');
    client.close();
    const formHeaders = { ...bot.headers, 'content-type': 'application/x-www-form-urlencoded' };
    const submit = () => client.ok('POST', '/webcontroller/ingestor/v2/MessageService', formHeaders, form);
    let stored = 0;
    let submitted = 0;
    const first: Record<number, number> = {};
    for (const level of o.stored) {
      await ready.stop();
      ready = undefined;
      if (level > stored) {
        o.progress?.(`filling to ${level} stored messages (direct store inserts, the bench-only fast path)`);
        await fillMessages({ dbPath, streamId: roomId, fromUserId: bot.userId, posted, count: level - stored });
        stored = level;
      }
      const started = performance.now();
      ready = await spawnSandbox(false, dataDir);
      const restartSeconds = (performance.now() - started) / 1000;
      const restartedRss = rssBytes(ready.pid) ?? Number.NaN;
      client = sandboxClient(ready, o.concurrency);
      const measured: Array<[number, LoadResult]> = [];
      for (const feeds of o.idleFeeds > 0 ? [0, o.idleFeeds] : [0]) {
        const stop = feeds === 0 ? undefined : await idleFeeds(sandboxClient(ready, feeds), await logIn(client, 'alice', aliceKey), feeds);
        const result = await load(submit, { concurrency: o.concurrency, seconds: o.seconds });
        await stop?.();
        submitted += result.ok;
        measured.push([feeds, result]);
        first[feeds] ??= result.opsPerSec;
        if (result.firstError !== undefined) notes.push(`${level} stored, ${feeds} idle feeds: ${result.failed} failed, first: ${result.firstError}`);
      }
      for (const [feeds, result] of measured) {
        submissions.push({ stored: level, feeds, opsPerSec: result.opsPerSec, p50Ms: result.p50Ms, p99Ms: result.p99Ms, ratio: result.opsPerSec / first[feeds]! });
      }
      const disk = (await fileSize(dbPath)) + (await fileSize(`${dbPath}-wal`));
      storage.push({ stored: level, restartSeconds, diskMiB: disk / MiB, restartRssMiB: restartedRss / MiB, rssMiB: (rssBytes(ready.pid) ?? Number.NaN) / MiB });
      o.progress?.(`measured ${level} stored messages`);
      client.close();
    }
    const low = storage[0]!;
    const high = storage.at(-1)!;
    const span = (high.stored as number) - (low.stored as number);
    if (span > 0) {
      notes.push(`between ${low.stored} and ${high.stored} stored messages: ${(((high.diskMiB as number) - (low.diskMiB as number)) * MiB / span).toFixed(0)} bytes on disk ` +
        `and ${(((high.restartRssMiB as number) - (low.restartRssMiB as number)) * MiB / span).toFixed(1)} bytes of RSS after the restart per stored message (goals: ≤ 1.5 KiB on disk, RSS flat); ` +
        `${submitted} submitted while measuring are not counted in the levels`);
    }

    // Under attack, at the last level.
    client = sandboxClient(ready!, 1);
    const history = `GET /dataquery/api/v3/messages/thread?id=${roomId}&limit=500 HTTP/1.1\r\nhost: localhost\r\nsessiontoken: ${bot.session}\r\n\r\n`;
    o.progress?.(`opening ${o.stalled} stalled readers and ${o.stalled} slowloris connections`);
    const stalled = await openConnections(ready!, o.stalled, history);
    for (const s of stalled) s.pause();
    const slow = await openConnections(ready!, o.stalled, 'GET /webcontroller/public/podInfo HTTP/1.1\r\nhost: localhost\r\n');
    const drip = setInterval(() => { for (const s of slow) if (s.writable) s.write('x-slow: 1\r\n'); }, 1000);
    let peakRss = rssBytes(ready!.pid) ?? Number.NaN;
    const sample = setInterval(() => { peakRss = Math.max(peakRss, rssBytes(ready!.pid) ?? Number.NaN); }, 100);
    const normal = await load(submit, { concurrency: 1, seconds: o.seconds });
    clearInterval(sample);
    clearInterval(drip);
    const open = (sockets: TLSSocket[]) => sockets.filter((s) => !s.destroyed).length;
    const attack = [{ stalledReaders: open(stalled), slowloris: open(slow), opsPerSec: normal.opsPerSec, p50Ms: normal.p50Ms, p99Ms: normal.p99Ms, peakRssMiB: peakRss / MiB }];
    if (normal.firstError !== undefined) notes.push(`under attack: ${normal.failed} failed, first: ${normal.firstError}`);
    notes.push(`under attack: ${o.stalled} of each opened; the table counts those still open when the measurement ended (goals: p99 ≤ 50 ms, RSS ≤ 512 MiB)`);
    for (const s of [...stalled, ...slow]) s.destroy();
    client.close();

    const count = (key: string, label: string) => ({ key, label, format: 'count' as const });
    const fixed = (key: string, label: string, digits = 1) => ({ key, label, format: 'fixed' as const, digits });
    return {
      tables: [
        {
          title: 'message submissions by stored messages and idle feeds',
          columns: [count('stored', 'stored messages'), count('feeds', 'idle feeds'), { key: 'opsPerSec', label: 'ops/s', format: 'rate' },
            fixed('p50Ms', 'p50 ms', 2), fixed('p99Ms', 'p99 ms', 2), { key: 'ratio', label: 'vs first level', format: 'ratio' }],
          rows: submissions,
        },
        {
          title: 'restart, disk and memory by stored messages',
          columns: [count('stored', 'stored messages'), fixed('restartSeconds', 'restart s', 2), fixed('diskMiB', 'disk MiB'), fixed('restartRssMiB', 'RSS after restart MiB'),
            fixed('rssMiB', 'RSS after the load MiB')],
          rows: storage,
        },
        {
          title: `a normal client while ${o.stalled} stalled readers and ${o.stalled} slowloris connections are open (${high.stored} stored messages)`,
          columns: [count('stalledReaders', 'stalled readers'), count('slowloris', 'slowloris'), { key: 'opsPerSec', label: 'ops/s', format: 'rate' },
            fixed('p50Ms', 'p50 ms', 2), fixed('p99Ms', 'p99 ms', 2), fixed('peakRssMiB', 'peak RSS MiB')],
          rows: attack,
        },
      ],
      notes,
    };
  } finally {
    await ready?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
