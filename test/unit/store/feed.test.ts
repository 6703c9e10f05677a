// The feed consumer (src/store/feed.ts) against an in-memory model of the store's queue — visibility timeouts,
// receipt handles of which only the newest counts, deletes and extends — with each request recorded: what is
// acknowledged when, the doubling retry delay, renewals while a handler runs, redeliveries that do not reach the
// handler twice, what stop() gives back, acknowledgements that are sent again, the for-await form, option checks.
// The store itself over HTTPS: test/integration/store/feeds.test.ts and feed-exactly-once.test.ts.
import { describe, expect, it } from 'vitest';
import { HttpStatusError, NetworkError } from '../../../src/errors.js';
import { Feed, feedObjects, type FeedParts, type FeedRequest, type RawFeedObject } from '../../../src/store/feed.js';

type Change = { value: string };

/** A queue as the store keeps it, and every request the consumer made. */
class FakeStore {
  readonly requests: FeedRequest[] = [];
  readonly messages = new Map<string, { value: string; visibleAt: number; handle?: string }>();
  #handles = 0;
  /** Make the next requests fail with these errors. */
  readonly failures: unknown[] = [];
  /** Leave the next deletes undone (an acknowledgement lost inside the store). */
  ignoreDeletes = 0;

  add(id: string, value: string): void {
    this.messages.set(id, { value, visibleAt: 0 });
  }

