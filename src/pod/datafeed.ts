/**
 * A datafeed loop that does not die (docs/symphony-apis.md §3.4, §5: the top complaint about the official BDKs), over the
 * pod's Datafeed 2.0 (`/datafeed2/api/v1/feeds`, no Agent). Events are decrypted before the bot sees them. An event
 * batch is acknowledged (its `ackId` passed on the next read) only after every handler call for it succeeded; if a
 * handler throws, the batch is read again after a backoff. Events already handled (re-delivered because an ack was
 * lost) are skipped by event id. An expired or deleted feed is recreated. A failed read — network errors, timeouts,
 * 429 and 5xx, and also errors that need a person (a refused login, a 403) — is retried forever with capped
 * exponential backoff and reported to `onError`, so the loop recovers by itself once the cause is fixed; 401s
 * refresh the token. `stop()` (or the AbortSignal)
 * ends the loop promptly, including a long-poll in progress.
 *
 * A message that cannot be decrypted reaches the bot as an event with `error` set (DECRYPTION_FAILED,
 * CONTENT_KEY_UNAVAILABLE with the thread id, ...) and the loop goes on.
 */
import { AbortedError, type AllegroError, HttpStatusError } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { AbortGroup, linkSignals, sleepOrWake } from '../util/async.js';
import { requirePositiveInteger } from '../util/validate.js';
import { messageFailure, type DecodedMessage } from './message-codec.js';

/** One event, decrypted when it is a message. */
export interface DatafeedEvent {
  eventId: string;
  /** `SOCIALMESSAGE` for messages, `MAESTRO` for room events (joins, leaves, creation). */
  name: string;
  timestamp: number;
  /** Who caused the event. */
  initiatorId: number;
  /** The decrypted message, for SOCIALMESSAGE events that decrypted. */
  message?: DecodedMessage;
  /** Why a SOCIALMESSAGE event could not be decrypted (typed; never contains plaintext or keys). */
  error?: AllegroError;
  /** The raw payload as the pod sent it (ciphertext fields left as they are). */
  payload: Record<string, unknown>;
}

/** Options of a datafeed (`AllegroClient.datafeed()`); defaults from the client's configuration. */
export interface DatafeedOptions {
  /** Cap of the backoff between failed reads, a positive integer of milliseconds. Default 30 s. */
  maxBackoffMs?: number;
  /** Event ids remembered to skip re-deliveries, a positive integer. Default 10,000. */
  dedupEntries?: number;
  /** Reports each failed read and the delay before the next (for logging; never includes tokens). */
  onError?: (error: unknown, retryInMs: number) => void;
}

/** @internal What the datafeed needs from the client that makes it. */
export interface DatafeedParts extends DatafeedOptions {
  /** Called once, when `stop()` is first called (the client forgets its stopped feeds this way). */
  onStop?: () => void;
  http: HttpClient;
  podUrl: string;
  auth: AuthHook;
  decrypt: (payload: Record<string, unknown>, signal: AbortSignal) => Promise<DecodedMessage>;
}

interface RawEvent {
  eventId: string;
  name: string;
  timestamp?: number;
  userId?: number;
  payload?: Record<string, unknown>;
}

const INITIAL_BACKOFF_MS = 200;
const DEFAULT_MAX_BACKOFF_MS = 30_000;
const DEFAULT_DEDUP_ENTRIES = 10_000;

/** A Datafeed 2.0 reader for one bot. */
export class Datafeed {
  readonly #o: DatafeedParts;
  readonly #maxBackoffMs: number;
  readonly #dedupEntries: number;
  readonly #controller = new AbortController();
  readonly #seen = new Map<string, true>();
  #feedId: string | undefined;
  #ackId = '';
  #running = false;
  /** Counters for monitoring. */
  readonly stats = { reads: 0, events: 0, duplicatesSkipped: 0, feedsCreated: 0, failures: 0, handlerFailures: 0 };

  /**
   * @internal Made by AllegroClient.datafeed().
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a `maxBackoffMs` or `dedupEntries` that is not a positive integer.
   */
  constructor(options: DatafeedParts) {
    this.#o = options;
    this.#maxBackoffMs = requirePositiveInteger('options.maxBackoffMs', options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    this.#dedupEntries = requirePositiveInteger('options.dedupEntries', options.dedupEntries ?? DEFAULT_DEDUP_ENTRIES);
  }

  /** The first backoff after a failure: 200 ms, or `maxBackoffMs` if that is shorter. */
  get #initialBackoffMs(): number {
    return Math.min(INITIAL_BACKOFF_MS, this.#maxBackoffMs);
  }

  /** The id of the feed in use, once one exists. */
  get feedId(): string | undefined {
    return this.#feedId;
  }

