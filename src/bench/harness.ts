/**
 * The benchmark harness: statistics (median, nearest-rank percentiles), timing (fixed-time rounds in ops/s, fixed-work
 * runs in units/s), interleaved rounds with warm-up and per-round ratios to a reference, a load driver that keeps a
 * fixed number of requests in flight for a fixed time (ops/s, p50/p99 latency, failures), and the constant-memory
 * source and counting sink of the streaming benchmarks. Method: docs/cli.md "Benchmarks".
 *
 * Interleaving: each round runs the reference, then every contender, so that the drift of a shared machine (other
 * processes, CPU frequency) hits all of them alike; a contender's ratio is the median of its per-round ratios to the
 * reference of the same round, which cancels most of that drift. Everything is warmed up before the first timed
 * round, the reference included, so that no ratio is taken against a cold (unoptimised) run.
 */

/** The median of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The nearest-rank `p`-th percentile (0–100) of ascending `sorted` values; 0 when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Operations per second of `op` run back to back for `ms` milliseconds (at least twice). */
export async function opsPerSecond(op: () => unknown, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms || ops < 2) {
    await op();
    ops++;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/** Units per second of one fixed-work run: `run` returns how many units (say bytes) it processed. */
export async function unitsPerSecond(run: () => Promise<number>): Promise<number> {
  const start = performance.now();
  const units = await run();
  return (units * 1000) / (performance.now() - start);
}

/** One implementation taking part in {@link interleave}. */
export interface Contender {
  readonly id: string;
  /** Warm up (JIT, caches, connections) before the first timed round; its result is discarded. */
  warmUp(): Promise<unknown>;
  /** One timed round; returns a rate (ops/s, bytes/s: the same unit for every contender of one comparison). */
  round(): Promise<number>;
  /** Timed rounds for this contender, at most the comparison's rounds (slow implementations take fewer). */
  readonly rounds?: number;
}

/** The measured rates of one contender. */
export interface Standing {
  readonly id: string;
  /** One rate per timed round. */
  readonly rates: number[];
  /** The median rate. */
  readonly rate: number;
  /** The median of the per-round ratios to the reference of the same round (1 for the reference). */
  readonly ratio: number;
}

/** A contender timed for a fixed time per round: `op` back to back for `roundMs`, and for `warmUpMs` to warm up. */
export function timedContender(id: string, op: () => unknown, timing: { roundMs: number; warmUpMs?: number; rounds?: number }): Contender {
  return {
    id,
    warmUp: () => opsPerSecond(op, timing.warmUpMs ?? timing.roundMs),
    round: () => opsPerSecond(op, timing.roundMs),
    ...(timing.rounds === undefined ? {} : { rounds: timing.rounds }),
  };
}

/** A contender timed over fixed work: `run` (returning the units it processed) once untimed to warm up, once per round. */
export function workContender(id: string, run: () => Promise<number>, rounds?: number): Contender {
  return { id, warmUp: run, round: () => unitsPerSecond(run), ...(rounds === undefined ? {} : { rounds }) };
}

/**
 * Warm up the reference and every contender, then run `rounds` rounds, each timing the reference and then every
 * contender still due a round. Returns the reference's standing first, then the contenders' in order.
 */
export async function interleave(reference: Contender, contenders: readonly Contender[], rounds: number): Promise<Standing[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, not ${rounds}`);
  for (const c of [reference, ...contenders]) await c.warmUp();
  const referenceRates: number[] = [];
  const rates = contenders.map((): number[] => []);
  const ratios = contenders.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    const referenceRate = await reference.round();
    referenceRates.push(referenceRate);
    for (const [i, c] of contenders.entries()) {
      if (round >= (c.rounds ?? rounds)) continue;
      const rate = await c.round();
      rates[i]!.push(rate);
      ratios[i]!.push(rate / referenceRate);
    }
  }
  return [
    { id: reference.id, rates: referenceRates, rate: median(referenceRates), ratio: 1 },
    ...contenders.map((c, i) => ({ id: c.id, rates: rates[i]!, rate: median(rates[i]!), ratio: median(ratios[i]!) })),
  ];
}

/** The warm-up of a load phase of `seconds` when none is given: a third of it, at most 1 s. */
export function warmUpSecondsFor(seconds: number): number {
  return Math.min(1, seconds / 3);
}

/** Options of {@link load}. */
export interface LoadOptions {
  /** Operations in flight. */
  concurrency: number;
  /** Seconds of the timed phase. */
  seconds: number;
  /** Seconds of the untimed warm-up phase before it (default {@link warmUpSecondsFor}). */
  warmUpSeconds?: number;
}

/** What {@link load} measured. */
export interface LoadResult {
  concurrency: number;
  /** Wall time of the timed phase. */
  seconds: number;
  ok: number;
  failed: number;
  /** Successful operations per second. */
  opsPerSec: number;
  /** Latency percentiles of every operation of the timed phase, failed ones included. */
  p50Ms: number;
  p99Ms: number;
  /** The first failure of the timed phase, as `Name: message`. */
  firstError?: string;
}

/**
 * Keep `concurrency` calls of `op` in flight, first for the warm-up phase (results discarded), then for `seconds`.
 * `op` receives a sequence number unique across both phases (for distinct keys) and fails by throwing.
 */
export async function load(op: (n: number) => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const phase = async (seconds: number, record?: (ms: number, err: unknown) => void) => {
    const deadline = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        let error: unknown;
        try {
          await op(next++);
        } catch (err) {
          error = err ?? new Error('failed');
        }
        record?.(performance.now() - t, error);
      }
    }));
  };
  await phase(options.warmUpSeconds ?? warmUpSecondsFor(options.seconds));
  const latencies: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const start = performance.now();
  await phase(options.seconds, (ms, err) => {
    latencies.push(ms);
    if (err === undefined) return;
    failed++;
    firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  });
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const ok = latencies.length - failed;
  return {
    concurrency: options.concurrency, seconds, ok, failed, opsPerSec: ok / seconds,
    p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), ...(firstError === undefined ? {} : { firstError }),
  };
}

/** A source of `count` chunks that are all `chunk` (constant memory, whatever the total). */
export async function* repeatChunk(chunk: Uint8Array, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield chunk;
}

/** A sink: reads `source` to its end, keeping nothing, and returns the number of bytes it yielded. */
export async function countBytes(source: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of source) n += chunk.length;
  return n;
}
