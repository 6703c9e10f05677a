// The client against the sandbox over HTTPS on 127.0.0.1: two bots exchanging 1,000 messages through the
// datafeed, membership, rotation, session expiry, injected faults, tampered ciphertext, and certificate login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { ContentKeyUnavailableError } from '../../../src/errors.js';
import type { DatafeedEvent } from '../../../src/pod/datafeed.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { call, login } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;
let alice: AllegroClient;
let roomId: string;

/** Collect datafeed events of `client` until `done` says so or the time runs out. */
function collect(client: AllegroClient, done: (events: DatafeedEvent[]) => boolean, timeoutMs = 60_000) {
  const events: DatafeedEvent[] = [];
  const feed = client.datafeed();
  const finished = new Promise<DatafeedEvent[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      feed.stop();
      reject(new Error(`timed out with ${events.length} events`));
    }, timeoutMs);
    void feed.listen((event) => {
      events.push(event);
      if (done(events)) {
        clearTimeout(timer);
        feed.stop();
        resolve(events);
      }
    });
  });
  return { feed, events, finished };
}

async function untilFeedExists(client: AllegroClient, feed: { feedId: string | undefined }): Promise<void> {
  for (let i = 0; i < 200 && feed.feedId === undefined; i++) await new Promise((r) => setTimeout(r, 25));
  expect(feed.feedId, `datafeed of ${client.username}`).toBeDefined();
}

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 1000 } });
  bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
  alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
  roomId = (await bot.pod.streams({ types: ['ROOM'] }))[0]!.id;
});
afterAll(async () => {
  await bot?.close();
  await alice?.close();
  await sandbox?.close();
});

describe('two bots in a room', () => {
  it('exchange 1,000 messages through the datafeed: none lost, none duplicated, all decrypted', async () => {
    const perBot = 500;
    const isMessage = (e: DatafeedEvent) => e.name === 'SOCIALMESSAGE';
    const atBot = collect(bot, (events) => events.filter(isMessage).length >= 2 * perBot);
    const atAlice = collect(alice, (events) => events.filter(isMessage).length >= 2 * perBot);
    await Promise.all([untilFeedExists(bot, atBot.feed), untilFeedExists(alice, atAlice.feed)]);
    const sendAll = async (sender: AllegroClient, prefix: string) => {
      for (let i = 0; i < perBot; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => sender.pod.send(roomId, `<messageML>${prefix} message ${i + j} <b>#${i + j}</b></messageML>`)));
      }
    };
    await Promise.all([sendAll(bot, 'bot'), sendAll(alice, 'alice')]);
    for (const { finished } of [atBot, atAlice]) {
      const messages = (await finished).filter(isMessage);
      expect(messages.every((e) => e.error === undefined && e.message !== undefined)).toBe(true);
      const texts = messages.map((e) => e.message!.text);
      expect(new Set(texts).size).toBe(2 * perBot);
      expect(texts.length).toBe(2 * perBot);
      expect(new Set(messages.map((e) => e.eventId)).size).toBe(messages.length);
      expect(texts.filter((t) => t.startsWith('alice message ')).length).toBe(perBot);
    }
    // One content-key fetch per (thread, rotation) however many messages: single-flight and caching.
    expect(bot.keys.stats().contentKeys.loads).toBeLessThanOrEqual(3);
  });

  it('reads history and single messages back, decrypted', async () => {
    const id = await bot.pod.send(roomId, 'history check');
    const history = await alice.pod.history(roomId, { limit: 5 });
    expect(history.at(-1)?.text).toBe('history check');
    expect((await alice.pod.message(id)).text).toBe('history check');
    expect((await alice.pod.message(Buffer.from(id, 'base64url').toString('base64'))).text).toBe('history check');
  });
});

describe('keys', () => {
  it('picks up a rotation in mid-conversation and still decrypts history', async () => {
    const quick = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { keys: { rotationCheckMs: 200 } }));
    try {
      await quick.pod.send(roomId, 'before rotation');
      const rotation = await sandbox.admin.rotate(roomId);
      await new Promise((r) => setTimeout(r, 250));
      await quick.pod.send(roomId, 'after rotation');
      expect(await quick.keys.currentRotation(roomId)).toBe(BigInt(rotation));
      const texts = (await alice.pod.history(roomId, { limit: 2 })).map((m) => m.text);
      expect(texts).toEqual(['before rotation', 'after rotation']);
    } finally {
      await quick.close();
    }
  });

  it('refuses new content keys to a member removed from a room, with a typed error naming the thread', async () => {
    const room = await bot.pod.createRoom({ name: 'leaving' });
    const bob = await AllegroClient.create(identityConfig(sandbox, 'bob'));
    try {
      await bot.pod.addMember(room, bob.userId);
      await bot.pod.send(room, 'while bob is here');
      expect((await bob.pod.history(room)).map((m) => m.text)).toEqual(['while bob is here']);
      await bot.pod.removeMember(room, bob.userId);
      const rotation = await sandbox.admin.rotate(room);
      const err = await bob.keys.contentKey(room, BigInt(rotation)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContentKeyUnavailableError);
      expect(err).toMatchObject({ code: 'CONTENT_KEY_UNAVAILABLE', reason: 'not-a-member', threadId: room });
    } finally {
      await bob.close();
    }
  });
});

