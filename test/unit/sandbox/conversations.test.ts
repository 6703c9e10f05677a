import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, SandboxContext, type SandboxUrls } from '../../../src/sandbox/context.js';
import { createStream, logStreamEvent, memberStream, rotateStream } from '../../../src/sandbox/conversations.js';
import { HttpError } from '../../../src/sandbox/http-error.js';
import { sid, storeWithUsers, T0, U1, U2, U3, U4, USERS } from '../../helpers/sandbox-store.js';

const urls = { podUrl: '', keyManagerUrl: '', sessionAuthUrl: '', keyAuthUrl: '', objectStoreUrl: '', agentUrl: '' } as SandboxUrls;

/** A context whose four users each have a live feed (so that every event is kept). */
async function context(): Promise<SandboxContext> {
  const store = await storeWithUsers();
  const ctx = new SandboxContext(store, { ...DEFAULT_CONFIG, feedTtlMs: Number.MAX_SAFE_INTEGER / 2 }, urls);
  await store.write((tx) => {
    for (const u of USERS) store.events.createFeed(tx, `f${u}`, u, T0);
  });
  return ctx;
}

const events = (ctx: SandboxContext, user: number) => ctx.store.events.forUser(user, 0, 100).map((e) => [e.kind, e.streamId, e.initiator, e.affectedUserId]);

describe('conversations', () => {
  it('createStream stores a stream at rotation 0 with a content key, and a CREATE_ROOM / CREATE_IM event to its members; a wall has none', async () => {
    const ctx = await context();
    await ctx.store.write((tx) => {
      createStream(ctx, tx, { id: sid(1), type: 'ROOM', by: U1, at: T0 + 1, attributes: { name: 'r' }, members: [{ userId: U1, owner: true }, { userId: U2, owner: false }] });
      createStream(ctx, tx, { id: sid(2), type: 'IM', by: U2, at: T0 + 2, attributes: {}, members: [{ userId: U2, owner: false }, { userId: U3, owner: false }] });
      createStream(ctx, tx, { id: sid(3), type: 'POST', by: U4, at: T0 + 3, attributes: {}, members: [{ userId: U4, owner: true }] });
    });
    expect(ctx.store.streams.get(sid(1))).toEqual({ id: sid(1), type: 'ROOM', createdBy: U1, createdAt: T0 + 1, active: true, attributes: { name: 'r' }, currentRotation: '0', lastMessageDate: T0 + 1 });
    expect(ctx.store.streams.members(sid(1))).toEqual([{ userId: U1, owner: true, joinDate: T0 + 1 }, { userId: U2, owner: false, joinDate: T0 + 1 }]);
    expect(ctx.store.streams.contentKey(sid(1), '0')).toHaveLength(32);
    expect(ctx.store.streams.contentKey(sid(1), '0')).not.toEqual(ctx.store.streams.contentKey(sid(2), '0'));
    expect(events(ctx, U1)).toEqual([['CREATE_ROOM', sid(1), U1, undefined]]);
    expect(events(ctx, U2)).toEqual([['CREATE_ROOM', sid(1), U1, undefined], ['CREATE_IM', sid(2), U2, undefined]]);
    expect(events(ctx, U4)).toEqual([]);
    // An IM is found again by its members.
    expect(ctx.store.streams.byConversation(`IM:${[U2, U3].sort((a, b) => a - b).join(',')}`)?.id).toBe(sid(2));
  });

  it('logStreamEvent goes to the members at that time; rotateStream adds a rotation without an event', async () => {
    const ctx = await context();
    await ctx.store.write((tx) => createStream(ctx, tx, { id: sid(1), type: 'ROOM', by: U1, at: T0, attributes: {}, members: [{ userId: U1, owner: true }] }));
    await ctx.store.write((tx) => {
      ctx.store.streams.setMember(tx, sid(1), { userId: U3, owner: false, joinDate: T0 + 1 });
      logStreamEvent(ctx, tx, 'JOIN_ROOM', sid(1), U1, T0 + 1, U3);
    });
    expect(await ctx.store.write((tx) => rotateStream(ctx, tx, sid(1)))).toBe('1');
    expect(await ctx.store.write((tx) => rotateStream(ctx, tx, sid(1)))).toBe('2');
    expect(ctx.store.streams.get(sid(1))!.currentRotation).toBe('2');
    expect(events(ctx, U3)).toEqual([['JOIN_ROOM', sid(1), U1, U3]]);
    expect(events(ctx, U1)).toEqual([['CREATE_ROOM', sid(1), U1, undefined], ['JOIN_ROOM', sid(1), U1, U3]]);
    await expect(ctx.store.write((tx) => rotateStream(ctx, tx, sid(9)))).rejects.toThrow('Stream not found');
  });

  it('memberStream: 404 for an unknown stream, 403 for a non-member, 400 for an id that is not base64', async () => {
    const ctx = await context();
    await ctx.store.write((tx) => createStream(ctx, tx, { id: sid(1), type: 'ROOM', by: U1, at: T0, attributes: {}, members: [{ userId: U1, owner: true }] }));
    const u1 = ctx.store.users.get(U1)!;
    const u2 = ctx.store.users.get(U2)!;
    expect(memberStream(ctx, u1, Buffer.from(sid(1), 'base64url').toString('base64')).id).toBe(sid(1));
    const status = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as HttpError).status;
      }
      return 200;
    };
    expect(status(() => memberStream(ctx, u2, sid(1)))).toBe(403);
    expect(status(() => memberStream(ctx, u1, sid(9)))).toBe(404);
    expect(status(() => memberStream(ctx, u1, 'not base64!'))).toBe(400);
  });
});
