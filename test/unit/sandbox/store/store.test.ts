import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { sid, storeWithUsers, streamOf, T0, U1, U2 } from '../../../helpers/sandbox-store.js';

describe('SandboxStore', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-store-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps what was committed across close and reopen; close runs what is still queued', async () => {
    const path = join(dir, 'sandbox.db');
    const store = await storeWithUsers(path);
    await store.write((tx) => store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32, 4), undefined));
    const queued = store.write((tx) => store.users.setPresence(tx, U2, 'BUSY', T0));
    store.close();
    await queued;
    store.close(); // idempotent
    await expect(store.write(() => undefined)).rejects.toThrow('The sandbox store is closed');
    const again = SandboxStore.open(path);
    expect(again.users.get(U2)!.presence.category).toBe('BUSY');
    expect(again.view().stream(sid(1))).toMatchObject({ id: sid(1), members: [{ userId: U1, owner: true, joinDate: T0 }], rotations: ['0'] });
    expect(again.view().contentKey(sid(1), '0')).toEqual(Buffer.alloc(32, 4));
    again.close();
  });

  it('counts rows and offers a read-only view of them', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined);
      store.messages.insert(tx, { messageId: 'm1', streamId: sid(1), fromUserId: U1, ingestionDate: T0, posted: { text: 'x' } });
      store.blobs.insert(tx, { id: 'b', owner: U1, size: 1, createdAt: T0 });
      store.events.createFeed(tx, 'f', U1, T0);
    });
    expect(store.counts()).toEqual({ users: 4, streams: 1, messages: 1, attachments: 0, feeds: 1, events: 0, eventRecipients: 0, objectVersions: 0, partitions: 0, objectFeeds: 0, objectFeedMessages: 0 });
    const view = store.view();
    expect(view.pod().podId).toBe(196);
    expect(view.user(U1)?.username).toBe('user1000');
    expect(view.user('USER1001')?.id).toBe(U2);
    expect(view.message('m1')?.posted).toEqual({ text: 'x' });
    expect(view.messages(sid(1)).map((m) => m.messageId)).toEqual(['m1']);
    expect(view.blob('b')?.size).toBe(1);
    expect(view.stream(sid(9))).toBeUndefined();
    expect(view.lastEventSeq()).toBe(0);
    expect(Object.keys(view).every((k) => typeof (view as unknown as Record<string, unknown>)[k] === 'function')).toBe(true);
  });

  it('check finds nothing wrong in a consistent store, and names rows that point at nothing', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined));
    expect(store.check()).toEqual([]);
    store.db.exec(`INSERT INTO members (stream_id, user_id, owner, join_date) VALUES ('${sid(1)}', 42, 0, 0);
      INSERT INTO messages (id, stream_id, from_user, ingestion_date, payload) VALUES ('m', 'nowhere', 1, 1, '{}')`);
    expect(store.check()).toEqual(['1 members of a missing user', '1 messages of a missing stream']);
  });
});
