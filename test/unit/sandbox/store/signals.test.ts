// Signals as stored (src/sandbox/store/signals.ts): a signal and its new definition, what a user sees (created or
// subscribed), subscriptions (pushed or not, idempotent), and deletion with the subscriptions.
import { describe, expect, it } from 'vitest';
import type { Signal } from '../../../../src/sandbox/store/signals.js';
import { storeWithUsers, T0, U1, U2, U3 } from '../../../helpers/sandbox-store.js';

const fx: Signal = { id: 'sig-1', owner: U1, name: 'FX', query: 'hashtag:fx', visibleOnProfile: false, companyWide: false, createdAt: T0 };

describe('SignalTable', () => {
  it('stores a signal, then a new definition keeping owner and creation time', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.signals.put(tx, fx));
    expect(store.signals.get('sig-1')).toEqual(fx);
    await store.write((tx) => store.signals.put(tx, { ...fx, owner: U2, createdAt: T0 + 5, name: 'FX 2', companyWide: true }));
    expect(store.signals.get('sig-1')).toEqual({ ...fx, name: 'FX 2', companyWide: true });
  });

  it('lists for a user what they created or subscribed to; deletes with the subscriptions', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.signals.put(tx, fx);
      store.signals.put(tx, { ...fx, id: 'sig-2', owner: U2, createdAt: T0 + 1 });
      store.signals.subscribe(tx, 'sig-2', U1, true, T0 + 2);
      store.signals.subscribe(tx, 'sig-2', U1, false, T0 + 3);
      store.signals.subscribe(tx, 'sig-2', U3, false, T0 + 4);
    });
    expect(store.signals.ofUser(U1).map((s) => s.id)).toEqual(['sig-1', 'sig-2']);
    expect(store.signals.ofUser(U3).map((s) => s.id)).toEqual(['sig-2']);
    expect(store.signals.subscriber('sig-2', U1)).toEqual({ userId: U1, pushed: true, subscribedAt: T0 + 2 });
    await store.write((tx) => store.signals.unsubscribe(tx, 'sig-2', U3));
    expect(store.signals.subscribers('sig-2').map((s) => s.userId)).toEqual([U1]);
    await store.write((tx) => store.signals.delete(tx, 'sig-2'));
    expect([store.signals.get('sig-2'), store.signals.subscribers('sig-2'), store.signals.ofUser(U3)]).toEqual([undefined, [], []]);
    expect(store.check()).toEqual([]);
  });
});
