// Permission enforcement on the OBO-enabled endpoints, over HTTPS against the sandbox (docs/symphony-apis.md §2): for
// each family of endpoints, the call works with the permission and is refused (PermissionDeniedError naming it)
// without; endpoints that are not OBO-enabled (datafeed, keys, keystore, Object Store) refuse an OBO user token with a
// plain 403, and there is no Key Manager token; the user's own rules (connections, files) still hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OboPermission } from '../../../src/errors.js';
import { PermissionDeniedError } from '../../../src/errors.js';
import { OboApp } from '../../../src/obo/app.js';
import { OBO_PERMISSIONS } from '../../../src/obo/permissions.js';
import type { OboSession } from '../../../src/obo/session.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appConfig } from '../../helpers/client.js';
import { rejection } from '../../helpers/errors.js';
import { appLogin, call, login, oboLogin } from '../../helpers/sandbox.js';

const APP = 'sandbox-crm';
const GRANTABLE = OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER');
let sandbox: RunningSandbox;
let app: OboApp;
let alice: OboSession;
let bobId: number;
let roomId: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  await sandbox.admin.setAppPermissions(APP, GRANTABLE);
  app = await OboApp.create(appConfig(sandbox, APP));
  alice = await app.user('alice');
  bobId = sandbox.identities.get('bob')!.userId;
  roomId = await alice.createRoom({ name: 'OBO room' });
});
afterAll(async () => {
  await app?.close();
  await sandbox?.close();
});

/** Each family: the permission its calls need, and a call of it. */
const FAMILIES: Array<[string, OboPermission, () => Promise<unknown>]> = [
  ['session info', 'GET_BASIC_USER_INFO', () => alice.me()],
  ['user lookup', 'GET_BASIC_CONTACT_INFO', () => alice.users({ usernames: ['bob'] })],
  ['own presence', 'GET_PRESENCE', () => alice.presence()],
  ['another user\'s presence', 'GET_PRESENCE', () => alice.userPresence(bobId)],
  ['presence interest', 'GET_PRESENCE', () => alice.registerPresenceInterest([bobId])],
  ['setting presence', 'SET_PRESENCE', () => alice.setPresence('BUSY')],
  ['connections', 'GET_USER_CONNECTIONS', () => alice.connections('ALL')],
  ['a connection request', 'REQUEST_USER_CONNECTIONS', () => alice.requestConnection(bobId)],
  ['IM creation', 'SEND_MESSAGES', () => alice.createIm([bobId])],
  ['stream info', 'SEND_MESSAGES', () => alice.streamInfo(roomId)],
  ['allowed file types', 'SEND_MESSAGES', () => alice.allowedFileTypes()],
  ['stream list', 'LIST_USER_STREAMS', () => alice.streams({ types: ['ROOM'] })],
  ['room creation (MANAGE_ROOMS)', 'MANAGE_ROOMS', () => alice.createRoom({ name: 'another' })],
  ['room creation (CREATE_USER_STREAM)', 'CREATE_USER_STREAM', () => alice.createRoom({ name: 'yet another' })],
  ['room info', 'MANAGE_ROOMS', () => alice.roomInfo(roomId)],
  ['room search', 'MANAGE_ROOMS', () => alice.searchRooms({ query: 'OBO' })],
  ['room update', 'MANAGE_ROOMS', () => alice.updateRoom(roomId, { description: 'by the CRM' })],
  ['room activation', 'MANAGE_ROOMS', () => alice.setRoomActive(roomId, true)],
  ['room membership', 'MANAGE_ROOMS', () => alice.addMember(roomId, bobId)],
  ['following', 'MANAGE_USER_FOLLOWING', () => alice.follow(bobId, [sandbox.identities.get('alice')!.userId])],
  ['unfollowing', 'MANAGE_USER_FOLLOWING', () => alice.unfollow(bobId, [sandbox.identities.get('alice')!.userId])],
];

describe('OBO permissions', () => {
  for (const [family, permission, op] of FAMILIES) {
    it(`${family}: allowed with ${permission}, refused without it, naming it`, async () => {
      await op();
      await sandbox.admin.setAppPermissions(APP, GRANTABLE.filter((p) => p !== permission));
      try {
        const refused = await rejection(op());
        expect(refused).toBeInstanceOf(PermissionDeniedError);
        expect(refused).toMatchObject({ code: 'OBO_PERMISSION_DENIED', permission, status: 403 });
      } finally {
        await sandbox.admin.setAppPermissions(APP, GRANTABLE);
      }
    });
  }

  it('room members: with MANAGE_ROOMS or LIST_USER_STREAMS, refused without both', async () => {
    await sandbox.admin.setAppPermissions(APP, GRANTABLE.filter((p) => p !== 'MANAGE_ROOMS'));
    expect((await alice.members(roomId)).length).toBeGreaterThan(0);
    await sandbox.admin.setAppPermissions(APP, GRANTABLE.filter((p) => p !== 'MANAGE_ROOMS' && p !== 'LIST_USER_STREAMS'));
    try {
      expect(await rejection(alice.members(roomId))).toMatchObject({ code: 'OBO_PERMISSION_DENIED', permission: 'MANAGE_ROOMS' });
    } finally {
      await sandbox.admin.setAppPermissions(APP, GRANTABLE);
    }
  });

  it('an app with no permission at all can still act as the user: ACT_AS_USER is implicit, every call refused', async () => {
    await sandbox.admin.setAppPermissions(APP, []);
    try {
      const bob = await app.user('bob');
      expect(await rejection(bob.me())).toMatchObject({ permission: 'GET_BASIC_USER_INFO' });
    } finally {
      await sandbox.admin.setAppPermissions(APP, GRANTABLE);
    }
  });
});

