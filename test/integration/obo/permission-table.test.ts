// Every row of the sandbox's table of OBO-enabled endpoints (src/sandbox/obo-permissions.ts, docs/symphony-apis.md
// §2.2), over HTTPS with an OBO user's session token: the call is served with the row's permissions, and refused
// (403 naming the permission) without each permission the row needs (for an "any" row: served with any one of them,
// refused only without all). Rows of endpoints the sandbox does not serve answer 404 (there is no route to check a
// permission for). Each case names the permissions docs/symphony-apis.md §2.2 gives its endpoint, independently of the
// table; the test fails for a row that has no case here, a case that matches no row, and a row that needs other
// permissions than its case says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OboPermission } from '../../../src/errors.js';
import { OBO_PERMISSIONS } from '../../../src/obo/permissions.js';
import { OBO_ENDPOINTS, type OboEndpoint } from '../../../src/sandbox/obo-permissions.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appLogin, call, login, oboLogin, type Reply, type RequestOptions } from '../../helpers/sandbox.js';

const APP = 'sandbox-crm';
const GRANTABLE = OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER');

/** One call of a row: made once per refusal, then once with every permission (after `prepare`). */
interface Case {
  method: string;
  /** Placeholders `{name}` take the ids of `ids`. */
  path: string;
  options?: (ids: Ids) => RequestOptions;
  /** Done (with full permissions, by others if need be) just before the granted call. */
  prepare?: () => Promise<void>;
  /** The permissions the call needs (docs/symphony-apis.md §2.2): all of them, or with `any` one of them. */
  needs: OboPermission | OboPermission[];
  any?: true;
  /** The answer's status when every permission is granted. */
  status: number;
  /** Check the granted answer further; may record ids for later cases. */
  then?: (reply: Reply) => void;
}

type Ids = Record<string, string | number>;
const ids: Ids = {};
let sandbox: RunningSandbox;
let appToken: string;
/** Alice's OBO session token. */
let token: string;

const json = (body: (ids: Ids) => unknown) => (i: Ids): RequestOptions => ({ json: body(i) });
const message = (text: string, extra: Record<string, string> = {}) => (): RequestOptions => ({
  multipart: [{ name: 'message', value: `<messageML>${text}</messageML>` }, ...Object.entries(extra).map(([name, value]) => ({ name, value }))],
});

