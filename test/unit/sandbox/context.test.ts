import type { TLSSocket } from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import { SandboxContext, type Persistence, type SandboxConfig, type SandboxUrls } from '../../../src/sandbox/context.js';
import { HttpError, type SandboxRequest } from '../../../src/sandbox/http.js';
import { userIdOf } from '../../../src/sandbox/ids.js';
import { SandboxState, type StateRecord, type StateSnapshot, type UserState } from '../../../src/sandbox/state.js';
import { TokenIssuer, type TokenKind } from '../../../src/sandbox/tokens.js';

const POD = 196;
const SECRET = Buffer.alloc(32, 9).toString('base64');
const ALICE = userIdOf(POD, 1000);
const BOB = userIdOf(POD, 1001);

const config: SandboxConfig = {
  sessionTtlSeconds: 3600, datafeedWaitMs: 20_000, feedTtlMs: 1_800_000, maxFeedsPerUser: 20, maxEventsPerRead: 100, rotateOnMemberRemoval: false, objectFeedVisibilitySeconds: 30,
};
const urls: SandboxUrls = { podUrl: 'https://x', keyManagerUrl: 'https://x/relay', sessionAuthUrl: 'https://x/sessionauth', keyAuthUrl: 'https://x/keyauth', objectStoreUrl: 'https://x', agentUrl: 'https://x/agent' };

function user(id: number, username: string): UserState {
  return {
    id, username, displayName: username, email: `${username}@x`, type: 'NORMAL', kmPublicKeyPem: '', kmPrivateKeyPem: '', accountKey: '', wallStreamId: `w${id}`,
    presence: { category: 'OFFLINE', timestamp: 0 },
  };
}

function newState(): SandboxState {
  const state = new SandboxState();
  state.apply({ t: 'pod', podId: POD, name: 'p', objectStore: true, entityKey: '', tokenSecret: SECRET });
  state.apply({ t: 'user', user: user(ALICE, 'alice') });
  state.apply({ t: 'user', user: user(BOB, 'bob') });
  state.apply({ t: 'stream', id: 'S', type: 'IM', by: ALICE, at: 1, attributes: {}, members: [{ id: ALICE, owner: true }, { id: BOB, owner: false }], rotationId: '0', contentKey: 'k' });
  return state;
}

function message(n: number): StateRecord {
  return { t: 'message', streamId: 'S', message: { messageId: `m${n}`, fromUserId: ALICE, ingestionDate: n, payload: { n } } };
}

/** A persistence whose appends and compactions resolve when the test says so. */
class FakePersistence implements Persistence {
  readonly appended: StateRecord[] = [];
  readonly pending: Array<{ record: StateRecord; resolve: () => void; reject: (e: unknown) => void }> = [];
  readonly compactions: Array<{ snapshot: StateSnapshot; resolve: () => void }> = [];
  needsCompaction = false;
  closed = false;

  append(record: StateRecord): Promise<void> {
    this.appended.push(record);
    return new Promise((resolve, reject) => this.pending.push({ record, resolve, reject }));
  }

