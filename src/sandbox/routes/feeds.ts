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
 * Feeds and their queues are tables of the store (store/feeds.ts), changed in the transaction of the write that
 * queues a message (an object write, through the objects route's hook) and of the read that acknowledges one;
 * visibility and receipt handles live in memory, so after a restart every unacknowledged message is visible again.
 * A feed unused (no upsert, read or acknowledgement) for its expiry is gone: 404. Feed fault rules (`feedAction`,
 * faults.ts) apply here.
 */
import { createHash } from 'node:crypto';
import { canonicalId, optionalField, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import type { FeedAction, Faults } from '../faults.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest } from '../http.js';
import { newId } from '../ids.js';
import type { FeedSelection, ObjectFeed } from '../store/feeds.js';
import type { User } from '../store/users.js';
import { toBase64Url } from '../../util/bytes.js';
import { callersNamedId, DELETED_TYPE, objectJson, permitted, type WriteHook } from './objects.js';

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

function feedJson(feed: ObjectFeed): Record<string, unknown> {
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
 * Queue a message for an object write in every live feed that subscribes to the written partition (and sort key)
 * and whose owner may READ it, in the write's transaction: the objects route's hook.
 */
export function queueFeedMessages(ctx: SandboxContext): WriteHook {
  const { store } = ctx;
  return (tx, write, at) => {
    const feeds = store.objectFeeds.all().filter((f) => !store.objectFeeds.expired(f, at));
    if (feeds.length === 0) return;
    const partitionHash = write.kind === 'put' ? write.object.partitionHash : write.partitionHash;
    const sortKey = write.kind === 'put' ? write.object.sortKey : write.sortKey;
    const payload = write.kind === 'put' ? objectJson(write.object)
      : { _type: DELETED_TYPE, baseHash: write.baseHash, partitionHash, sortKey, deletionType: 'PHYSICAL' };
    const partition = store.objects.partition(partitionHash);
    for (const feed of feeds) {
      const subscribed = feed.selections.some((s) => s.partitionHash === partitionHash && sortKey.startsWith(s.sortKeyPrefix));
      if (subscribed && permitted(partition, feed.owner, 'READ')) store.objectFeeds.enqueue(tx, feed.hash, { messageId: newId(18), payload });
    }
  };
}

/** Register the feed routes. */
export function feedRoutes(router: Router, ctx: SandboxContext, faults: Faults): void {
  const { store, config } = ctx;
  const deliveries = new Deliveries();
  const apiUser = (req: SandboxRequest): User => ctx.bearerUser(req, ['api', 'session']);

  /** The caller's live feed `hash`; 404 for none (an expired one is deleted now), 403 for another user's. */
  async function ownFeed(req: SandboxRequest, user: User): Promise<ObjectFeed> {
    const hash = canonicalId(req.params.hash!, 'feedHash');
    const feed = store.objectFeeds.feed(hash);
    if (feed === undefined) throw new HttpError(404, 'No such feed (deleted, expired, or never created)');
    if (feed.owner !== user.id) throw new HttpError(403, 'This feed belongs to another user');
    if (store.objectFeeds.expired(feed, Date.now())) {
      await store.write((tx) => store.objectFeeds.delete(tx, hash));
      throw new HttpError(404, `This feed expired after ${Math.round(feed.expiryMs / 1000)} s unused; upsert it again`);
    }
    return feed;
  }

  router
    .add('POST', '/object/v1/feeds/upsert', async (req) => {
      const user = apiUser(req);
      const body = requireObject(req.json());
      const { name, owner } = callersNamedId(body, 'feedId', user);
      const listed = requiredField(body, 'partitionSelections', 'array');
      if (listed.length === 0 || listed.length > MAX_SELECTIONS) throw new HttpError(400, `Field "partitionSelections" must hold 1 to ${MAX_SELECTIONS} partitions`);
      const selections: FeedSelection[] = listed.map((raw, i) => {
        const e = requireObject(raw, `partitionSelections[${i}]`);
        const partitionHash = canonicalId(requiredField(e, 'partitionHash', 'string'), `partitionSelections[${i}].partitionHash`);
        const sortKeyPrefix = optionalField(e, 'sortKeyPrefix', 'string') ?? '';
        if (sortKeyPrefix.length > MAX_PREFIX) throw new HttpError(400, `Field "partitionSelections[${i}].sortKeyPrefix" must be at most ${MAX_PREFIX} characters`);
        return { partitionHash, sortKeyPrefix };
      });
      optionalField(body, 'userPermissions', 'array');
      const expiryMs = intField(body, 'expiryTime', MAX_FEED_EXPIRY_MS, MIN_FEED_EXPIRY_MS, MAX_FEED_EXPIRY_MS);
      const hash = feedHashOf(name, owner);
      const feed = await store.write((tx) => {
        selections.forEach((s, i) => {
          const partition = store.objects.partition(s.partitionHash);
          if (partition === undefined) throw new HttpError(404, `No such partition: partitionSelections[${i}]`);
          if (!permitted(partition, user.id, 'READ')) throw new HttpError(403, `No READ permission on partitionSelections[${i}]`);
        });
        const now = Date.now();
        const existing = store.objectFeeds.feed(hash);
        // An expired feed is gone: upserting it again starts an empty one.
        if (existing !== undefined && store.objectFeeds.expired(existing, now)) store.objectFeeds.delete(tx, hash);
        store.objectFeeds.upsert(tx, { hash, name, owner, selections, expiryMs, createdAt: now, lastUsedAt: now });
        return store.objectFeeds.feed(hash)!;
      });
      return { json: feedJson(feed) };
    })
    .add('DELETE', '/object/v1/feeds/:hash', async (req) => {
      const feed = await ownFeed(req, apiUser(req));
      const queued = [...store.objectFeeds.messages(feed.hash)].map((m) => m.messageId);
      await store.write((tx) => store.objectFeeds.delete(tx, feed.hash));
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
      const queued = (id: string) => store.objectFeeds.has(feed.hash, id);
      const now = Date.now();

      const acked = fault.ignore.has('delete') ? [] : [...new Set(deletes.map((d) => deliveries.messageOf(d.receiptHandle)).filter((id): id is string => id !== undefined && queued(id)))];
      // Acknowledge, and note the read often enough that a feed being read does not expire.
      if (acked.length > 0 || now - feed.lastUsedAt > Math.min(60_000, feed.expiryMs / 4)) {
        await store.write((tx) => {
          store.objectFeeds.acknowledge(tx, feed.hash, acked);
          store.objectFeeds.touch(tx, feed.hash, now);
        });
      }
      for (const id of acked) deliveries.forget(id);
      if (!fault.ignore.has('extend')) {
        for (const e of extendsList) {
          const id = deliveries.messageOf(e.receiptHandle);
          if (id !== undefined && queued(id)) deliveries.setVisibleAt(id, Date.now() + e.visibilityTimeout * 1000);
        }
      }

      const visibleNow = (): Array<{ messageId: string; payload: Record<string, unknown> }> => {
        const at = Date.now();
        const out = [];
        for (const m of store.objectFeeds.messages(feed.hash)) {
          if (out.length >= maxItems) break;
          if (deliveries.visible(m.messageId, at)) out.push(m);
        }
        return out;
      };
      let ready = maxItems === 0 ? [] : visibleNow();
      const deadline = now + waitTimeSeconds * 1000;
      while (maxItems > 0 && ready.length === 0 && Date.now() < deadline && !req.signal.aborted && store.objectFeeds.feed(feed.hash) !== undefined) {
        const ids = [...store.objectFeeds.messages(feed.hash)].map((m) => m.messageId);
        const wake = Math.min(deadline, deliveries.nextVisible(ids));
        await store.objectFeeds.waitFor(feed.hash, Math.max(1, wake - Date.now()), req.signal);
        ready = visibleNow();
      }
      const visibleAt = Date.now() + config.objectFeedVisibilitySeconds * 1000;
      const answer = ready.map((m) => ({ messageId: m.messageId, receiptHandle: deliveries.deliver(m.messageId, visibleAt), payload: m.payload }));
      if (fault.dropAfter) {
        req.socket.destroy();
        return { status: 204 };
      }
      return { json: answer };
    });
}