describe('resilience', () => {
  it('refreshes an expired session transparently, mid-stream', async () => {
    const short = await startSandbox({ config: { sessionTtlSeconds: 1 } });
    try {
      const client = await AllegroClient.create(identityConfig(short, 'sandbox-bot', { auth: { minRefreshIntervalMs: 100 } }));
      const room = (await client.pod.streams({ types: ['ROOM'] }))[0]!.id;
      await client.pod.send(room, 'one');
      // A 1 s token lives 1–2 s (its exp is rounded up to the second): wait past the longest.
      await new Promise((r) => setTimeout(r, 2100));
      await client.pod.send(room, 'two');
      expect(client.session.logins.session).toBeGreaterThanOrEqual(2);
      expect((await client.pod.history(room)).map((m) => m.text)).toEqual(['one', 'two']);
      await client.close();
    } finally {
      await short.close();
    }
  });

  it('delivers through injected 429s, 5xx and dropped connections on the datafeed and key fetches', async () => {
    const received = collect(alice, (events) => events.some((e) => e.message?.text === 'through the storm'));
    await untilFeedExists(alice, received.feed);
    sandbox.faults.add({ path: '/datafeed2/', status: 503, times: 2 });
    sandbox.faults.add({ path: '/datafeed2/', status: 429, retryAfterSeconds: 0, times: 1 });
    sandbox.faults.add({ path: '/datafeed2/', drop: true, times: 1 });
    // The datafeed loop meets every fault (its long poll ends within datafeedWaitMs) and keeps reading.
    for (let i = 0; i < 200 && sandbox.faults.list().some((r) => r.remaining !== 0); i++) await new Promise((r) => setTimeout(r, 50));
    expect(sandbox.faults.list().every((r) => r.remaining === 0)).toBe(true);
    sandbox.faults.add({ path: '/keystore/', status: 502, times: 1 });
    sandbox.faults.add({ path: '/webcontroller/ingestor', status: 429, retryAfterSeconds: 0, times: 1 });
    const fresh = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
    try {
      await fresh.pod.send(roomId, 'through the storm');
    } finally {
      await fresh.close();
    }
    await received.finished;
    expect(sandbox.faults.list().every((r) => r.remaining === 0)).toBe(true);
    sandbox.faults.clear();
  });

  it('reports a tampered ciphertext as a typed per-message error and keeps going', async () => {
    const received = collect(alice, (events) => events.some((e) => e.message?.text === 'after the bad one'));
    await untilFeedExists(alice, received.feed);
    const raw = await login(sandbox, 'sandbox-bot');
    const good = (await bot.pod.history(roomId, { limit: 1 }))[0]!;
    const stored = await call(sandbox, 'GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${encodeURIComponent(good.messageId)}`, { headers: raw.headers });
    const bytes = Buffer.from(stored.json.text as string, 'base64');
    bytes[60]! ^= 1;
    const tampered = { threadId: stored.json.threadId, text: bytes.toString('base64') };
    const posted = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', { headers: raw.headers, form: { messagepayload: JSON.stringify(tampered) } });
    expect(posted.status).toBe(200);
    await bot.pod.send(roomId, 'after the bad one');
    const events = await received.finished;
    const bad = events.find((e) => e.error !== undefined);
    expect(bad?.error?.code).toBe('DECRYPTION_FAILED');
    expect(bad?.message).toBeUndefined();
  });
});

describe('certificate login', () => {
  it('authenticates over mutual TLS with the bot\'s PKCS#12 and sends an encrypted message', async () => {
    const client = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { useCertificate: true }));
    try {
      expect(client.username).toBe('sandbox-bot');
      await client.pod.send(roomId, 'sent after certificate login');
      expect((await alice.pod.history(roomId, { limit: 1 }))[0]!.text).toBe('sent after certificate login');
    } finally {
      await client.close();
    }
  });
});
