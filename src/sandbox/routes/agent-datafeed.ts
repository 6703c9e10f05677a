/**
 * The Agent API's real-time events (agent-api-public.yaml; docs/sandbox.md "Agent API"), read from the one event
 * log the native Datafeed 2.0 reads (./datafeed.ts, ../store/events.ts), so both see the same events:
 * - datafeed v5 (`/agent/v5/datafeeds`): create (with an optional `tag`: creating again with a live feed's tag
 *   returns that feed), list, delete, and read with `ackId` — an Agent datafeed is a Datafeed 2.0 feed, with the
 *   same acknowledgement, expiry and 20-feed limit;
 * - the datahose (`/agent/v5/events/read`): every event of the pod, also of conversations the reader is not in,
 *   decrypted as the Agent's compliance account; a feed per (reader, `tag`, `eventTypes`), created by its first read,
 *   at most `maxFeedsPerUser` of them per reader;
 * - the legacy v4 datafeed (`/agent/v4/datafeed/create`, `/agent/v4/datafeed/{id}/read`) that older clients still
 *   call: no acknowledgement, a read returns the events since the previous read (or the creation).
 * Events are answered as `V4Event`s (../agent/v4.ts), their messages decrypted for the reader. A read with
 * `updatePresence` (default true) makes the reader AVAILABLE, as Symphony's does.
 */
import type { SandboxAgent } from '../agent/agent.js';
import { CESERVICE } from '../agent/agent.js';
import { V4_EVENT_TYPES } from '../agent/v4.js';
import { optionalField, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest } from '../http.js';
import { newId } from '../ids.js';
import { POD_WIDE, type AgentFeed, type FeedKind } from '../store/agent-feeds.js';
import type { LoggedEvent } from '../store/events.js';
import type { User } from '../store/users.js';
import { acknowledgeFeed, createUserFeed, feedAckId, feedCursor, feedEvents, liveFeed, ownFeed } from './datafeed.js';

/** The event type names a datahose may filter on. */
const EVENT_TYPE_NAMES = new Set([...Object.values(V4_EVENT_TYPES).map((t) => t.type), 'SHAREDPOST', 'USERREQUESTEDTOJOINROOM']);

/** `V5Datafeed` of a feed. */
function v5Datafeed(feed: AgentFeed): Record<string, unknown> {
  return { id: feed.id, createdAt: feed.createdAt, ...(feed.kind === 'datahose' ? { type: 'datahose' } : {}) };
}

/** The `ackId` and `updatePresence` of a read's body (optional). */
function readBody(req: SandboxRequest): { ackId: string; updatePresence: boolean } {
  const body = req.body.length === 0 ? {} : requireObject(req.json());
  return { ackId: optionalField(body, 'ackId', 'string') ?? '', updatePresence: optionalField(body, 'updatePresence', 'boolean') ?? true };
}

