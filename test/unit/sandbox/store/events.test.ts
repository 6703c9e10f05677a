import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoggedEvent } from '../../../../src/sandbox/store/events.js';
import type { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { sid, storeWithUsers, streamOf, T0, U1, U2, U3, U4, USERS } from '../../../helpers/sandbox-store.js';

const LIVE = 0; // every feed read since the epoch is live

/** A store whose users each have a feed, with streams 1 (U1, U2) and 2 (U3, U4). */
async function withFeeds(users: readonly number[] = USERS): Promise<SandboxStore> {
  const store = await storeWithUsers();
  await store.write((tx) => {
    store.streams.insert(tx, streamOf(sid(1), 'ROOM', U1), [{ userId: U1, owner: true, joinDate: T0 }, { userId: U2, owner: false, joinDate: T0 }], Buffer.alloc(32), undefined);
    store.streams.insert(tx, streamOf(sid(2), 'IM', U3), [{ userId: U3, owner: false, joinDate: T0 }, { userId: U4, owner: false, joinDate: T0 }], Buffer.alloc(32), 'IM:x');
    for (const u of users) store.events.createFeed(tx, `feed-${u}`, u, T0);
  });
  return store;
}

const seqs = (events: LoggedEvent[]) => events.map((e) => e.seq);

describe('EventLog.append', () => {
  it('addresses an event to the members of its stream that have a live feed, and logs nothing when none has', async () => {
    const store = await withFeeds([U1, U3]);
    const logged = await store.write((tx) => [
      store.events.append(tx, { kind: 'CREATE_ROOM', initiator: U1, timestamp: T0 + 1, streamId: sid(1) }, LIVE),
      store.events.append(tx, { kind: 'JOIN_ROOM', initiator: U1, timestamp: T0 + 2, streamId: sid(1), affectedUserId: U2, payload: { note: 'x' } }, LIVE),
      store.events.append(tx, { kind: 'CREATE_IM', initiator: U3, timestamp: T0 + 3, streamId: sid(2) }, LIVE),
      // A feed not read since liveSince does not count.
      store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + 4, streamId: sid(1) }, T0 + 1),
      store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + 5, streamId: sid(9) }, LIVE),
    ]);
    expect(logged).toEqual([1, 2, 3, undefined, undefined]);
    expect(store.events.forUser(U1, 0, 100)).toEqual([
      { seq: 1, kind: 'CREATE_ROOM', initiator: U1, timestamp: T0 + 1, streamId: sid(1) },
      { seq: 2, kind: 'JOIN_ROOM', initiator: U1, timestamp: T0 + 2, streamId: sid(1), affectedUserId: U2, payload: { note: 'x' } },
    ]);
    expect(seqs(store.events.forUser(U2, 0, 100))).toEqual([]); // no feed: nothing kept for U2
    expect(seqs(store.events.forUser(U3, 0, 100))).toEqual([3]);
    expect(store.events.count()).toEqual({ events: 3, recipients: 3 });
    expect(store.events.lastSeq()).toBe(3);
  });

  it('addresses an event of no stream to the users it names (those with a live feed)', async () => {
    const store = await withFeeds([U1, U2]);
    const seq = await store.write((tx) => store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 }, LIVE, [U2, U3, U2]));
    expect(store.events.forUser(U2, 0, 10)).toEqual([{ seq, kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 }]);
    expect(store.events.forUser(U1, 0, 10)).toEqual([]);
    expect(store.events.count()).toEqual({ events: 1, recipients: 1 });
  });

  it('a SOCIALMESSAGE event references its message row instead of copying it', async () => {
    const store = await withFeeds();
    await store.write((tx) => {
      const messageSeq = store.messages.insert(tx, { messageId: 'm1', streamId: sid(1), fromUserId: U1, ingestionDate: T0 + 7, posted: { text: 'ciphertext' } });
      store.events.append(tx, { kind: 'SOCIALMESSAGE', initiator: U1, timestamp: T0 + 7, streamId: sid(1), messageSeq }, LIVE);
    });
    const [event] = store.events.forUser(U2, 0, 10);
    expect(event).toEqual({
      seq: 1, kind: 'SOCIALMESSAGE', initiator: U1, timestamp: T0 + 7, streamId: sid(1),
      message: { seq: 1, messageId: 'm1', streamId: sid(1), fromUserId: U1, ingestionDate: T0 + 7, posted: { text: 'ciphertext' } },
    });
    expect(store.db.prepare('SELECT payload FROM events').get()).toEqual({ payload: null });
  });
});