/** The calls, in an order where each finds what it needs (a room before its update, a message before its update). */
const CASES: Case[] = [
  // Session and users
  { method: 'GET', path: '/pod/v2/sessioninfo', needs: 'GET_BASIC_USER_INFO', status: 200, then: (r) => expect(r.json.username).toBe('alice') },
  { method: 'GET', path: '/pod/v3/users?uid={bob}', needs: 'GET_BASIC_CONTACT_INFO', status: 200, then: (r) => expect(r.json.users[0].username).toBe('bob') },
  { method: 'GET', path: '/pod/v2/user?username=bob', needs: ['GET_BASIC_CONTACT_INFO', 'SEND_MESSAGES'], any: true, status: 200 },
  { method: 'POST', path: '/pod/v1/user/search', needs: 'GET_BASIC_CONTACT_INFO', options: json(() => ({ query: 'bob' })), status: 200 },
  { method: 'POST', path: '/pod/v1/user/{bob}/follow', needs: 'MANAGE_USER_FOLLOWING', options: json((i) => ({ followers: [i.alice] })), status: 200 },
  { method: 'POST', path: '/pod/v1/user/{bob}/unfollow', needs: 'MANAGE_USER_FOLLOWING', options: json((i) => ({ followers: [i.alice] })), status: 200 },
  // Presence
  { method: 'GET', path: '/pod/v2/user/presence', needs: 'GET_PRESENCE', status: 200 },
  { method: 'GET', path: '/pod/v3/user/{bob}/presence', needs: 'GET_PRESENCE', status: 200 },
  { method: 'POST', path: '/pod/v1/user/presence/register', needs: 'GET_PRESENCE', options: json((i) => [i.bob]), status: 200 },
  { method: 'POST', path: '/pod/v2/user/presence', needs: 'SET_PRESENCE', options: json(() => ({ category: 'BUSY' })), status: 200 },
  // Connections: Alice asks Carol; Bob asks Alice (accepted, then removed); the bot asks Alice (rejected).
  { method: 'POST', path: '/pod/v1/connection/create', needs: 'REQUEST_USER_CONNECTIONS', options: json((i) => ({ userId: i.carol })), status: 200, then: (r) => expect(r.json.status).toBe('PENDING_OUTGOING') },
  { method: 'GET', path: '/pod/v1/connection/list', needs: 'GET_USER_CONNECTIONS', status: 200 },
  { method: 'GET', path: '/pod/v1/connection/user/{carol}/info', needs: 'GET_USER_CONNECTIONS', status: 200 },
  {
    method: 'POST', path: '/pod/v1/connection/accept', needs: 'REQUEST_USER_CONNECTIONS', options: json((i) => ({ userId: i.bob })), status: 200,
    prepare: () => asOther('bob', 'POST', '/pod/v1/connection/create', { json: { userId: ids.alice } }),
  },
  { method: 'POST', path: '/pod/v1/connection/user/{bob}/remove', needs: 'REQUEST_USER_CONNECTIONS', status: 200 },
  {
    method: 'POST', path: '/pod/v1/connection/reject', needs: 'REQUEST_USER_CONNECTIONS', options: json((i) => ({ userId: i.bot })), status: 200,
    prepare: () => asOther('sandbox-bot', 'POST', '/pod/v1/connection/create', { json: { userId: ids.alice } }),
  },
  // Streams and rooms
  { method: 'POST', path: '/pod/v1/im/create', needs: 'SEND_MESSAGES', options: json((i) => [i.bob]), status: 200, then: (r) => { ids.im = r.json.id as string; } },
  { method: 'POST', path: '/pod/v3/room/create', needs: ['MANAGE_ROOMS', 'CREATE_USER_STREAM'], options: json(() => ({ name: 'Permission table' })), status: 200, then: (r) => { ids.room = r.json.roomSystemInfo.id as string; } },
  { method: 'GET', path: '/pod/v2/streams/{room}/info', needs: 'SEND_MESSAGES', status: 200 },
  { method: 'POST', path: '/pod/v1/streams/list', needs: 'LIST_USER_STREAMS', options: json(() => ({})), status: 200 },
  { method: 'GET', path: '/pod/v3/room/{room}/info', needs: 'MANAGE_ROOMS', status: 200 },
  { method: 'POST', path: '/pod/v3/room/search', needs: 'MANAGE_ROOMS', options: json(() => ({ query: 'Permission' })), status: 200 },
  { method: 'POST', path: '/pod/v3/room/{room}/update', needs: 'MANAGE_ROOMS', options: json(() => ({ description: 'by the CRM' })), status: 200 },
  { method: 'POST', path: '/pod/v1/room/{room}/setActive?active=true', needs: 'MANAGE_ROOMS', status: 200 },
  { method: 'POST', path: '/pod/v1/room/{room}/membership/add', needs: 'MANAGE_ROOMS', options: json((i) => ({ id: i.bob })), status: 200 },
  { method: 'POST', path: '/pod/v1/room/{room}/membership/promoteOwner', needs: 'MANAGE_ROOMS', options: json((i) => ({ id: i.bob })), status: 200 },
  { method: 'POST', path: '/pod/v1/room/{room}/membership/demoteOwner', needs: 'MANAGE_ROOMS', options: json((i) => ({ id: i.bob })), status: 200 },
  { method: 'POST', path: '/pod/v1/room/{room}/membership/remove', needs: 'MANAGE_ROOMS', options: json((i) => ({ id: i.bob })), status: 200 },
  { method: 'GET', path: '/pod/v2/room/{room}/membership/list', needs: ['MANAGE_ROOMS', 'LIST_USER_STREAMS'], any: true, status: 200, then: (r) => expect(r.json).toHaveLength(1) },
  // Messages (the Agent), files, suppression
  { method: 'POST', path: '/agent/v4/stream/{room}/message/create', needs: 'SEND_MESSAGES', options: message('from the CRM'), status: 200, then: (r) => { ids.message = r.json.messageId as string; } },
  { method: 'POST', path: '/agent/v4/stream/{room}/message/{message}/update', needs: 'SEND_MESSAGES', options: message('edited by the CRM'), status: 200, then: (r) => { ids.updated = r.json.messageId as string; } },
  { method: 'POST', path: '/agent/v4/message/blast', needs: 'SEND_MESSAGES', options: (i) => message('to both', { sids: `${i.room},${i.im}` })(), status: 200, then: (r) => expect(r.json.errors).toEqual({}) },
  { method: 'GET', path: '/pod/v1/files/allowedTypes', needs: 'SEND_MESSAGES', status: 200 },
  { method: 'POST', path: '/pod/v1/admin/messagesuppression/{updated}/suppress', needs: 'SUPPRESS_MESSAGES', status: 200, then: (r) => expect(r.json.suppressed).toBe(true) },
  // Signals (the Agent)
  { method: 'POST', path: '/agent/v1/signals/create', needs: 'MANAGE_SIGNALS', options: json(() => ({ name: 'table', query: 'hashtag:table', companyWide: false })), status: 200, then: (r) => { ids.signal = r.json.id as string; } },
  { method: 'GET', path: '/agent/v1/signals/list', needs: 'MANAGE_SIGNALS', status: 200 },
  { method: 'GET', path: '/agent/v1/signals/{signal}/get', needs: 'MANAGE_SIGNALS', status: 200 },
  { method: 'POST', path: '/agent/v1/signals/{signal}/update', needs: 'MANAGE_SIGNALS', options: json(() => ({ name: 'table 2', query: 'cashtag:TBL' })), status: 200 },
  { method: 'POST', path: '/agent/v1/signals/{signal}/subscribe', needs: 'MANAGE_SIGNALS', options: json((i) => [i.bob]), status: 200 },
  { method: 'GET', path: '/agent/v1/signals/{signal}/subscribers', needs: 'MANAGE_SIGNALS', status: 200 },
  { method: 'POST', path: '/agent/v1/signals/{signal}/unsubscribe', needs: 'MANAGE_SIGNALS', options: json((i) => [i.bob]), status: 200 },
  { method: 'POST', path: '/agent/v1/signals/{signal}/delete', needs: 'MANAGE_SIGNALS', status: 200 },
];

