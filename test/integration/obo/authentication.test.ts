// OBO authentication against the sandbox over HTTPS on 127.0.0.1 (docs/symphony-apis.md §1.7): the app with its RSA
// key and with its certificate, the app token cached across users, users by id and by name, the app not installed,
// the app disabled or its key not the registered one, a JWT too long-lived or expired, and the renewal of both
// tokens after a 401 or an expiry.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRsaKeyPair, RsaPrivateKey, signJwtRs512 } from '../../../src/crypto/rsa.js';
import { AppNotInstalledError, AuthenticationError } from '../../../src/errors.js';
import { OboApp } from '../../../src/obo/app.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appConfig } from '../../helpers/client.js';
import { rejection } from '../../helpers/errors.js';
import { call } from '../../helpers/sandbox.js';

const APP = 'sandbox-crm';
let sandbox: RunningSandbox;
const apps: OboApp[] = [];
const open = async (config: Parameters<typeof OboApp.create>[0]) => {
  const app = await OboApp.create(config);
  apps.push(app);
  return app;
};

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await sandbox?.close();
});

describe('OBO app and user authentication', () => {
  it('authenticates the app once (RSA) and acts for users by name and by id with its cached token', async () => {
    const app = await open(appConfig(sandbox, APP));
    const alice = await app.user('alice');
    expect(await alice.me()).toMatchObject({ username: 'alice' });
    const bobId = sandbox.identities.get('bob')!.userId;
    const bob = await app.user(bobId);
    expect(bob.user).toBe(bobId);
    expect((await bob.me()).id).toBe(bobId);
    expect(app.stats).toEqual({ appLogins: 1, userLogins: 2 });
    expect([alice.logins, bob.logins]).toEqual([1, 1]);
  });

  it('authenticates the app with its certificate (CN = app id) and reads the certificate variant\'s sessionToken', async () => {
    const app = await open(appConfig(sandbox, APP, { useCertificate: true }));
    const alice = await app.user('alice');
    expect((await alice.me()).username).toBe('alice');
    const byId = await app.user(sandbox.identities.get('bob')!.userId);
    expect((await byId.me()).username).toBe('bob');
    expect(app.stats).toEqual({ appLogins: 1, userLogins: 2 });
  });

  it('refuses a user the app is not installed for, or who does not exist, as APP_NOT_INSTALLED, with either credential', async () => {
    for (const useCertificate of [false, true]) {
      // A refused user may mean an expired app token: the app token is renewed then, at most once per
      // auth.minRefreshIntervalMs (here the default, 1 s), so refusals do not become app authentications.
      const app = await open(appConfig(sandbox, APP, { useCertificate, allegro: { auth: { minRefreshIntervalMs: 1000 } } }));
      const bot = await rejection(app.user('sandbox-bot'));
      expect(bot).toBeInstanceOf(AppNotInstalledError);
      expect(bot).toMatchObject({ code: 'APP_NOT_INSTALLED', appId: APP, user: 'sandbox-bot' });
      expect(await rejection(app.user(sandbox.identities.get('sandbox-bot')!.userId))).toMatchObject({ code: 'APP_NOT_INSTALLED' });
      // An unknown user: 401 with RSA, 404 with a certificate (authenticator-api-public-deprecated.yaml).
      const unknown = await rejection(app.user('nobody-here'));
      expect((unknown as { code: string }).code).toBe(useCertificate ? 'NOT_FOUND' : 'APP_NOT_INSTALLED');
      // The app itself was accepted: one app authentication only.
      expect(app.stats.appLogins).toBe(1);
    }
  });

  it('refuses an app whose key is not the registered one, an unknown app, and a disabled app (AUTHENTICATION_FAILED, target app)', async () => {
    const other = await generateRsaKeyPair();
    const keyFile = join(tmpdir(), `allegro-obo-wrong-key-${process.pid}.pem`);
    await writeFile(keyFile, other.privateKeyPem, { mode: 0o600 });
    const wrongKey = await open({ ...appConfig(sandbox, APP), app: { appId: APP, privateKey: { path: keyFile } } });
    const refused = await rejection(wrongKey.authenticate());
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ code: 'AUTHENTICATION_FAILED', target: 'app', reason: 'bad-signature' });
    const unknown = await open({ ...appConfig(sandbox, APP), app: { appId: 'no-such-app', privateKey: { path: keyFile } } });
    expect(await rejection(unknown.user('alice'))).toMatchObject({ code: 'AUTHENTICATION_FAILED', target: 'app' });

    const app = await open(appConfig(sandbox, APP));
    const alice = await app.user('alice');
    await sandbox.admin.disableApp(APP);
    try {
      expect(await rejection((await open(appConfig(sandbox, APP))).authenticate())).toMatchObject({ code: 'AUTHENTICATION_FAILED', target: 'app', reason: 'refused' });
      expect(await rejection(open(appConfig(sandbox, APP, { useCertificate: true })).then((a) => a.authenticate()))).toMatchObject({ target: 'app', reason: 'certificate-refused' });
      // The session it opened is refused too; renewing it needs the app, which the pod refuses.
      expect(await rejection(alice.me())).toMatchObject({ code: 'AUTHENTICATION_FAILED', target: 'app' });
    } finally {
      await sandbox.admin.enableApp(APP);
    }
    expect((await alice.me()).username).toBe('alice');
  });

  it('answers an app login with a Token whose authorizationToken, of the same session, also acts for a user', async () => {
    const key = new RsaPrivateKey(readFileSync(sandbox.apps.get(APP)!.privateKeyPath!, 'utf8'));
    const files = sandbox.apps.get(APP)!;
    const answers = [
      await call(sandbox, 'POST', '/login/pubkey/app/authenticate', { json: { token: await signJwtRs512(key, { sub: APP }) } }),
      await call(sandbox, 'POST', '/sessionauth/v1/app/authenticate', { cert: { cert: readFileSync(files.certificatePath!, 'utf8'), key: readFileSync(files.certificateKeyPath!, 'utf8') } }),
    ];
    for (const answer of answers) {
      expect(Object.keys(answer.json).sort()).toEqual(['authorizationToken', 'name', 'token']);
      const { token, authorizationToken } = answer.json as { token: string; authorizationToken: string };
      expect(authorizationToken).not.toBe(token);
      const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number; sid: string; kind: string };
      expect(claims(authorizationToken)).toMatchObject({ kind: 'app', sid: claims(token).sid, exp: expect.any(Number) });
      expect(claims(authorizationToken).exp).toBeLessThan(claims(token).exp);
      const user = await call(sandbox, 'POST', '/login/pubkey/app/username/alice/authenticate', { headers: { sessionToken: authorizationToken } });
      expect(user.status).toBe(200);
    }
  });

  it('refuses an app JWT that expires more than 5 minutes ahead, or has expired (401 JSON)', async () => {
    const key = new RsaPrivateKey(readFileSync(sandbox.apps.get(APP)!.privateKeyPath!, 'utf8'));
    const login = async (now: number) => call(sandbox, 'POST', '/login/pubkey/app/authenticate', { json: { token: await signJwtRs512(key, { sub: APP, lifetimeSeconds: 300 }, now) } });
    expect((await login(Date.now())).status).toBe(200);
    for (const now of [Date.now() + 120_000, Date.now() - 400_000]) {
      const refused = await login(now);
      expect(refused.status).toBe(401);
      expect(refused.json).toMatchObject({ code: 401, message: expect.stringMatching(/^Authentication failed: /) });
    }
  });

  it('renews a refused user token with the cached app token, and the app token only when it is refused too', async () => {
    const app = await open(appConfig(sandbox, APP));
    const alice = await app.user('alice');
    sandbox.faults.add({ path: '/pod/v2/user/presence', method: 'GET', status: 401, times: 1 });
    expect((await alice.presence()).userId).toBe(sandbox.identities.get('alice')!.userId);
    expect(app.stats).toEqual({ appLogins: 1, userLogins: 2 });
    expect(alice.logins).toBe(2);
    // The app token refused at the user's renewal: the app authenticates again, once.
    sandbox.faults.add({ path: '/pod/v2/user/presence', method: 'GET', status: 401, times: 1 });
    sandbox.faults.add({ path: '/login/pubkey/app/username/**', method: 'POST', status: 401, times: 1 });
    await alice.presence();
    expect(app.stats).toEqual({ appLogins: 2, userLogins: 3 });
  });

  it('shows no token or key in what prints or serializes: the app, its sessions, its configuration, its errors', async () => {
    const app = await open(appConfig(sandbox, APP));
    const alice = await app.user('alice');
    await alice.me();
    const refused = await rejection(app.user('sandbox-bot'));
    const key = readFileSync(sandbox.apps.get(APP)!.privateKeyPath!, 'utf8');
    const printed = [inspect(app, { depth: 8, showHidden: true }), inspect(alice, { depth: 8, showHidden: true }), JSON.stringify(app.config), String(refused), inspect(refused, { depth: 8 })].join('\n');
    expect(printed).not.toContain(key.split('\n')[1]!);
    // No JWT-shaped token (header.payload.signature) anywhere.
    expect(printed).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
    expect(printed).toContain('[redacted private key]');
  });

  it('renews both tokens once for many concurrent calls after they expired', async () => {
    // Token expiries are rounded up to whole seconds: a 2 s token lives 2 to 3 s, so the renewed ones outlast the
    // renewals even on a loaded machine; wait past the longest lifetime.
    const short = await startSandbox({ config: { sessionTtlSeconds: 2 } });
    try {
      const app = await OboApp.create(appConfig(short, APP));
      try {
        const alice = await app.user('alice');
        await new Promise((r) => setTimeout(r, 3_100));
        const answers = await Promise.all(Array.from({ length: 8 }, () => alice.presence()));
        expect(answers).toHaveLength(8);
        expect(app.stats).toEqual({ appLogins: 2, userLogins: 2 });
      } finally {
        await app.close();
      }
    } finally {
      await short.close();
    }
  });
});
