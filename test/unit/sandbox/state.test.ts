import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { userIdOf } from '../../../src/sandbox/ids.js';
import {
  SandboxState, type EventState, type StateRecord, type StateSnapshot, type ObjectRecord, type StreamState, type UserState,
} from '../../../src/sandbox/state.js';
import { toBase64, toBase64Url } from '../../../src/util/bytes.js';

const POD = 196;
const T0 = Date.UTC(2030, 0, 1);

const podRecord: StateRecord = { t: 'pod', podId: POD, name: 'test pod', objectStore: true, entityKey: 'ZW50aXR5', tokenSecret: 'c2VjcmV0' };

function userState(n: number, username = `user${n}`): UserState {
  return {
    id: userIdOf(POD, n), username, displayName: username.toUpperCase(), email: `${username}@example.com`, type: n === 1000 ? 'SYSTEM' : 'NORMAL',
    kmPublicKeyPem: `pub${n}`, kmPrivateKeyPem: `priv${n}`, accountKey: `ak${n}`, wallStreamId: `wall${n}`,
    presence: { category: 'OFFLINE', timestamp: T0 },
  };
}

/** A stream id: URL-safe base64 of `n` repeated. */
function sid(n: number): string {
  return toBase64Url(new Uint8Array(24).fill(n));
}

function streamRecord(id: string, type: StreamState['type'], by: number, members: number[], at = T0): StateRecord {
  return { t: 'stream', id, type, by, at, attributes: type === 'ROOM' ? { name: `room ${id}` } : {}, members: members.map((m) => ({ id: m, owner: m === by })), rotationId: '0', contentKey: `key-${id}-0` };
}

function messageRecord(streamId: string, from: number, n: number, at = T0 + n): StateRecord {
  return { t: 'message', streamId, message: { messageId: `m${n}`, fromUserId: from, ingestionDate: at, payload: { version: 'SOCIALMESSAGE', text: `hello ${n}` } } };
}

const U1 = userIdOf(POD, 1000);
const U2 = userIdOf(POD, 1001);
const U3 = userIdOf(POD, 1002);
const U4 = userIdOf(POD, 1003);

/** A pod with four users. */
function podWithUsers(): SandboxState {
  const state = new SandboxState();
  state.apply(podRecord);
  for (const n of [1000, 1001, 1002, 1003]) state.apply({ t: 'user', user: userState(n) });
  return state;
}

function restored(state: SandboxState): SandboxState {
  return SandboxState.fromSnapshot(JSON.parse(JSON.stringify(state.toSnapshot())) as StateSnapshot);
}

function obj(baseHash: string, absoluteHash: string, version: number, sortKey: string, partitionHash = 'P', extra: Partial<ObjectRecord> = {}): ObjectRecord {
  return { absoluteHash, baseHash, version, partitionHash, sortKey, owner: U1, createdDate: T0 + version, body: { sortKey, v: version }, ...extra };
}

function tombstone(of: ObjectRecord, absoluteHash: string): ObjectRecord {
  return { ...of, absoluteHash, version: of.version + 1, deletionType: 'LOGICAL', body: { _type: 'deleted', deletionType: 'LOGICAL' } };
}

/** Partition index as plain data. */
function indexOf(state: SandboxState): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [p, index] of state.partitionIndex) if (index.size > 0) out[p] = Object.fromEntries([...index].sort());
  return out;
}

