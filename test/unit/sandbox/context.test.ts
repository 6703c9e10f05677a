import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, resolveConfig, SandboxContext, type SandboxUrls } from '../../../src/sandbox/context.js';
import { HttpError } from '../../../src/sandbox/http-error.js';
import type { SandboxRequest } from '../../../src/sandbox/http.js';
import { userIdOf } from '../../../src/sandbox/ids.js';
import { TokenIssuer, type TokenKind } from '../../../src/sandbox/tokens.js';
import { POD, storeWithUsers, U1 as ALICE, U2 as BOB } from '../../helpers/sandbox-store.js';

const SECRET = Buffer.alloc(32, 2); // the pod's token secret in storeWithUsers
const urls: SandboxUrls = { podUrl: 'https://x', keyManagerUrl: 'https://x/relay', sessionAuthUrl: 'https://x/sessionauth', keyAuthUrl: 'https://x/keyauth', objectStoreUrl: 'https://x', agentUrl: 'https://x/agent' };

describe('resolveConfig', () => {
  it('fills in the defaults and refuses values out of range, naming them', () => {
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
    expect(resolveConfig({ maxJsonDepth: 8, requestTimeoutMs: 0 })).toMatchObject({ maxJsonDepth: 8, requestTimeoutMs: 0, maxFeedsPerUser: 20 });
    expect(() => resolveConfig({ maxJsonDepth: 0 })).toThrow('config.maxJsonDepth must be an integer of at least 1, received 0.');
    expect(() => resolveConfig({ sendTimeoutMs: 1.5 })).toThrow('config.sendTimeoutMs must be an integer of at least 1, received 1.5.');
    expect(() => resolveConfig({ rotateOnMemberRemoval: 'yes' as never })).toThrow('config.rotateOnMemberRemoval must be a boolean, received yes.');
    expect(DEFAULT_CONFIG).toMatchObject({ maxJsonDepth: 64, maxBodyBytes: 1024 * 1024, sessionTtlSeconds: 3600, feedTtlMs: 30 * 60 * 1000 });
  });

  it('liveSince is now minus the feed TTL', async () => {
    const ctx = new SandboxContext(await storeWithUsers(), resolveConfig({ feedTtlMs: 1000 }), urls);
    expect(ctx.liveSince(5000)).toBe(4000);
  });
});

