// Who follows whom (src/sandbox/store/follows.ts): in the order they followed, idempotently, and unfollowing.
import { describe, expect, it } from 'vitest';
import { storeWithUsers, T0, U1, U2, U3 } from '../../../helpers/sandbox-store.js';

describe('FollowTable', () => {
  it('lists the followers of a user in order, once each; unfollowing removes one', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.follows.follow(tx, U1, U3, T0 + 2);
      store.follows.follow(tx, U1, U2, T0 + 1);
      store.follows.follow(tx, U1, U2, T0 + 5);
    });
    expect(store.follows.followers(U1)).toEqual([U2, U3]);
    expect(store.follows.followers(U2)).toEqual([]);
    await store.write((tx) => store.follows.unfollow(tx, U1, U2));
    expect(store.follows.followers(U1)).toEqual([U3]);
  });
});
