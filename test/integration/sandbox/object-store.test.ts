// The sandbox's Object Store: versions with optimistic concurrency, fetch by id and by partition + sort key,
// paging, logical and physical delete, transactions, permissions, ciphertext-only payloads and the entitlement 403.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, firstStream, login, type Login } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: Login;
let alice: Login;
let api: Record<string, string>;
let partitionHash: string;
let threadId: string;

const hash = () => randomBytes(34).toString('base64url');
const payload = () => randomBytes(64).toString('base64');

function object(sortKey: string, extra: Record<string, unknown> = {}) {
  return { partitionHash, sortKey, threadId, rotationId: 0, cipherSuiteId: 'RSA2048_AES256', header: { kind: 'state' }, encryptedPayload: payload(), ...extra };
}

beforeAll(async () => {
  sandbox = await startSandbox({ control: true });
  [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
  const token = await call(sandbox, 'POST', '/login/idm/tokens', { headers: bot.headers });
  api = { authorization: `Bearer ${token.json.access_token}` };
  threadId = await firstStream(sandbox, bot, 'ROOM');
  const partition = await call(sandbox, 'POST', '/object/v1/partitions/upsert', {
    headers: api, json: { partitionId: { name: 'bot-state', userId: bot.userId }, userPermissions: [{ userId: alice.userId, permissions: ['READ'] }] },
  });
  expect(partition.status).toBe(200);
  partitionHash = partition.json.hash;
});
afterAll(() => sandbox.close());

describe('objects and versions', () => {
  it('stores, fetches by hash and by partition + sort key, and versions with optimistic concurrency', async () => {
    const h1 = hash();
    const created = await call(sandbox, 'PUT', `/object/v1/objects/${h1}`, { headers: api, json: object('counter') });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ absoluteHash: h1, baseHash: h1, version: 1, owner: bot.userId });
    const h2 = hash();
    const updated = await call(sandbox, 'PUT', `/object/v1/objects/${h2}`, { headers: api, json: object('counter', { baseHash: h1, prevHash: h1 }) });
    expect(updated.json).toMatchObject({ baseHash: h1, version: 2 });
    // A stale update (based on version 1) fails and writes nothing.
    const stale = await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: object('counter', { baseHash: h1, prevHash: h1 }) });
    expect(stale.status).toBe(409);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${h1}?currentVersion=true`, { headers: api })).json.absoluteHash).toBe(h2);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${h1}`, { headers: api })).json.version).toBe(1);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/counter`, { headers: api })).json.absoluteHash).toBe(h2);
    const versions = await call(sandbox, 'GET', `/object/v1/objects/${h1}/versions?limit=1`, { headers: api });
    expect(versions.json.data.map((o: { version: number }) => o.version)).toEqual([1]);
    const next = await call(sandbox, 'GET', `/object/v1/objects/${h1}/versions?limit=1&after=${versions.json.pagination.cursors.after}`, { headers: api });
    expect(next.json.data.map((o: { version: number }) => o.version)).toEqual([2]);
    expect(next.json.pagination.cursors.after).toBeNull();
    // Reusing an absolute hash or a live sort key is refused.
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${h2}`, { headers: api, json: object('other') })).status).toBe(409);
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: object('counter') })).status).toBe(409);
  });

  it('pages through a partition in sort-key order, forwards, backwards and by prefix', async () => {
    for (const key of ['page-c', 'page-a', 'page-b', 'other-x']) {
      expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: object(key) })).status).toBe(200);
    }
    const keys = async (query: string) => (await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/page?${query}`, { headers: api })).json;
    const first = await keys('sortKeyPrefix=page-&limit=2');
    expect(first.data.map((o: { sortKey: string }) => o.sortKey)).toEqual(['page-a', 'page-b']);
    const second = await keys(`sortKeyPrefix=page-&limit=2&after=${first.pagination.cursors.after}`);
    expect(second.data.map((o: { sortKey: string }) => o.sortKey)).toEqual(['page-c']);
    const backwards = await keys('sortKeyPrefix=page-&scanForwards=false');
    expect(backwards.data.map((o: { sortKey: string }) => o.sortKey)).toEqual(['page-c', 'page-b', 'page-a']);
  });

  it('deletes logically (410, sort key reusable, history kept) and physically (404, all versions gone)', async () => {
    const h = hash();
    await call(sandbox, 'PUT', `/object/v1/objects/${h}`, { headers: api, json: object('doomed') });
    const tomb = hash();
    const deleted = await call(sandbox, 'PUT', `/object/v1/objects/${tomb}`, {
      headers: api, json: { _type: 'com.symphony.s2.model.object.DeletedApplicationObject', baseHash: h, prevHash: h, deletionType: 'LOGICAL' },
    });
    expect(deleted.status).toBe(200);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${h}?currentVersion=true`, { headers: api })).status).toBe(410);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/doomed`, { headers: api })).status).toBe(410);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${h}`, { headers: api })).status).toBe(200);
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: object('doomed') })).status).toBe(200);
    const p = hash();
    await call(sandbox, 'PUT', `/object/v1/objects/${p}`, { headers: api, json: object('purged') });
    const purge = await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, {
      headers: api, json: { _type: 'com.symphony.s2.model.object.DeletedApplicationObject', baseHash: p, deletionType: 'PHYSICAL' },
    });
    expect(purge.status).toBe(204);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${p}`, { headers: api })).status).toBe(404);
    expect((await call(sandbox, 'GET', `/object/v1/objects/${p}/versions`, { headers: api })).status).toBe(404);
  });

  it('writes transactions all or nothing, and refuses more than 6 objects before writing anything', async () => {
    const before = sandbox.store.counts().objectVersions;
    const tx = (items: unknown[]) => call(sandbox, 'POST', '/object/v1/objects/transaction', { headers: api, json: items });
    const seven = Array.from({ length: 7 }, (_, i) => ({ absoluteHash: hash(), ...object(`tx7-${i}`) }));
    expect((await tx(seven)).status).toBe(400);
    const clash = [{ absoluteHash: hash(), ...object('tx-a') }, { absoluteHash: hash(), ...object('tx-a') }];
    expect((await tx(clash)).status).toBe(409);
    expect(sandbox.store.counts().objectVersions).toBe(before);
    const six = Array.from({ length: 6 }, (_, i) => ({ absoluteHash: hash(), ...object(`tx6-${i}`) }));
    const ok = await tx(six);
    expect(ok.status).toBe(200);
    expect(sandbox.store.counts().objectVersions).toBe(before + 6);
  });

  it('holds only ciphertext and enforces partition permissions', async () => {
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: { ...object('clear'), payload: { secret: 1 } } })).status).toBe(400);
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: api, json: object('short', { encryptedPayload: 'AAAA' }) })).status).toBe(400);
    const aliceApi = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: alice.headers })).json.access_token}` };
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/counter`, { headers: aliceApi })).status).toBe(200);
    expect((await call(sandbox, 'PUT', `/object/v1/objects/${hash()}`, { headers: aliceApi, json: object('alice-write') })).status).toBe(403);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/counter`, { headers: {} })).status).toBe(401);
    // The session token works as a bearer too, as Allegro falls back to it.
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/counter`, { headers: { authorization: `Bearer ${bot.session}` } })).status).toBe(200);
  });
});

describe('entitlement', () => {
  it('answers every Object Store call with 403 "This feature is disabled for your pod." when the pod lacks it', async () => {
    await sandbox.admin.setObjectStoreEntitlement(false);
    try {
      const calls: Array<[string, string, unknown?]> = [
        ['PUT', `/object/v1/objects/${hash()}`, object('x')],
        ['POST', '/object/v1/objects/transaction', []],
        ['GET', `/object/v1/objects/${hash()}`],
        ['GET', `/object/v1/objects/${hash()}/versions`],
        ['GET', `/object/v1/partitions/${partitionHash}/page`],
        ['GET', `/object/v1/partitions/${partitionHash}/counter`],
        ['POST', '/object/v1/partitions/upsert', { partitionId: { name: 'n' } }],
        ['GET', '/object/v1/anything/else'],
      ];
      for (const [method, path, json] of calls) {
        const reply = await call(sandbox, method, path, { headers: api, ...(json === undefined ? {} : { json }) });
        expect(reply.status, `${method} ${path}`).toBe(403);
        expect(reply.json).toEqual({ code: 403, message: 'This feature is disabled for your pod.' });
      }
    } finally {
      await sandbox.admin.setObjectStoreEntitlement(true);
    }
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${partitionHash}/counter`, { headers: api })).status).toBe(200);
  });
});
