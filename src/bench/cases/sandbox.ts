/**
 * `allegro bench sandbox`: the sandbox on loopback, measured from another process. It starts `allegro sandbox` as a
 * child process (../sandbox-process.ts; a data directory with synchronous commits, or in memory), logs the default
 * bot in with raw HTTPS requests (../sandbox-client.ts), checks that the content key it fetches decrypts the message
 * it will send, and then keeps a fixed number of requests in flight, after a warm-up, for: message submissions
 * (`/webcontroller/ingestor/v2/MessageService`, an encrypted SocialMessage each) and content-key fetches
 * (`/keystore/wrappedContentKeys/one`). With a data directory it then measures the sandbox at scale
 * (./sandbox-scale.ts): submissions by stored messages and idle feeds, restart time, disk and memory per stored
 * message, and a normal client's latency among stalled and slowloris connections. Loopback only; bounded in time;
 * stops by itself.
 */
import { warmUpSecondsFor, load } from '../harness.js';
import { loadErrors, loadTable, makeReport, type BenchReport } from '../report.js';
import { logInBot, messageSubmission, roomKey, sandboxClient } from '../sandbox-client.js';
import { spawnSandbox } from '../sandbox-process.js';
import { measureScale } from './sandbox-scale.js';

/** Options of {@link runSandboxBench}. */
export interface SandboxBenchOptions {
  /** Seconds per operation (default 3), after a warm-up of a third of it (at most 1 s). */
  seconds?: number;
  /** Requests in flight (default 32). */
  concurrency?: number;
  /** Run the sandbox in memory instead of with a data directory (no scale measurements then). */
  memory?: boolean;
  /** Levels of stored messages of the scale measurements (default 0, 100,000 and 1,000,000); `[]` skips them. */
  stored?: readonly number[];
  /** Feeds long-polling in the scale measurements (default 20). */
  idleFeeds?: number;
  /** Stalled readers, and as many slowloris connections, in the scale measurements (default 1,000). */
  stalled?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** The default levels of stored messages. */
export const DEFAULT_STORED = [0, 100_000, 1_000_000] as const;

/** Run the sandbox benchmark (about 2 × (seconds + warm-up) plus start-up; the scale part minutes more at 1M). */
export async function runSandboxBench(options: SandboxBenchOptions = {}): Promise<BenchReport> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 32;
  const memory = options.memory === true;
  const ready = await spawnSandbox(memory);
  const client = sandboxClient(ready, concurrency);
  let cases;
  try {
    const bot = await logInBot(client, ready.configPath);
    const rooms = await client.ok<Array<{ id: string }>>('POST', '/pod/v1/streams/list', { ...bot.headers, 'content-type': 'application/json' }, JSON.stringify({ streamTypes: [{ type: 'ROOM' }] }));
    const roomId = rooms[0]!.id;
    const { key, keyPath } = await roomKey(client, bot, roomId);
    const { form } = await messageSubmission(key, roomId, 'benchmark message '.repeat(20));
    const formHeaders = { ...bot.headers, 'content-type': 'application/x-www-form-urlencoded' };
    cases = [];
    for (const [name, op] of [
      ['message submission', () => client.ok('POST', '/webcontroller/ingestor/v2/MessageService', formHeaders, form)],
      ['content-key fetch', () => client.ok('GET', keyPath, bot.headers)],
    ] as const) {
      cases.push({ name, result: await load(op, { concurrency, seconds }) });
      options.progress?.(`measured ${name}`);
    }
  } finally {
    client.close();
    await ready.stop();
  }
  const stored = options.stored ?? DEFAULT_STORED;
  const scale = memory || stored.length === 0 ? undefined : await measureScale({
    stored, idleFeeds: options.idleFeeds ?? 20, stalled: options.stalled ?? 1000, seconds, concurrency,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  return makeReport({
    name: memory ? 'sandbox-memory' : 'sandbox',
    title: `sandbox on loopback (${memory ? 'in memory' : 'SQLite, synchronous commits'}), separate client process`,
    method: `A sandbox in a child process, driven from this process over HTTPS with ${concurrency} requests in flight: each ` +
      `operation is warmed up for ${warmUpSecondsFor(seconds).toFixed(2)} s, then timed for ${seconds} s. ops/s counts HTTP 200 answers; ` +
      'latency percentiles cover every request of the timed phase.' + (scale === undefined ? '' : ' The scale tables pre-fill the stored ' +
      'messages with direct store inserts while the sandbox is stopped (a bench-only fast path, not an API), then restart it and measure over HTTPS; ' +
      'idle feeds are another user\'s long polls, getting no event of the room written to.'),
    tables: [loadTable('operations', cases), ...(scale?.tables ?? [])],
    notes: [...loadErrors(cases), ...(scale?.notes ?? [])],
  });
}