  /** Stop the loop; a read in progress is aborted. */
  stop(): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort();
    this.#o.onStop?.();
  }

  /** Read batches until `signal`, backing off (capped) after each failed read; never throws for network or server errors. */
  async *#batches(signal: AbortSignal, backoff: { ms: number }): AsyncGenerator<{ ackId: string; events: DatafeedEvent[] }> {
    while (!signal.aborted) {
      try {
        const batch = await this.#read(signal);
        backoff.ms = this.#initialBackoffMs;
        yield batch;
      } catch (err) {
        if (signal.aborted) return;
        this.stats.failures++;
        await this.#backOff(err, signal, backoff);
      }
    }
  }

  async #backOff(err: unknown, signal: AbortSignal, backoff: { ms: number }): Promise<void> {
    this.#o.onError?.(err, backoff.ms);
    await sleepOrWake(backoff.ms, signal);
    backoff.ms = Math.min(backoff.ms * 2, this.#maxBackoffMs);
  }

  /**
   * Run `handler` for every event until `stop()` or `signal`. Resolves when stopped; never rejects because of the
   * network or the server. The batch is acknowledged only once `handler` has resolved for each of its events.
   */
  async listen(handler: (event: DatafeedEvent) => void | Promise<void>, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#running) throw new AbortedError('A second listen() on the same datafeed');
    this.#running = true;
    const linked = linkSignals(this.#controller.signal, options.signal);
    const { signal } = linked;
    const backoff = { ms: this.#initialBackoffMs };
    try {
      for await (const batch of this.#batches(signal, backoff)) {
        try {
          for (const event of batch.events) {
            if (this.#seen.has(event.eventId)) {
              this.stats.duplicatesSkipped++;
              continue;
            }
            await handler(event);
            this.#remember(event.eventId);
          }
          this.#ackId = batch.ackId;
        } catch (err) {
          // Not acknowledged: the batch comes back on the next read; handled events are skipped then.
          this.stats.handlerFailures++;
          await this.#backOff(err, signal, backoff);
        }
      }
    } finally {
      linked.dispose();
      this.#running = false;
    }
  }

  /**
   * The events as an async iterator. Each event is acknowledged when the consumer asks for the next one after it
   * (so a consumer that throws out of a `for await` loop leaves its current batch unacknowledged).
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<DatafeedEvent, void, undefined> {
    for await (const batch of this.#batches(this.#controller.signal, { ms: this.#initialBackoffMs })) {
      for (const event of batch.events) {
        if (this.#seen.has(event.eventId)) {
          this.stats.duplicatesSkipped++;
          continue;
        }
        yield event;
        this.#remember(event.eventId);
      }
      this.#ackId = batch.ackId;
    }
  }

  #remember(eventId: string): void {
    this.#seen.set(eventId, true);
    if (this.#seen.size > this.#dedupEntries) this.#seen.delete(this.#seen.keys().next().value!);
  }

  async #ensureFeed(signal: AbortSignal): Promise<string> {
    if (this.#feedId !== undefined) return this.#feedId;
    const url = `${this.#o.podUrl}/datafeed2/api/v1/feeds`;
    const existing = await this.#o.http.request<Array<{ id?: unknown }>>({ method: 'GET', url, route: 'GET /datafeed2/api/v1/feeds', auth: this.#o.auth, signal });
    const reusable = Array.isArray(existing) ? existing.find((f) => typeof f.id === 'string') : undefined;
    if (reusable !== undefined) {
      this.#feedId = reusable.id as string;
    } else {
      const created = await this.#o.http.request<{ id: string }>({ method: 'POST', url, route: 'POST /datafeed2/api/v1/feeds', auth: this.#o.auth, signal });
      this.#feedId = created.id;
      this.stats.feedsCreated++;
    }
    this.#ackId = '';
    return this.#feedId as string;
  }

  async #read(signal: AbortSignal): Promise<{ ackId: string; events: DatafeedEvent[] }> {
    const feedId = await this.#ensureFeed(signal);
    let reply: { ackId?: unknown; events?: unknown };
    try {
      reply = await this.#o.http.request({
        method: 'POST', url: `${this.#o.podUrl}/datafeed2/api/v1/feeds/${encodeURIComponent(feedId)}/events`, route: 'POST /datafeed2/api/v1/feeds/{id}/events',
        json: { ackId: this.#ackId }, idempotent: true, auth: this.#o.auth, signal, timeoutMs: 90_000,
      });
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 400 || err.status === 404)) {
        // The feed expired or was deleted (or our ackId is unknown): start a new feed.
        this.#feedId = undefined;
      }
      throw err;
    }
    this.stats.reads++;
    const events = Array.isArray(reply.events) ? (reply.events as RawEvent[]) : [];
    // The events decrypt concurrently, each under a signal of its own: the loop's signal carries one listener.
    const decrypting = new AbortGroup();
    const decoded = await Promise.all(events.map((e) => decrypting.run((eventSignal) => this.#decode(e, eventSignal), signal)));
    this.stats.events += decoded.length;
    return { ackId: typeof reply.ackId === 'string' ? reply.ackId : this.#ackId, events: decoded };
  }

  async #decode(raw: RawEvent, signal: AbortSignal): Promise<DatafeedEvent> {
    const event: DatafeedEvent = {
      eventId: String(raw.eventId), name: String(raw.name), timestamp: Number(raw.timestamp ?? 0), initiatorId: Number(raw.userId ?? 0),
      payload: raw.payload ?? {},
    };
    if (event.name !== 'SOCIALMESSAGE') return event;
    try {
      event.message = await this.#o.decrypt(event.payload, signal);
    } catch (err) {
      // A poison event must not stop the feed.
      event.error = messageFailure(err);
    }
    return event;
  }
}
