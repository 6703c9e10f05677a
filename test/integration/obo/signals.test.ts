// Signals through OBO sessions against the sandbox over HTTPS (agent-api-public.yaml `/v1/signals/…`): create, read,
// list, update, subscribe (self, bulk, pushed), subscribers, unsubscribe, delete; only the owner changes a signal;
// queries without a hashtag or cashtag are refused; without MANAGE_SIGNALS every call is OBO_PERMISSION_DENIED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OboApp } from '../../../src/obo/app.js';
import { OBO_PERMISSIONS } from '../../../src/obo/permissions.js';
import type { OboSession } from '../../../src/obo/session.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appConfig } from '../../helpers/client.js';
import { rejection } from '../../helpers/errors.js';

const APP = 'sandbox-crm';
let sandbox: RunningSandbox;
let app: OboApp;
let alice: OboSession;
let bob: OboSession;
let bobId: number;

beforeAll(async () => {
  sandbox = await startSandbox();
  app = await OboApp.create(appConfig(sandbox, APP));
  [alice, bob] = [await app.user('alice'), await app.user('bob')];
  bobId = sandbox.identities.get('bob')!.userId;
});
afterAll(async () => {
  await app?.close();
  await sandbox?.close();
});

describe('signals on behalf of users', () => {
  it('go through their whole life: create, get, list, update, subscribe, subscribers, unsubscribe, delete', async () => {
    const created = await alice.createSignal({ name: 'FX desk', query: 'hashtag:fx AND author:13469017441257', visibleOnProfile: true });
    expect(created).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]+$/), name: 'FX desk', query: 'hashtag:fx AND author:13469017441257', visibleOnProfile: true, companyWide: false, timestamp: expect.any(Number) });
    expect(await alice.signal(created.id)).toEqual(created);
    expect(await alice.signals()).toEqual([created]);
    const updated = await alice.updateSignal(created.id, { name: 'FX and rates', query: 'hashtag:fx OR cashtag:EURUSD' });
    expect(updated).toMatchObject({ id: created.id, name: 'FX and rates', visibleOnProfile: false, timestamp: created.timestamp });

    // Bob cannot see it until subscribed (by the owner, pushed); then he cannot leave it, nor change it.
    expect(await rejection(bob.signal(created.id))).toMatchObject({ code: 'BAD_REQUEST', status: 400 }); // the spec declares no 404 here
    expect(await alice.subscribeSignal(created.id, { userIds: [bobId, 12345], pushed: true })).toEqual({
      requested: 2, succeeded: 1, failed: [{ userId: 12345, code: 'user.notfound', message: 'No such user' }],
    });
    expect((await bob.signals()).map((s) => s.id)).toEqual([created.id]);
    expect(await bob.unsubscribeSignal(created.id)).toMatchObject({ succeeded: 0, failed: [{ userId: bobId, code: 'subscription.pushed' }] });
    expect(await rejection(bob.updateSignal(created.id, { name: 'mine', query: 'hashtag:x' }))).toMatchObject({ code: 'FORBIDDEN' });
    const subscribers = await alice.signalSubscribers(created.id);
    expect(subscribers.count).toBe(2);
    expect(subscribers.results.map((s) => [s.owner, s.pushed, s.name])).toEqual([[true, false, 'Alice Archer'], [false, true, 'Bob Baker']]);

    expect(await alice.unsubscribeSignal(created.id, { userIds: [bobId] })).toMatchObject({ requested: 1, succeeded: 1, failed: [] });
    expect(await bob.signals()).toEqual([]);
    await alice.deleteSignal(created.id);
    expect(await alice.signals()).toEqual([]);
    expect(await rejection(alice.signal(created.id))).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
  });

  it('a company-wide signal is visible to all; a user may subscribe himself', async () => {
    const pushed = await alice.createSignal({ name: 'Company news', query: 'hashtag:news', companyWide: true });
    expect((await bob.signal(pushed.id)).companyWide).toBe(true);
    expect(await bob.subscribeSignal(pushed.id)).toMatchObject({ requested: 1, succeeded: 1 });
    expect(await bob.unsubscribeSignal(pushed.id)).toMatchObject({ succeeded: 1 });
    expect(await rejection(bob.subscribeSignal(pushed.id, { userIds: [sandbox.identities.get('alice')!.userId] }))).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses a query without a hashtag or cashtag, or that is not field:value terms', async () => {
    for (const query of ['author:1', 'fx', 'hashtag:', 'hashtag:fx XOR cashtag:y', 'topic:fx']) {
      expect(await rejection(alice.createSignal({ name: 'bad', query })), query).toMatchObject({ code: 'BAD_REQUEST' });
    }
    await expect(alice.createSignal({ name: 'x', query: 'hashtag:x', companyWide: 'yes' as never })).rejects.toThrow(/definition\.companyWide/);
  });

  it('without MANAGE_SIGNALS every signal call is refused, naming it', async () => {
    const kept = await alice.createSignal({ name: 'kept', query: 'cashtag:AAPL' });
    await sandbox.admin.setAppPermissions(APP, OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER' && p !== 'MANAGE_SIGNALS'));
    try {
      for (const call of [() => alice.signals(), () => alice.signal(kept.id), () => alice.createSignal({ name: 'n', query: 'hashtag:n' }),
        () => alice.updateSignal(kept.id, { name: 'n', query: 'hashtag:n' }), () => alice.deleteSignal(kept.id), () => alice.subscribeSignal(kept.id),
        () => alice.unsubscribeSignal(kept.id), () => alice.signalSubscribers(kept.id)]) {
        expect(await rejection(call())).toMatchObject({ code: 'OBO_PERMISSION_DENIED', permission: 'MANAGE_SIGNALS' });
      }
    } finally {
      await sandbox.admin.setAppPermissions(APP, OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER'));
    }
    expect((await alice.signal(kept.id)).name).toBe('kept');
  });
});
