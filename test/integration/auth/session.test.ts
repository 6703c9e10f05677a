// Session against a real sandbox over HTTPS: RSA and certificate logins to the pod and the Key Manager,
// single-flight logins under heavy concurrency, refresh semantics (changed token, minimum interval, shared refresh,
// caller-supplied tokens), the reasons of AuthenticationError, the Datafeed and Object Store bearer hooks and their
// caching, and that no token ever reaches an error.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, type SessionOptions } from '../../../src/auth/session.js';
import type { Credentials } from '../../../src/config.js';
import { AllegroError, AuthenticationError, HttpStatusError, MalformedResponseError } from '../../../src/errors.js';
import { HttpClient } from '../../../src/http/http-client.js';
import { createDispatcher, type ClientCertificate } from '../../../src/http/pool.js';
import type { Transport } from '../../../src/http/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { issueClientCertificate, loadOrCreateTls } from '../../../src/sandbox/tls.js';
import { fromUtf8, tryFromBase64 } from '../../../src/util/bytes.js';
import { Secret } from '../../../src/util/secret.js';
import { login } from '../../helpers/sandbox.js';

const MIN_REFRESH_MS = 1_000;
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/;

let sandbox: RunningSandbox;
let ca: string;
let http: HttpClient;
const dispatchers: Transport[] = [];
/** Every token seen in this file, and every error thrown: checked at the end for leaks. */
const secrets = new Set<string>();
const errors: unknown[] = [];

/** A controllable clock for the session (login interval, cache lifetimes). */
interface Clock { t: number }

function rsa(username: string, identity = username): Credentials {
  return { kind: 'rsa', username, privateKeyPem: new Secret('private key', readFileSync(sandbox.identities.get(identity)!.privateKeyPath!, 'utf8')) };
}

function certificateClient(clientCertificate: ClientCertificate): HttpClient {
  const d = createDispatcher({ ca: [ca], clientCertificate });
  dispatchers.push(d);
  return new HttpClient({ transport: d, retry: { maxAttempts: 2, initialDelayMs: 20, jitter: 0 } });
}

/** Certificate logins: one client presenting the certificate, for sessionAuth and keyAuth. */
function certificateClients(clientCertificate: ClientCertificate): Partial<SessionOptions> {
  const client = certificateClient(clientCertificate);
  return { http: { pod: http, keyManager: http, sessionAuth: client, keyAuth: client } };
}

function newSession(credentials: Credentials, clock: Clock = { t: Date.now() }, extra: Partial<SessionOptions> = {}): Session {
  return new Session({
    credentials, http: { pod: http, keyManager: http },
    podUrl: sandbox.podUrl, keyManagerUrl: sandbox.keyManagerUrl, sessionAuthUrl: sandbox.sessionAuthUrl, keyAuthUrl: sandbox.keyAuthUrl,
    minRefreshIntervalMs: MIN_REFRESH_MS, jwtLifetimeSeconds: 240, now: () => clock.t,
    ...extra,
  });
}

async function token(session: Session, target: 'session' | 'keyManager'): Promise<string> {
  const t = await session.token(target);
  secrets.add(t);
  return t;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    errors.push(err);
    return err;
  }
  throw new Error('expected a rejection');
}

async function authFailure(promise: Promise<unknown>): Promise<AuthenticationError> {
  const err = await failure(promise);
  expect(err).toBeInstanceOf(AuthenticationError);
  expect((err as AllegroError).code).toBe('AUTHENTICATION_FAILED');
  return err as AuthenticationError;
}

function claimsOf(jwt: string): { kind?: string; sub?: number } {
  return JSON.parse(fromUtf8(tryFromBase64(jwt.split('.')[1]!)!)) as { kind?: string; sub?: number };
}

