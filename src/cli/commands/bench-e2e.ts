/**
 * `allegro bench e2e`: the whole path of a message on loopback — encrypt and send (bot), pod, datafeed, decrypt
 * (receiver) — against a sandbox in a child process (journal with fsync). Measures: throughput with many sends
 * in flight; latency percentiles at a fixed send rate; the cost of a warm content-key lookup; and the share of the
 * per-message time spent in cryptography (encode + decode of one message, measured in the same process).
 * Loopback only; bounded in count and time.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AllegroClient } from '../../client.js';
import type { AllegroConfigInput } from '../../config.js';
import { decodeMessage, encodeMessage } from '../../pod/message-codec.js';
import type { DatafeedEvent } from '../../pod/datafeed.js';
import { percentile, spawnSandbox } from './bench-sandbox.js';

/** Results of the end-to-end benchmark. */
export interface E2eBenchResult {
  throughput: { messages: number; seconds: number; messagesPerSec: number };
  latency: { ratePerSec: number; messages: number; p50Ms: number; p99Ms: number; maxMs: number };
  warmKeyLookupUs: number;
  cryptoPerMessageUs: number;
  /** cryptoPerMessageUs relative to the wall time per message at full throughput. */
  cryptoShare: number;
}


/** Run the benchmark (about 15 s). */
export async function runE2eBench(options: { messages?: number; ratePerSec?: number; seconds?: number } = {}): Promise<E2eBenchResult> {
  const total = options.messages ?? 2000;
  const rate = options.ratePerSec ?? 200;
  const seconds = options.seconds ?? 5;
  const sandbox = await spawnSandbox(false);
  const clients: AllegroClient[] = [];
  try {
    const botConfig = JSON.parse(readFileSync(sandbox.configPath, 'utf8')) as AllegroConfigInput;
    const identities = JSON.parse(readFileSync(join(dirname(sandbox.configPath), 'identities.json'), 'utf8')) as { identities: Array<{ username: string; privateKeyPath?: string }> };
    const alice = identities.identities.find((i) => i.username === 'alice')!;
    const sender = await AllegroClient.create(botConfig);
    const receiver = await AllegroClient.create({ ...botConfig, bot: { username: 'alice', privateKey: { path: alice.privateKeyPath! } } });
    clients.push(sender, receiver);
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
    const waitFor = async (texts: string[], timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (texts.some((t) => !arrivals.has(t)) && performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
    };
    // Warm up keys and connections.
    await sender.pod.send(room, 'warm-up');
    await waitFor(['warm-up'], 10_000);

    // Throughput: many sends in flight.
    const texts = Array.from({ length: total }, (_, i) => `throughput ${i}`);
    const start = performance.now();
    for (let i = 0; i < total; i += 32) await Promise.all(texts.slice(i, i + 32).map((t) => sender.pod.send(room, t)));
    await waitFor(texts, 60_000);
    const elapsed = (Math.max(...texts.map((t) => arrivals.get(t) ?? performance.now())) - start) / 1000;

    // Latency at a fixed rate.
    const sentAt = new Map<string, number>();
    const count = rate * seconds;
    const latencyStart = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const due = latencyStart + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const text = `latency ${i}`;
      sentAt.set(text, performance.now());
      sends.push(sender.pod.send(room, text));
    }
    await Promise.all(sends);
    await waitFor([...sentAt.keys()], 30_000);
    const latencies = [...sentAt].map(([t, s]) => (arrivals.get(t) ?? Number.POSITIVE_INFINITY) - s).sort((a, b) => a - b);
    feed.stop();

    // Warm content-key lookup and the crypto cost of one message.
    const { key, rotationId } = await sender.keys.currentContentKey(room);
    const lookups = 20_000;
    const lookupStart = performance.now();
    for (let i = 0; i < lookups; i++) await sender.keys.contentKey(room, rotationId);
    const warmKeyLookupUs = ((performance.now() - lookupStart) * 1000) / lookups;
    const entityKey = await sender.keys.entityKey();
    const rounds = 500;
    const cryptoStart = performance.now();
    for (let i = 0; i < rounds; i++) {
      const payload = await encodeMessage(`<messageML>crypto share ${i} <b>bold</b></messageML>`, {
        threadId: room, contentKey: key, rotationId, entityKey, wallKey: key, clientVersion: 'bench',
      });
      await decodeMessage(payload, key);
    }
    const cryptoPerMessageUs = ((performance.now() - cryptoStart) * 1000) / rounds;
    const messagesPerSec = total / elapsed;
    return {
      throughput: { messages: total, seconds: elapsed, messagesPerSec },
      latency: { ratePerSec: rate, messages: count, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1) ?? 0 },
      warmKeyLookupUs,
      cryptoPerMessageUs,
      cryptoShare: cryptoPerMessageUs / (1e6 / messagesPerSec),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox.stop();
  }
}

/** Render the result as Markdown. */
export function formatE2eBench(r: E2eBenchResult): string {
  return [
    'End to end on loopback: encrypt + send → sandbox (journal, fsync) → datafeed → decrypt; client and sandbox in separate processes',
    '',
    '| measure | value |',
    '|---|---:|',
    `| throughput (${r.throughput.messages} messages, 32 in flight) | ${Math.round(r.throughput.messagesPerSec).toLocaleString('en-US')} messages/s |`,
    `| latency at ${r.latency.ratePerSec} messages/s (${r.latency.messages} messages): p50 | ${r.latency.p50Ms.toFixed(1)} ms |`,
    `| latency p99 | ${r.latency.p99Ms.toFixed(1)} ms |`,
    `| latency max | ${r.latency.maxMs.toFixed(1)} ms |`,
    `| warm content-key lookup | ${r.warmKeyLookupUs.toFixed(2)} µs |`,
    `| crypto per message (encode + decode: 4 fields, hashtags, search tokens) | ${r.cryptoPerMessageUs.toFixed(0)} µs |`,
    `| crypto share of the per-message time at full throughput | ${(r.cryptoShare * 100).toFixed(1)} % |`,
  ].join('\n');
}