describe('SandboxState.apply', () => {
  it('pod and entitlement records set the pod fields', () => {
    const state = new SandboxState();
    state.apply(podRecord);
    expect([state.podId, state.podName, state.objectStore, state.entityKey, state.tokenSecret]).toEqual([POD, 'test pod', true, 'ZW50aXR5', 'c2VjcmV0']);
    state.apply({ t: 'entitlement', objectStore: false });
    expect(state.objectStore).toBe(false);
    expect(state.lastSeq).toBe(0);
    expect(state.events).toEqual([]);
  });

  it('user records index users by id and by lower-cased name, and move the next user id past them', () => {
    const state = new SandboxState();
    state.apply(podRecord);
    expect(state.nextUserId()).toBe(userIdOf(POD, 1000));
    const record = { t: 'user', user: userState(1000, 'Sandbox-Bot') } as const;
    state.apply(record);
    expect(state.users.get(U1)).toEqual(record.user);
    expect(state.usersByName.get('sandbox-bot')).toBe(state.users.get(U1));
    expect(state.usersByName.has('Sandbox-Bot')).toBe(false);
    expect(state.nextUserId()).toBe(userIdOf(POD, 1001));
    state.apply({ t: 'user', user: userState(1500) });
    expect(state.nextUserId()).toBe(userIdOf(POD, 1501));
    state.apply({ t: 'user', user: userState(1200) }); // an older number does not move it back
    expect(state.nextUserId()).toBe(userIdOf(POD, 1501));
    // The state keeps its own presence object: later presence changes do not write into the record.
    state.apply({ t: 'presence', userId: U1, category: 'AVAILABLE', at: T0 + 5 });
    expect(record.user.presence).toEqual({ category: 'OFFLINE', timestamp: T0 });
    expect(state.users.get(U1)!.presence).toEqual({ category: 'AVAILABLE', timestamp: T0 + 5 });
    expect(state.usersByName.get('sandbox-bot')!.presence.category).toBe('AVAILABLE');
  });

  it('a stream record creates the stream and a CREATE_ROOM / CREATE_IM event to its members; a wall has none', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2], T0 + 1));
    state.apply(streamRecord(sid(2), 'IM', U2, [U2, U3], T0 + 2));
    state.apply(streamRecord(sid(3), 'POST', U4, [U4], T0 + 3));
    const room = state.stream(sid(1));
    expect(room).toMatchObject({ id: sid(1), type: 'ROOM', createdBy: U1, createdAt: T0 + 1, active: true, attributes: { name: `room ${sid(1)}` }, currentRotation: '0', messages: [], lastMessageDate: T0 + 1 });
    expect([...room.members]).toEqual([[U1, { owner: true, joinDate: T0 + 1 }], [U2, { owner: false, joinDate: T0 + 1 }]]);
    expect([...room.rotations]).toEqual([['0', `key-${sid(1)}-0`]]);
    expect(state.events.map((e) => [e.seq, e.eventId, e.name, e.payload.event, e.recipients, e.initiatorId, e.timestamp])).toEqual([
      [1, 'e1', 'MAESTRO', 'CREATE_ROOM', [U1, U2], U1, T0 + 1],
      [2, 'e2', 'MAESTRO', 'CREATE_IM', [U2, U3], U2, T0 + 2],
    ]);
    expect(state.events[0]!.payload).toEqual({ version: 'MAESTRO', event: 'CREATE_ROOM', threadId: toBase64(new Uint8Array(24).fill(1)), fromUserId: U1, ingestionDate: T0 + 1 });
    expect(state.lastSeq).toBe(2);
  });

  it('stream.update sets attributes or active and sends UPDATE / DEACTIVATE / REACTIVATE to the members', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2]));
    state.apply({ t: 'stream.update', id: sid(1), at: T0 + 1, by: U1, attributes: { name: 'renamed' } });
    expect(state.stream(sid(1)).attributes).toEqual({ name: 'renamed' });
    state.apply({ t: 'stream.update', id: sid(1), at: T0 + 2, by: U1, active: false });
    expect(state.stream(sid(1)).active).toBe(false);
    expect(state.stream(sid(1)).attributes).toEqual({ name: 'renamed' });
    state.apply({ t: 'stream.update', id: sid(1), at: T0 + 3, by: U2, active: true });
    expect(state.stream(sid(1)).active).toBe(true);
    expect(state.events.slice(1).map((e) => [e.payload.event, e.initiatorId, e.recipients])).toEqual([
      ['UPDATE_ROOM', U1, [U1, U2]], ['DEACTIVATE_ROOM', U1, [U1, U2]], ['REACTIVATE_ROOM', U2, [U1, U2]],
    ]);
  });

  it('member.add and member.remove send MAESTRO events to the members after and before the change', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2]));
    state.apply({ t: 'member.add', streamId: sid(1), userId: U3, by: U1, at: T0 + 10 });
    expect(state.stream(sid(1)).members.get(U3)).toEqual({ owner: false, joinDate: T0 + 10 });
    state.apply({ t: 'member.remove', streamId: sid(1), userId: U2, by: U1, at: T0 + 11 });
    expect([...state.stream(sid(1)).members.keys()]).toEqual([U1, U3]);
    const [join, leave] = state.events.slice(1);
    expect(join).toMatchObject({ seq: 2, name: 'MAESTRO', initiatorId: U1, timestamp: T0 + 10, recipients: [U1, U2, U3] });
    expect(join!.payload).toMatchObject({ event: 'JOIN_ROOM', affectedUserId: U3, fromUserId: U1, ingestionDate: T0 + 10 });
    // The removed member hears of their own removal.
    expect(leave).toMatchObject({ seq: 3, name: 'MAESTRO', recipients: [U1, U2, U3] });
    expect(leave!.payload).toMatchObject({ event: 'LEAVE_ROOM', affectedUserId: U2 });
  });

  it('member.owner promotes and demotes, and tells the members', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2]));
    state.apply({ t: 'member.owner', streamId: sid(1), userId: U2, owner: true, by: U1, at: T0 + 1 });
    expect(state.stream(sid(1)).members.get(U2)!.owner).toBe(true);
    state.apply({ t: 'member.owner', streamId: sid(1), userId: U1, owner: false, by: U2, at: T0 + 2 });
    expect(state.stream(sid(1)).members.get(U1)!.owner).toBe(false);
    expect(state.events.slice(1).map((e) => [e.payload.event, e.payload.affectedUserId, e.recipients])).toEqual([
      ['PROMOTE_OWNER', U2, [U1, U2]], ['DEMOTE_OWNER', U1, [U1, U2]],
    ]);
  });

  it('rotate adds a content key and makes it current, without an event', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'IM', U1, [U1, U2]));
    state.apply({ t: 'rotate', streamId: sid(1), rotationId: '7', contentKey: 'k7', at: T0 + 1 });
    const s = state.stream(sid(1));
    expect(s.currentRotation).toBe('7');
    expect([...s.rotations]).toEqual([['0', `key-${sid(1)}-0`], ['7', 'k7']]);
    expect(state.lastSeq).toBe(1);
  });

  it('a message is stored and posts SOCIALMESSAGE to the members at that time', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2]));
    state.apply(messageRecord(sid(1), U1, 1, T0 + 100));
    state.apply({ t: 'member.add', streamId: sid(1), userId: U3, by: U1, at: T0 + 101 });
    state.apply(messageRecord(sid(1), U2, 2, T0 + 102));
    state.apply({ t: 'member.remove', streamId: sid(1), userId: U1, by: U1, at: T0 + 103 });
    state.apply(messageRecord(sid(1), U3, 3, T0 + 104));
    const s = state.stream(sid(1));
    expect(s.messages.map((m) => m.messageId)).toEqual(['m1', 'm2', 'm3']);
    expect(s.lastMessageDate).toBe(T0 + 104);
    expect(state.messages.get('m2')).toEqual({ streamId: sid(1), message: s.messages[1] });
    const social = state.events.filter((e) => e.name === 'SOCIALMESSAGE');
    expect(social.map((e) => [e.initiatorId, e.timestamp, e.recipients, e.payload.text])).toEqual([
      [U1, T0 + 100, [U1, U2], 'hello 1'],
      [U2, T0 + 102, [U1, U2, U3], 'hello 2'],
      [U3, T0 + 104, [U2, U3], 'hello 3'],
    ]);
    expect(state.eventsFor(U1, 0, 100).map((e) => e.payload.event ?? e.payload.text)).toEqual(['CREATE_ROOM', 'hello 1', 'JOIN_ROOM', 'hello 2', 'LEAVE_ROOM']);
    expect(state.eventsFor(U4, 0, 100)).toEqual([]);
  });

  it('attachments, presence and connections', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'IM', U1, [U1, U2]));
    state.apply({ t: 'attachment', id: 'att1', streamId: sid(1), by: U1, data: Buffer.from('file bytes').toString('base64') });
    expect(state.attachments.get('att1')).toEqual({ streamId: sid(1), by: U1, data: Buffer.from('file bytes') });

    state.apply({ t: 'presence', userId: U2, category: 'BUSY', at: T0 + 9 });
    expect(state.user(U2).presence).toEqual({ category: 'BUSY', timestamp: T0 + 9 });

    state.apply({ t: 'connection', from: U1, to: U2, status: 'PENDING', at: T0 + 1 });
    state.apply({ t: 'connection', from: U1, to: U2, status: 'REJECTED', at: T0 + 2 });
    state.apply({ t: 'connection', from: U1, to: U2, status: 'PENDING', at: T0 + 3 });
    state.apply({ t: 'connection', from: U1, to: U2, status: 'ACCEPTED', at: T0 + 4 });
    expect(state.connections.get(`${U1}:${U2}`)).toEqual({ from: U1, to: U2, status: 'ACCEPTED', firstRequestedAt: T0 + 1, updatedAt: T0 + 4, requestCounter: 2 });
    expect(state.connections.has(`${U2}:${U1}`)).toBe(false);
    expect(state.lastSeq).toBe(1);
  });

  it('feeds start after the newest event, take only forward acks, and can be deleted', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'IM', U1, [U1, U2]));
    state.apply(messageRecord(sid(1), U1, 1));
    state.apply({ t: 'feed', id: 'f1', userId: U2, at: T0 + 1 });
    expect(state.feeds.get('f1')).toEqual({ id: 'f1', userId: U2, createdAt: T0 + 1, ackSeq: 2, lastReadAt: T0 + 1 });
    state.apply({ t: 'feed.ack', id: 'f1', ackSeq: 5, at: T0 + 2 });
    state.apply({ t: 'feed.ack', id: 'f1', ackSeq: 3, at: T0 + 3 });
    expect(state.feeds.get('f1')).toMatchObject({ ackSeq: 5, lastReadAt: T0 + 3 });
    state.apply({ t: 'feed.ack', id: 'nope', ackSeq: 3, at: T0 + 3 });
    expect(state.feeds.has('nope')).toBe(false);
    state.apply({ t: 'feed.delete', id: 'f1' });
    expect(state.feeds.size).toBe(0);
  });

  it('throws on records that name an unknown stream or user (a corrupt journal)', () => {
    const state = podWithUsers();
    expect(() => state.apply(messageRecord(sid(9), U1, 1))).toThrow(/unknown stream/);
    expect(() => state.apply({ t: 'member.add', streamId: sid(9), userId: U1, by: U1, at: T0 })).toThrow(/unknown stream/);
    expect(() => state.apply({ t: 'rotate', streamId: sid(9), rotationId: '1', contentKey: 'k', at: T0 })).toThrow(/unknown stream/);
    expect(() => state.apply({ t: 'presence', userId: 42, category: 'BUSY', at: T0 })).toThrow(/unknown user 42/);
  });

  it('partition records store partitions', () => {
    const state = podWithUsers();
    const partition = { hash: 'P', name: 'notes', owner: U1, permissions: { [String(U2)]: ['READ' as const] } };
    state.apply({ t: 'partition', partition });
    expect(state.partitions.get('P')).toEqual(partition);
  });
});