describe('EventLog.forUser', () => {
  async function withEvents(): Promise<SandboxStore> {
    const store = await withFeeds();
    await store.write((tx) => {
      store.events.append(tx, { kind: 'CREATE_ROOM', initiator: U1, timestamp: T0, streamId: sid(1) }, LIVE); // 1: U1 U2
      store.events.append(tx, { kind: 'CREATE_IM', initiator: U3, timestamp: T0, streamId: sid(2) }, LIVE); // 2: U3 U4
      for (let i = 0; i < 6; i++) store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + i, streamId: sid(1 + (i % 2)) }, LIVE); // 3..8
    });
    return store;
  }

  it('returns the user\'s events after afterSeq, up to upToSeq, at most limit', async () => {
    const store = await withEvents();
    const { events } = store;
    expect(seqs(events.forUser(U1, 0, 100))).toEqual([1, 3, 5, 7]);
    expect(seqs(events.forUser(U4, 0, 100))).toEqual([2, 4, 6, 8]);
    expect(seqs(events.forUser(U1, 3, 100))).toEqual([5, 7]);
    expect(seqs(events.forUser(U1, 4, 100))).toEqual([5, 7]);
    expect(seqs(events.forUser(U1, 0, 2))).toEqual([1, 3]);
    expect(seqs(events.forUser(U1, 0, 0))).toEqual([]);
    expect(seqs(events.forUser(U1, 0, 100, 5))).toEqual([1, 3, 5]);
    expect(seqs(events.forUser(U1, 0, 100, 4))).toEqual([1, 3]);
    expect(seqs(events.forUser(U1, 8, 100))).toEqual([]);
    expect(seqs(events.forUser(U1, -5, 100))).toEqual([1, 3, 5, 7]);
    expect(seqs(events.forUser(42, 0, 100))).toEqual([]);
    expect(events.lastSeq()).toBe(8);
  });

  it('is one indexed range query on (user, seq)', async () => {
    const store = await withEvents();
    const plan = store.db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM event_recipients r JOIN events e ON e.seq = r.seq
      WHERE r.user_id = 1 AND r.seq > 0 AND r.seq <= 9 ORDER BY r.seq LIMIT 10`).all() as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/SEARCH r USING PRIMARY KEY \(user_id=\? AND seq>\? AND seq<\?\)/);
    expect(plan.map((p) => p.detail).join('\n')).not.toMatch(/SCAN|TEMP B-TREE/);
  });

  it('agrees with a linear filter of what was logged (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.subarray([...USERS], { minLength: 1 }), { maxLength: 40 }),
      fc.constantFrom(...USERS),
      fc.integer({ min: -2, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: -2, max: 50 }), { nil: undefined }),
      async (recipientSets, user, afterSeq, limit, upToSeq) => {
        const store = await withFeeds();
        await store.write((tx) => {
          for (const [i, to] of recipientSets.entries()) store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + i }, LIVE, to);
        });
        const expected = recipientSets.map((to, i) => ({ seq: i + 1, to }))
          .filter((e) => e.seq > afterSeq && e.seq <= (upToSeq ?? Infinity) && e.to.includes(user)).slice(0, limit).map((e) => e.seq);
        expect(seqs(store.events.forUser(user, afterSeq, limit, upToSeq))).toEqual(expected);
        store.close();
      },
    ), { numRuns: 60 });
  });
});

describe('feeds', () => {
  it('start after the newest event, take only forward acks, and can be deleted', async () => {
    const store = await withFeeds([U1]);
    await store.write((tx) => store.events.append(tx, { kind: 'CREATE_ROOM', initiator: U1, timestamp: T0, streamId: sid(1) }, LIVE));
    const feed = await store.write((tx) => store.events.createFeed(tx, 'f1', U2, T0 + 1));
    expect(feed).toEqual({ id: 'f1', userId: U2, createdAt: T0 + 1, ackSeq: 1, lastReadAt: T0 + 1 });
    expect(store.events.feed('f1')).toEqual(feed);
    await store.write((tx) => store.events.acknowledge(tx, feed, 5, T0 + 2, LIVE));
    await store.write((tx) => store.events.acknowledge(tx, feed, 3, T0 + 3, LIVE));
    expect(store.events.feed('f1')).toMatchObject({ ackSeq: 5, lastReadAt: T0 + 3 });
    expect(store.events.liveFeeds(U2, LIVE).map((f) => f.id)).toEqual(['f1']);
    expect(store.events.liveFeeds(U2, T0 + 4)).toEqual([]);
    await store.write((tx) => store.events.deleteFeed(tx, feed, LIVE));
    expect(store.events.feed('f1')).toBeUndefined();
    expect(store.events.feedCount()).toBe(1);
  });

  it('events go once every live feed of their recipient has acknowledged them, or when the feed goes', async () => {
    const store = await withFeeds([U1]);
    const second = await store.write((tx) => store.events.createFeed(tx, 'second', U1, T0));
    const first = store.events.feed(`feed-${U1}`)!;
    await store.write((tx) => {
      for (let i = 0; i < 5; i++) store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + i, streamId: sid(1) }, LIVE);
    });
    await store.write((tx) => store.events.acknowledge(tx, first, 4, T0, LIVE));
    // The second feed has not read them: all kept.
    expect(seqs(store.events.forUser(U1, 0, 10))).toEqual([1, 2, 3, 4, 5]);
    await store.write((tx) => store.events.acknowledge(tx, second, 2, T0, LIVE));
    expect(seqs(store.events.forUser(U1, 0, 10))).toEqual([3, 4, 5]);
    await store.write((tx) => store.events.deleteFeed(tx, store.events.feed('second')!, LIVE));
    expect(seqs(store.events.forUser(U1, 0, 10))).toEqual([5]);
    // The events go with their last recipient row.
    expect(store.events.count()).toEqual({ events: 1, recipients: 1 });
    expect(await store.write((tx) => store.events.sweep(tx, LIVE))).toBe(false);
    expect(store.events.count()).toEqual({ events: 1, recipients: 1 });
  });

  it('an event goes as soon as its last recipient row goes, even while another user\'s feed lags far behind', async () => {
    // U3's feed (stream 2) never acknowledges anything; U1 reads and acknowledges stream 1's events as they come.
    const store = await withFeeds([U1, U3]);
    const u1 = store.events.feed(`feed-${U1}`)!;
    await store.write((tx) => store.events.append(tx, { kind: 'CREATE_IM', initiator: U3, timestamp: T0, streamId: sid(2) }, LIVE));
    for (let round = 0; round < 3; round++) {
      const seq = await store.write((tx) => store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0, streamId: sid(1) }, LIVE));
      await store.write((tx) => store.events.acknowledge(tx, u1, seq!, T0 + 1, LIVE));
    }
    // Only U3's unacknowledged event is left: the log does not grow with what every recipient has read.
    expect(store.events.count()).toEqual({ events: 1, recipients: 1 });
    expect(seqs(store.events.forUser(U3, 0, 10))).toEqual([1]);
  });

  it('a sweep deletes expired feeds and what only they could deliver', async () => {
    const store = await withFeeds([U1, U2]);
    await store.write((tx) => store.events.acknowledge(tx, store.events.feed(`feed-${U1}`)!, 0, T0 + 100, LIVE));
    await store.write((tx) => {
      for (let i = 0; i < 3; i++) store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0 + i, streamId: sid(1) }, LIVE);
    });
    expect(store.events.count()).toEqual({ events: 3, recipients: 6 });
    // U2's feed was last read at T0, U1's at T0 + 100: a sweep live since T0 + 50 expires U2's.
    expect(await store.write((tx) => store.events.sweep(tx, T0 + 50))).toBe(false);
    expect(store.events.feed(`feed-${U2}`)).toBeUndefined();
    expect(store.events.count()).toEqual({ events: 3, recipients: 3 });
    // U1's goes too: nothing is left to deliver.
    await store.write((tx) => store.events.sweep(tx, T0 + 200));
    expect(store.events.count()).toEqual({ events: 0, recipients: 0 });
    expect(store.events.feedCount()).toBe(0);
    // Numbering goes on after the pruned events.
    await store.write((tx) => store.events.createFeed(tx, 'later', U1, T0 + 300));
    expect(await store.write((tx) => store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0, streamId: sid(1) }, LIVE))).toBe(4);
  });

  it('restores events, feeds and the numbering as they were (migration)', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.events.restoreFeed(tx, { id: 'old', userId: U1, createdAt: T0, ackSeq: 10, lastReadAt: T0 });
      store.events.restoreEvent(tx, { seq: 12, kind: 'UPDATE_ROOM', initiator: U2, timestamp: T0, streamId: sid(1) }, [U1]);
      store.events.restoreSequence(tx, 40);
    });
    expect(seqs(store.events.forUser(U1, 10, 10))).toEqual([12]);
    expect(store.events.lastSeq()).toBe(40);
    expect(store.events.hasFeed(U1)).toBe(true);
    expect(store.events.hasFeed(U2)).toBe(false);
  });
});

describe('EventLog.waitFor', () => {
  it('wakes only the waiters of a user an event was logged for, and only once it committed', async () => {
    const store = await withFeeds();
    const woken: string[] = [];
    const never = new AbortController();
    const wait = (user: number, name: string) => store.events.waitFor(user, 5000, never.signal).then(() => woken.push(name));
    const u1 = wait(U1, 'u1');
    const u2 = wait(U2, 'u2');
    void wait(U3, 'u3');
    expect(store.events.waiting()).toBe(3);
    const write = store.write((tx) => {
      store.events.append(tx, { kind: 'UPDATE_ROOM', initiator: U1, timestamp: T0, streamId: sid(1) }, LIVE);
      // Not yet: the transaction has not committed.
      tx.afterCommit(() => woken.push('committed'));
    });
    await write;
    await Promise.all([u1, u2]);
    expect(woken).toEqual(['committed', 'u1', 'u2']);
    // U3's waiter still waits: no event of theirs.
    expect(store.events.waiting()).toBe(1);
    never.abort();
    await new Promise((r) => setImmediate(r));
    expect(store.events.waiting()).toBe(0);
  });

  it('resolves at its timeout, or at once for an aborted signal', async () => {
    const store = await withFeeds();
    const started = Date.now();
    await store.events.waitFor(U1, 30, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    await store.events.waitFor(U1, 60_000, AbortSignal.abort());
    expect(store.events.waiting()).toBe(0);
  });
});