describe('following on behalf of a user', () => {
  it('makes the user follow another, which the pod lists (followers are not OBO-enabled: the bot reads them)', async () => {
    const aliceId = sandbox.identities.get('alice')!.userId;
    await alice.follow(bobId, [aliceId]);
    const bot = await login(sandbox, 'sandbox-bot');
    expect((await call(sandbox, 'GET', `/pod/v1/user/${bobId}/followers`, { headers: bot.headers })).json).toEqual({ count: 1, followers: [aliceId] });
    expect(await rejection(alice.followers(bobId))).toMatchObject({ code: 'FORBIDDEN' });
    await alice.unfollow(bobId, [aliceId]);
    expect((await call(sandbox, 'GET', `/pod/v1/user/${bobId}/followers`, { headers: bot.headers })).json.count).toBe(0);
  });
});

describe('what an OBO user token cannot do', () => {
  it('gets no datafeed, no keys, no keystore, no Object Store (nor its feeds), no history: a plain 403 naming no permission', async () => {
    const token = await oboLogin(sandbox, await appLogin(sandbox, APP), 'alice');
    const headers = { sessionToken: token };
    const refusals = [
      await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers }),
      await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: { authorization: `Bearer ${token}` }, json: {} }),
      await call(sandbox, 'GET', `/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=0&userId=${sandbox.identities.get('alice')!.userId}`, { headers }),
      await call(sandbox, 'GET', `/keystore/wrappedContentKeys/one?threadId=${roomId}&rotationId=0&userId=${sandbox.identities.get('alice')!.userId}`, { headers }),
      await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${roomId}&from=0&limit=5`, { headers }),
      await call(sandbox, 'GET', '/object/v1/partitions/AAAA', { headers: { authorization: `Bearer ${token}` } }),
      await call(sandbox, 'POST', '/object/v1/feeds/upsert', { headers: { authorization: `Bearer ${token}` }, json: { name: 'obo', partitions: [] } }),
      await call(sandbox, 'POST', '/login/idm/tokens', { headers }),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(403);
      expect(r.json.message).toMatch(/not available to an on-behalf-of session/);
      expect(OBO_PERMISSIONS.some((p) => (r.json.message as string).includes(p))).toBe(false);
    }
    // The Key Manager's own endpoints take a Key Manager token, which no OBO authentication gives.
    expect((await call(sandbox, 'GET', '/relay/keys/me', { headers: { keyManagerToken: token } })).status).toBe(401);
    // And the user authentication answered a session token only.
    const reply = await call(sandbox, 'POST', '/login/pubkey/app/username/alice/authenticate', { headers: { sessionToken: await appLogin(sandbox, APP) } });
    expect(Object.keys(reply.json).sort()).toEqual(['name', 'token']);
    expect(reply.json.name).toBe('sessionToken');
  });

  it('a session of an app uninstalled for the user, or disabled, is refused (401): its renewal is APP_NOT_INSTALLED', async () => {
    const bob = await app.user('bob');
    await sandbox.admin.uninstallApp(APP, [bobId]);
    try {
      expect(await rejection(bob.presence())).toMatchObject({ code: 'APP_NOT_INSTALLED', user: 'bob' });
    } finally {
      await sandbox.admin.installApp(APP, [bobId]);
    }
    expect((await bob.presence()).userId).toBe(bobId);
  });
});

describe('the user\'s own rules', () => {
  it('an IM with a user the user is not connected to is refused when the pod requires connections', async () => {
    await sandbox.admin.setImRequiresConnection(true);
    try {
      const refused = await rejection(alice.createIm([sandbox.identities.get('sandbox-bot')!.userId]));
      expect(refused).toMatchObject({ code: 'FORBIDDEN' });
      expect(refused).not.toBeInstanceOf(PermissionDeniedError);
      const bob = await app.user('bob');
      await alice.requestConnection(bobId);
      await bob.acceptConnection(sandbox.identities.get('alice')!.userId);
      expect(await alice.connection(bobId)).toMatchObject({ status: 'ACCEPTED' });
      expect(await alice.createIm([bobId])).toMatch(/^[A-Za-z0-9_-]+$/);
    } finally {
      await sandbox.admin.setImRequiresConnection(false);
    }
  });
});