describe('Object Store writes', () => {
  it('put creates version 1 and indexes it by partition and sort key', () => {
    const state = podWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }] });
    expect(state.objects.get('A')).toEqual(a1);
    expect(state.objectVersions.get('A')).toEqual(['A']);
    expect(state.currentObject('A')).toEqual(a1);
    expect(state.currentObject('B')).toBeUndefined();
    expect(indexOf(state)).toEqual({ P: { k1: 'A' } });
  });

  it('an update chain keeps every version, oldest first, and re-indexes a changed sort key', () => {
    const state = podWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    const a2 = obj('A', 'A2', 2, 'k1');
    const a3 = obj('A', 'A3', 3, 'k2');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a2 }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a3 }] });
    expect(state.objectVersions.get('A')).toEqual(['A', 'A2', 'A3']);
    expect([...state.objects.keys()]).toEqual(['A', 'A2', 'A3']);
    expect(state.currentObject('A')).toEqual(a3);
    expect(indexOf(state)).toEqual({ P: { k2: 'A' } });
  });

  it('a logical delete adds a tombstone version that stays in the index', () => {
    const state = podWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    const dead = tombstone(a1, 'A2');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }, { kind: 'put', object: obj('B', 'B', 1, 'k2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'A', deletionType: 'LOGICAL', tombstone: dead }] });
    expect(state.objectVersions.get('A')).toEqual(['A', 'A2']);
    expect(state.objects.get('A')).toEqual(a1);
    expect(state.currentObject('A')).toEqual(dead);
    expect(state.currentObject('A')!.deletionType).toBe('LOGICAL');
    expect(indexOf(state)).toEqual({ P: { k1: 'A', k2: 'B' } });
  });

  it('a physical delete removes every version and the index entry', () => {
    const state = podWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }, { kind: 'put', object: obj('B', 'B', 1, 'k2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: obj('A', 'A2', 2, 'k1') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'A', deletionType: 'PHYSICAL' }] });
    expect(state.objectVersions.has('A')).toBe(false);
    expect(state.objects.has('A')).toBe(false);
    expect(state.objects.has('A2')).toBe(false);
    expect(state.currentObject('A')).toBeUndefined();
    expect(indexOf(state)).toEqual({ P: { k2: 'B' } });
    // Physically deleting a logically deleted object removes its tombstone too.
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'B', deletionType: 'LOGICAL', tombstone: tombstone(obj('B', 'B', 1, 'k2'), 'B2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'B', deletionType: 'PHYSICAL' }] });
    expect(state.objects.size).toBe(0);
    expect(state.objectVersions.size).toBe(0);
    expect(indexOf(state)).toEqual({});
  });

  it('deleting an object whose sort key another object has since taken leaves that object indexed', () => {
    // The routes let a new object take the sort key of a logically deleted one; the old one may then be purged.
    const state = podWithUsers();
    const a1 = obj('A', 'A', 1, 'k');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'A', deletionType: 'LOGICAL', tombstone: tombstone(a1, 'A2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: obj('B', 'B', 1, 'k') }] });
    expect(indexOf(state)).toEqual({ P: { k: 'B' } });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'A', deletionType: 'PHYSICAL' }] });
    expect(indexOf(state)).toEqual({ P: { k: 'B' } });
    expect(indexOf(restored(state))).toEqual({ P: { k: 'B' } });
  });

  it('a restored state indexes a live object, not the tombstone of an older one, under a shared sort key', () => {
    // A (sort key k1) is created first; B takes k, is logically deleted; then A moves to k.
    const state = podWithUsers();
    const b1 = obj('B', 'B', 1, 'k');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: obj('A', 'A', 1, 'k1') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: b1 }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'B', deletionType: 'LOGICAL', tombstone: tombstone(b1, 'B2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: obj('A', 'A2', 2, 'k') }] });
    expect(indexOf(state)).toEqual({ P: { k: 'A' } });
    expect(indexOf(restored(state))).toEqual({ P: { k: 'A' } });
  });
});

