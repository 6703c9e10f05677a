/**
 * Datafeed 2.0 on the pod, as Allegro reads it without an Agent (docs/protocol.md §1.5, §2.5, §5.3): feeds under
 * `/datafeed2/api/v1/feeds`, authorised by the `datafeed2` service token. Semantics follow the Agent's datafeed v2
 * (docs/symphony-apis.md §3.4):
 * - a new feed starts at "now": it delivers only events logged after its creation;
 * - a read returns the events after the position its `ackId` names and a new `ackId`; passing that `ackId` on the
 *   next read acknowledges them, passing an older one (or an empty one after a restart of the client) delivers
 *   again what is still kept: at-least-once;
 * - `ackId`s are opaque and unforgeable: the position and a MAC of (feed, position) under the pod's feed secret,
 *   so a made-up or another feed's `ackId` is a 400;
 * - a read with nothing to deliver waits (long poll) up to `datafeedWaitMs`, woken only by an event for its user;
 * - a feed not read for `feedTtlMs` (30 minutes) expires: reads then get 400, and the client creates a new feed;
 * - at most `maxFeedsPerUser` (20) active feeds per user, else 403.
 * Feeds and acknowledged positions are stored, so a restart of the sandbox neither loses nor re-sends acknowledged
 * events; events every feed has acknowledged are pruned (./store/events.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readInt64BE, toBase64Url, tryFromBase64, writeInt64BE } from '../../util/bytes.js';
import { optionalField, requireObject } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest } from '../http.js';
import { newId, standardBase64Id } from '../ids.js';
import type { Feed, LoggedEvent } from '../store/events.js';
import { socialMessage } from '../store/messages.js';
import type { Tx } from '../store/transaction.js';
import type { User } from '../store/users.js';

const ACK_MAC_BYTES = 16;

/** The ackId of position `seq` of a feed: base64url(seq as 8 bytes ‖ the first 16 bytes of its MAC). */
export function ackIdOf(secret: Uint8Array, feedId: string, seq: number): string {
  const bytes = new Uint8Array(8 + ACK_MAC_BYTES);
  writeInt64BE(bytes, 0, BigInt(seq));
  bytes.set(ackMac(secret, feedId, bytes.subarray(0, 8)), 8);
  return toBase64Url(bytes);
}

/** The position an ackId of this feed names, or undefined for any other string. */
export function parseAckId(secret: Uint8Array, feedId: string, ackId: string): number | undefined {
  const bytes = ackId.length <= 64 ? tryFromBase64(ackId) : undefined;
  if (bytes?.length !== 8 + ACK_MAC_BYTES) return undefined;
  if (!timingSafeEqual(ackMac(secret, feedId, bytes.subarray(0, 8)), bytes.subarray(8))) return undefined;
  const seq = readInt64BE(bytes, 0);
  return seq >= 0n && seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : undefined;
}

function ackMac(secret: Uint8Array, feedId: string, seq: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`ackId\u0000${feedId}\u0000`).update(seq).digest().subarray(0, ACK_MAC_BYTES);
}

function feedUser(ctx: SandboxContext, req: SandboxRequest): User {
  return ctx.bearerUser(req, ['datafeed', 'session']);
}

/** The live feed `id` of `user` (a feed the user reads as its recipient); 400 when it is gone or someone else's. */
export function ownFeed(ctx: SandboxContext, user: User, id: string): Feed {
  const feed = ctx.store.events.feed(id);
  if (feed === undefined || feed.userId !== user.id) throw new HttpError(400, 'This feed no longer exists (deleted, expired, or never created); create a new feed');
  return liveFeed(ctx, feed);
}

/** `feed`, if it has not expired; 400 otherwise. */
export function liveFeed(ctx: SandboxContext, feed: Feed): Feed {
  if (feed.lastReadAt < ctx.liveSince()) throw new HttpError(400, `This feed expired after ${Math.round(ctx.config.feedTtlMs / 1000)} s without reads; create a new feed`);
  return feed;
}

/**
 * A new feed of `user`, starting after the newest event; 403 beyond `maxFeedsPerUser` live feeds (every kind
 * counts). `mark` sets its Agent columns in the same write (../store/agent-feeds.ts).
 */
export function createUserFeed(ctx: SandboxContext, user: User, mark?: (tx: Tx, feed: Feed) => void): Promise<Feed> {
  const { store, config } = ctx;
  return store.write((tx) => {
    const now = Date.now();
    if (store.events.liveFeeds(user.id, ctx.liveSince(now)).length >= config.maxFeedsPerUser) {
      throw new HttpError(403, `Too many feeds: a user may have at most ${config.maxFeedsPerUser} active feeds`);
    }
    const feed = store.events.createFeed(tx, `${newId(16)}_f`, user.id, now);
    mark?.(tx, feed);
    return feed;
  });
}

/** The position an `ackId` of `feed` names (an empty one: the feed's acknowledged position); 400 for any other. */
export function feedCursor(ctx: SandboxContext, feed: Feed, ackId: string): number {
  const cursor = ackId === '' ? feed.ackSeq : parseAckId(ctx.feedSecret, feed.id, ackId);
  if (cursor === undefined) throw new HttpError(400, 'The ackId is not one this feed returned');
  return cursor;
}

