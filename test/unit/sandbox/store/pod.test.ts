import { describe, expect, it } from 'vitest';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { POD, storeWithUsers } from '../../../helpers/sandbox-store.js';

describe('PodTable', () => {
  it('holds no pod until one is created; then one row with its secrets and entitlement', async () => {
    const empty = SandboxStore.open(undefined);
    expect(empty.pod.get()).toBeUndefined();
    expect(() => empty.pod.require()).toThrow('The sandbox database holds no pod');
    const store = await storeWithUsers();
    expect(store.pod.require()).toEqual({
      podId: POD, name: 'test pod', objectStore: true, entityKey: Buffer.alloc(32, 1), tokenSecret: Buffer.alloc(32, 2), feedSecret: Buffer.alloc(32, 3), nextUserNumber: 1004,
    });
    await store.write((tx) => store.pod.setObjectStore(tx, false));
    expect(store.pod.require().objectStore).toBe(false);
    // There is only one pod.
    await expect(store.write((tx) => store.pod.create(tx, store.pod.require()))).rejects.toThrow(/UNIQUE|PRIMARY/);
  });
});