describe('eventsFor', () => {
  function withEvents(): SandboxState {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2])); // 1: U1 U2
    state.apply(streamRecord(sid(2), 'IM', U3, [U3, U4])); // 2: U3 U4
    for (let i = 0; i < 6; i++) state.apply(messageRecord(sid(1 + (i % 2)), i % 2 === 0 ? U1 : U3, i)); // 3..8 alternating
    return state;
  }

  it('returns the user\'s events after afterSeq, up to upToSeq, at most limit', () => {
    const state = withEvents();
    const seqs = (es: EventState[]) => es.map((e) => e.seq);
    expect(seqs(state.eventsFor(U1, 0, 100))).toEqual([1, 3, 5, 7]);
    expect(seqs(state.eventsFor(U4, 0, 100))).toEqual([2, 4, 6, 8]);
    expect(seqs(state.eventsFor(U1, 3, 100))).toEqual([5, 7]);
    expect(seqs(state.eventsFor(U1, 4, 100))).toEqual([5, 7]);
    expect(seqs(state.eventsFor(U1, 0, 2))).toEqual([1, 3]);
    expect(seqs(state.eventsFor(U1, 0, 0))).toEqual([]);
    expect(seqs(state.eventsFor(U1, 0, 100, 5))).toEqual([1, 3, 5]);
    expect(seqs(state.eventsFor(U1, 0, 100, 4))).toEqual([1, 3]);
    expect(seqs(state.eventsFor(U1, 8, 100))).toEqual([]);
    expect(seqs(state.eventsFor(U1, -5, 100))).toEqual([1, 3, 5, 7]);
    expect(seqs(state.eventsFor(42, 0, 100))).toEqual([]);
    expect(state.lastSeq).toBe(8);
  });

  it('agrees with a linear filter (binary search)', () => {
    fc.assert(fc.property(
      fc.array(fc.subarray([U1, U2, U3, U4], { minLength: 1 }), { maxLength: 60 }),
      fc.constantFrom(U1, U2, U3, U4),
      fc.integer({ min: -2, max: 70 }), fc.integer({ min: 0, max: 70 }), fc.option(fc.integer({ min: -2, max: 70 }), { nil: undefined }),
      (memberSets, user, afterSeq, limit, upToSeq) => {
        const state = podWithUsers();
        memberSets.forEach((members, i) => state.apply(streamRecord(sid(i + 1), 'MIM', members[0]!, members, T0 + i)));
        const expected = state.events
          .filter((e) => e.seq > afterSeq && e.seq <= (upToSeq ?? Infinity) && e.recipients.includes(user))
          .slice(0, limit);
        expect(state.eventsFor(user, afterSeq, limit, upToSeq)).toEqual(expected);
      },
    ), { numRuns: 300 });
  });
});