/** The `ackId` that names position `seq` of `feed`. */
export function feedAckId(ctx: SandboxContext, feed: Feed, seq: number): string {
  return ackIdOf(ctx.feedSecret, feed.id, seq);
}

/**
 * Acknowledge `feed` up to `cursor` — and note the read often enough that a feed being read does not expire.
 * `always` notes the read in any case (a read that acknowledges what it returns).
 */
export async function acknowledgeFeed(ctx: SandboxContext, feed: Feed, cursor: number, always = false): Promise<void> {
  const { store, config } = ctx;
  const now = Date.now();
  if (always || cursor > feed.ackSeq || now - feed.lastReadAt > Math.min(60_000, config.feedTtlMs / 4)) {
    await store.write((tx) => {
      if (store.events.feed(feed.id) !== undefined) store.events.acknowledge(tx, feed, cursor, now, ctx.liveSince(now));
    });
  }
}

/**
 * The events of `feed` after `cursor` (at most `maxEventsPerRead` read), waiting up to `datafeedWaitMs` for one
 * (woken by an event for the feed's recipient) unless the client goes away or the feed is deleted. `accept` keeps
 * some of them (a datahose's event types); `last` is the position of the last event read, kept or not.
 */
export async function feedEvents(ctx: SandboxContext, feed: Feed, cursor: number, signal: AbortSignal, accept: (e: LoggedEvent) => boolean = () => true): Promise<{ events: LoggedEvent[]; last: number }> {
  const { store, config } = ctx;
  const deadline = Date.now() + config.datafeedWaitMs;
  let last = cursor;
  for (;;) {
    const read = store.events.forUser(feed.userId, last, config.maxEventsPerRead);
    last = read.at(-1)?.seq ?? last;
    const events = read.filter(accept);
    if (events.length > 0 || Date.now() >= deadline || signal.aborted || store.events.feed(feed.id) === undefined) return { events, last };
    if (read.length === 0) {
      await store.events.waitFor(feed.userId, deadline - Date.now(), signal);
      // A reader that went away (or a server closing) reads nothing more.
      if (signal.aborted) return { events: [], last };
    }
  }
}

/** The LiveCurrentMessage an event is delivered as (the `payload` of a datafeed event). */
function eventPayload(e: LoggedEvent, threadId: string | undefined): Record<string, unknown> {
  if (e.message !== undefined) return socialMessage(e.message);
  return {
    ...e.payload, version: 'MAESTRO', event: e.kind, ...(threadId === undefined ? {} : { threadId }), fromUserId: e.initiator, ingestionDate: e.timestamp,
    ...(e.affectedUserId === undefined ? {} : { affectedUserId: e.affectedUserId }),
  };
}

function eventJson(e: LoggedEvent): Record<string, unknown> {
  const name = e.kind === 'SOCIALMESSAGE' ? 'SOCIALMESSAGE' : 'MAESTRO';
  return { eventId: `e${e.seq}`, name, timestamp: e.timestamp, userId: e.initiator, payload: eventPayload(e, e.streamId === undefined ? undefined : standardBase64Id(e.streamId)) };
}

/** Register the Datafeed 2.0 routes. */
export function datafeedRoutes(router: Router, ctx: SandboxContext): void {
  const { store } = ctx;
  router
    .add('POST', '/datafeed2/api/v1/feeds', async (req) => {
      const feed = await createUserFeed(ctx, feedUser(ctx, req));
      return { status: 201, json: { id: feed.id, createdAt: feed.createdAt } };
    })
    .add('GET', '/datafeed2/api/v1/feeds', (req) => ({
      json: store.events.liveFeeds(feedUser(ctx, req).id, ctx.liveSince()).map((f) => ({ id: f.id, createdAt: f.createdAt })),
    }))
    .add('GET', '/datafeed2/api/v1/feeds/:feedId', (req) => {
      const feed = ownFeed(ctx, feedUser(ctx, req), req.params.feedId!);
      return { json: { id: feed.id, createdAt: feed.createdAt } };
    })
    .add('DELETE', '/datafeed2/api/v1/feeds/:feedId', async (req) => {
      const user = feedUser(ctx, req);
      await store.write((tx) => {
        const feed = store.events.feed(req.params.feedId!);
        if (feed === undefined || feed.userId !== user.id) throw new HttpError(404, 'Feed not found');
        store.events.deleteFeed(tx, feed, ctx.liveSince());
      });
      return { status: 204 };
    })
    .add('POST', '/datafeed2/api/v1/feeds/:feedId/events', async (req) => {
      const user = feedUser(ctx, req);
      const feed = ownFeed(ctx, user, req.params.feedId!);
      const body = req.body.length === 0 ? {} : requireObject(req.json());
      const cursor = feedCursor(ctx, feed, optionalField(body, 'ackId', 'string') ?? '');
      await acknowledgeFeed(ctx, feed, cursor);
      const { events, last } = await feedEvents(ctx, feed, cursor, req.signal);
      return { json: { ackId: feedAckId(ctx, feed, last), events: events.map(eventJson) } };
    });
}