async function whoAmI(session: Session): Promise<string> {
  const me = await http.request<{ username: string }>({ method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo`, auth: session.pod });
  return me.username;
}

beforeAll(async () => {
  sandbox = await startSandbox();
  ca = readFileSync(sandbox.caCertPath, 'utf8');
  const dispatcher = createDispatcher({ ca: [ca] });
  dispatchers.push(dispatcher);
  http = new HttpClient({ transport: dispatcher, retry: { maxAttempts: 3, initialDelayMs: 20, jitter: 0 } });
});

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.close({ force: true })));
  await sandbox?.close();
});

describe('RSA login', () => {
  it('logs in to the pod and the Key Manager, and the tokens work there', async () => {
    const session = newSession(rsa('sandbox-bot'));
    const [podToken, kmToken] = await Promise.all([token(session, 'session'), token(session, 'keyManager')]);
    expect(podToken).not.toBe(kmToken);
    expect(session.logins).toEqual({ session: 1, keyManager: 1 });
    expect(await whoAmI(session)).toBe('sandbox-bot');
    const me = await http.request<{ userId?: number; privateKey?: string }>({ method: 'GET', url: `${sandbox.keyManagerUrl}/keys/me`, auth: session.keyManager });
    expect(typeof me.privateKey).toBe('string');
    // The token is reused, not renewed.
    expect(await session.token('session')).toBe(podToken);
    expect(session.logins).toEqual({ session: 1, keyManager: 1 });
    // The pod token does not open the Key Manager.
    const err = await failure(http.request({ method: 'GET', url: `${sandbox.keyManagerUrl}/keys/me`, headers: { keyManagerToken: podToken } }));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(401);
  });

  it('1,000 concurrent token() calls on a fresh session make exactly one login', async () => {
    const session = newSession(rsa('sandbox-bot'));
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => session.token('session')));
    expect(new Set(tokens).size).toBe(1);
    secrets.add(tokens[0]!);
    expect(session.logins).toEqual({ session: 1, keyManager: 0 });
    expect(await whoAmI(session)).toBe('sandbox-bot');
  });
});

describe('refresh', () => {
  it('returns true without a login when the token has already changed', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const current = await token(session, 'session');
    clock.t += 10 * MIN_REFRESH_MS;
    expect(await session.refresh('session', 'an-older-token')).toBe(true);
    expect(await session.token('session')).toBe(current);
    expect(session.logins.session).toBe(1);
  });

  it('honours the minimum interval between logins', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const first = await token(session, 'session');
    clock.t += MIN_REFRESH_MS - 1;
    expect(await session.refresh('session', first)).toBe(false);
    expect(await session.token('session')).toBe(first);
    expect(session.logins.session).toBe(1);
    clock.t += 1;
    expect(await session.refresh('session', first)).toBe(true);
    const second = await token(session, 'session');
    expect(second).not.toBe(first);
    expect(session.logins.session).toBe(2);
    expect(await whoAmI(session)).toBe('sandbox-bot');
    // The interval starts again from the new login.
    clock.t += MIN_REFRESH_MS / 2;
    expect(await session.refresh('session', second)).toBe(false);
    expect(session.logins.session).toBe(2);
    // Per target: the Key Manager has its own interval.
    await token(session, 'keyManager');
    expect(session.logins.keyManager).toBe(1);
  });

  it('concurrent refreshes of the same token share one login', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const first = await token(session, 'keyManager');
    clock.t += 2 * MIN_REFRESH_MS;
    const results = await Promise.all(Array.from({ length: 50 }, () => session.refresh('keyManager', first)));
    expect(results.every((r) => r)).toBe(true);
    expect(session.logins.keyManager).toBe(2);
    const second = await token(session, 'keyManager');
    expect(second).not.toBe(first);
    // Token() calls racing a refresh also wait for it rather than logging in again.
    clock.t += 2 * MIN_REFRESH_MS;
    const [refreshed, ...tokens] = await Promise.all([session.refresh('keyManager', second), ...Array.from({ length: 20 }, () => session.token('keyManager'))]);
    expect(refreshed).toBe(true);
    expect(session.logins.keyManager).toBe(3);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(second);
    secrets.add(tokens[0]!);
  });

  it('a 401 through the pod hook refreshes once and the request succeeds with the new token', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const first = await token(session, 'session');
    clock.t += 2 * MIN_REFRESH_MS;
    // Log out the current token on the server, so that the next request with it gets a 401.
    await http.request({ method: 'POST', url: `${sandbox.sessionAuthUrl}/v1/logout`, headers: { sessionToken: first } });
    expect(await whoAmI(session)).toBe('sandbox-bot');
    expect(session.logins.session).toBe(2);
    secrets.add(await session.token('session'));
  });

  it('caller-supplied tokens: used as given, never renewed (refresh is false), and a refusal names no token', async () => {
    const real = await login(sandbox, 'alice');
    secrets.add(real.session);
    secrets.add(real.km);
    const session = newSession({ kind: 'tokens', username: 'alice', sessionToken: new Secret('session token', real.session), keyManagerToken: new Secret('Key Manager token', real.km) });
    expect(await session.token('session')).toBe(real.session);
    expect(await session.token('keyManager')).toBe(real.km);
    expect(await whoAmI(session)).toBe('alice');
    expect(await session.refresh('session', real.session)).toBe(false);
    expect(await session.refresh('keyManager', real.km)).toBe(false);
    expect(await session.refresh('session', 'something-else')).toBe(true);
    expect(session.logins).toEqual({ session: 0, keyManager: 0 });

    // A revoked supplied token: the 401 is final.
    await http.request({ method: 'POST', url: `${sandbox.sessionAuthUrl}/v1/logout`, headers: { sessionToken: real.session } });
    const err = await failure(whoAmI(session));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(401);
    expect(session.logins).toEqual({ session: 0, keyManager: 0 });
  });
});

describe('caller-supplied tokens with a refresh callback (tokens.refresh)', () => {
  /** Supplied tokens (stale unless given) and a refresh callback logging alice in afresh, counting its calls. */
  function suppliedSession(clock: Clock = { t: Date.now() }, refresh?: () => Promise<{ session: string; keyManager: string }>) {
    const calls = { n: 0 };
    const callback = async () => {
      calls.n++;
      if (refresh !== undefined) return refresh();
      const fresh = await login(sandbox, 'alice');
      secrets.add(fresh.session);
      secrets.add(fresh.km);
      return { session: fresh.session, keyManager: fresh.km };
    };
    const session = newSession({
      kind: 'tokens', sessionToken: new Secret('session token', 'stale-session'), keyManagerToken: new Secret('Key Manager token', 'stale-km'), refresh: callback,
    }, clock);
    return { session, calls };
  }

  it('renews both tokens on a 401: one call for many concurrent refusals, of either kind; the requests then succeed', async () => {
    const { session, calls } = suppliedSession();
    const pod = Array.from({ length: 10 }, () => whoAmI(session));
    const km = Array.from({ length: 5 }, () => http.request<{ privateKey?: unknown }>({ method: 'GET', url: `${sandbox.keyManagerUrl}/keys/me`, auth: session.keyManager }));
    expect(await Promise.all(pod)).toEqual(Array(10).fill('alice'));
    expect((await Promise.all(km)).every((r) => typeof r.privateKey === 'string')).toBe(true);
    expect(calls.n).toBe(1);
    expect(session.logins).toEqual({ session: 1, keyManager: 1 });
    expect(await session.token('session')).not.toBe('stale-session');
    // The bearer tokens derived from the session work with the renewed one.
    expect((await session.objectStore.headers()).authorization).toMatch(/^Bearer /);
  });

  it('asks at most once per minRefreshIntervalMs: a 401 within it stands (UNAUTHORIZED)', async () => {
    const clock = { t: Date.now() };
    const { session, calls } = suppliedSession(clock, async () => ({ session: 'still-stale', keyManager: 'still-stale-km' }));
    const first = await failure(whoAmI(session));
    expect(first).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(calls.n).toBe(1);
    expect(await failure(whoAmI(session))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(calls.n).toBe(1);
    clock.t += MIN_REFRESH_MS;
    expect(await failure(whoAmI(session))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(calls.n).toBe(2);
  });

  it('a callback that rejects, or gives no tokens, fails each refused request with AUTHENTICATION_FAILED (refresh-failed), naming its target', async () => {
    const cause = new Error('the backend said no');
    // Slow enough that both refusals arrive while it runs (after it, within the interval, a 401 would stand).
    const rejecting = suppliedSession(undefined, async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      throw cause;
    });
    const [pod, km] = await Promise.all([
      authFailure(whoAmI(rejecting.session)),
      authFailure(http.request({ method: 'GET', url: `${sandbox.keyManagerUrl}/keys/me`, auth: rejecting.session.keyManager })),
    ]);
    expect(rejecting.calls.n).toBe(1);
    expect(pod).toMatchObject({ reason: 'refresh-failed', target: 'session', retryable: false, message: 'Pod authentication failed (refresh-failed): the tokens.refresh callback rejected' });
    expect(pod.cause).toBe(cause);
    expect(km).toMatchObject({ reason: 'refresh-failed', target: 'keyManager' });

    for (const [answer, detail] of [
      [{ session: 'only-this' }, 'gave no keyManager token'],
      [{ session: '', keyManager: '' }, 'gave no session and no keyManager token'],
      [null, 'gave no session and no keyManager token (expected {session, keyManager}, non-empty strings; received null)'],
      ['a-token', 'received a string of 7 characters'],
    ] as const) {
      const { session } = suppliedSession(undefined, async () => answer as never);
      const err = await authFailure(whoAmI(session));
      expect(err.reason).toBe('refresh-failed');
      expect(err.message).toContain(detail);
      expect(err.message).not.toContain('only-this');
      expect(err.message).not.toContain('a-token');
    }
  });
});

describe('AuthenticationError', () => {
  it("unknown user: a key for a username the pod doesn't have", async () => {
    const session = newSession(rsa('nobody-here', 'alice'));
    for (const target of ['session', 'keyManager'] as const) {
      const err = await authFailure(session.token(target));
      expect(err.reason).toBe('unknown-user');
      expect(err.target).toBe(target);
      expect(err.retryable).toBe(false);
    }
    expect(session.logins).toEqual({ session: 0, keyManager: 0 });
  });

  it('bad signature: the wrong key for a known user', async () => {
    const session = newSession(rsa('sandbox-bot', 'alice'));
    for (const target of ['session', 'keyManager'] as const) {
      const err = await authFailure(session.token(target));
      expect(err.reason).toBe('bad-signature');
      expect(err.target).toBe(target);
      expect(err.cause).toBeInstanceOf(HttpStatusError);
      expect((err.cause as HttpStatusError).status).toBe(401);
    }
  });

  it('certificate refused: a client certificate issued by another CA', async () => {
    const stranger = await loadOrCreateTls(undefined);
    const cert = await issueClientCertificate(stranger, 'sandbox-bot');
    const session = newSession({ kind: 'certificate', username: 'sandbox-bot', certPem: cert.certPem, keyPem: new Secret('private key', cert.keyPem) }, undefined,
      certificateClients({ certPem: cert.certPem, keyPem: cert.keyPem }));
    for (const target of ['session', 'keyManager'] as const) {
      const err = await authFailure(session.token(target));
      expect(err.reason).toBe('certificate-refused');
      expect(err.target).toBe(target);
    }
    expect(session.logins).toEqual({ session: 0, keyManager: 0 });
  });

  it('certificate credentials without a certificate client are refused without a request', async () => {
    const files = sandbox.identities.get('sandbox-bot')!;
    const session = newSession({ kind: 'certificate', username: 'sandbox-bot', pkcs12: new Secret('PKCS#12', readFileSync(files.pkcs12Path!)), password: new Secret('password', files.pkcs12Password!) });
    const err = await authFailure(session.token('session'));
    expect(err.reason).toBe('certificate-refused');
  });
});

describe('certificate login', () => {
  it("logs in with the bot's PKCS#12 to the pod and the Key Manager", async () => {
    const files = sandbox.identities.get('sandbox-bot')!;
    const pkcs12 = new Uint8Array(readFileSync(files.pkcs12Path!));
    const session = newSession({ kind: 'certificate', username: 'sandbox-bot', pkcs12: new Secret('PKCS#12', pkcs12), password: new Secret('password', files.pkcs12Password!) }, undefined,
      certificateClients({ pfx: pkcs12, passphrase: files.pkcs12Password! }));
    await token(session, 'session');
    await token(session, 'keyManager');
    expect(session.logins).toEqual({ session: 1, keyManager: 1 });
    expect(await whoAmI(session)).toBe('sandbox-bot');
    await http.request({ method: 'GET', url: `${sandbox.keyManagerUrl}/keys/me`, auth: session.keyManager });
  });
});

describe('service token hooks', () => {
  it('datafeed: a datafeed2 bearer the sandbox accepts, fetched once while valid', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const before = sandbox.faults.counts.delayed;
    sandbox.faults.add({ path: '/settings-web/api/v1/tokens', latencyMs: 1 });
    try {
      const first = await session.datafeed.headers();
      const again = await session.datafeed.headers();
      expect(sandbox.faults.counts.delayed - before).toBe(1);
      expect(again).toEqual(first);
      const bearer = /^Bearer (.+)$/.exec(first.authorization ?? '')?.[1];
      expect(bearer).toBeDefined();
      secrets.add(bearer!);
      expect(claimsOf(bearer!).kind).toBe('datafeed');
      expect(bearer).not.toBe(await session.token('session'));
      const feeds = await http.request<unknown[]>({ method: 'GET', url: `${sandbox.podUrl}/datafeed2/api/v1/feeds`, auth: session.datafeed });
      expect(Array.isArray(feeds)).toBe(true);
      // Without it the same request is refused, so the bearer is what was accepted.
      const err = await failure(http.request({ method: 'GET', url: `${sandbox.podUrl}/datafeed2/api/v1/feeds` }));
      expect((err as HttpStatusError).status).toBe(401);
      // After a 401, the hook drops the cached token and the next one is new.
      clock.t += 2 * MIN_REFRESH_MS;
      expect(await session.datafeed.onUnauthorized!(first)).toBe(true);
      const renewed = await session.datafeed.headers();
      expect(renewed.authorization).not.toBe(first.authorization);
      secrets.add(renewed.authorization!.slice(7));
      expect(sandbox.faults.counts.delayed - before).toBe(2);
    } finally {
      sandbox.faults.clear();
    }
  });

  it('objectStore: POST /login/idm/tokens is cached until near expiry, and the bearer opens the Object Store', async () => {
    const clock = { t: Date.now() };
    const session = newSession(rsa('sandbox-bot'), clock);
    const userId = (await http.request<{ id: number }>({ method: 'GET', url: `${sandbox.podUrl}/pod/v2/sessioninfo`, auth: session.pod })).id;
    const before = sandbox.faults.counts.delayed;
    sandbox.faults.add({ path: '/login/idm/tokens', method: 'POST', latencyMs: 1 });
    try {
      const first = await session.objectStore.headers();
      const again = await session.objectStore.headers();
      expect(sandbox.faults.counts.delayed - before).toBe(1);
      expect(again).toEqual(first);
      const bearer = first.authorization!.slice('Bearer '.length);
      secrets.add(bearer);
      expect(claimsOf(bearer)).toMatchObject({ kind: 'api', sub: userId });
      const partition = await http.request<{ hash?: string }>({
        method: 'POST', url: `${sandbox.podUrl}/object/v1/partitions/upsert`, auth: session.objectStore,
        json: { partitionId: { name: 'session-test', userId } },
      });
      expect(typeof partition.hash).toBe('string');
      expect(sandbox.faults.counts.delayed - before).toBe(1);

      // The sandbox's bearer lives 300 s; the session renews it 30 s early.
      clock.t += 269_000;
      await session.objectStore.headers();
      expect(sandbox.faults.counts.delayed - before).toBe(1);
      clock.t += 2_000;
      const renewed = await session.objectStore.headers();
      expect(sandbox.faults.counts.delayed - before).toBe(2);
      expect(renewed.authorization).not.toBe(first.authorization);
      secrets.add(renewed.authorization!.slice(7));
    } finally {
      sandbox.faults.clear();
    }
  });
});

describe('2xx answers without the field the session needs', () => {
  it('are MalformedResponseErrors naming the route, never an invented HTTP status: login, datafeed token, Object Store token', async () => {
    // A loopback server standing in for a broken pod that answers 200 with an empty JSON body everywhere.
    const broken = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(_req.url?.includes('settings-web') === true ? '[]' : '{}'));
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const urls = { podUrl: url, keyManagerUrl: `${url}/relay`, sessionAuthUrl: `${url}/sessionauth`, keyAuthUrl: `${url}/keyauth` };
      const rsaSession = newSession({ kind: 'rsa', username: 'someone', privateKeyPem: new Secret('private key', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) }, undefined, urls);
      const login = await failure(rsaSession.token('session'));
      expect(login).toBeInstanceOf(MalformedResponseError);
      expect(login).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'POST /login/pubkey/authenticate', retryable: false });
      expect((login as Error).message).toBe('POST /login/pubkey/authenticate answered with a malformed response: no token');

      const supplied = newSession({ kind: 'tokens', username: 'someone', sessionToken: new Secret('session token', 'supplied-session'), keyManagerToken: new Secret('Key Manager token', 'supplied-km') }, undefined, urls);
      expect(await failure(Promise.resolve(supplied.datafeed.headers()))).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /settings-web/api/v1/tokens', message: expect.stringContaining('no datafeed2 token') });
      expect(await failure(Promise.resolve(supplied.objectStore.headers()))).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'POST /login/idm/tokens', message: expect.stringContaining('no access token') });
    } finally {
      broken.closeAllConnections();
      await new Promise<void>((resolve) => broken.close(() => resolve()));
    }
  });
});

describe('no token in any error', () => {
  it('errors thrown in this file carry no token, in message, JSON or inspection (causes included)', () => {
    expect(errors.length).toBeGreaterThanOrEqual(10);
    expect(secrets.size).toBeGreaterThanOrEqual(10);
    for (const error of errors) {
      const texts = [JSON.stringify(error), inspect(error, { depth: 6, showHidden: true }), String(error)];
      for (let e: unknown = error, i = 0; e instanceof Error && i < 6; e = e.cause, i++) texts.push(e.message, JSON.stringify(e));
      for (const text of texts) {
        expect(text).not.toMatch(JWT);
        for (const secret of secrets) expect(text).not.toContain(secret);
      }
    }
  });
});