// ---- Snapshots ----

/** What the fuzzer does next; indices pick among what exists (modulo), and a step that makes no sense is skipped. */
type Step =
  | { k: 'user'; name: number }
  | { k: 'stream'; type: 'IM' | 'MIM' | 'ROOM' | 'POST'; by: number; members: number[] }
  | { k: 'update'; s: number; active: boolean | undefined }
  | { k: 'add' | 'remove' | 'owner' | 'message' | 'attachment'; s: number; u: number }
  | { k: 'rotate'; s: number }
  | { k: 'presence'; u: number; category: string }
  | { k: 'connection'; u: number; v: number; status: 'PENDING' | 'ACCEPTED' | 'REJECTED' }
  | { k: 'feed'; u: number }
  | { k: 'ack'; f: number; seq: number }
  | { k: 'feedDelete'; f: number }
  | { k: 'entitlement'; on: boolean }
  | { k: 'partition'; p: number; u: number }
  | { k: 'put'; o: number; p: number; sortKey: number }
  | { k: 'delete'; o: number; logical: boolean };

const idx = fc.nat(40);
const otherStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant('user' as const), name: fc.nat(1000) }),
  fc.record({ k: fc.constant('stream' as const), type: fc.constantFrom('IM' as const, 'MIM' as const, 'ROOM' as const, 'POST' as const), by: idx, members: fc.array(idx, { maxLength: 4 }) }),
  fc.record({ k: fc.constant('update' as const), s: idx, active: fc.option(fc.boolean(), { nil: undefined }) }),
  fc.record({ k: fc.constantFrom('add' as const, 'remove' as const, 'owner' as const, 'message' as const, 'message' as const, 'attachment' as const), s: idx, u: idx }),
  fc.record({ k: fc.constant('rotate' as const), s: idx }),
  fc.record({ k: fc.constant('presence' as const), u: idx, category: fc.constantFrom('AVAILABLE', 'BUSY', 'AWAY') }),
  fc.record({ k: fc.constant('connection' as const), u: idx, v: idx, status: fc.constantFrom('PENDING' as const, 'ACCEPTED' as const, 'REJECTED' as const) }),
  fc.record({ k: fc.constant('feed' as const), u: idx }),
  fc.record({ k: fc.constant('ack' as const), f: idx, seq: fc.nat(100) }),
  fc.record({ k: fc.constant('feedDelete' as const), f: idx }),
  fc.record({ k: fc.constant('entitlement' as const), on: fc.boolean() }),
  fc.record({ k: fc.constant('partition' as const), p: fc.nat(2), u: idx }),
);
// Few objects, partitions and sort keys, so that objects compete for sort keys.
const objectStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant('put' as const), o: fc.nat(3), p: fc.nat(3).map((p) => (p === 3 ? 1 : 0)), sortKey: fc.nat(2) }),
  fc.record({ k: fc.constant('delete' as const), o: fc.nat(3), logical: fc.nat(2).map((n) => n > 0) }),
);
const step: fc.Arbitrary<Step> = fc.oneof(otherStep, objectStep);