/** Register the Agent's datafeed, datahose and legacy datafeed routes. */
export function agentDatafeedRoutes(router: Router, ctx: SandboxContext, agent: SandboxAgent): void {
  const { store } = ctx;

  /** The user's live feed `id` of `kind`; 400 otherwise (as for an expired feed). */
  const feedOf = (user: User, id: string, kind: FeedKind): AgentFeed => {
    ownFeed(ctx, user, id);
    const feed = store.agentFeeds.get(id);
    if (feed?.kind !== kind) throw new HttpError(400, `Feed ${id} is not ${kind === 'legacy' ? 'a v4' : 'a v5'} datafeed; create a new feed`);
    return feed;
  };

  /** Make the reader AVAILABLE, as a read does unless told not to. */
  const present = async (user: User, update: boolean): Promise<void> => {
    if (!update || user.presence.category === 'AVAILABLE') return;
    const at = Date.now();
    await store.write((tx) => store.users.setPresence(tx, user.id, 'AVAILABLE', at));
  };

  const v4Events = (readerId: number, events: readonly LoggedEvent[]) => Promise.all(events.map((e) => agent.event(readerId, e)));

  router
    .add('GET', '/agent/v5/datafeeds', (req) => {
      const user = ctx.sessionUser(req);
      const tag = req.query.get('tag');
      const feeds = store.agentFeeds.live(user.id, 'datafeed', ctx.liveSince()).filter((f) => tag === null || f.tag === tag);
      return { json: feeds.map(v5Datafeed) };
    })
    .add('POST', '/agent/v5/datafeeds', async (req) => {
      const user = ctx.sessionUser(req);
      const body = req.body.length === 0 ? {} : requireObject(req.json());
      const tag = optionalField(body, 'tag', 'string');
      if (tag !== undefined && (tag.length === 0 || tag.length > 100)) throw new HttpError(400, 'Field "tag" must be 1 to 100 characters');
      optionalField(body, 'includeInvisible', 'boolean');
      const existing = tag === undefined ? undefined : store.agentFeeds.live(user.id, 'datafeed', ctx.liveSince()).find((f) => f.tag === tag);
      if (existing !== undefined) return { status: 201, json: v5Datafeed(existing) };
      const feed = await createUserFeed(ctx, user, (tx, f) => store.agentFeeds.mark(tx, f.id, { kind: 'datafeed', ...(tag === undefined ? {} : { tag }) }));
      return { status: 201, json: v5Datafeed({ ...feed, kind: 'datafeed' }) };
    })
    .add('DELETE', '/agent/v5/datafeeds/:id', async (req) => {
      const user = ctx.sessionUser(req);
      await store.write((tx) => {
        const feed = store.agentFeeds.get(req.params.id!);
        if (feed === undefined || feed.userId !== user.id || feed.kind !== 'datafeed') throw new HttpError(400, 'No such datafeed of this user');
        store.events.deleteFeed(tx, feed, ctx.liveSince());
      });
      return { status: 204 };
    })
    .add('POST', '/agent/v5/datafeeds/:id/read', async (req) => {
      const user = ctx.sessionUser(req);
      const feed = feedOf(user, req.params.id!, 'datafeed');
      const { ackId, updatePresence } = readBody(req);
      const cursor = feedCursor(ctx, feed, ackId);
      await acknowledgeFeed(ctx, feed, cursor);
      await present(user, updatePresence);
      const { events, last } = await feedEvents(ctx, feed, cursor, req.signal);
      return { json: { events: await v4Events(user.id, events), ackId: feedAckId(ctx, feed, last) } };
    })
    .add('POST', '/agent/v5/events/read', async (req) => {
      const user = ctx.sessionUser(req);
      const body = requireObject(req.json());
      if (requiredField(body, 'type', 'string') !== 'datahose') throw new HttpError(400, 'Field "type" must be "datahose"');
      const tag = requiredField(body, 'tag', 'string');
      if (tag.length === 0 || tag.length > 80) throw new HttpError(400, 'Field "tag" must be 1 to 80 characters');
      const types = optionalField(body, 'eventTypes', 'array');
      if (types !== undefined && (types.length === 0 || types.some((t) => typeof t !== 'string' || !EVENT_TYPE_NAMES.has(t)))) {
        throw new HttpError(400, `Field "eventTypes" must list at least one of ${[...EVENT_TYPE_NAMES].join(', ')}`);
      }
      const filter = types === undefined ? undefined : [...new Set(types as string[])].sort();
      optionalField(body, 'scopes', 'array');
      const ackId = optionalField(body, 'ackId', 'string') ?? '';
      const found = store.agentFeeds.datahose(user.id, tag, filter, ctx.liveSince());
      let feed: AgentFeed;
      if (found !== undefined) feed = liveFeed(ctx, found) as AgentFeed;
      else {
        if (ackId !== '') throw new HttpError(400, 'This datahose feed no longer exists (expired after 30 minutes without reads); read again with an empty ackId');
        feed = await store.write((tx) => {
          if (store.agentFeeds.datahoseCount(user.id, ctx.liveSince()) >= ctx.config.maxFeedsPerUser) {
            throw new HttpError(403, `Too many datahose feeds: a user may read at most ${ctx.config.maxFeedsPerUser} at a time (a tag and a set of event types each)`);
          }
          const created = store.events.createFeed(tx, `${newId(16)}_f`, POD_WIDE, Date.now());
          const marks = { kind: 'datahose' as const, tag, owner: user.id, ...(filter === undefined ? {} : { filter }) };
          store.agentFeeds.mark(tx, created.id, marks);
          return { ...created, ...marks };
        });
      }
      const cursor = feedCursor(ctx, feed, ackId);
      await acknowledgeFeed(ctx, feed, cursor);
      await present(user, optionalField(body, 'updatePresence', 'boolean') ?? true);
      const accept = filter === undefined ? undefined : (e: LoggedEvent) => filter.includes(V4_EVENT_TYPES[e.kind].type);
      const { events, last } = await feedEvents(ctx, feed, cursor, req.signal, accept);
      return { json: { events: await v4Events(CESERVICE, events), ackId: feedAckId(ctx, feed, last) } };
    })
    .add('POST', '/agent/v4/datafeed/create', async (req) => {
      const user = ctx.sessionUser(req);
      const feed = await createUserFeed(ctx, user, (tx, f) => store.agentFeeds.mark(tx, f.id, { kind: 'legacy' }));
      return { json: { id: feed.id } };
    })
    .add('GET', '/agent/v4/datafeed/:id/read', async (req) => {
      const user = ctx.sessionUser(req);
      const feed = feedOf(user, req.params.id!, 'legacy');
      const { events, last } = await feedEvents(ctx, feed, feed.ackSeq, req.signal);
      await acknowledgeFeed(ctx, feed, last, true);
      return events.length === 0 ? { status: 204 } : { json: await v4Events(user.id, events) };
    });
}
