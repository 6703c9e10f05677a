import { describe, expect, it } from 'vitest';
import { storeWithUsers, T0, U1, U2, U3, userOf } from '../../../helpers/sandbox-store.js';

describe('UserTable', () => {
  it('finds users by id, by username and by e-mail, case-insensitively', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.users.insert(tx, { ...userOf(1500, 'Sandbox-Bot'), email: 'Bot@Example.COM', loginPublicKeyPem: 'PEM' }));
    const bot = userOf(1500, 'Sandbox-Bot');
    expect(store.users.byName('sandbox-bot')).toEqual({ ...bot, email: 'Bot@Example.COM', loginPublicKeyPem: 'PEM' });
    expect(store.users.byName('SANDBOX-BOT')?.id).toBe(bot.id);
    expect(store.users.byEmail('bot@example.com')?.id).toBe(bot.id);
    expect(store.users.get(bot.id)?.username).toBe('Sandbox-Bot');
    expect(store.users.get(U1)).toEqual(userOf(1000));
    expect(store.users.get(42)).toBeUndefined();
    expect(store.users.get(Number.NaN)).toBeUndefined();
    expect(store.users.byName('nobody')).toBeUndefined();
    expect(store.users.count()).toBe(5);
    expect(store.users.all().map((u) => u.id)).toEqual([U1, U2, U3, userOf(1003).id, bot.id]);
    // A username is unique whatever its case.
    await expect(store.write((tx) => store.users.insert(tx, userOf(1600, 'SANDBOX-bot')))).rejects.toThrow(/UNIQUE/);
  });

  it('moves the next user number past the numbers used, never back', async () => {
    const store = await storeWithUsers();
    expect(store.pod.require().nextUserNumber).toBe(1004);
    await store.write((tx) => store.pod.useUserNumber(tx, 1500));
    await store.write((tx) => store.pod.useUserNumber(tx, 1200));
    expect(store.pod.require().nextUserNumber).toBe(1501);
  });

  it('sets presence', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.users.setPresence(tx, U2, 'BUSY', T0 + 9));
    expect(store.users.get(U2)!.presence).toEqual({ category: 'BUSY', timestamp: T0 + 9 });
  });

  it('records connection requests: counted while pending, answered, listed for both sides', async () => {
    const store = await storeWithUsers();
    for (const [status, at] of [['PENDING', 1], ['REJECTED', 2], ['PENDING', 3], ['ACCEPTED', 4]] as const) {
      await store.write((tx) => store.users.setConnection(tx, U1, U2, status, T0 + at));
    }
    const accepted = { from: U1, to: U2, status: 'ACCEPTED', firstRequestedAt: T0 + 1, updatedAt: T0 + 4, requestCounter: 2 };
    expect(store.users.connection(U1, U2)).toEqual(accepted);
    expect(store.users.connection(U2, U1)).toBeUndefined();
    await store.write((tx) => store.users.restoreConnection(tx, { from: U3, to: U1, status: 'PENDING', firstRequestedAt: T0, updatedAt: T0, requestCounter: 1 }));
    expect(store.users.connectionsOf(U1).map((c) => [c.from, c.to])).toEqual([[U1, U2], [U3, U1]]);
    expect(store.users.connectionsOf(U2)).toEqual([accepted]);
  });

  it('forgets a connection whichever side asked', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.users.setConnection(tx, U1, U2, 'ACCEPTED', T0);
      store.users.setConnection(tx, U3, U1, 'ACCEPTED', T0);
    });
    await store.write((tx) => store.users.removeConnection(tx, U2, U1));
    expect(store.users.connection(U1, U2)).toBeUndefined();
    await store.write((tx) => store.users.removeConnection(tx, U3, U1));
    expect(store.users.connectionsOf(U1)).toEqual([]);
  });
});