/**
 * Turn steps into records valid for `state` (which they are applied to as they are made), following the
 * rules the routes enforce (live sort keys unique in a partition, no update of a deleted object).
 */
function play(state: SandboxState, steps: Step[], counter: { n: number }): StateRecord[] {
  const out: StateRecord[] = [];
  const pick = <T>(items: T[], i: number): T | undefined => (items.length === 0 ? undefined : items[i % items.length]);
  for (const s of steps) {
    const n = ++counter.n;
    const at = T0 + n * 1000;
    const users = [...state.users.keys()];
    const streams = [...state.streams.keys()];
    const feeds = [...state.feeds.keys()];
    let r: StateRecord | undefined;
    switch (s.k) {
      case 'user': {
        const username = `u${s.name}`;
        if (!state.usersByName.has(username)) r = { t: 'user', user: { ...userState(0, username), id: state.nextUserId() } };
        break;
      }
      case 'stream': {
        const by = pick(users, s.by);
        if (by !== undefined) r = streamRecord(`s${n}`, s.type, by, [...new Set([by, ...s.members.map((m) => pick(users, m)!)])], at);
        break;
      }
      case 'update': {
        const id = pick(streams, s.s);
        if (id !== undefined) r = { t: 'stream.update', id, at, by: state.stream(id).createdBy, ...(s.active === undefined ? { attributes: { name: `n${n}` } } : { active: s.active }) };
        break;
      }
      case 'add': case 'remove': case 'owner': case 'message': case 'attachment': {
        const id = pick(streams, s.s);
        const u = pick(users, s.u);
        if (id === undefined || u === undefined) break;
        if (s.k === 'add') r = { t: 'member.add', streamId: id, userId: u, by: u, at };
        else if (s.k === 'remove') r = { t: 'member.remove', streamId: id, userId: u, by: u, at };
        else if (s.k === 'owner') r = { t: 'member.owner', streamId: id, userId: u, owner: n % 2 === 0, by: u, at };
        else if (s.k === 'message') r = messageRecord(id, u, n, at);
        else r = { t: 'attachment', id: `a${n}`, streamId: id, by: u, data: Buffer.from(`data ${n}`).toString('base64') };
        break;
      }
      case 'rotate': {
        const id = pick(streams, s.s);
        if (id !== undefined) r = { t: 'rotate', streamId: id, rotationId: String(n), contentKey: `k${n}`, at };
        break;
      }
      case 'presence': {
        const u = pick(users, s.u);
        if (u !== undefined) r = { t: 'presence', userId: u, category: s.category, at };
        break;
      }
      case 'connection': {
        const u = pick(users, s.u);
        const v = pick(users, s.v);
        if (u !== undefined && v !== undefined && u !== v) r = { t: 'connection', from: u, to: v, status: s.status, at };
        break;
      }
      case 'feed': {
        const u = pick(users, s.u);
        if (u !== undefined) r = { t: 'feed', id: `f${n}`, userId: u, at };
        break;
      }
      case 'ack': {
        const id = pick(feeds, s.f);
        if (id !== undefined) r = { t: 'feed.ack', id, ackSeq: Math.min(s.seq, state.lastSeq), at };
        break;
      }
      case 'feedDelete': {
        const id = pick(feeds, s.f);
        if (id !== undefined) r = { t: 'feed.delete', id };
        break;
      }
      case 'entitlement':
        r = { t: 'entitlement', objectStore: s.on };
        break;
      case 'partition': {
        const u = pick(users, s.u);
        if (u !== undefined) r = { t: 'partition', partition: { hash: `P${s.p}`, name: `p${s.p}`, owner: u, permissions: { [String(u)]: ['READ', 'WRITE'] } } };
        break;
      }
      case 'put': {
        const baseHash = `O${s.o}`;
        const current = state.currentObject(baseHash);
        if (current?.deletionType !== undefined) break; // 410
        const partitionHash = current?.partitionHash ?? `P${s.p}`;
        const sortKey = `key${s.sortKey}`;
        const holder = state.partitionIndex.get(partitionHash)?.get(sortKey);
        if (holder !== undefined && holder !== baseHash && state.currentObject(holder)?.deletionType === undefined) break; // 409
        const version = (current?.version ?? 0) + 1;
        r = { t: 'objects', writes: [{ kind: 'put', object: obj(baseHash, current === undefined ? baseHash : `${baseHash}v${n}`, version, sortKey, partitionHash) }] };
        break;
      }
      case 'delete': {
        const baseHash = `O${s.o}`;
        const current = state.currentObject(baseHash);
        if (current === undefined || (s.logical && current.deletionType !== undefined)) break;
        r = s.logical
          ? { t: 'objects', writes: [{ kind: 'delete', baseHash, deletionType: 'LOGICAL', tombstone: tombstone(current, `${baseHash}v${n}`) }] }
          : { t: 'objects', writes: [{ kind: 'delete', baseHash, deletionType: 'PHYSICAL' }] };
        break;
      }
    }
    if (r !== undefined) {
      state.apply(r);
      out.push(r);
    }
  }
  return out;
}

