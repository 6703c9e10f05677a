/**
 * An Object Store feed and its consumer (docs/protocol.md §4.6, docs/architecture.md "Object Store feeds"): a
 * persistent, at-least-once, unordered queue of the objects created, updated and deleted in the partitions it
 * subscribes to, read with `POST /object/v1/feeds/{feedHash}/objects` (`maxItems`, `waitTimeSeconds`, and the
 * `delete` and `extend` receipt-handle lists that acknowledge a message or change when it is delivered again).
 *
 * The consumer:
 * - long-polls for up to `maxItems` messages and holds at most that many at a time;
 * - while it holds a message (waiting for a handler, or in one) it renews the message's invisibility every
 *   half `visibilityTimeoutSeconds` (at least every 15 s, half the store's 30 s default), so a long handler is not
 *   raced by a redelivery;
 * - acknowledges (deletes) a message once its handler succeeded; gives a failed one back with a visibility timeout
 *   that doubles with each attempt (`retryDelaySeconds` up to `maxRetryDelaySeconds`), so it comes back later;
 * - remembers the messages it handled (and those in hand) by message id, so a message the store delivers again —
 *   because an acknowledgement or a renewal was lost — is acknowledged again without reaching the handler twice;
 * - retries failed reads forever with capped backoff (reporting each to `onError`); acknowledgements that fail are
 *   kept and sent again; only a feed that no longer exists (NOT_FOUND: deleted, or expired unread) ends it;
 * - stops on `stop()` or its signal: no more reads, running handlers finish, messages not yet handed out are given
 *   back at once, pending acknowledgements are sent.
 */
import { AbortedError, HttpStatusError, InvalidArgumentError, MalformedResponseError } from '../errors.js';
import { linkSignals, sleepOrWake } from '../util/async.js';
import { describeValue } from '../util/validate.js';

/** Most messages one read returns, and most a consumer holds (SQS's batch limit). */
export const MAX_FEED_ITEMS = 10;
/** Longest long-poll of one read, in seconds. */
export const MAX_FEED_WAIT_SECONDS = 20;
/** Longest visibility timeout, in seconds (12 hours, SQS's limit). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** The store's visibility timeout for a message just received (SQS's default; the sandbox's). */
const STORE_VISIBILITY_SECONDS = 30;
/** Most receipt handles per list in one request. */
const MAX_HANDLES_PER_REQUEST = 10;
const INITIAL_BACKOFF_MS = 200;
/** An empty read answered faster than this is followed by a pause of twice as long. */
const EMPTY_READ_MS = 100;
const MAX_BACKOFF_MS = 30_000;
/** Longest wait for the last acknowledgements when a consumer stops. */
const FINAL_FLUSH_MS = 10_000;

/** A partition a feed subscribes to, optionally only the sort keys that start with a prefix. */
export interface FeedPartition {
  /** Partition hash (from {@link ObjectStoreClient.partition}). */
  partition: string;
  sortKeyPrefix?: string;
}

/** A feed as the store holds it. */
export interface FeedInfo {
  /** The feed's hash: its id in the store. */
  hash: string;
  name: string;
  /** The feed's owner: the user who made it. */
  owner: number;
  partitions: FeedPartition[];
  /** A feed unread for this long is deleted by the store. */
  expirySeconds: number;
}

/**
 * One message of a feed: what it says happened (`C`: for the Object Store, `FeedChange` of
 * store/object-store-client.ts) and how to settle it.
 */
export type FeedItem<C> = C & {
  /** The store's id of the message: one per object version and feed. */
  messageId: string;
  /** Deliveries of this message to this consumer, 1 the first time (counted by the consumer, not the store). */
  attempt: number;
  /**
   * Acknowledge the message now (the store deletes it). Idempotent. In `listen()` a handler that returns does this;
   * in a `for await` loop the next iteration does it, so call it before leaving the loop with `break`.
   */
  ack(): void;
  /** Give the message back, to be delivered again after `delaySeconds` (default: its attempt's backoff). */
  retry(delaySeconds?: number): void;
};

