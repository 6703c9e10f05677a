import { describe, expect, it } from 'vitest';
import { conversationKey } from '../../../../src/sandbox/store/streams.js';
import { sid, storeWithUsers, streamOf, T0, U1, U2, U3 } from '../../../helpers/sandbox-store.js';

describe('StreamTable', () => {
  it('stores a stream with its members and first content key', async () => {
    const store = await storeWithUsers();
    const room = { ...streamOf(sid(1), 'ROOM', U1, T0 + 1), attributes: { name: 'r', readOnly: true } };
    await store.write((tx) => store.streams.insert(tx, room, [{ userId: U1, owner: true, joinDate: T0 + 1 }, { userId: U2, owner: false, joinDate: T0 + 1 }], Buffer.alloc(32, 5), undefined));
    expect(store.streams.get(sid(1))).toEqual(room);
    expect(store.streams.members(sid(1))).toEqual([{ userId: U1, owner: true, joinDate: T0 + 1 }, { userId: U2, owner: false, joinDate: T0 + 1 }]);
    expect(store.streams.member(sid(1), U2)).toEqual({ userId: U2, owner: false, joinDate: T0 + 1 });
    expect(store.streams.member(sid(1), U3)).toBeUndefined();
    expect(store.streams.contentKey(sid(1), '0')).toEqual(Buffer.alloc(32, 5));
    expect(store.streams.get(sid(9))).toBeUndefined();
    expect(store.streams.count()).toBe(1);
  });

  it('updates attributes and activity, membership and owners', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined));
    await store.write((tx) => store.streams.update(tx, sid(1), { attributes: { name: 'renamed' } }));
    await store.write((tx) => store.streams.update(tx, sid(1), { active: false }));
    expect(store.streams.get(sid(1))).toMatchObject({ attributes: { name: 'renamed' }, active: false });
    await store.write((tx) => {
      store.streams.setMember(tx, sid(1), { userId: U2, owner: false, joinDate: T0 + 10 });
      store.streams.setMember(tx, sid(1), { userId: U1, owner: false, joinDate: T0 + 99 }); // only the owner flag changes
      store.streams.removeMember(tx, sid(1), U3);
    });
    expect(store.streams.members(sid(1))).toEqual([{ userId: U1, owner: false, joinDate: T0 }, { userId: U2, owner: false, joinDate: T0 + 10 }]);
    await store.write((tx) => store.streams.removeMember(tx, sid(1), U1));
    expect(store.streams.members(sid(1)).map((m) => m.userId)).toEqual([U2]);
  });

  it('rotation adds a content key and makes it current; older keys stay', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.streams.insert(tx, streamOf(sid(1), 'IM', U1), [{ userId: U1, owner: false, joinDate: T0 }], Buffer.alloc(32, 0), 'IM:1'));
    await store.write((tx) => store.streams.rotate(tx, sid(1), '7', Buffer.alloc(32, 7)));
    await store.write((tx) => store.streams.addRotation(tx, sid(1), '3', Buffer.alloc(32, 3)));
    expect(store.streams.get(sid(1))!.currentRotation).toBe('7');
    expect(store.streams.rotations(sid(1)).sort()).toEqual(['0', '3', '7']);
    expect(store.streams.contentKey(sid(1), '3')).toEqual(Buffer.alloc(32, 3));
  });

  it('finds an IM or MIM by its members, and a user\'s streams most recently active first', async () => {
    const store = await storeWithUsers();
    const key = conversationKey('MIM', [U3, U1, U2]);
    expect(key).toBe(conversationKey('MIM', [U1, U2, U3]));
    expect(key).not.toBe(conversationKey('IM', [U1, U2, U3]));
    await store.write((tx) => {
      store.streams.insert(tx, streamOf(sid(1), 'MIM', U1, T0), [U1, U2, U3].map((userId) => ({ userId, owner: false, joinDate: T0 })), Buffer.alloc(32), key);
      store.streams.insert(tx, streamOf(sid(2), 'ROOM', U1, T0 + 1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined);
      store.streams.setLastMessageDate(tx, sid(1), T0 + 5);
    });
    expect(store.streams.byConversation(key)?.id).toBe(sid(1));
    expect(store.streams.byConversation(conversationKey('IM', [U1, U2]))).toBeUndefined();
    expect(store.streams.ofUser(U1).map((s) => s.id)).toEqual([sid(1), sid(2)]);
    expect(store.streams.ofUser(U2).map((s) => s.id)).toEqual([sid(1)]);
  });
});
