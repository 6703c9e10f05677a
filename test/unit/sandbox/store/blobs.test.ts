import { describe, expect, it } from 'vitest';
import { storeWithUsers, T0, U1 } from '../../../helpers/sandbox-store.js';

describe('BlobTable', () => {
  it('records committed blobs and forgets deleted ones', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.blobs.insert(tx, { id: 'a', owner: U1, size: 10, createdAt: T0 });
      store.blobs.insert(tx, { id: 'b', owner: U1, size: 0, createdAt: T0 + 1 });
    });
    expect(store.blobs.get('a')).toEqual({ id: 'a', owner: U1, size: 10, createdAt: T0 });
    expect(store.blobs.ids()).toEqual(new Set(['a', 'b']));
    await store.write((tx) => store.blobs.delete(tx, 'a'));
    expect(store.blobs.get('a')).toBeUndefined();
    expect(store.blobs.ids()).toEqual(new Set(['b']));
    await expect(store.write((tx) => store.blobs.insert(tx, { id: 'b', owner: U1, size: 1, createdAt: T0 }))).rejects.toThrow(/UNIQUE|PRIMARY/);
  });
});