  compact(snapshot: StateSnapshot): Promise<void> {
    return new Promise((resolve) => this.compactions.push({ snapshot: JSON.parse(JSON.stringify(snapshot)) as StateSnapshot, resolve }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  resolveAll(): void {
    for (const p of this.pending.splice(0)) p.resolve();
  }
}

/** Let promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function track(p: Promise<unknown>): { done: boolean; error: unknown } {
  const t = { done: false, error: undefined as unknown };
  p.then(() => { t.done = true; }, (e: unknown) => { t.done = true; t.error = e; });
  return t;
}

describe('SandboxContext.commit', () => {
  it('applies at once, appends in order, and resolves (advancing durableSeq) only once the appends resolve', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    expect(ctx.durableSeq).toBe(1); // the CREATE_IM event of the seeded stream
    const records = [message(1), message(2), { t: 'presence', userId: BOB, category: 'BUSY', at: 3 } as const];
    const commit = track(ctx.commit(...records));
    // Visible at once, so that concurrent requests see it.
    expect(ctx.state.messages.has('m2')).toBe(true);
    expect(ctx.state.user(BOB).presence.category).toBe('BUSY');
    expect(ctx.state.lastSeq).toBe(3);
    expect(persistence.appended).toEqual(records);
    await settle();
    expect(commit.done).toBe(false);
    expect(ctx.durableSeq).toBe(1);
    persistence.pending[0]!.resolve();
    persistence.pending[1]!.resolve();
    await settle();
    expect(commit.done).toBe(false);
    expect(ctx.durableSeq).toBe(1);
    persistence.pending[2]!.resolve();
    await settle();
    expect(commit.done).toBe(true);
    expect(commit.error).toBeUndefined();
    expect(ctx.durableSeq).toBe(3);
  });

  it('advances durableSeq per commit as each becomes durable', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    const first = track(ctx.commit(message(1)));
    const second = track(ctx.commit(message(2)));
    expect(persistence.appended.map((r) => (r.t === 'message' ? r.message.messageId : r.t))).toEqual(['m1', 'm2']);
    expect(ctx.state.lastSeq).toBe(3);
    persistence.pending[0]!.resolve();
    await settle();
    expect([first.done, second.done, ctx.durableSeq]).toEqual([true, false, 2]);
    persistence.pending[1]!.resolve();
    await settle();
    expect([second.done, ctx.durableSeq]).toEqual([true, 3]);
  });

  it('calls onCommit listeners after each durable commit until unsubscribed', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    const seenSeq: number[] = [];
    const listener = vi.fn(() => { seenSeq.push(ctx.durableSeq); });
    const other = vi.fn();
    const unsubscribe = ctx.onCommit(listener);
    ctx.onCommit(other);
    const commit = ctx.commit(message(1));
    await settle();
    expect(listener).not.toHaveBeenCalled();
    persistence.resolveAll();
    await commit;
    expect(listener).toHaveBeenCalledTimes(1);
    expect(seenSeq).toEqual([2]); // the listener sees the event as durable
    unsubscribe();
    const again = ctx.commit(message(2));
    persistence.resolveAll();
    await again;
    expect(listener).toHaveBeenCalledTimes(1);
    expect(other).toHaveBeenCalledTimes(2);
  });

  it('rejects when an append fails, without calling listeners or advancing durableSeq', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    const listener = vi.fn();
    ctx.onCommit(listener);
    const commit = ctx.commit(message(1));
    persistence.pending[0]!.reject(new Error('disk full'));
    await expect(commit).rejects.toThrow('disk full');
    expect(listener).not.toHaveBeenCalled();
    expect(ctx.durableSeq).toBe(1);
    // close does not hang on the failed write.
    await ctx.close();
    expect(persistence.closed).toBe(true);
  });

  it('close waits for in-flight appends before closing the persistence', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    const commit = ctx.commit(message(1), message(2));
    const closing = track(ctx.close());
    await settle();
    expect(persistence.closed).toBe(false);
    expect(closing.done).toBe(false);
    persistence.pending[0]!.resolve();
    await settle();
    expect(persistence.closed).toBe(false);
    persistence.pending[1]!.resolve();
    await commit;
    await settle();
    expect(persistence.closed).toBe(true);
    expect(closing.done).toBe(true);
  });

  it('compacts with a snapshot of the state once the persistence asks, one compaction at a time, and close waits for it', async () => {
    const persistence = new FakePersistence();
    const ctx = new SandboxContext(newState(), config, urls, persistence);
    const c1 = ctx.commit(message(1));
    persistence.resolveAll();
    await c1;
    expect(persistence.compactions).toHaveLength(0);
    persistence.needsCompaction = true;
    const c2 = ctx.commit(message(2));
    persistence.resolveAll();
    await c2;
    expect(persistence.compactions).toHaveLength(1);
    expect(persistence.compactions[0]!.snapshot.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(persistence.compactions[0]!.snapshot).toEqual(JSON.parse(JSON.stringify(ctx.state.toSnapshot())));
    const c3 = ctx.commit(message(3));
    persistence.resolveAll();
    await c3;
    expect(persistence.compactions).toHaveLength(1); // still compacting
    const closing = track(ctx.close());
    await settle();
    expect(persistence.closed).toBe(false);
    persistence.compactions[0]!.resolve();
    await settle();
    await settle();
    expect(persistence.closed).toBe(true);
    expect(closing.done).toBe(true);
  });
});

describe('SandboxContext authentication', () => {
  function request(headers: Record<string, string> = {}, cookies: Record<string, string> = {}): SandboxRequest {
    return {
      method: 'GET', path: '/', query: new URLSearchParams(), headers, cookies: new Map(Object.entries(cookies)), params: {},
      body: Buffer.alloc(0), socket: {} as TLSSocket, json: () => undefined,
    };
  }

  const setup = () => {
    const ctx = new SandboxContext(newState(), config, urls, new FakePersistence());
    const issuer = new TokenIssuer(Buffer.from(SECRET, 'base64'));
    const token = (kind: TokenKind, id = ALICE, nowMs?: number) => issuer.issue(id, kind, 60, nowMs);
    return { ctx, issuer, token };
  };

  function status401(f: () => unknown): string {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(401);
      return (err as HttpError).message;
    }
    throw new Error('expected a 401');
  }

  it('verifies tokens of the issuer on the state\'s secret, and follows a change of secret', () => {
    const { ctx, token } = setup();
    const issuer = ctx.tokens;
    expect(ctx.tokens).toBe(issuer);
    expect(issuer.verify(token('session'), ['session'])?.sub).toBe(ALICE);
    expect(ctx.tokens.verify(ctx.tokens.issue(BOB, 'km', 60), ['km'])?.sub).toBe(BOB);
    ctx.state.apply({ t: 'pod', podId: POD, name: 'p', objectStore: true, entityKey: '', tokenSecret: Buffer.alloc(32, 1).toString('base64') });
    expect(ctx.tokens).not.toBe(issuer);
    expect(ctx.tokens.verify(token('session'), ['session'])).toBeUndefined();
  });

  it('sessionUser accepts the sessionToken header, the skey cookie and a bearer token', () => {
    const { ctx, token } = setup();
    expect(ctx.sessionUser(request({ sessiontoken: token('session') })).id).toBe(ALICE);
    expect(ctx.sessionUser(request({}, { skey: token('session', BOB) })).id).toBe(BOB);
    expect(ctx.sessionUser(request({ authorization: `Bearer ${token('session')}` })).id).toBe(ALICE);
    // An empty header falls back to the cookie.
    expect(ctx.sessionUser(request({ sessiontoken: '' }, { skey: token('session', BOB) })).id).toBe(BOB);
  });

  it('sessionUser answers 401 without a valid session token', () => {
    const { ctx, token } = setup();
    expect(status401(() => ctx.sessionUser(request()))).toBe('Missing session token');
    expect(status401(() => ctx.sessionUser(request({ authorization: `Basic ${token('session')}` })))).toBe('Missing session token');
    for (const bad of [token('km'), token('api'), token('session', userIdOf(POD, 4242)), token('session', ALICE, Date.now() - 61_000), 'junk', new TokenIssuer(Buffer.alloc(32, 2)).issue(ALICE, 'session', 60)]) {
      expect(status401(() => ctx.sessionUser(request({ sessiontoken: bad })))).toBe('Invalid or expired session token');
    }
    // The header wins over the cookie and the bearer token.
    expect(status401(() => ctx.sessionUser(request({ sessiontoken: 'junk', authorization: `Bearer ${token('session')}` }, { skey: token('session') })))).toBe('Invalid or expired session token');
  });

  it('a revoked session token is refused', () => {
    const { ctx } = setup();
    const t = ctx.tokens.issue(ALICE, 'session', 60);
    expect(ctx.sessionUser(request({ sessiontoken: t })).id).toBe(ALICE);
    ctx.tokens.revoke(ctx.tokens.verify(t, ['session'])!);
    expect(status401(() => ctx.sessionUser(request({ sessiontoken: t })))).toBe('Invalid or expired session token');
  });

  it('kmUser accepts the keyManagerToken header and the kmsession cookie only', () => {
    const { ctx, token } = setup();
    expect(ctx.kmUser(request({ keymanagertoken: token('km') })).id).toBe(ALICE);
    expect(ctx.kmUser(request({}, { kmsession: token('km', BOB) })).id).toBe(BOB);
    expect(status401(() => ctx.kmUser(request({ authorization: `Bearer ${token('km')}` })))).toBe('Missing Key Manager token');
    expect(status401(() => ctx.kmUser(request({ sessiontoken: token('km') })))).toBe('Missing Key Manager token');
    expect(status401(() => ctx.kmUser(request({ keymanagertoken: token('session') })))).toBe('Invalid or expired Key Manager token');
    expect(status401(() => ctx.kmUser(request({}, { kmsession: token('session') })))).toBe('Invalid or expired Key Manager token');
  });

  it('bearerUser accepts a bearer token of the given kinds, or a session token in header or cookie', () => {
    const { ctx, token } = setup();
    expect(ctx.bearerUser(request({ authorization: `Bearer ${token('datafeed')}` }), ['datafeed']).id).toBe(ALICE);
    expect(ctx.bearerUser(request({ authorization: `bearer   ${token('api', BOB)}  ` }), ['api', 'session']).id).toBe(BOB);
    expect(ctx.bearerUser(request({ sessiontoken: token('session') }), ['session']).id).toBe(ALICE);
    expect(ctx.bearerUser(request({}, { skey: token('session') }), ['session', 'api']).id).toBe(ALICE);
    expect(status401(() => ctx.bearerUser(request({ authorization: `Bearer ${token('datafeed')}` }), ['api']))).toBe('Invalid or expired bearer token');
    expect(status401(() => ctx.bearerUser(request({ sessiontoken: token('session') }), ['api']))).toBe('Invalid or expired bearer token');
    expect(status401(() => ctx.bearerUser(request({ authorization: 'Bearer ' }), ['api']))).toBe('Invalid or expired bearer token');
    expect(status401(() => ctx.bearerUser(request({ authorization: token('api') }), ['api']))).toBe('Missing bearer token');
    expect(status401(() => ctx.bearerUser(request(), ['api']))).toBe('Missing bearer token');
  });
});