/** Counters of a feed's consumers, for monitoring. */
export interface FeedStats {
  /** Reads answered. */
  reads: number;
  /** Messages received, duplicates included. */
  received: number;
  /** Messages acknowledged after their handler (or the loop) succeeded. */
  handled: number;
  handlerFailures: number;
  /** Messages delivered again that were acknowledged (or kept) without reaching a handler twice. */
  duplicatesSkipped: number;
  /** Receipt handles deleted, and extended, by requests that succeeded. */
  acks: number;
  extends: number;
  /** Failed requests (reads, deletes and extends). */
  failures: number;
}

/** What {@link FeedOptions.onError} is told besides the error. */
export interface FeedErrorInfo {
  /** `receive`: a read failed; `handler`: a handler threw (or an object could not be decrypted for now); `ack`/`extend`: a receipt-handle request failed. */
  kind: 'receive' | 'handler' | 'ack' | 'extend';
  /** The message concerned (`handler`). */
  messageId?: string;
  /** When the failed step is tried again, in milliseconds. */
  retryInMs: number;
}

/** Options of {@link Feed.listen} and {@link Feed.items}. */
export interface FeedOptions {
  /** Messages per read and most held at once, 1–10. Default 10. */
  maxItems?: number;
  /** Long-poll of a read, 0–20 seconds. Default 20. */
  waitTimeSeconds?: number;
  /** How long a held message stays invisible to other readers, renewed while held; 1–43,200 seconds. Default 30. */
  visibilityTimeoutSeconds?: number;
  /** Delay before a failed message comes back the first time, doubling each time; 0–43,200 seconds. Default 1. */
  retryDelaySeconds?: number;
  /** Longest such delay, seconds. Default 60. */
  maxRetryDelaySeconds?: number;
  /** Handlers run at once (`listen` only; `for await` takes one at a time). Default 1. */
  concurrency?: number;
  /** Message ids remembered to skip redeliveries. Default 10,000. */
  dedupEntries?: number;
  /** Stops the consumer, as `stop()` does. */
  signal?: AbortSignal;
  /** Reports every failure and when its step runs again (for logging; never includes tokens or plaintext). */
  onError?: (error: unknown, info: FeedErrorInfo) => void;
}

/** A message as the store sends it. */
export interface RawFeedObject {
  messageId: string;
  receiptHandle: string;
  payload: unknown;
}

/** The body of `POST /object/v1/feeds/{feedHash}/objects`. */
export interface FeedRequest {
  maxItems: number;
  waitTimeSeconds: number;
  delete?: Array<{ receiptHandle: string }>;
  extend?: Array<{ receiptHandle: string; visibilityTimeout: number }>;
}

/** @internal What a feed needs from the Object Store client that makes it. */
export interface FeedParts<C> {
  info: FeedInfo;
  /** One feed request; resolves to the messages received. */
  request(body: FeedRequest, signal: AbortSignal | undefined, timeoutMs: number): Promise<RawFeedObject[]>;
  /** Read a message's payload (decrypting an object). Throws for a payload that is not an object or a deletion. */
  decode(payload: unknown, signal: AbortSignal): Promise<C>;
  /** Called when a consumer starts and when it ends (the client stops its consumers on close). */
  onRunning?: (feed: Feed<C>, running: boolean) => void;
}

interface Settings {
  maxItems: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
  concurrency: number;
  dedupEntries: number;
  onError: ((error: unknown, info: FeedErrorInfo) => void) | undefined;
}

function integer(parameter: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new InvalidArgumentError(parameter, `an integer from ${min} to ${max}`, describeValue(value));
}

function settingsOf(options: FeedOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'an options object', describeValue(options));
  const retryDelaySeconds = integer('options.retryDelaySeconds', options.retryDelaySeconds, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, 1);
  const settings: Settings = {
    maxItems: integer('options.maxItems', options.maxItems, 1, MAX_FEED_ITEMS, MAX_FEED_ITEMS),
    waitTimeSeconds: integer('options.waitTimeSeconds', options.waitTimeSeconds, 0, MAX_FEED_WAIT_SECONDS, MAX_FEED_WAIT_SECONDS),
    visibilityTimeoutSeconds: integer('options.visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 1, MAX_VISIBILITY_TIMEOUT_SECONDS, STORE_VISIBILITY_SECONDS),
    retryDelaySeconds,
    maxRetryDelaySeconds: integer('options.maxRetryDelaySeconds', options.maxRetryDelaySeconds, retryDelaySeconds, MAX_VISIBILITY_TIMEOUT_SECONDS, Math.max(60, retryDelaySeconds)),
    concurrency: integer('options.concurrency', options.concurrency, 1, 64, 1),
    dedupEntries: integer('options.dedupEntries', options.dedupEntries, 1, 10_000_000, 10_000),
    onError: options.onError,
  };
  if (settings.onError !== undefined && typeof settings.onError !== 'function') throw new InvalidArgumentError('options.onError', 'a function', describeValue(settings.onError));
  return settings;
}