/** Everything observable about a state, as plain data. */
function observe(state: SandboxState): unknown {
  const liveIndex: Record<string, string> = {};
  for (const [p, index] of state.partitionIndex) {
    for (const [sortKey, baseHash] of index) {
      const current = state.currentObject(baseHash);
      // Every entry names an existing object whose current version has that sort key.
      expect(current?.partitionHash).toBe(p);
      expect(current?.sortKey).toBe(sortKey);
      if (current!.deletionType === undefined) liveIndex[`${p}/${sortKey}`] = baseHash;
    }
  }
  for (const versions of state.objectVersions.values()) {
    const current = state.objects.get(versions.at(-1)!)!;
    if (current.deletionType === undefined) expect(liveIndex[`${current.partitionHash}/${current.sortKey}`]).toBe(current.baseHash);
  }
  return {
    snapshot: JSON.parse(JSON.stringify(state.toSnapshot())),
    nextUserId: state.nextUserId(),
    lastSeq: state.lastSeq,
    usersByName: [...state.usersByName].map(([name, u]) => [name, u.id]).sort(),
    messages: [...state.messages].map(([id, m]) => [id, m.streamId, m.message.messageId]).sort(),
    attachments: [...state.attachments].map(([id, a]) => [id, a.streamId, a.by, a.data.toString('hex')]),
    objects: [...state.objects.keys()].sort(),
    liveIndex: Object.entries(liveIndex).sort(),
    eventsFor: [...state.users.keys()].map((u) => state.eventsFor(u, 0, 1000).map((e) => e.seq)),
  };
}