  async request(body: FeedRequest, signal: AbortSignal | undefined): Promise<RawFeedObject[]> {
    this.requests.push(structuredClone(body));
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    const now = Date.now();
    for (const d of body.delete ?? []) {
      if (this.ignoreDeletes > 0) {
        this.ignoreDeletes--;
        continue;
      }
      for (const [id, m] of this.messages) if (m.handle === d.receiptHandle) this.messages.delete(id);
    }
    for (const e of body.extend ?? []) for (const m of this.messages.values()) if (m.handle === e.receiptHandle) m.visibleAt = now + e.visibilityTimeout * 1000;
    if (body.maxItems === 0) return [];
    const deadline = now + body.waitTimeSeconds * 1000;
    for (;;) {
      const out: RawFeedObject[] = [];
      for (const [id, m] of this.messages) {
        if (out.length >= body.maxItems || m.visibleAt > Date.now()) continue;
        m.handle = `h${++this.#handles}`;
        m.visibleAt = Date.now() + 1000;
        out.push({ messageId: id, receiptHandle: m.handle, payload: { value: m.value } });
      }
      if (out.length > 0 || Date.now() >= deadline || signal?.aborted === true) return out;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  deleted(): string[] {
    return this.requests.flatMap((r) => (r.delete ?? []).map((d) => d.receiptHandle));
  }
}

function feedOf(store: FakeStore): Feed<Change> {
  const parts: FeedParts<Change> = {
    info: { hash: 'feedHash', name: 'f', owner: 1, partitions: [{ partition: 'p' }], expirySeconds: 600 },
    request: (body, signal) => store.request(body, signal),
    decode: async (payload) => payload as Change,
  };
  return new Feed(parts);
}

const quick = { waitTimeSeconds: 0, visibilityTimeoutSeconds: 1, retryDelaySeconds: 0 } as const;

async function until(check: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Feed.listen', () => {
  it('acknowledges a message once its handler resolved, with its receipt handle', async () => {
    const store = new FakeStore();
    store.add('m1', 'a');
    store.add('m2', 'b');
    const feed = feedOf(store);
    const seen: string[] = [];
    const listening = feed.listen((item) => { seen.push(`${item.messageId}:${item.value}:${item.attempt}`); }, quick);
    await until(() => store.messages.size === 0);
    await feed.stop();
    await listening;
    expect(seen.sort()).toEqual(['m1:a:1', 'm2:b:1']);
    expect(feed.stats).toMatchObject({ handled: 2, acks: 2, handlerFailures: 0 });
  });

  it('gives a failed message back with a visibility timeout that doubles per attempt, up to the cap', async () => {
    const store = new FakeStore();
    store.add('m1', 'a');
    const feed = feedOf(store);
    const errors: Array<{ kind: string; retryInMs: number }> = [];
    let attempts = 0;
    const listening = feed.listen((item) => {
      attempts = item.attempt;
      // Make it visible again at once, so the test does not wait for the delays.
      if (item.attempt < 4) {
        setTimeout(() => { store.messages.get('m1')!.visibleAt = 0; }, 30);
        throw new Error('fail');
      }
    }, { ...quick, retryDelaySeconds: 2, maxRetryDelaySeconds: 5, onError: (_e, info) => errors.push(info) });
    await until(() => store.messages.size === 0);
    await feed.stop();
    await listening;
    expect(attempts).toBe(4);
    const delays = store.requests.flatMap((r) => (r.extend ?? []).map((e) => e.visibilityTimeout)).filter((v) => v !== 1);
    expect(delays).toEqual([2, 4, 5]);
    expect(errors.map((e) => [e.kind, e.retryInMs])).toEqual([['handler', 2000], ['handler', 4000], ['handler', 5000]]);
  });

  it('renews a held message while its handler runs, and a redelivery of it does not reach the handler again', async () => {
    const store = new FakeStore();
    store.add('m1', 'slow');
    const feed = feedOf(store);
    let calls = 0;
    const listening = feed.listen(async () => {
      calls++;
      // A renewal lost: the store hands the message out again while the handler still runs.
      store.messages.get('m1')!.visibleAt = 0;
      await new Promise((r) => setTimeout(r, 1300));
    }, quick);
    await until(() => store.messages.size === 0);
    await feed.stop();
    await listening;
    expect(calls).toBe(1);
    expect(feed.stats.duplicatesSkipped).toBeGreaterThanOrEqual(1);
    // Renewed by the visibility timeout (1 s) every half of it.
    expect(store.requests.flatMap((r) => r.extend ?? []).filter((e) => e.visibilityTimeout === 1).length).toBeGreaterThanOrEqual(2);
    // The store deletes only by the newest receipt handle (the redelivery's): the message is gone, so that one was used.
    expect(store.messages.size).toBe(0);
  });

  it('acknowledges again, without the handler, a message whose acknowledgement the store lost', async () => {
    const store = new FakeStore();
    store.ignoreDeletes = 1;
    store.add('m1', 'a');
    const feed = feedOf(store);
    let calls = 0;
    const listening = feed.listen(() => { calls++; }, quick);
    await until(() => feed.stats.acks >= 1);
    store.messages.get('m1')!.visibleAt = 0;
    await until(() => store.messages.size === 0);
    await feed.stop();
    await listening;
    expect(calls).toBe(1);
    expect(feed.stats.duplicatesSkipped).toBe(1);
    expect(store.deleted()).toHaveLength(2);
  });

  it('keeps an acknowledgement that failed and sends it again; reports it', async () => {
    const store = new FakeStore();
    store.add('m1', 'a');
    const feed = feedOf(store);
    const kinds: string[] = [];
    let handled = false;
    const listening = feed.listen(() => {
      handled = true;
      store.failures.push(new NetworkError('POST /x', 'lost', 'reset'));
    }, { ...quick, onError: (_e, info) => kinds.push(info.kind) });
    await until(() => store.messages.size === 0);
    await feed.stop();
    await listening;
    expect(handled).toBe(true);
    expect(kinds).toContain('ack');
    expect(store.deleted().length).toBeGreaterThanOrEqual(2);
  });

  it('retries failed reads with backoff and ends with NOT_FOUND when the feed is gone', async () => {
    const store = new FakeStore();
    store.failures.push(new HttpStatusError(503, 'POST /x'), new HttpStatusError(404, 'POST /x'));
    const feed = feedOf(store);
    const kinds: string[] = [];
    await expect(feed.listen(() => undefined, { ...quick, onError: (_e, info) => kinds.push(info.kind) })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(kinds).toEqual(['receive']);
    expect(feed.stats.failures).toBe(1);
    // The object can be listened to again.
    store.add('m1', 'a');
    const again = feed.listen(() => undefined, quick);
    await until(() => store.messages.size === 0);
    await feed.stop();
    await again;
  });

  it('on stop, lets running handlers finish and gives back the messages not handed out (visibility 0)', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 5; i++) store.add(`m${i}`, String(i));
    const feed = feedOf(store);
    let started = 0;
    let finished = 0;
    const listening = feed.listen(async () => {
      started++;
      await new Promise((r) => setTimeout(r, 200));
      finished++;
    }, { ...quick, maxItems: 5 });
    await until(() => started === 1);
    const stopping = feed.stop();
    await listening;
    await stopping;
    expect([started, finished]).toEqual([1, 1]);
    const releases = store.requests.flatMap((r) => r.extend ?? []).filter((e) => e.visibilityTimeout === 0);
    expect(releases).toHaveLength(4);
    expect(store.messages.size).toBe(4);
  });

  it('refuses bad options and a second consumer of one feed object', async () => {
    const feed = feedOf(new FakeStore());
    await expect(feed.listen(() => undefined, { maxItems: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'options.maxItems' });
    await expect(feed.listen(() => undefined, { waitTimeSeconds: 21 })).rejects.toMatchObject({ parameter: 'options.waitTimeSeconds' });
    await expect(feed.listen(() => undefined, { retryDelaySeconds: 10, maxRetryDelaySeconds: 5 })).rejects.toMatchObject({ parameter: 'options.maxRetryDelaySeconds' });
    await expect(feed.listen('handler' as never)).rejects.toMatchObject({ parameter: 'handler' });
    const first = feed.listen(() => undefined, quick);
    await expect(feed.listen(() => undefined, quick)).rejects.toMatchObject({ code: 'ABORTED' });
    await feed.stop();
    await first;
  });
});

describe('Feed.items', () => {
  it('acknowledges an item when the loop asks for the next, gives the current one back on break', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 3; i++) store.add(`m${i}`, String(i));
    const feed = feedOf(store);
    const seen: string[] = [];
    for await (const item of feed.items({ ...quick, maxItems: 1 })) {
      seen.push(item.messageId);
      if (seen.length === 2) break;
    }
    expect(store.messages.size).toBe(2);
    expect(store.messages.has(seen[1]!)).toBe(true);
    expect(store.messages.get(seen[1]!)!.visibleAt).toBeLessThanOrEqual(Date.now());
    // The one given back comes again; ack() before break acknowledges the last one.
    const rest: string[] = [];
    for await (const item of feed.items(quick)) {
      rest.push(item.messageId);
      item.ack();
      if (rest.length === 2) break;
    }
    expect(rest).toContain(seen[1]);
    await until(() => store.messages.size === 0);
  });
});

describe('feedObjects', () => {
  it('accepts an array of messages and refuses anything else as MALFORMED_RESPONSE', () => {
    expect(feedObjects('POST /x', [{ messageId: 'a', receiptHandle: 'h', payload: {} }])).toHaveLength(1);
    for (const bad of [{}, null, [{ messageId: 'a' }], [{ messageId: 1, receiptHandle: 'h', payload: {} }], [null]]) {
      expect(() => feedObjects('POST /x', bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_RESPONSE' }));
    }
  });
});
