/**
 * `allegro bench e2e`: the whole path of a message on loopback — send, pod, datafeed, read — against a sandbox in a
 * child process (../sandbox-process.ts; a data directory, synchronous commits), on two paths side by side (`--path native|agent|both`):
 * - native: an allegro-ts bot encrypts and sends on the pod's native path; a second allegro-ts client reads its
 *   Datafeed 2.0 and decrypts;
 * - agent: a plain-REST bot (../rest-bot.ts, as a BDK bot) sends MessageML to the sandbox's Agent, which encrypts;
 *   a second plain-REST bot reads its Agent datafeed (v5), which the Agent decrypts.
 * Per path: throughput with many sends in flight, and latency percentiles at a fixed send rate; with both, the ratio
 * native ÷ agent. On the native path also the cost of a warm content-key lookup and the share of the per-message
 * time spent in cryptography (encode + decode of one message, measured in the same process). A message counts only
 * when the receiver read exactly the text sent. Loopback only; bounded in count and time.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AllegroClient } from '../../client.js';
import type { AllegroConfigInput } from '../../config.js';
import type { DatafeedEvent } from '../../pod/datafeed.js';
import { decodeMessage, encodeMessage } from '../../pod/message-codec.js';
import { percentile } from '../harness.js';
import { makeReport, measuresTable, type BenchReport, type BenchTable } from '../report.js';
import { presentationText, RestBot } from '../rest-bot.js';
import { spawnSandbox, type SandboxProcess } from '../sandbox-process.js';

/** Which paths `allegro bench e2e` measures. */
export const E2E_PATHS = ['native', 'agent', 'both'] as const;
/** One of {@link E2E_PATHS}. */
export type E2ePath = (typeof E2E_PATHS)[number];

