/**
 * `allegro bench e2e`: the whole path of a message on loopback — encrypt and send (bot), pod, datafeed, decrypt
 * (receiver) — against a sandbox in a child process (../sandbox-process.ts; a data directory, synchronous commits). Measures:
 * throughput with many sends in flight; latency percentiles at a fixed send rate; the cost of a warm content-key
 * lookup; and the share of the per-message time spent in cryptography (encode + decode of one message, measured in
 * the same process). A message counts only when the receiver decrypted exactly the text sent. Loopback only;
 * bounded in count and time.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AllegroClient } from '../../client.js';
import type { AllegroConfigInput } from '../../config.js';
import type { DatafeedEvent } from '../../pod/datafeed.js';
import { decodeMessage, encodeMessage } from '../../pod/message-codec.js';
import { percentile } from '../harness.js';
import { makeReport, measuresTable, type BenchReport } from '../report.js';
import { spawnSandbox } from '../sandbox-process.js';

/** Options of {@link runE2eBench}. */
export interface E2eBenchOptions {
  /** Messages of the throughput phase (default 2,000). */
  messages?: number;
  /** Send rate of the latency phase (default 200 messages/s). */
  ratePerSec?: number;
  /** Seconds of the latency phase (default 5). */
  seconds?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Sends in flight in the throughput phase. */
const IN_FLIGHT = 32;

/** Run the benchmark (about 15 s with the defaults). */
export async function runE2eBench(options: E2eBenchOptions = {}): Promise<BenchReport> {
  const total = options.messages ?? 2000;
  const rate = options.ratePerSec ?? 200;
  const seconds = options.seconds ?? 5;
  const progress = options.progress ?? (() => undefined);
  const sandbox = await spawnSandbox(false);
  const clients: AllegroClient[] = [];
  try {
    const botConfig = JSON.parse(readFileSync(sandbox.configPath, 'utf8')) as AllegroConfigInput;
    const identities = JSON.parse(readFileSync(join(dirname(sandbox.configPath), 'identities.json'), 'utf8')) as { identities: Array<{ username: string; privateKeyPath?: string }> };
    const alice = identities.identities.find((i) => i.username === 'alice')!;
    const sender = await AllegroClient.create(botConfig);
    clients.push(sender);
    const receiver = await AllegroClient.create({ ...botConfig, bot: { username: 'alice', privateKey: { path: alice.privateKeyPath! } } });
    clients.push(receiver);
    const room = (await sender.pod.streams({ types: ['ROOM'] }))[0]!.id;

    const arrivals = new Map<string, number>();
    let wake: (() => void) | undefined;
    const feed = receiver.datafeed();
    void feed.listen((event: DatafeedEvent) => {
      if (event.message !== undefined && event.initiatorId === sender.userId) {
        arrivals.set(event.message.text, performance.now());
        wake?.();
      }
    });
    while (feed.feedId === undefined) await new Promise((r) => setTimeout(r, 20));
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
      for (let i = 0; i < texts.length; i += IN_FLIGHT) await Promise.all(texts.slice(i, i + IN_FLIGHT).map((t) => sender.pod.send(room, t)));
    };

    // Warm up keys, connections and the JIT with one batch, and check that it arrives decrypted.
    const warmUp = Array.from({ length: IN_FLIGHT }, (_, i) => `warm-up ${i}`);
    await sendAll(warmUp);
    if (await waitFor(warmUp, 10_000) > 0) throw new Error('e2e bench: the warm-up messages did not arrive decrypted within 10 s');

    // Throughput: many sends in flight.
    const texts = Array.from({ length: total }, (_, i) => `throughput ${i}`);
    const start = performance.now();
    await sendAll(texts);
    const lostThroughput = await waitFor(texts, 60_000);
    const elapsed = (Math.max(...texts.map((t) => arrivals.get(t) ?? performance.now())) - start) / 1000;
    progress(`measured throughput of ${total} messages`);

    // Latency at a fixed rate.
    const sentAt = new Map<string, number>();
    const count = Math.max(1, Math.round(rate * seconds));
    const latencyStart = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const wait = latencyStart + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const text = `latency ${i}`;
      sentAt.set(text, performance.now());
      sends.push(sender.pod.send(room, text));
    }
    await Promise.all(sends);
    const lostLatency = await waitFor([...sentAt.keys()], 30_000);
    const latencies = [...sentAt].map(([t, s]) => (arrivals.get(t) ?? Number.POSITIVE_INFINITY) - s).sort((a, b) => a - b);
    feed.stop();
    progress(`measured latency of ${count} messages at ${rate}/s`);

    // Warm content-key lookup and the crypto cost of one message, each after a warm-up.
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
    const cryptoPerMessageUs = await codec(500);
    const messagesPerSec = total / elapsed;
    const latency = measuresTable(`latency at ${rate} messages/s (${count} messages)`, [
      ['p50', percentile(latencies, 50), 'ms'], ['p99', percentile(latencies, 99), 'ms'], ['max', latencies.at(-1) ?? 0, 'ms'],
    ]);
    latency.chart = { value: 'value', unit: 'ms', label: ['measure'] };
    return makeReport({
      name: 'e2e',
      title: 'send → sandbox → datafeed → decrypt on loopback',
      method: 'A bot sends encrypted messages to a sandbox in a child process (data directory, synchronous commits); a second client receives them ' +
        `from its datafeed and decrypts them. Everything is warmed up with ${IN_FLIGHT} messages first. Throughput: ${total} messages ` +
        `with ${IN_FLIGHT} in flight, from the first send to the last arrival. Latency: send to decrypted arrival at a fixed rate. ` +
        'Crypto per message: encode + decode of one message (4 fields, hashtags, search tokens) in this process; its share is ' +
        'relative to the wall time per message at full throughput.',
      tables: [
        measuresTable(`throughput (${total} messages, ${IN_FLIGHT} in flight) and cost`, [
          ['throughput', messagesPerSec, 'messages/s'],
          ['warm content-key lookup', warmKeyLookupUs, 'µs'],
          ['crypto per message (encode + decode)', cryptoPerMessageUs, 'µs'],
          ['crypto share of the per-message time at full throughput', (cryptoPerMessageUs / (1e6 / messagesPerSec)) * 100, '%'],
        ]),
        latency,
      ],
      notes: [
        ...(lostThroughput > 0 ? [`${lostThroughput} of ${total} throughput messages did not arrive within 60 s`] : []),
        ...(lostLatency > 0 ? [`${lostLatency} of ${count} latency messages did not arrive within 30 s (their latency counts as infinite)`] : []),
      ],
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox.stop();
  }
}