/** Rows of endpoints the sandbox does not serve (deprecated versions, presence feeds, share, protocols): 404. */
const UNSERVED: Array<[string, string, OboPermission]> = [
  ['GET', '/pod/v1/sessioninfo', 'GET_BASIC_USER_INFO'],
  ['GET', '/pod/v1/user?username=bob', 'GET_BASIC_CONTACT_INFO'],
  ['GET', '/pod/v1/user/presence', 'GET_PRESENCE'],
  ['GET', '/pod/v1/user/{bob}/presence', 'GET_PRESENCE'],
  ['GET', '/pod/v2/user/{bob}/presence', 'GET_PRESENCE'],
  ['POST', '/pod/v1/presence/feed/create', 'GET_PRESENCE'],
  ['GET', '/pod/v1/presence/feed/f1/read', 'GET_PRESENCE'],
  ['POST', '/pod/v1/presence/feed/f1/delete', 'GET_PRESENCE'],
  ['POST', '/pod/v1/user/presence', 'SET_PRESENCE'],
  ['POST', '/pod/v3/user/presence', 'SET_PRESENCE'],
  ['GET', '/pod/v1/streams/{room}/info', 'SEND_MESSAGES'],
  ['POST', '/agent/v3/stream/{room}/share', 'SEND_MESSAGES'],
  ['GET', '/pod/v1/admin/system/protocols/list', 'SEND_MESSAGES'],
];

beforeAll(async () => {
  sandbox = await startSandbox();
  const carol = await sandbox.admin.createUser({ username: 'carol' });
  Object.assign(ids, {
    alice: sandbox.identities.get('alice')!.userId, bob: sandbox.identities.get('bob')!.userId,
    bot: sandbox.identities.get('sandbox-bot')!.userId, carol: carol.userId,
  });
  appToken = await appLogin(sandbox, APP);
  token = await oboLogin(sandbox, appToken, 'alice');
});
afterAll(async () => {
  await sandbox?.close();
});

/** A call as another user: through the app for Bob, natively for the bot. */
async function asOther(username: string, method: string, path: string, options: RequestOptions): Promise<void> {
  const headers = username === 'bob' ? { sessionToken: await oboLogin(sandbox, appToken, 'bob') } : (await login(sandbox, username)).headers;
  const reply = await call(sandbox, method, path, { ...options, headers });
  expect(reply.status, `${method} ${path} as ${username}`).toBe(200);
}