/** Options of {@link runE2eBench}. */
export interface E2eBenchOptions {
  /** Messages of the throughput phase, per path (default 2,000). */
  messages?: number;
  /** Send rate of the latency phase (default 200 messages/s). */
  ratePerSec?: number;
  /** Seconds of the latency phase, per path (default 5). */
  seconds?: number;
  /** The paths measured (default `native`). */
  path?: E2ePath;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Sends in flight in the throughput phase. */
const IN_FLIGHT = 32;

/** One way of sending and receiving: `send` a text; `arrivals` records when each text was read by the receiver. */
interface Loop {
  send(text: string): Promise<unknown>;
  /** Start receiving; resolves once the receiver's feed exists. */
  start(onArrival: (text: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** What one path measured. */
interface PathResult {
  path: 'native' | 'agent';
  messagesPerSec: number;
  /** Send-to-read latencies, sorted, ms. */
  latencies: number[];
  lostThroughput: number;
  lostLatency: number;
  latencyCount: number;
}

interface Identity { username: string; privateKeyPath?: string }

/** The sandbox's identities, their key paths absolute (identities.json may name them relative to its directory). */
function identities(sandbox: SandboxProcess): Identity[] {
  const dir = dirname(sandbox.configPath);
  const saved = (JSON.parse(readFileSync(join(dir, 'identities.json'), 'utf8')) as { identities: Identity[] }).identities;
  return saved.map((i) => (i.privateKeyPath === undefined ? i : { ...i, privateKeyPath: resolve(dir, i.privateKeyPath) }));
}

/** The native path: allegro-ts clients, pod.send and the pod's Datafeed 2.0. */
async function nativeLoop(sandbox: SandboxProcess, clients: AllegroClient[]): Promise<Loop & { sender: AllegroClient; room: string }> {
  const botConfig = JSON.parse(readFileSync(sandbox.configPath, 'utf8')) as AllegroConfigInput;
  const alice = identities(sandbox).find((i) => i.username === 'alice')!;
  const sender = await AllegroClient.create(botConfig);
  clients.push(sender);
  const receiver = await AllegroClient.create({ ...botConfig, bot: { username: 'alice', privateKey: { path: alice.privateKeyPath! } } });
  clients.push(receiver);
  const room = (await sender.pod.streams({ types: ['ROOM'] }))[0]!.id;
  const feed = receiver.datafeed();
  return {
    sender, room,
    send: (text) => sender.pod.send(room, text),
    async start(onArrival) {
      void feed.listen((event: DatafeedEvent) => {
        if (event.message !== undefined && event.initiatorId === sender.userId) onArrival(event.message.text);
      });
      while (feed.feedId === undefined) await new Promise((r) => setTimeout(r, 20));
    },
    async close() {
      feed.stop();
    },
  };
}

/** The Agent path: plain-REST bots, the Agent's message create and its v5 datafeed. */
async function agentLoop(sandbox: SandboxProcess, room: string): Promise<Loop> {
  const caPem = readFileSync(sandbox.caCertPath, 'utf8');
  const all = identities(sandbox);
  const bot = (name: string) => RestBot.login({ baseUrl: sandbox.podUrl, caPem, username: name, privateKeyPem: readFileSync(all.find((i) => i.username === name)!.privateKeyPath!, 'utf8'), maxSockets: IN_FLIGHT + 2 });
  const sender = await bot('sandbox-bot');
  const receiver = await bot('alice');
  const stop = new AbortController();
  let done: Promise<void> | undefined;
  return {
    send: (text) => sender.send(room, `<messageML>${text}</messageML>`),
    async start(onArrival) {
      const listening = await receiver.listen((event) => {
        const message = event.payload.messageSent?.message;
        if (message !== undefined && message.user.userId === sender.userId) onArrival(presentationText(message.message));
      }, stop.signal);
      done = listening.done.catch(() => undefined);
    },
    async close() {
      stop.abort();
      sender.close();
      receiver.close();
      await done;
    },
  };
}

/** Measure one path: warm-up, throughput of `total` messages, latency at `rate` for `seconds`. */
async function measure(path: PathResult['path'], loop: Loop, total: number, rate: number, seconds: number, progress: (line: string) => void): Promise<PathResult> {
  const arrivals = new Map<string, number>();
  let wake: (() => void) | undefined;
  await loop.start((text) => {
    arrivals.set(text, performance.now());
    wake?.();
  });
  const waitFor = async (texts: readonly string[], timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (texts.some((t) => !arrivals.has(t)) && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return texts.filter((t) => !arrivals.has(t)).length;
  };
  const sendAll = async (texts: readonly string[]) => {
    for (let i = 0; i < texts.length; i += IN_FLIGHT) await Promise.all(texts.slice(i, i + IN_FLIGHT).map((t) => loop.send(t)));
  };

  // Warm up keys, connections and the JIT with one batch, and check that it arrives readable.
  const warmUp = Array.from({ length: IN_FLIGHT }, (_, i) => `${path} warm-up ${i}`);
  await sendAll(warmUp);
  if (await waitFor(warmUp, 10_000) > 0) throw new Error(`e2e bench: the ${path} warm-up messages did not arrive readable within 10 s`);

  // Throughput: many sends in flight.
  const texts = Array.from({ length: total }, (_, i) => `${path} throughput ${i}`);
  const start = performance.now();
  await sendAll(texts);
  const lostThroughput = await waitFor(texts, 60_000);
  const elapsed = (Math.max(...texts.map((t) => arrivals.get(t) ?? performance.now())) - start) / 1000;
  progress(`${path}: measured throughput of ${total} messages`);

  // Latency at a fixed rate.
  const sentAt = new Map<string, number>();
  const count = Math.max(1, Math.round(rate * seconds));
  const latencyStart = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = latencyStart + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const text = `${path} latency ${i}`;
    sentAt.set(text, performance.now());
    sends.push(loop.send(text));
  }
  await Promise.all(sends);
  const lostLatency = await waitFor([...sentAt.keys()], 30_000);
  const latencies = [...sentAt].map(([t, s]) => (arrivals.get(t) ?? Number.POSITIVE_INFINITY) - s).sort((a, b) => a - b);
  await loop.close();
  progress(`${path}: measured latency of ${count} messages at ${rate}/s`);
  return { path, messagesPerSec: total / elapsed, latencies, lostThroughput, lostLatency, latencyCount: count };
}

/** The native path's cost measures: a warm content-key lookup and encode + decode of one message, µs. */
async function nativeCosts(sender: AllegroClient, room: string): Promise<{ warmKeyLookupUs: number; cryptoPerMessageUs: number }> {
  const { key, rotationId } = await sender.keys.currentContentKey(room);
  const lookups = async (n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await sender.keys.contentKey(room, rotationId);
    return ((performance.now() - t) * 1000) / n;
  };
  await lookups(2_000);
  const warmKeyLookupUs = await lookups(20_000);
  const entityKey = await sender.keys.entityKey();
  const codec = async (n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const payload = await encodeMessage(`<messageML>crypto share ${i} <b>bold</b></messageML>`, {
        threadId: room, contentKey: key, rotationId, entityKey, wallKey: key, clientVersion: 'bench',
      });
      await decodeMessage(payload, key);
    }
    return ((performance.now() - t) * 1000) / n;
  };
  await codec(50);
  return { warmKeyLookupUs, cryptoPerMessageUs: await codec(500) };
}

/** Run the benchmark (about 15 s per path with the defaults). */
export async function runE2eBench(options: E2eBenchOptions = {}): Promise<BenchReport> {
  const total = options.messages ?? 2000;
  const rate = options.ratePerSec ?? 200;
  const seconds = options.seconds ?? 5;
  const which = options.path ?? 'native';
  const progress = options.progress ?? (() => undefined);
  const sandbox = await spawnSandbox(false);
  const clients: AllegroClient[] = [];
  try {
    const native = await nativeLoop(sandbox, clients);
    const results: PathResult[] = [];
    if (which !== 'agent') results.push(await measure('native', native, total, rate, seconds, progress));
    if (which !== 'native') results.push(await measure('agent', await agentLoop(sandbox, native.room), total, rate, seconds, progress));
    const costs = which === 'agent' ? undefined : await nativeCosts(native.sender, native.room);
    return e2eReport(results, costs, { total, rate, seconds });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox.stop();
  }
}

function e2eReport(results: PathResult[], costs: { warmKeyLookupUs: number; cryptoPerMessageUs: number } | undefined, run: { total: number; rate: number; seconds: number }): BenchReport {
  const count = Math.max(1, Math.round(run.rate * run.seconds));
  const paths: BenchTable = {
    title: `per path: throughput (${run.total} messages, ${IN_FLIGHT} in flight) and latency at ${run.rate} messages/s (${count} messages)`,
    columns: [
      { key: 'path', label: 'path', format: 'text' }, { key: 'messagesPerSec', label: 'messages/s', format: 'rate' },
      { key: 'p50Ms', label: 'p50 ms', format: 'fixed', digits: 1 }, { key: 'p99Ms', label: 'p99 ms', format: 'fixed', digits: 1 },
      { key: 'maxMs', label: 'max ms', format: 'fixed', digits: 1 }, { key: 'lost', label: 'lost', format: 'count' },
    ],
    rows: results.map((r) => ({
      path: r.path, messagesPerSec: r.messagesPerSec, p50Ms: percentile(r.latencies, 50), p99Ms: percentile(r.latencies, 99),
      maxMs: r.latencies.at(-1) ?? 0, lost: r.lostThroughput + r.lostLatency,
    })),
    chart: { value: 'messagesPerSec', unit: 'messages/s', label: ['path'] },
  };
  const tables: BenchTable[] = [paths];
  const native = results.find((r) => r.path === 'native');
  const agent = results.find((r) => r.path === 'agent');
  if (native !== undefined && agent !== undefined) {
    tables.push(measuresTable('native ÷ agent', [
      ['throughput', native.messagesPerSec / agent.messagesPerSec, '×'],
      ['p50 latency', percentile(native.latencies, 50) / percentile(agent.latencies, 50), '×'],
      ['p99 latency', percentile(native.latencies, 99) / percentile(agent.latencies, 99), '×'],
    ]));
  }
  if (costs !== undefined && native !== undefined) {
    tables.push(measuresTable('native path: cost', [
      ['warm content-key lookup', costs.warmKeyLookupUs, 'µs'],
      ['crypto per message (encode + decode)', costs.cryptoPerMessageUs, 'µs'],
      ['crypto share of the per-message time at full throughput', (costs.cryptoPerMessageUs / (1e6 / native.messagesPerSec)) * 100, '%'],
    ]));
  }
  return makeReport({
    name: 'e2e',
    title: 'send → sandbox → datafeed → read on loopback',
    method: 'A sandbox runs in a child process (data directory, synchronous commits). Native path: an allegro-ts bot encrypts and sends on the pod\'s ' +
      'native path; a second allegro-ts client reads its Datafeed 2.0 and decrypts. Agent path: a plain-REST bot (no crypto, as a ' +
      'BDK bot) sends MessageML to the sandbox\'s Agent as multipart/form-data; a second plain-REST bot reads its Agent datafeed (v5) ' +
      `and takes the text of the PresentationML. Each path is warmed up with ${IN_FLIGHT} messages first. Throughput: ${run.total} ` +
      `messages with ${IN_FLIGHT} in flight, from the first send to the last arrival. Latency: send to readable arrival at a fixed rate. ` +
      'Crypto per message (native): encode + decode of one message (4 fields, hashtags, search tokens) in this process; its share ' +
      'is relative to the wall time per message at full throughput.',
    tables,
    notes: results.flatMap((r) => [
      ...(r.lostThroughput > 0 ? [`${r.path}: ${r.lostThroughput} of ${run.total} throughput messages did not arrive within 60 s`] : []),
      ...(r.lostLatency > 0 ? [`${r.path}: ${r.lostLatency} of ${r.latencyCount} latency messages did not arrive within 30 s (their latency counts as infinite)`] : []),
    ]),
  });
}
