/**
 * Object Store feeds (`/object/v1/feeds`, docs/protocol.md §4.6, docs/sandbox.md §4.6): a feed subscribes its owner
 * to partitions (optionally to the sort keys with a prefix); every object version created, updated or deleted in
 * them afterwards is queued in the feed as a message (the stored object, or the deletion), for as long as the owner
 * may READ the partition. `POST /object/v1/feeds/{hash}/objects` applies the `delete` (acknowledge) and `extend`
 * (visibility timeout) lists of receipt handles, then returns up to `maxItems` visible messages, waiting up to
 * `waitTimeSeconds` for one (long poll). A message returned is invisible for `objectFeedVisibilitySeconds` (30 s)
 * unless extended, then delivered again with a new receipt handle: only the newest handle of a message
 * acknowledges or extends it, an older one is ignored (as SQS does). At-least-once, oldest first.
 *
 * Feeds, queued messages and acknowledgements are journaled (object-feeds.ts); visibility and receipt handles live
 * in memory, so after a restart every unacknowledged message is visible again. A feed unused (no upsert, read or
 * acknowledgement) for its expiry is gone: 404. Feed fault rules (`feedAction`, faults.ts) apply here.
 */
import { createHash } from 'node:crypto';
import { canonicalId, optionalField, parseUserId, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import type { FeedAction, Faults } from '../faults.js';
import { HttpError, type Router, type SandboxRequest } from '../http.js';
import { newId } from '../ids.js';
import type { FeedSelection, ObjectFeedState } from '../object-feeds.js';
import { objectJson, type StateRecord, type UserState } from '../state.js';
import { toBase64Url } from '../../util/bytes.js';
import { waitForCommit } from './datafeed.js';
import { DELETED_TYPE, permitted, type WritesHook } from './objects.js';

/** Feed expiry bounds and default, milliseconds (Allegro's: 60 s to 5 days, default 5 days). */
export const MIN_FEED_EXPIRY_MS = 60_000;
export const MAX_FEED_EXPIRY_MS = 5 * 24 * 3600 * 1000;
/** Most messages one read returns, and most receipt handles per list (SQS's batch limit). */
export const MAX_FEED_ITEMS = 10;
const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_SELECTIONS = 100;
const MAX_PREFIX = 1024;

/** Where a message is in its delivery: its newest receipt handle and when it is visible again. Not persisted. */
interface Delivery {
  receiptHandle: string;
  visibleAt: number;
}

/** The deliveries of every feed's messages, by message id, and message ids by their newest receipt handle. */
class Deliveries {
  readonly #byMessage = new Map<string, Delivery>();
  readonly #byHandle = new Map<string, string>();

  visible(messageId: string, now: number): boolean {
    return (this.#byMessage.get(messageId)?.visibleAt ?? 0) <= now;
  }

  /** When the earliest of these messages becomes visible (Infinity if none is invisible). */
  nextVisible(messageIds: Iterable<string>): number {
    let next = Number.POSITIVE_INFINITY;
    for (const id of messageIds) next = Math.min(next, this.#byMessage.get(id)?.visibleAt ?? Number.POSITIVE_INFINITY);
    return next;
  }

  /** Deliver a message: a new receipt handle; the old one no longer counts. */
  deliver(messageId: string, visibleAt: number): string {
    const old = this.#byMessage.get(messageId);
    if (old !== undefined) this.#byHandle.delete(old.receiptHandle);
    const receiptHandle = newId(24);
    this.#byMessage.set(messageId, { receiptHandle, visibleAt });
    this.#byHandle.set(receiptHandle, messageId);
    return receiptHandle;
  }

  /** The message a receipt handle is the newest handle of. */
  messageOf(receiptHandle: string): string | undefined {
    return this.#byHandle.get(receiptHandle);
  }

  setVisibleAt(messageId: string, visibleAt: number): void {
    const d = this.#byMessage.get(messageId);
    if (d !== undefined) d.visibleAt = visibleAt;
  }

  forget(messageId: string): void {
    const d = this.#byMessage.get(messageId);
    if (d !== undefined) this.#byHandle.delete(d.receiptHandle);
    this.#byMessage.delete(messageId);
  }
}

function feedHashOf(name: string, owner: number): string {
  return toBase64Url(createHash('sha256').update(`feed\u0000${owner}\u0000${name}`).digest());
}

function feedJson(feed: ObjectFeedState): Record<string, unknown> {
  return {
    id: { name: feed.name, userId: feed.owner }, hash: feed.hash, queueName: `allegro-sandbox-${feed.hash}`, expiryTime: feed.expiryMs,
    partitionSelections: feed.selections.map((s) => ({ partitionHash: s.partitionHash, ...(s.sortKeyPrefix === '' ? {} : { sortKeyPrefix: s.sortKeyPrefix }) })),
  };
}

function intField(o: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = optionalField(o, name, 'number') ?? fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new HttpError(400, `Field "${name}" must be an integer from ${min} to ${max}`);
  return value;
}

function handleList(body: Record<string, unknown>, name: 'delete' | 'extend'): Array<{ receiptHandle: string; visibilityTimeout: number }> {
  const list = optionalField(body, name, 'array') ?? [];
  if (list.length > MAX_FEED_ITEMS) throw new HttpError(400, `Field "${name}" may hold at most ${MAX_FEED_ITEMS} receipt handles`);
  return list.map((raw, i) => {
    const e = requireObject(raw, `${name}[${i}]`);
    const receiptHandle = requiredField(e, 'receiptHandle', 'string');
    return { receiptHandle, visibilityTimeout: name === 'extend' ? intField(e, 'visibilityTimeout', 0, 0, MAX_VISIBILITY_SECONDS) : 0 };
  });
}

/**
 * The messages a set of object writes queues: one per write and per live feed that subscribes to the written
 * partition (and sort key) and whose owner may READ it. Made before the writes are applied (a physical deletion's
 * partition and sort key are those of the object's current version).
 */
export function feedMessages(ctx: SandboxContext): WritesHook {
  return (writes, _writer, at) => {
    const { state } = ctx;
    const feeds = [...state.objectFeeds.feeds.values()].filter((f) => !state.objectFeeds.expired(f, at));
    if (feeds.length === 0) return [];
    const messages: Array<{ feedHash: string; messageId: string; payload: Record<string, unknown> }> = [];
    for (const w of writes) {
      let payload: Record<string, unknown>;
      if (w.kind === 'put') payload = objectJson(w.object);
      else if (w.deletionType === 'LOGICAL') payload = objectJson(w.tombstone);
      else {
        const current = state.currentObject(w.baseHash);
        if (current === undefined) continue;
        payload = { _type: DELETED_TYPE, baseHash: w.baseHash, partitionHash: current.partitionHash, sortKey: current.sortKey, deletionType: 'PHYSICAL' };
      }
      const partitionHash = String(payload.partitionHash);
      const sortKey = String(payload.sortKey);
      for (const feed of feeds) {
        const subscribed = feed.selections.some((s) => s.partitionHash === partitionHash && sortKey.startsWith(s.sortKeyPrefix));
        if (subscribed && permitted(state.partitions.get(partitionHash), feed.owner, 'READ')) messages.push({ feedHash: feed.hash, messageId: newId(18), payload });
      }
    }
    return messages.length === 0 ? [] : [{ t: 'objectFeed.messages', messages }];
  };
}

/** Register the feed routes. */
export function feedRoutes(router: Router, ctx: SandboxContext, faults: Faults): void {
  const { state } = ctx;
  const deliveries = new Deliveries();
  const apiUser = (req: SandboxRequest): UserState => ctx.bearerUser(req, ['api', 'session']);

  /** The caller's live feed `hash`; 404 for none (an expired one is deleted now), 403 for another user's. */
  async function ownFeed(req: SandboxRequest, user: UserState): Promise<ObjectFeedState> {
    const hash = canonicalId(req.params.hash!, 'feedHash');
    const feed = state.objectFeeds.feeds.get(hash);
    if (feed === undefined) throw new HttpError(404, 'No such feed (deleted, expired, or never created)');
    if (feed.owner !== user.id) throw new HttpError(403, 'This feed belongs to another user');
    if (state.objectFeeds.expired(feed, Date.now())) {
      await ctx.commit({ t: 'objectFeed.delete', hash });
      throw new HttpError(404, `This feed expired after ${Math.round(feed.expiryMs / 1000)} s unused; upsert it again`);
    }
    return feed;
  }

  router
    .add('POST', '/object/v1/feeds/upsert', async (req) => {
      const user = apiUser(req);
      const body = requireObject(req.json());
      const id = requireObject(requiredField(body, 'feedId', 'object'), 'feedId');
      const name = requiredField(id, 'name', 'string');
      if (name.length === 0 || name.length > 256) throw new HttpError(400, 'Field "feedId.name" must be 1 to 256 characters');
      const owner = id.userId === undefined ? user.id : parseUserId(id.userId, 'feedId.userId');
      if (owner !== user.id) throw new HttpError(403, 'A feed id must carry the caller\'s own user id');
      const listed = requiredField(body, 'partitionSelections', 'array');
      if (listed.length === 0 || listed.length > MAX_SELECTIONS) throw new HttpError(400, `Field "partitionSelections" must hold 1 to ${MAX_SELECTIONS} partitions`);
      const selections: FeedSelection[] = listed.map((raw, i) => {
        const e = requireObject(raw, `partitionSelections[${i}]`);
        const partitionHash = canonicalId(requiredField(e, 'partitionHash', 'string'), `partitionSelections[${i}].partitionHash`);
        const sortKeyPrefix = optionalField(e, 'sortKeyPrefix', 'string') ?? '';
        if (sortKeyPrefix.length > MAX_PREFIX) throw new HttpError(400, `Field "partitionSelections[${i}].sortKeyPrefix" must be at most ${MAX_PREFIX} characters`);
        const partition = state.partitions.get(partitionHash);
        if (partition === undefined) throw new HttpError(404, `No such partition: partitionSelections[${i}]`);
        if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, `No READ permission on partitionSelections[${i}]`);
        return { partitionHash, sortKeyPrefix };
      });
      optionalField(body, 'userPermissions', 'array');
      const expiryMs = intField(body, 'expiryTime', MAX_FEED_EXPIRY_MS, MIN_FEED_EXPIRY_MS, MAX_FEED_EXPIRY_MS);
      const hash = feedHashOf(name, owner);
      const now = Date.now();
      const existing = state.objectFeeds.feeds.get(hash);
      const records: StateRecord[] = existing !== undefined && state.objectFeeds.expired(existing, now) ? [{ t: 'objectFeed.delete', hash }] : [];
      records.push({ t: 'objectFeed', feed: { hash, name, owner, selections, expiryMs, createdAt: now, lastUsedAt: now } });
      await ctx.commit(...records);
      return { json: feedJson(state.objectFeeds.feeds.get(hash)!) };
    })
    .add('DELETE', '/object/v1/feeds/:hash', async (req) => {
      const feed = await ownFeed(req, apiUser(req));
      const queued = [...(state.objectFeeds.queues.get(feed.hash)?.keys() ?? [])];
      await ctx.commit({ t: 'objectFeed.delete', hash: feed.hash });
      for (const id of queued) deliveries.forget(id);
      return { status: 204 };
    })
    .add('POST', '/object/v1/feeds/:hash/objects', async (req) => {
      const user = apiUser(req);
      const feed = await ownFeed(req, user);
      const body = req.body.length === 0 ? {} : requireObject(req.json());
      const maxItems = intField(body, 'maxItems', 1, 0, MAX_FEED_ITEMS);
      const waitTimeSeconds = intField(body, 'waitTimeSeconds', 0, 0, MAX_WAIT_SECONDS);
      const deletes = handleList(body, 'delete');
      const extendsList = handleList(body, 'extend');
      const actions: FeedAction[] = [...(maxItems > 0 ? ['receive' as const] : []), ...(deletes.length > 0 ? ['delete' as const] : []), ...(extendsList.length > 0 ? ['extend' as const] : [])];
      const fault = await faults.applyToFeed(req.method, req.path, actions, req.socket);
      if (fault.drop) return { status: 204 };
      const queue = () => state.objectFeeds.queues.get(feed.hash) ?? new Map<string, unknown>();
      const now = Date.now();

      const acked = fault.ignore.has('delete') ? [] : [...new Set(deletes.map((d) => deliveries.messageOf(d.receiptHandle)).filter((id): id is string => id !== undefined && queue().has(id)))];
      const touch = now - feed.lastUsedAt > Math.min(60_000, feed.expiryMs / 4);
      if (acked.length > 0) await ctx.commit({ t: 'objectFeed.ack', hash: feed.hash, messageIds: acked, at: now });
      else if (touch) await ctx.commit({ t: 'objectFeed.read', hash: feed.hash, at: now });
      for (const id of acked) deliveries.forget(id);
      if (!fault.ignore.has('extend')) {
        for (const e of extendsList) {
          const id = deliveries.messageOf(e.receiptHandle);
          if (id !== undefined && queue().has(id)) deliveries.setVisibleAt(id, Date.now() + e.visibilityTimeout * 1000);
        }
      }

      const visibleNow = () => {
        const at = Date.now();
        const out: string[] = [];
        for (const id of queue().keys()) {
          if (out.length >= maxItems) break;
          if (deliveries.visible(id, at)) out.push(id);
        }
        return out;
      };
      let ready = maxItems === 0 ? [] : visibleNow();
      const deadline = now + waitTimeSeconds * 1000;
      while (maxItems > 0 && ready.length === 0 && Date.now() < deadline && !req.socket.destroyed && state.objectFeeds.feeds.has(feed.hash)) {
        const wake = Math.min(deadline, deliveries.nextVisible(queue().keys()));
        await waitForCommit(ctx, req, Math.max(1, wake - Date.now()));
        ready = visibleNow();
      }
      const messages = state.objectFeeds.queues.get(feed.hash);
      const visibleAt = Date.now() + ctx.config.objectFeedVisibilitySeconds * 1000;
      const answer = ready.flatMap((id) => {
        const m = messages?.get(id);
        return m === undefined ? [] : [{ messageId: id, receiptHandle: deliveries.deliver(id, visibleAt), payload: m.payload }];
      });
      if (fault.dropAfter) {
        req.socket.destroy();
        return { status: 204 };
      }
      return { json: answer };
    });
}