const fill = (path: string): string => path.replace(/\{(\w+)\}/g, (_, name: string) => {
  if (ids[name] === undefined) throw new Error(`no id ${name} yet`);
  return encodeURIComponent(String(ids[name]));
});

/** Alice's call of `c` through the app holding `permissions`. */
async function attempt(c: Case, permissions: readonly OboPermission[]): Promise<Reply> {
  await sandbox.admin.setAppPermissions(APP, permissions);
  return call(sandbox, c.method, fill(c.path), { ...c.options?.(ids), headers: { sessionToken: token } });
}

const rowOf = (method: string, path: string): OboEndpoint | undefined =>
  OBO_ENDPOINTS.find((r) => r.method === method && r.path.test(path.split('?')[0]!.replace(/\{\w+\}/g, 'x')));
const permissionsOf = (needs: OboPermission | OboPermission[]): OboPermission[] => (typeof needs === 'string' ? [needs] : needs);

describe('the table of OBO-enabled endpoints', () => {
  it('has a case for every row, each needing what the row says, and every case is a row', () => {
    const exercised = new Set<OboEndpoint>();
    const all = [...CASES.map((c) => [c.method, c.path, c.needs, c.any === true] as const), ...UNSERVED.map(([m, p, n]) => [m, p, n, false] as const)];
    for (const [method, path, needs, any] of all) {
      const row = rowOf(method, path);
      expect(row, `${method} ${path}`).toBeDefined();
      expect({ permissions: row!.permissions, need: row!.need }, `${method} ${path}`).toEqual({ permissions: permissionsOf(needs), need: any ? 'any' : 'all' });
      exercised.add(row!);
    }
    // Logout, the ACT_AS_USER row, has its own test below.
    const missing = OBO_ENDPOINTS.filter((r) => !exercised.has(r) && r.pattern !== '/sessionauth/v1/logout').map((r) => `${r.method} ${r.pattern}`);
    expect(missing).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.method} ${c.path}: served with its permissions, refused without them`, async () => {
      const needs = permissionsOf(c.needs);
      const name = `${c.method} ${c.path}`;
      if (c.any !== true) {
        for (const p of needs) {
          const refused = await attempt(c, GRANTABLE.filter((g) => g !== p));
          expect(refused.status, `${name} without ${p}`).toBe(403);
          expect(refused.json.message, name).toContain(`lacks the OBO permission ${p} `);
        }
      } else {
        const refused = await attempt(c, GRANTABLE.filter((g) => !needs.includes(g)));
        expect(refused.status, `${name} without any of ${needs.join(', ')}`).toBe(403);
        expect(refused.json.message, name).toContain(`lacks the OBO permission ${needs[0]} `);
        // Any one of them is enough (a read: served more than once).
        for (const p of needs) {
          const alone = await attempt(c, GRANTABLE.filter((g) => g === p || !needs.includes(g)));
          expect(alone.status, `${name} with ${p} alone`).toBe(c.status);
        }
      }
      await sandbox.admin.setAppPermissions(APP, GRANTABLE);
      await c.prepare?.();
      const served = await attempt(c, GRANTABLE);
      expect(served.status, `${name}: ${served.body.toString()}`).toBe(c.status);
      c.then?.(served);
    });
  }

  it('answers 404 on the rows the sandbox does not serve, permissions or not', async () => {
    for (const [method, path] of UNSERVED) {
      for (const permissions of [GRANTABLE, []]) {
        await sandbox.admin.setAppPermissions(APP, permissions);
        const reply = await call(sandbox, method, fill(path), { headers: { sessionToken: token } });
        expect(reply.status, `${method} ${path}`).toBe(404);
      }
    }
    await sandbox.admin.setAppPermissions(APP, GRANTABLE);
  });

  it('logs out with ACT_AS_USER alone (implicit): the token is then refused', async () => {
    const bob = await oboLogin(sandbox, appToken, 'bob');
    await sandbox.admin.setAppPermissions(APP, []);
    try {
      expect((await call(sandbox, 'POST', '/sessionauth/v1/logout', { headers: { sessionToken: bob } })).status).toBe(200);
      await sandbox.admin.setAppPermissions(APP, GRANTABLE);
      expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { sessionToken: bob } })).status).toBe(401);
    } finally {
      await sandbox.admin.setAppPermissions(APP, GRANTABLE);
    }
  });
});