describe('snapshots', () => {
  it('a JSON round trip of toSnapshot rebuilds the same state, objects and events included', () => {
    const state = podWithUsers();
    state.apply(streamRecord(sid(1), 'ROOM', U1, [U1, U2]));
    state.apply(streamRecord(sid(2), 'POST', U3, [U3]));
    state.apply(messageRecord(sid(1), U2, 1));
    state.apply({ t: 'rotate', streamId: sid(1), rotationId: '5', contentKey: 'k5', at: T0 + 2 });
    state.apply({ t: 'attachment', id: 'att', streamId: sid(1), by: U1, data: 'AAEC' });
    state.apply({ t: 'connection', from: U1, to: U3, status: 'PENDING', at: T0 + 3 });
    state.apply({ t: 'feed', id: 'f', userId: U2, at: T0 + 4 });
    state.apply({ t: 'partition', partition: { hash: 'P', name: 'p', owner: U1, permissions: {} } });
    const a1 = obj('A', 'A', 1, 'k1');
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: a1 }, { kind: 'put', object: obj('B', 'B', 1, 'k2') }, { kind: 'put', object: obj('C', 'C', 1, 'k3') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'put', object: obj('A', 'A2', 2, 'k1') }, { kind: 'delete', baseHash: 'B', deletionType: 'LOGICAL', tombstone: tombstone(obj('B', 'B', 1, 'k2'), 'B2') }] });
    state.apply({ t: 'objects', writes: [{ kind: 'delete', baseHash: 'C', deletionType: 'PHYSICAL' }] });

    const copy = restored(state);
    expect(JSON.stringify(copy.toSnapshot())).toBe(JSON.stringify(state.toSnapshot()));
    expect(observe(copy)).toEqual(observe(state));
    expect(copy.toSnapshot().objectVersions.map((vs) => vs.map((o) => o.absoluteHash))).toEqual([['A', 'A2'], ['B', 'B2']]);
    expect(copy.stream(sid(1)).members).toBeInstanceOf(Map);
    expect(copy.stream(sid(1)).rotations.get('5')).toBe('k5');
    expect(copy.attachments.get('att')!.data).toEqual(Buffer.from([0, 1, 2]));
    expect(copy.messages.get('m1')!.message).toBe(copy.stream(sid(1)).messages[0]);
    expect(copy.usersByName.get('user1001')).toBe(copy.users.get(U2));
    expect(copy.lastSeq).toBe(state.lastSeq);

    // Both continue identically: sequence numbers and user numbers carry on.
    const next: StateRecord[] = [messageRecord(sid(1), U1, 2), { t: 'user', user: { ...userState(0, 'late'), id: state.nextUserId() } }];
    for (const r of next) {
      state.apply(r);
      copy.apply(structuredClone(r));
    }
    expect(copy.lastSeq).toBe(3);
    expect(observe(copy)).toEqual(observe(state));
  });

  it('restores a state with more events than fit in one call\'s arguments', () => {
    const state = podWithUsers();
    const snapshot = JSON.parse(JSON.stringify(state.toSnapshot())) as StateSnapshot;
    const count = 250_000;
    const recipients = [U1];
    const payload = {};
    snapshot.events = Array.from({ length: count }, (_, i): EventState => ({ seq: i + 1, eventId: `e${i + 1}`, name: 'SOCIALMESSAGE', initiatorId: U1, timestamp: T0, recipients, payload }));
    snapshot.nextSeq = count + 1;
    const copy = SandboxState.fromSnapshot(snapshot);
    expect(copy.events).toHaveLength(count);
    expect(copy.lastSeq).toBe(count);
    expect(copy.eventsFor(U1, count - 2, 10).map((e) => e.seq)).toEqual([count - 1, count]);
  });

  it('round-trips random histories, and a restored state continues like the original', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 50 }), fc.array(step, { maxLength: 20 }), (before, after) => {
      const original = podWithUsers();
      const counter = { n: 0 };
      play(original, before, counter);
      const copy = restored(original);
      expect(JSON.stringify(copy.toSnapshot())).toBe(JSON.stringify(original.toSnapshot()));
      expect(observe(copy)).toEqual(observe(original));
      const later = play(original, after, counter);
      for (const r of later) copy.apply(structuredClone(r));
      expect(observe(copy)).toEqual(observe(original));
      // A second round trip of the continued state is stable too.
      expect(observe(restored(copy))).toEqual(observe(original));
    }), { numRuns: 500 });
  });
});
