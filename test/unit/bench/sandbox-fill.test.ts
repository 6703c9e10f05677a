import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillMessages } from '../../../src/bench/sandbox-fill.js';
import { SandboxStore } from '../../../src/sandbox/store/store.js';
import { sid, storeWithUsers, streamOf, T0, U1 } from '../../helpers/sandbox-store.js';

describe('fillMessages (the benchmarks\' fast path)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-fill-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('adds messages as the route stores them, in order after what is there, across batches and calls', async () => {
    const path = join(dir, 'sandbox.db');
    const store = await storeWithUsers(path);
    await store.write((tx) => store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1, T0), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined));
    store.close();
    const posted = { threadId: 'x', text: 'ciphertext' };
    await fillMessages({ dbPath: path, streamId: sid(1), fromUserId: U1, posted, count: 12_345 });
    await fillMessages({ dbPath: path, streamId: sid(1), fromUserId: U1, posted, count: 5 });
    const again = SandboxStore.open(path);
    try {
      expect(again.counts().messages).toBe(12_350);
      const newest = [...again.messages.window(sid(1), 0, Number.MAX_SAFE_INTEGER, 3)];
      expect(newest.map((m) => m.ingestionDate)).toEqual([T0 + 12_348, T0 + 12_349, T0 + 12_350]);
      expect(newest.every((m) => m.fromUserId === U1 && JSON.stringify(m.posted) === JSON.stringify(posted))).toBe(true);
      expect(new Set([...again.messages.window(sid(1), 0, Number.MAX_SAFE_INTEGER, 500)].map((m) => m.messageId)).size).toBe(500);
      expect(again.streams.get(sid(1))!.lastMessageDate).toBe(T0 + 12_350);
      expect(again.counts().events).toBe(0);
      expect(again.check()).toEqual([]);
    } finally {
      again.close();
    }
    await expect(fillMessages({ dbPath: path, streamId: sid(9), fromUserId: U1, posted, count: 1 })).rejects.toThrow(`fillMessages: no stream ${sid(9)}`);
  });
});