/** Resolves waiters when something they wait for may have happened, or when their signal fires. */
class Wakeup {
  #waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.#waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

/** A bounded set of message ids, oldest forgotten first. */
class Remembered<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();
  constructor(max: number) {
    this.#max = max;
  }
  get(id: string): V | undefined {
    return this.#map.get(id);
  }
  has(id: string): boolean {
    return this.#map.has(id);
  }
  set(id: string, value: V): void {
    this.#map.delete(id);
    this.#map.set(id, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }
  delete(id: string): void {
    this.#map.delete(id);
  }
}

/** How a held message ends: handled, failed (back after a delay), or given back untouched. */
type Outcome = { kind: 'ack' } | { kind: 'retry'; delaySeconds: number; error?: unknown } | { kind: 'release' };

/** A message the consumer holds. */
interface Held {
  messageId: string;
  /** The newest receipt handle: only it acknowledges the message. */
  receiptHandle: string;
  payload: unknown;
  attempt: number;
  settled: boolean;
}

/** One run of a consumer: reading, handing out, renewing and acknowledging until it stops. */
class Consumer<C> {
  readonly #parts: FeedParts<C>;
  readonly #s: Settings;
  /** Fires on stop, on the caller's signal, and when the feed is gone. */
  readonly #signal: AbortSignal;
  readonly #end: () => void;
  readonly #stats: FeedStats;
  readonly #held = new Map<string, Held>();
  readonly #queue: Held[] = [];
  readonly #handled: Remembered<true>;
  readonly #attempts: Remembered<number>;
  readonly #deletes = new Map<string, string>();
  readonly #extends = new Map<string, number>();
  readonly #wakeup = new Wakeup();
  #flushing: Promise<void> | undefined;
  #failure: unknown;

  constructor(parts: FeedParts<C>, settings: Settings, signal: AbortSignal, stats: FeedStats) {
    this.#parts = parts;
    this.#s = settings;
    const ending = new AbortController();
    const linked = linkSignals(signal, ending.signal);
    this.#signal = linked.signal;
    this.#end = () => {
      ending.abort();
      linked.dispose();
    };
    this.#stats = stats;
    this.#handled = new Remembered(settings.dedupEntries);
    this.#attempts = new Remembered(settings.dedupEntries);
  }

