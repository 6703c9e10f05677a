/**
 * Signals on the Agent (agent-api-public.yaml `/v1/signals/…`; docs/sandbox.md "OBO apps", where an OBO app needs
 * MANAGE_SIGNALS for each): list, get, create, update, delete, subscribe, unsubscribe and the subscribers of a
 * user's signals. A query is `field:value` terms (`author`, `hashtag`, `cashtag`) joined by AND or OR, with at least
 * one hashtag or cashtag, as the spec requires. Only the owner changes, deletes or bulk-subscribes others to a
 * signal; a subscription pushed on someone cannot be left by them. Signals match no messages here: the sandbox
 * stores them, nothing more.
 */
import { canonicalId, intQuery, optionalField, parseUserId, requireArray, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest } from '../http.js';
import { newId } from '../ids.js';
import type { Signal } from '../store/signals.js';
import type { User } from '../store/users.js';

/** A query: `field:value` terms joined by AND or OR. */
const TERM = '(?:author|hashtag|cashtag):\\S+';
const QUERY = new RegExp(`^${TERM}(?:\\s+(?:AND|OR)\\s+${TERM})*$`, 'i');

function signalJson(s: Signal): Record<string, unknown> {
  return { id: s.id, name: s.name, query: s.query, visibleOnProfile: s.visibleOnProfile, companyWide: s.companyWide, timestamp: s.createdAt };
}

/** A BaseSignal body, checked. */
function definition(req: SandboxRequest): Pick<Signal, 'name' | 'query' | 'visibleOnProfile' | 'companyWide'> {
  const body = requireObject(req.json());
  const name = requiredField(body, 'name', 'string');
  if (name.trim().length === 0 || name.length > 500) throw new HttpError(400, 'Field "name" must be 1 to 500 characters');
  const query = requiredField(body, 'query', 'string').trim();
  if (!QUERY.test(query) || !/(?:^|\s)(?:hashtag|cashtag):/i.test(query)) {
    throw new HttpError(400, 'Field "query" must be field:value terms (author, hashtag, cashtag) joined by AND or OR, with at least one hashtag or cashtag');
  }
  return { name, query, visibleOnProfile: optionalField(body, 'visibleOnProfile', 'boolean') ?? false, companyWide: optionalField(body, 'companyWide', 'boolean') ?? false };
}

/** Register the signal routes. */
export function signalRoutes(router: Router, ctx: SandboxContext): void {
  const { store } = ctx;
  /** The signal of the path, if the user may see it (owner, subscriber, or company-wide); 400 otherwise (the spec declares no 404 here). */
  const visible = (user: User, req: SandboxRequest): Signal => {
    const s = store.signals.get(canonicalId(req.params.id!, 'id'));
    if (s === undefined || (s.owner !== user.id && !s.companyWide && store.signals.subscriber(s.id, user.id) === undefined)) throw new HttpError(400, 'Signal not found');
    return s;
  };
  /** The signal of the path, if the user owns it; 403 when they may only see it. */
  const owned = (user: User, req: SandboxRequest): Signal => {
    const s = visible(user, req);
    if (s.owner !== user.id) throw new HttpError(403, 'Only the owner of a signal can do this');
    return s;
  };
  /** The users a (un)subscription is for: the body's ids (the owner's bulk call), else the caller. */
  const targets = (user: User, s: Signal, req: SandboxRequest): number[] => {
    if (req.body.length === 0) return [user.id];
    const ids = requireArray(req.json()).map((v) => parseUserId(v, 'user id'));
    if (ids.some((id) => id !== user.id) && s.owner !== user.id) throw new HttpError(403, 'Only the owner of a signal can subscribe or unsubscribe other users');
    return ids;
  };
  const subscription = (requested: number, errors: Array<{ userId: number; code: string; message: string }>) => ({
    requestedSubscription: requested, successfulSubscription: requested - errors.length, failedSubscription: errors.length, subscriptionErrors: errors,
  });

  router
    .add('GET', '/agent/v1/signals/list', (req) => {
      const user = ctx.sessionUser(req);
      const skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 50, 1, 500);
      return { json: store.signals.ofUser(user.id).slice(skip, skip + limit).map(signalJson) };
    })
    .add('GET', '/agent/v1/signals/:id/get', (req) => ({ json: signalJson(visible(ctx.sessionUser(req), req)) }))
    .add('POST', '/agent/v1/signals/create', async (req) => {
      const user = ctx.sessionUser(req);
      const created: Signal = { id: newId(), owner: user.id, createdAt: Date.now(), ...definition(req) };
      await store.write((tx) => store.signals.put(tx, created));
      return { json: signalJson(created) };
    })
    .add('POST', '/agent/v1/signals/:id/update', async (req) => {
      const user = ctx.sessionUser(req);
      const updated: Signal = { ...owned(user, req), ...definition(req) };
      await store.write((tx) => store.signals.put(tx, updated));
      return { json: signalJson(updated) };
    })
    .add('POST', '/agent/v1/signals/:id/delete', async (req) => {
      const user = ctx.sessionUser(req);
      const s = owned(user, req);
      await store.write((tx) => store.signals.delete(tx, s.id));
      return { json: { format: 'TEXT', message: 'Signal deleted' } };
    })
    .add('POST', '/agent/v1/signals/:id/subscribe', async (req) => {
      const user = ctx.sessionUser(req);
      const s = visible(user, req);
      const ids = targets(user, s, req);
      const pushed = req.query.get('pushed') === 'true';
      const errors = ids.filter((id) => store.users.get(id) === undefined).map((userId) => ({ userId, code: 'user.notfound', message: 'No such user' }));
      await store.write((tx) => {
        for (const id of ids) if (store.users.get(id) !== undefined) store.signals.subscribe(tx, s.id, id, pushed && id !== user.id, Date.now());
      });
      return { json: subscription(ids.length, errors) };
    })
    .add('POST', '/agent/v1/signals/:id/unsubscribe', async (req) => {
      const user = ctx.sessionUser(req);
      const s = visible(user, req);
      const ids = targets(user, s, req);
      const errors = ids.flatMap((userId) => {
        const sub = store.signals.subscriber(s.id, userId);
        if (sub === undefined) return [{ userId, code: 'subscription.notfound', message: 'Not subscribed' }];
        return sub.pushed && userId === user.id && s.owner !== user.id ? [{ userId, code: 'subscription.pushed', message: 'A pushed subscription cannot be left' }] : [];
      });
      const failed = new Set(errors.map((e) => e.userId));
      await store.write((tx) => { for (const id of ids) if (!failed.has(id)) store.signals.unsubscribe(tx, s.id, id); });
      return { json: subscription(ids.length, errors) };
    })
    .add('GET', '/agent/v1/signals/:id/subscribers', (req) => {
      const user = ctx.sessionUser(req);
      const s = visible(user, req);
      const skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 100, 1, 1000);
      const all = [{ userId: s.owner, pushed: false, subscribedAt: s.createdAt, owner: true }, ...store.signals.subscribers(s.id).filter((x) => x.userId !== s.owner).map((x) => ({ ...x, owner: false }))];
      const page = all.slice(skip, skip + limit).map((x) => ({
        subscriptionId: `${s.id}:${x.userId}`, pushed: x.pushed, owner: x.owner, subscriberName: store.users.get(x.userId)?.displayName ?? '', userId: x.userId, timestamp: x.subscribedAt,
      }));
      return { json: { offset: skip, hasMore: skip + limit < all.length, total: all.length, data: page } };
    });
}
