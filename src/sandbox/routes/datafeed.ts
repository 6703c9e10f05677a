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

function ownFeed(ctx: SandboxContext, user: User, id: string): Feed {
  const feed = ctx.store.events.feed(id);
  if (feed === undefined || feed.userId !== user.id) throw new HttpError(400, 'This feed no longer exists (deleted, expired, or never created); create a new feed');
  if (feed.lastReadAt < ctx.liveSince()) throw new HttpError(400, `This feed expired after ${Math.round(ctx.config.feedTtlMs / 1000)} s without reads; create a new feed`);
  return feed;
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
  const { store, config } = ctx;
  const secret = store.pod.require().feedSecret;
  router
    .add('POST', '/datafeed2/api/v1/feeds', async (req) => {
      const user = feedUser(ctx, req);
      const feed = await store.write((tx) => {
        const now = Date.now();
        if (store.events.liveFeeds(user.id, ctx.liveSince(now)).length >= config.maxFeedsPerUser) {
          throw new HttpError(403, `Too many feeds: a user may have at most ${config.maxFeedsPerUser} active feeds`);
        }
        return store.events.createFeed(tx, `${newId(16)}_f`, user.id, now);
      });
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
      const ackId = optionalField(body, 'ackId', 'string') ?? '';
      const cursor = ackId === '' ? feed.ackSeq : parseAckId(secret, feed.id, ackId);
      if (cursor === undefined) throw new HttpError(400, 'The ackId is not one this feed returned');
      const now = Date.now();
      // Acknowledge, and note the read often enough that a feed being read does not expire.
      if (cursor > feed.ackSeq || now - feed.lastReadAt > Math.min(60_000, config.feedTtlMs / 4)) {
        await store.write((tx) => {
          if (store.events.feed(feed.id) !== undefined) store.events.acknowledge(tx, feed, cursor, now, ctx.liveSince(now));
        });
      }
      const deadline = now + config.datafeedWaitMs;
      let events = store.events.forUser(user.id, cursor, config.maxEventsPerRead);
      while (events.length === 0 && Date.now() < deadline && !req.signal.aborted && store.events.feed(feed.id) !== undefined) {
        await store.events.waitFor(user.id, deadline - Date.now(), req.signal);
        // A reader that went away (or a server closing) reads nothing more.
        if (req.signal.aborted) break;
        events = store.events.forUser(user.id, cursor, config.maxEventsPerRead);
      }
      const last = events.at(-1)?.seq ?? cursor;
      return { json: { ackId: ackIdOf(secret, feed.id, last), events: events.map(eventJson) } };
    });
}
