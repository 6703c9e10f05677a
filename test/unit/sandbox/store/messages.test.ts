import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATTACHMENT_CHUNK_BYTES, socialMessage, type Message } from '../../../../src/sandbox/store/messages.js';
import type { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { sid, storeWithUsers, streamOf, T0, U1 } from '../../../helpers/sandbox-store.js';

async function withRoom(): Promise<SandboxStore> {
  const store = await storeWithUsers();
  await store.write((tx) => {
    store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined);
    store.streams.insert(tx, streamOf(sid(2), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }], Buffer.alloc(32), undefined);
  });
  return store;
}

describe('MessageTable', () => {
  it('stores a message once, as posted, and serves it with the server\'s fields', async () => {
    const store = await withRoom();
    const posted = { threadId: 'client value', text: 'AwAA', msgFeatures: 1 };
    const seq = await store.write((tx) => store.messages.insert(tx, { messageId: 'bWVzc2FnZQ', streamId: sid(1), fromUserId: U1, ingestionDate: T0 + 1, posted }));
    const m = store.messages.get('bWVzc2FnZQ')!;
    expect(m).toEqual({ seq, messageId: 'bWVzc2FnZQ', streamId: sid(1), fromUserId: U1, ingestionDate: T0 + 1, posted });
    expect(store.messages.bySeq(seq)).toEqual(m);
    expect(socialMessage(m)).toEqual({
      threadId: Buffer.from(sid(1), 'base64url').toString('base64'), text: 'AwAA', msgFeatures: 1, version: 'SOCIALMESSAGE',
      messageId: Buffer.from('bWVzc2FnZQ', 'base64url').toString('base64'), fromUserId: U1, ingestionDate: T0 + 1,
    });
    expect(store.messages.get('nope')).toBeUndefined();
    expect(store.messages.count()).toBe(1);
  });

  it('a window is the newest `limit` messages of a stream in [from, before), oldest first (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ stream: fc.constantFrom(1, 2), date: fc.integer({ min: 0, max: 20 }) }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 22 }), fc.integer({ min: 0, max: 22 }), fc.integer({ min: 1, max: 40 }),
      async (posts, from, before, limit) => {
        const store = await withRoom();
        const all: Message[] = await store.write((tx) => posts.map((p, i) => {
          const m = { messageId: `m${i}`, streamId: sid(p.stream), fromUserId: U1, ingestionDate: T0 + p.date, posted: { i } };
          return { ...m, seq: store.messages.insert(tx, m) };
        }));
        const expected = all.filter((m) => m.streamId === sid(1) && m.ingestionDate >= T0 + from && m.ingestionDate < T0 + before)
          .sort((a, b) => a.ingestionDate - b.ingestionDate || a.seq - b.seq).slice(-limit);
        expect([...store.messages.window(sid(1), T0 + from, T0 + before, limit)]).toEqual(expected);
        store.close();
      },
    ), { numRuns: 60 });
  });

  it('reads a window in batches as the caller iterates', async () => {
    const store = await withRoom();
    await store.write((tx) => {
      for (let i = 0; i < 100; i++) store.messages.insert(tx, { messageId: `m${i}`, streamId: sid(1), fromUserId: U1, ingestionDate: T0 + i, posted: { i } });
    });
    const page = store.messages.window(sid(1), 0, Number.MAX_SAFE_INTEGER, 50);
    expect(page.next().value?.messageId).toBe('m50');
    // A message ingested meanwhile inside the window is seen; the page stays at its limit.
    await store.write((tx) => store.messages.insert(tx, { messageId: 'late', streamId: sid(1), fromUserId: U1, ingestionDate: T0 + 80, posted: {} }));
    const rest = [...page].map((m) => m.messageId);
    expect(rest).toHaveLength(49);
    expect(rest.slice(29, 32)).toEqual(['m80', 'late', 'm81']);
    expect(rest.at(-1)).toBe('m98');
  });

  it('stores attachments in chunks and reads them back chunk by chunk', async () => {
    const store = await withRoom();
    const data = Buffer.alloc(2 * ATTACHMENT_CHUNK_BYTES + 5);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await store.write((tx) => store.messages.insertAttachment(tx, { id: 'att1', streamId: sid(1), by: U1 }, data));
    expect(store.messages.attachment('att1')).toEqual({ id: 'att1', streamId: sid(1), by: U1, size: data.length });
    const chunks = [...store.messages.attachmentChunks('att1')];
    expect(chunks.map((c) => c.length)).toEqual([ATTACHMENT_CHUNK_BYTES, ATTACHMENT_CHUNK_BYTES, 5]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect([...store.messages.attachmentChunks('none')]).toEqual([]);
    expect(store.messages.countAttachments()).toBe(1);
  });
});