describe('SandboxContext authentication', () => {
  function request(headers: Record<string, string> = {}, cookies: Record<string, string> = {}): SandboxRequest {
    return {
      method: 'GET', path: '/', query: new URLSearchParams(), headers, cookies: new Map(Object.entries(cookies)), params: {},
      body: Buffer.alloc(0), socket: {} as TLSSocket, json: () => undefined, parseJson: () => undefined, signal: new AbortController().signal,
    };
  }

  const setup = async () => {
    const ctx = new SandboxContext(await storeWithUsers(), DEFAULT_CONFIG, urls);
    const issuer = new TokenIssuer(SECRET);
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

  it('verifies tokens on the pod\'s secret (so that they survive a restart), and no other', async () => {
    const { ctx, token } = await setup();
    expect(ctx.tokens.verify(token('session'), ['session'])?.sub).toBe(ALICE);
    expect(ctx.tokens.verify(ctx.tokens.issue(BOB, 'km', 60), ['km'])?.sub).toBe(BOB);
    const restarted = new SandboxContext(ctx.store, DEFAULT_CONFIG, urls);
    expect(restarted.tokens.verify(token('session'), ['session'])?.sub).toBe(ALICE);
    expect(new TokenIssuer(Buffer.alloc(32, 1)).verify(token('session'), ['session'])).toBeUndefined();
  });

  it('sessionUser accepts the sessionToken header, the skey cookie and a bearer token', async () => {
    const { ctx, token } = await setup();
    expect(ctx.sessionUser(request({ sessiontoken: token('session') })).id).toBe(ALICE);
    expect(ctx.sessionUser(request({}, { skey: token('session', BOB) })).id).toBe(BOB);
    expect(ctx.sessionUser(request({ authorization: `Bearer ${token('session')}` })).id).toBe(ALICE);
    // An empty header falls back to the cookie.
    expect(ctx.sessionUser(request({ sessiontoken: '' }, { skey: token('session', BOB) })).id).toBe(BOB);
  });

  it('sessionUser answers 401 without a valid session token', async () => {
    const { ctx, token } = await setup();
    expect(status401(() => ctx.sessionUser(request()))).toBe('Missing session token');
    expect(status401(() => ctx.sessionUser(request({ authorization: `Basic ${token('session')}` })))).toBe('Missing session token');
    for (const bad of [token('km'), token('api'), token('session', userIdOf(POD, 4242)), token('session', ALICE, Date.now() - 61_000), 'junk', new TokenIssuer(Buffer.alloc(32, 8)).issue(ALICE, 'session', 60)]) {
      expect(status401(() => ctx.sessionUser(request({ sessiontoken: bad })))).toBe('Invalid or expired session token');
    }
    // The header wins over the cookie and the bearer token.
    expect(status401(() => ctx.sessionUser(request({ sessiontoken: 'junk', authorization: `Bearer ${token('session')}` }, { skey: token('session') })))).toBe('Invalid or expired session token');
  });

  it('a token of a revoked session is refused, whatever its kind; other sessions are not affected', async () => {
    const { ctx } = await setup();
    const t = ctx.tokens.issue(ALICE, 'session', 60);
    const sid = ctx.tokens.verify(t, ['session'])!.sid;
    const datafeed = ctx.tokens.issue(ALICE, 'datafeed', 60, Date.now(), sid);
    const other = ctx.tokens.issue(ALICE, 'session', 60);
    expect(ctx.sessionUser(request({ sessiontoken: t })).id).toBe(ALICE);
    await ctx.store.write((tx) => ctx.store.revocations.revoke(tx, `session:${sid}`, Number.MAX_SAFE_INTEGER, Date.now() + 60_000));
    expect(status401(() => ctx.sessionUser(request({ sessiontoken: t })))).toBe('Invalid or expired session token');
    expect(status401(() => ctx.bearerUser(request({ authorization: `Bearer ${datafeed}` }), ['datafeed']))).toBe('Invalid or expired bearer token');
    expect(ctx.sessionUser(request({ sessiontoken: other })).id).toBe(ALICE);
  });

  it('Key Manager tokens of a user issued before a revocation are refused; later ones are not', async () => {
    const { ctx } = await setup();
    const before = ctx.tokens.issue(ALICE, 'km', 60);
    const fence = ctx.tokens.fence();
    const after = ctx.tokens.issue(ALICE, 'km', 60);
    await ctx.store.write((tx) => ctx.store.revocations.revoke(tx, `km:${ALICE}`, fence, Date.now() + 60_000));
    expect(status401(() => ctx.kmUser(request({ keymanagertoken: before })))).toBe('Invalid or expired Key Manager token');
    expect(ctx.kmUser(request({ keymanagertoken: after })).id).toBe(ALICE);
    expect(ctx.kmUser(request({ keymanagertoken: ctx.tokens.issue(BOB, 'km', 60) })).id).toBe(BOB);
  });

  it('kmUser accepts the keyManagerToken header and the kmsession cookie only', async () => {
    const { ctx, token } = await setup();
    expect(ctx.kmUser(request({ keymanagertoken: token('km') })).id).toBe(ALICE);
    expect(ctx.kmUser(request({}, { kmsession: token('km', BOB) })).id).toBe(BOB);
    expect(status401(() => ctx.kmUser(request({ authorization: `Bearer ${token('km')}` })))).toBe('Missing Key Manager token');
    expect(status401(() => ctx.kmUser(request({ sessiontoken: token('km') })))).toBe('Missing Key Manager token');
    expect(status401(() => ctx.kmUser(request({ keymanagertoken: token('session') })))).toBe('Invalid or expired Key Manager token');
    expect(status401(() => ctx.kmUser(request({}, { kmsession: token('session') })))).toBe('Invalid or expired Key Manager token');
  });

  it('bearerUser accepts a bearer token of the given kinds, or a session token in header or cookie', async () => {
    const { ctx, token } = await setup();
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