  /** Read until stopped; resolves when stopped, rejects when the feed is gone. `take` gets each message. */
  async run(workers: number, take: (item: FeedItem<C>) => Promise<Outcome>): Promise<void> {
    const renewEveryMs = (Math.min(this.#s.visibilityTimeoutSeconds, STORE_VISIBILITY_SECONDS) * 1000) / 2;
    const renewal = setInterval(() => this.#renew(), renewEveryMs);
    const running = Array.from({ length: workers }, () => this.#work(take));
    try {
      await this.#receive();
    } finally {
      clearInterval(renewal);
      this.#end();
      this.#wakeup.notify();
      await Promise.all(running);
      // Messages never handed out go back at once; then the last acknowledgements.
      for (const held of this.#queue.splice(0)) this.#settle(held, { kind: 'release' });
      await this.#finalFlush();
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #receive(): Promise<void> {
    let backoffMs = INITIAL_BACKOFF_MS;
    while (!this.#signal.aborted) {
      if (this.#held.size >= this.#s.maxItems) {
        await this.#wakeup.wait(this.#signal);
        continue;
      }
      let received: RawFeedObject[];
      const asked = Date.now();
      try {
        received = await this.#parts.request(
          { maxItems: this.#s.maxItems - this.#held.size, waitTimeSeconds: this.#s.waitTimeSeconds },
          this.#signal, this.#s.waitTimeSeconds * 1000 + 30_000,
        );
        backoffMs = INITIAL_BACKOFF_MS;
      } catch (err) {
        if (this.#signal.aborted) return;
        if (err instanceof HttpStatusError && err.status === 404) {
          // Deleted, or expired unread: objects written meanwhile are not in any new feed, so this is the caller's call.
          this.#failure = err;
          return;
        }
        this.#stats.failures++;
        this.#s.onError?.(err, { kind: 'receive', retryInMs: backoffMs });
        await sleepOrWake(backoffMs, this.#signal);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        continue;
      }
      this.#stats.reads++;
      for (const raw of received) this.#accept(raw);
      this.#flush();
      // An empty answer that came at once (no long poll: waitTimeSeconds 0, or a store that does not wait) must not
      // turn the loop into a busy poll of the store.
      if (received.length === 0 && Date.now() - asked < EMPTY_READ_MS) await sleepOrWake(EMPTY_READ_MS * 2, this.#signal);
    }
  }

  #accept(raw: RawFeedObject): void {
    this.#stats.received++;
    const held = this.#held.get(raw.messageId);
    if (this.#handled.has(raw.messageId) || held !== undefined) {
      // Delivered again because an acknowledgement or a renewal was lost: acknowledge it again, or keep the newest
      // receipt handle of the one in hand.
      this.#stats.duplicatesSkipped++;
      if (held === undefined) this.#deletes.set(raw.receiptHandle, raw.messageId);
      else held.receiptHandle = raw.receiptHandle;
      return;
    }
    const attempt = (this.#attempts.get(raw.messageId) ?? 0) + 1;
    this.#attempts.set(raw.messageId, attempt);
    const fresh: Held = { messageId: raw.messageId, receiptHandle: raw.receiptHandle, payload: raw.payload, attempt, settled: false };
    this.#held.set(fresh.messageId, fresh);
    this.#queue.push(fresh);
    this.#wakeup.notify();
  }

  async #work(take: (item: FeedItem<C>) => Promise<Outcome>): Promise<void> {
    // Once stopped, no message is handed out any more: run() gives the rest back.
    while (!this.#signal.aborted) {
      const held = this.#queue.shift();
      if (held === undefined) {
        await this.#wakeup.wait(this.#signal);
        continue;
      }
      let outcome: Outcome;
      try {
        const change = await this.#parts.decode(held.payload, this.#signal);
        const item: FeedItem<C> = {
          ...change, messageId: held.messageId, attempt: held.attempt,
          ack: () => this.#settle(held, { kind: 'ack' }),
          retry: (delaySeconds?: number) => this.#settle(held, { kind: 'retry', delaySeconds: delaySeconds === undefined ? this.#delayOf(held.attempt) : integer('delaySeconds', delaySeconds, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, 0) }),
        };
        outcome = await take(item);
      } catch (err) {
        outcome = { kind: 'retry', delaySeconds: this.#delayOf(held.attempt), error: err };
      }
      this.#settle(held, outcome);
    }
  }

  /** Visibility timeout after failed attempt `attempt`: `retryDelaySeconds` doubled per attempt, capped. */
  #delayOf(attempt: number): number {
    return Math.min(this.#s.maxRetryDelaySeconds, this.#s.retryDelaySeconds * 2 ** Math.min(attempt - 1, 30));
  }

  #settle(held: Held, outcome: Outcome): void {
    if (held.settled) return;
    held.settled = true;
    this.#held.delete(held.messageId);
    if (outcome.kind === 'ack') {
      this.#handled.set(held.messageId, true);
      this.#attempts.delete(held.messageId);
      this.#deletes.set(held.receiptHandle, held.messageId);
      this.#stats.handled++;
    } else if (outcome.kind === 'retry') {
      this.#extends.set(held.receiptHandle, outcome.delaySeconds);
      if ('error' in outcome) {
        this.#stats.handlerFailures++;
        this.#s.onError?.(outcome.error, { kind: 'handler', messageId: held.messageId, retryInMs: outcome.delaySeconds * 1000 });
      }
    } else {
      this.#attempts.set(held.messageId, held.attempt - 1);
      this.#extends.set(held.receiptHandle, 0);
    }
    this.#wakeup.notify();
    this.#flush();
  }

  /** Keep every held message invisible for another `visibilityTimeoutSeconds`. */
  #renew(): void {
    for (const held of this.#held.values()) this.#extends.set(held.receiptHandle, this.#s.visibilityTimeoutSeconds);
    this.#flush();
  }

  /** Send the pending deletes and extends, one request at a time; failed deletes are kept for the next flush. */
  #flush(signal?: AbortSignal): Promise<void> {
    if (this.#flushing !== undefined || (this.#deletes.size === 0 && this.#extends.size === 0)) return this.#flushing ?? Promise.resolve();
    this.#flushing = (async () => {
      let backoffMs = INITIAL_BACKOFF_MS;
      while (this.#deletes.size > 0 || this.#extends.size > 0) {
        const deletes = [...this.#deletes.keys()].slice(0, MAX_HANDLES_PER_REQUEST);
        const extendsList = [...this.#extends].slice(0, MAX_HANDLES_PER_REQUEST);
        for (const h of deletes) this.#deletes.delete(h);
        for (const [h] of extendsList) this.#extends.delete(h);
        const body: FeedRequest = { maxItems: 0, waitTimeSeconds: 0 };
        if (deletes.length > 0) body.delete = deletes.map((receiptHandle) => ({ receiptHandle }));
        if (extendsList.length > 0) body.extend = extendsList.map(([receiptHandle, visibilityTimeout]) => ({ receiptHandle, visibilityTimeout }));
        try {
          await this.#parts.request(body, signal, 30_000);
          this.#stats.acks += deletes.length;
          this.#stats.extends += extendsList.length;
          backoffMs = INITIAL_BACKOFF_MS;
        } catch (err) {
          this.#stats.failures++;
          // An acknowledgement is kept until it is sent (a stale handle is harmless: the store ignores it); a lost
          // extension is not: the next renewal sends another, and a retry delay comes back early at worst.
          for (const h of deletes) if (!this.#deletes.has(h)) this.#deletes.set(h, '');
          const stopping = signal?.aborted === true;
          this.#s.onError?.(err, { kind: deletes.length > 0 ? 'ack' : 'extend', retryInMs: stopping ? 0 : backoffMs });
          if (stopping) return;
          await sleepOrWake(backoffMs, signal ?? this.#signal);
          if (this.#signal.aborted && signal === undefined) return;
          backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        }
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #finalFlush(): Promise<void> {
    await this.#flushing;
    const deadline = AbortSignal.timeout(FINAL_FLUSH_MS);
    await this.#flush(deadline);
  }
}

/**
 * An Object Store feed, made by {@link ObjectStoreClient.upsertFeed}: read it with {@link Feed.listen} or
 * `for await (const item of feed)` ({@link Feed.items}). One consumer at a time per `Feed` object.
 */
export class Feed<C> {
  /** The feed's hash (its id in the store). */
  readonly hash: string;
  readonly name: string;
  readonly owner: number;
  readonly partitions: readonly FeedPartition[];
  readonly expirySeconds: number;
  /** Counters for monitoring (all consumers of this object). */
  readonly stats: FeedStats = { reads: 0, received: 0, handled: 0, handlerFailures: 0, duplicatesSkipped: 0, acks: 0, extends: 0, failures: 0 };
  readonly #parts: FeedParts<C>;
  #controller: AbortController | undefined;
  #ended: Promise<void> = Promise.resolve();

  /** @internal Made by ObjectStoreClient.upsertFeed(). */
  constructor(parts: FeedParts<C>) {
    this.#parts = parts;
    this.hash = parts.info.hash;
    this.name = parts.info.name;
    this.owner = parts.info.owner;
    this.partitions = Object.freeze(parts.info.partitions.map((p) => Object.freeze({ ...p })));
    this.expirySeconds = parts.info.expirySeconds;
  }

  /**
   * Stop the running consumer: no more reads; `listen` resolves once its handlers have finished, a `for await` loop
   * ends. Resolves when the consumer has ended and its last acknowledgements are sent (or given up, after 10 s).
   */
  stop(): Promise<void> {
    this.#controller?.abort();
    return this.#ended;
  }

  #start(options: FeedOptions): { settings: Settings; signal: AbortSignal; done: () => void } {
    const settings = settingsOf(options);
    if (this.#controller !== undefined) throw new AbortedError('A second consumer of the same feed object');
    const controller = new AbortController();
    this.#controller = controller;
    const linked = linkSignals(controller.signal, options.signal);
    let end!: () => void;
    this.#ended = new Promise((resolve) => { end = resolve; });
    this.#parts.onRunning?.(this, true);
    return {
      settings, signal: linked.signal,
      done: () => {
        linked.dispose();
        this.#controller = undefined;
        this.#parts.onRunning?.(this, false);
        end();
      },
    };
  }

  /**
   * Run `handler` for every message until `stop()` or the signal; at-least-once: a message is acknowledged once
   * its handler resolved, and given back to be retried (after a growing delay) when it throws. A message delivered
   * again after a lost acknowledgement does not reach the handler twice (within `dedupEntries`). An object that
   * cannot be decrypted reaches the handler with `error` set, unless the failure may pass (a Key Manager outage):
   * then it is retried like a failed handler.
   * @returns resolves when stopped, once running handlers have finished; never rejects because of the network or the
   *   server, except when the feed no longer exists (HttpStatusError `NOT_FOUND`: deleted, or expired unread).
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for bad options; AbortedError (`ABORTED`) when this feed
   *   object already has a consumer.
   */
  async listen(handler: (item: FeedItem<C>) => void | Promise<void>, options: FeedOptions = {}): Promise<void> {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', describeValue(handler));
    const { settings, signal, done } = this.#start(options);
    try {
      await new Consumer(this.#parts, settings, signal, this.stats).run(settings.concurrency, async (item) => {
        await handler(item);
        return { kind: 'ack' };
      });
    } finally {
      done();
    }
  }

  /**
   * The messages as an async iterator, one at a time. Each is acknowledged when the loop asks for the next one (or
   * when `item.ack()` is called); leaving the loop (`break`, `return`, `throw`) gives the current one back unless it
   * was acknowledged, and stops the consumer. Ends when `stop()` is called or the signal fires; throws
   * `NOT_FOUND` when the feed no longer exists.
   */
  async *items(options: FeedOptions = {}): AsyncGenerator<FeedItem<C>, void, undefined> {
    const { settings, signal, done } = this.#start({ ...options, concurrency: 1 });
    const handed: Array<{ item: FeedItem<C>; finish: (outcome: Outcome) => void }> = [];
    const wakeup = new Wakeup();
    const local = new AbortController();
    const linked = linkSignals(signal, local.signal);
    let ended = false;
    const consumer = new Consumer(this.#parts, settings, linked.signal, this.stats);
    const running = consumer.run(1, (item) => new Promise<Outcome>((finish) => {
      handed.push({ item, finish });
      wakeup.notify();
    })).finally(() => {
      ended = true;
      wakeup.notify();
    });
    running.catch(() => undefined);
    let current: { item: FeedItem<C>; finish: (outcome: Outcome) => void } | undefined;
    try {
      for (;;) {
        const next = handed.shift();
        if (next === undefined) {
          if (ended) break;
          await wakeup.wait(local.signal);
          continue;
        }
        current = next;
        yield next.item;
        current = undefined;
        next.finish({ kind: 'ack' });
      }
      await running;
    } finally {
      current?.finish({ kind: 'release' });
      for (const left of handed.splice(0)) left.finish({ kind: 'release' });
      local.abort();
      await running.catch(() => undefined);
      linked.dispose();
      done();
    }
  }

  /** `for await (const item of feed)`: {@link Feed.items} with the default options. */
  [Symbol.asyncIterator](): AsyncGenerator<FeedItem<C>, void, undefined> {
    return this.items();
  }
}

/** Check the messages of a feed answer: an array of `{messageId, receiptHandle, payload}`. */
export function feedObjects(route: string, answer: unknown): RawFeedObject[] {
  if (!Array.isArray(answer)) throw new MalformedResponseError(route, 'the answer is not an array of feed objects');
  for (const o of answer as unknown[]) {
    const m = o as Partial<RawFeedObject> | null;
    if (typeof m !== 'object' || m === null || typeof m.messageId !== 'string' || typeof m.receiptHandle !== 'string' || m.payload === undefined) {
      throw new MalformedResponseError(route, 'a feed object lacks messageId, receiptHandle or payload');
    }
  }
  return answer as RawFeedObject[];
}
