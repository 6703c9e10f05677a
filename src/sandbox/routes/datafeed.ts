/**
 * Datafeed 2.0 on the pod, as Allegro reads it without an Agent (docs/protocol.md §1.5, §2.5, §5.3): feeds under
 * `/datafeed2/api/v1/feeds`, authorised by the `datafeed2` service token. Semantics follow the Agent's datafeed v2
 * (docs/symphony-apis.md §3.4):
 * - a read returns the events after the position its `ackId` names and a new `ackId`; passing that `ackId` on the
 *   next read acknowledges them, passing an older one (or an empty one after a restart of the client) delivers
 *   them again: at-least-once;
 * - a read with nothing to deliver waits (long poll) up to `datafeedWaitMs`;
 * - a feed not read for `feedTtlMs` (30 minutes) expires: reads then get 400, and the client creates a new feed;
 * - at most `maxFeedsPerUser` (20) active feeds per user, else 403.
 * Acknowledged positions are journaled, so a restart of the sandbox neither loses nor re-sends acknowledged events.
 */
import { toBase64Url, tryFromBase64, fromUtf8, utf8 } from '../../util/bytes.js';
import { optionalField, requireObject } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError, type Router, type SandboxRequest } from '../http.js';
import { newId } from '../ids.js';
import type { EventState, FeedState, UserState } from '../state.js';

function feedUser(ctx: SandboxContext, req: SandboxRequest): UserState {
  return ctx.bearerUser(req, ['datafeed', 'session']);
}

function isExpired(ctx: SandboxContext, feed: FeedState, now: number): boolean {
  return now - feed.lastReadAt > ctx.config.feedTtlMs;
}

function liveFeeds(ctx: SandboxContext, user: UserState): FeedState[] {
  const now = Date.now();
  return [...ctx.state.feeds.values()].filter((f) => f.userId === user.id && !isExpired(ctx, f, now));
}

function ownFeed(ctx: SandboxContext, user: UserState, id: string): FeedState {
  const feed = ctx.state.feeds.get(id);
  if (feed === undefined || feed.userId !== user.id) throw new HttpError(400, 'This feed no longer exists (deleted, expired, or never created); create a new feed');
  if (isExpired(ctx, feed, Date.now())) throw new HttpError(400, `This feed expired after ${Math.round(ctx.config.feedTtlMs / 1000)} s without reads; create a new feed`);
  return feed;
}

function ackIdOf(feed: FeedState, seq: number): string {
  return toBase64Url(utf8(`${feed.id}:${seq}`));
}

function parseAckId(feed: FeedState, ackId: string, lastSeq: number): number {
  const decoded = ackId.length <= 200 ? tryFromBase64(ackId) : undefined;
  const match = decoded === undefined ? null : /^(.+):(\d{1,15})$/.exec(fromUtf8(decoded));
  const seq = match === null ? Number.NaN : Number(match[2]);
  if (match === null || match[1] !== feed.id || seq > lastSeq) throw new HttpError(400, 'The ackId is not one this feed returned');
  return seq;
}

function eventJson(e: EventState): Record<string, unknown> {
  return { eventId: e.eventId, name: e.name, timestamp: e.timestamp, userId: e.initiatorId, payload: e.payload };
}

/** Wait until a commit happens, the time runs out or the client goes away (long polls: here and routes/feeds.ts). */
export function waitForCommit(ctx: SandboxContext, req: SandboxRequest, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      req.socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const unsubscribe = ctx.onCommit(done);
    req.socket.once('close', done);
  });
}

/** Register the Datafeed 2.0 routes. */
export function datafeedRoutes(router: Router, ctx: SandboxContext): void {
  router
    .add('POST', '/datafeed2/api/v1/feeds', async (req) => {
      const user = feedUser(ctx, req);
      if (liveFeeds(ctx, user).length >= ctx.config.maxFeedsPerUser) {
        throw new HttpError(403, `Too many feeds: a user may have at most ${ctx.config.maxFeedsPerUser} active feeds`);
      }
      const id = `${newId(16)}_f`;
      await ctx.commit({ t: 'feed', id, userId: user.id, at: Date.now() });
      return { status: 201, json: { id, createdAt: ctx.state.feeds.get(id)!.createdAt } };
    })
    .add('GET', '/datafeed2/api/v1/feeds', (req) => ({
      json: liveFeeds(ctx, feedUser(ctx, req)).map((f) => ({ id: f.id, createdAt: f.createdAt })),
    }))
    .add('GET', '/datafeed2/api/v1/feeds/:feedId', (req) => {
      const feed = ownFeed(ctx, feedUser(ctx, req), req.params.feedId!);
      return { json: { id: feed.id, createdAt: feed.createdAt } };
    })
    .add('DELETE', '/datafeed2/api/v1/feeds/:feedId', async (req) => {
      const user = feedUser(ctx, req);
      const feed = ctx.state.feeds.get(req.params.feedId!);
      if (feed === undefined || feed.userId !== user.id) throw new HttpError(404, 'Feed not found');
      await ctx.commit({ t: 'feed.delete', id: feed.id });
      return { status: 204 };
    })
    .add('POST', '/datafeed2/api/v1/feeds/:feedId/events', async (req) => {
      const user = feedUser(ctx, req);
      const feed = ownFeed(ctx, user, req.params.feedId!);
      const body = req.body.length === 0 ? {} : requireObject(req.json());
      const ackId = optionalField(body, 'ackId', 'string') ?? '';
      const cursor = ackId === '' ? feed.ackSeq : parseAckId(feed, ackId, ctx.durableSeq);
      const now = Date.now();
      if (cursor > feed.ackSeq || now - feed.lastReadAt > 60_000) await ctx.commit({ t: 'feed.ack', id: feed.id, ackSeq: cursor, at: now });
      const deadline = now + ctx.config.datafeedWaitMs;
      let events = ctx.state.eventsFor(user.id, cursor, ctx.config.maxEventsPerRead, ctx.durableSeq);
      while (events.length === 0 && Date.now() < deadline && !req.socket.destroyed && ctx.state.feeds.has(feed.id)) {
        await waitForCommit(ctx, req, deadline - Date.now());
        events = ctx.state.eventsFor(user.id, cursor, ctx.config.maxEventsPerRead, ctx.durableSeq);
      }
      const last = events.at(-1)?.seq ?? cursor;
      return { json: { ackId: ackIdOf(feed, last), events: events.map(eventJson) } };
    });
}
