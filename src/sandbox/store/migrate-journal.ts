/**
 * Migration of a wave-1 data directory (docs/sandbox.md "Persistence"): before the sandbox stored its state in
 * SQLite it kept a JSON-lines journal, `journal/snapshot.json` (`{"generation": g, "snapshot": …}`, absent before
 * the first compaction) and `journal/journal-<g>.log` (the records appended after snapshot g, one JSON text per
 * line). {@link migrateJournal} reads both and writes what they hold into the store in one transaction: the
 * snapshot's state, then each record mapped to store writes. Event sequence numbers, feeds and their acknowledged
 * positions keep their values, so a feed resumes where it was; events no feed can still deliver are not carried
 * over. The caller renames `journal/` to `journal.migrated/` afterwards.
 *
 * An unterminated last line (an interrupted append) is ignored; any other damage stops the migration with an
 * error and leaves the journal as it was.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toBase64Url, tryFromBase64 } from '../../util/bytes.js';
import type { EventKind } from './events.js';
import type { ObjectRecord, Partition } from './objects.js';
import type { SandboxStore } from './store.js';
import { conversationKey, type Stream } from './streams.js';
import type { Tx } from './transaction.js';
import type { User } from './users.js';

interface LegacyUser extends Omit<User, 'accountKey'> { accountKey: string }
interface LegacyMessage { messageId: string; fromUserId: number; ingestionDate: number; payload: Record<string, unknown> }
interface LegacyStream {
  id: string; type: Stream['type']; createdBy: number; createdAt: number; active: boolean; attributes: Record<string, unknown>;
  members: Array<[number, { owner: boolean; joinDate: number }]>; rotations: Array<[string, string]>; currentRotation: string;
  messages: LegacyMessage[]; lastMessageDate: number;
}
interface LegacyEvent { seq: number; name: 'SOCIALMESSAGE' | 'MAESTRO'; initiatorId: number; timestamp: number; recipients: number[]; payload: Record<string, unknown> }
interface LegacyFeed { id: string; userId: number; createdAt: number; ackSeq: number; lastReadAt: number }
interface LegacySnapshot {
  podId: number; podName: string; objectStore: boolean; entityKey: string; tokenSecret: string; nextUserNumber: number; nextSeq: number;
  users: LegacyUser[]; streams: LegacyStream[]; attachments: Array<{ id: string; streamId: string; by: number; data: string }>;
  connections: Array<{ from: number; to: number; status: 'PENDING' | 'ACCEPTED' | 'REJECTED'; firstRequestedAt: number; updatedAt: number; requestCounter: number }>;
  feeds: LegacyFeed[]; events: LegacyEvent[]; partitions: Partition[]; objectVersions: ObjectRecord[][];
  blobs?: Array<{ id: string; owner: number; size: number; createdAt: number }>;
}
type ObjectWrite =
  | { kind: 'put'; object: ObjectRecord }
  | { kind: 'delete'; baseHash: string; deletionType: 'PHYSICAL' }
  | { kind: 'delete'; baseHash: string; deletionType: 'LOGICAL'; tombstone: ObjectRecord };
type LegacyRecord =
  | { t: 'pod'; podId: number; name: string; objectStore: boolean; entityKey: string; tokenSecret: string }
  | { t: 'user'; user: LegacyUser }
  | { t: 'stream'; id: string; type: Stream['type']; by: number; at: number; attributes: Record<string, unknown>; members: Array<{ id: number; owner: boolean }>; rotationId: string; contentKey: string }
  | { t: 'stream.update'; id: string; at: number; by: number; attributes?: Record<string, unknown>; active?: boolean }
  | { t: 'member.add' | 'member.remove'; streamId: string; userId: number; by: number; at: number }
  | { t: 'member.owner'; streamId: string; userId: number; owner: boolean; by: number; at: number }
  | { t: 'rotate'; streamId: string; rotationId: string; contentKey: string; at: number }
  | { t: 'message'; streamId: string; message: LegacyMessage }
  | { t: 'attachment'; id: string; streamId: string; by: number; data: string }
  | { t: 'presence'; userId: number; category: string; at: number }
  | { t: 'connection'; from: number; to: number; status: 'PENDING' | 'ACCEPTED' | 'REJECTED'; at: number }
  | { t: 'feed'; id: string; userId: number; at: number }
  | { t: 'feed.ack'; id: string; ackSeq: number; at: number }
  | { t: 'feed.delete'; id: string }
  | { t: 'entitlement'; objectStore: boolean }
  | { t: 'partition'; partition: Partition }
  | { t: 'objects'; writes: ObjectWrite[] }
  | { t: 'blob'; id: string; owner: number; size: number; createdAt: number }
  | { t: 'blob.delete'; id: string };

const USER_BITS = 2 ** 36;
const b64 = (s: string) => Buffer.from(s, 'base64');
/** The stored (URL-safe) form of an id the journal holds in standard base64. */
const urlSafe = (id: unknown) => (typeof id === 'string' ? toBase64Url(tryFromBase64(id) ?? new Uint8Array(0)) : '');

/** Read a wave-1 journal directory: its snapshot (if any) and the records after it. */
export async function readJournal(dir: string): Promise<{ snapshot: LegacySnapshot | undefined; records: LegacyRecord[] }> {
  let generation = 0;
  let snapshot: LegacySnapshot | undefined;
  try {
    const saved = JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8')) as { generation: number; snapshot: LegacySnapshot };
    ({ generation, snapshot } = saved);
    if (!Number.isSafeInteger(generation) || snapshot === undefined) throw new Error(`${join(dir, 'snapshot.json')} has no generation and snapshot`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const path = join(dir, `journal-${generation}.log`);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    data = Buffer.alloc(0);
  }
  const records: LegacyRecord[] = [];
  for (let start = 0, end = data.indexOf(0x0a); end !== -1; start = end + 1, end = data.indexOf(0x0a, start)) {
    try {
      records.push(JSON.parse(data.subarray(start, end).toString('utf8')) as LegacyRecord);
    } catch (err) {
      throw new Error(`${path}: line ${records.length + 1} is corrupt; the journal was not migrated`, { cause: err });
    }
  }
  return { snapshot, records };
}

/** Write what a wave-1 journal holds into an empty store, in one transaction. */
export async function migrateJournal(store: SandboxStore, dir: string): Promise<void> {
  const { snapshot, records } = await readJournal(dir);
  await store.write((tx) => {
    const replay = new Replay(store, tx, snapshot?.nextSeq ?? 1);
    if (snapshot !== undefined) replay.snapshot(snapshot);
    for (const r of records) replay.record(r);
    replay.finish();
  });
}

/** The mapping of the wave-1 state and records to store writes. */
class Replay {
  readonly #store: SandboxStore;
  readonly #tx: Tx;
  #nextSeq: number;
  #podId = 0;

  constructor(store: SandboxStore, tx: Tx, nextSeq: number) {
    this.#store = store;
    this.#tx = tx;
    this.#nextSeq = nextSeq;
  }

  snapshot(s: LegacySnapshot): void {
    const store = this.#store;
    const tx = this.#tx;
    this.#pod({ podId: s.podId, name: s.podName, objectStore: s.objectStore, entityKey: s.entityKey, tokenSecret: s.tokenSecret });
    for (const u of s.users) this.#user(u);
    store.pod.useUserNumber(tx, s.nextUserNumber - 1);
    for (const st of s.streams) {
      const rotations = new Map(st.rotations);
      const stream: Stream = { ...st };
      const members = st.members.map(([userId, m]) => ({ userId, owner: m.owner, joinDate: m.joinDate }));
      store.streams.insert(tx, stream, members, b64(rotations.get(st.currentRotation) ?? rotations.values().next().value!), this.#conversation(st.type, members.map((m) => m.userId)));
      for (const [rotationId, key] of rotations) if (rotationId !== st.currentRotation) store.streams.addRotation(tx, st.id, rotationId, b64(key));
      for (const m of st.messages) store.messages.insert(tx, { messageId: m.messageId, streamId: st.id, fromUserId: m.fromUserId, ingestionDate: m.ingestionDate, posted: m.payload });
    }
    for (const a of s.attachments) store.messages.insertAttachment(tx, { id: a.id, streamId: a.streamId, by: a.by }, b64(a.data));
    for (const c of s.connections) store.users.restoreConnection(tx, c);
    for (const f of s.feeds) store.events.restoreFeed(tx, f);
    for (const e of s.events) {
      const recipients = e.recipients.filter((id) => s.feeds.some((f) => f.userId === id && f.ackSeq < e.seq));
      if (recipients.length === 0) continue;
      const messageSeq = e.name === 'SOCIALMESSAGE' ? store.messages.get(urlSafe(e.payload.messageId))?.seq : undefined;
      store.events.restoreEvent(tx, {
        seq: e.seq, kind: e.name === 'SOCIALMESSAGE' ? 'SOCIALMESSAGE' : e.payload.event as EventKind, initiator: e.initiatorId, timestamp: e.timestamp,
        streamId: urlSafe(e.payload.threadId), ...(typeof e.payload.affectedUserId === 'number' ? { affectedUserId: e.payload.affectedUserId } : {}),
        ...(messageSeq === undefined ? {} : { messageSeq }),
      }, recipients);
    }
    for (const p of s.partitions) store.objects.setPartition(tx, p);
    for (const versions of s.objectVersions) for (const o of versions) store.objects.put(tx, o);
    for (const b of s.blobs ?? []) store.blobs.insert(tx, b);
  }

  record(r: LegacyRecord): void {
    const store = this.#store;
    const tx = this.#tx;
    switch (r.t) {
      case 'pod':
        this.#pod(r);
        return;
      case 'entitlement':
        store.pod.setObjectStore(tx, r.objectStore);
        return;
      case 'user':
        this.#user(r.user);
        return;
      case 'stream': {
        const members = r.members.map((m) => ({ userId: m.id, owner: m.owner, joinDate: r.at }));
        store.streams.insert(tx, {
          id: r.id, type: r.type, createdBy: r.by, createdAt: r.at, active: true, attributes: r.attributes, currentRotation: r.rotationId, lastMessageDate: r.at,
        }, members, b64(r.contentKey), this.#conversation(r.type, members.map((m) => m.userId)));
        if (r.type !== 'POST') this.#event(r.type === 'ROOM' ? 'CREATE_ROOM' : 'CREATE_IM', r.id, r.by, r.at);
        return;
      }
      case 'stream.update':
        store.streams.update(tx, r.id, { ...(r.attributes === undefined ? {} : { attributes: r.attributes }), ...(r.active === undefined ? {} : { active: r.active }) });
        this.#event(r.active === undefined ? 'UPDATE_ROOM' : r.active ? 'REACTIVATE_ROOM' : 'DEACTIVATE_ROOM', r.id, r.by, r.at);
        return;
      case 'member.add':
        store.streams.setMember(tx, r.streamId, { userId: r.userId, owner: false, joinDate: r.at });
        this.#event('JOIN_ROOM', r.streamId, r.by, r.at, { affectedUserId: r.userId });
        return;
      case 'member.remove':
        this.#event('LEAVE_ROOM', r.streamId, r.by, r.at, { affectedUserId: r.userId });
        store.streams.removeMember(tx, r.streamId, r.userId);
        return;
      case 'member.owner': {
        const m = store.streams.member(r.streamId, r.userId);
        if (m !== undefined) store.streams.setMember(tx, r.streamId, { ...m, owner: r.owner });
        this.#event(r.owner ? 'PROMOTE_OWNER' : 'DEMOTE_OWNER', r.streamId, r.by, r.at, { affectedUserId: r.userId });
        return;
      }
      case 'rotate':
        store.streams.rotate(tx, r.streamId, r.rotationId, b64(r.contentKey));
        return;
      case 'message': {
        const m = r.message;
        const seq = store.messages.insert(tx, { messageId: m.messageId, streamId: r.streamId, fromUserId: m.fromUserId, ingestionDate: m.ingestionDate, posted: m.payload });
        store.streams.setLastMessageDate(tx, r.streamId, m.ingestionDate);
        this.#event('SOCIALMESSAGE', r.streamId, m.fromUserId, m.ingestionDate, { messageSeq: seq });
        return;
      }
      case 'attachment':
        store.messages.insertAttachment(tx, { id: r.id, streamId: r.streamId, by: r.by }, b64(r.data));
        return;
      case 'presence':
        store.users.setPresence(tx, r.userId, r.category, r.at);
        return;
      case 'connection':
        store.users.setConnection(tx, r.from, r.to, r.status, r.at);
        return;
      case 'feed':
        store.events.restoreFeed(tx, { id: r.id, userId: r.userId, createdAt: r.at, ackSeq: this.#nextSeq - 1, lastReadAt: r.at });
        return;
      case 'feed.ack': {
        const f = store.events.feed(r.id);
        if (f !== undefined) store.events.acknowledge(tx, f, r.ackSeq, r.at, 0);
        return;
      }
      case 'feed.delete': {
        const f = store.events.feed(r.id);
        if (f !== undefined) store.events.deleteFeed(tx, f, 0);
        return;
      }
      case 'partition':
        store.objects.setPartition(tx, r.partition);
        return;
      case 'objects':
        for (const w of r.writes) {
          if (w.kind === 'put') store.objects.put(tx, w.object);
          else if (w.deletionType === 'LOGICAL') store.objects.put(tx, w.tombstone);
          else store.objects.deletePhysically(tx, w.baseHash);
        }
        return;
      case 'blob':
        store.blobs.insert(tx, { id: r.id, owner: r.owner, size: r.size, createdAt: r.createdAt });
        return;
      case 'blob.delete':
        store.blobs.delete(tx, r.id);
        return;
    }
  }

  /** Carry the event numbering over, and drop what the feeds have acknowledged. */
  finish(): void {
    this.#store.events.restoreSequence(this.#tx, this.#nextSeq - 1);
    for (const u of this.#store.users.all()) this.#store.events.pruneUser(this.#tx, u.id, 0, Number.MAX_SAFE_INTEGER);
  }

  #pod(p: { podId: number; name: string; objectStore: boolean; entityKey: string; tokenSecret: string }): void {
    this.#podId = p.podId;
    this.#store.pod.create(this.#tx, {
      podId: p.podId, name: p.name, objectStore: p.objectStore, entityKey: b64(p.entityKey), tokenSecret: b64(p.tokenSecret),
      feedSecret: randomBytes(32), nextUserNumber: 1000,
    });
  }

  #user(u: LegacyUser): void {
    this.#store.users.insert(this.#tx, { ...u, accountKey: b64(u.accountKey) });
    this.#store.pod.useUserNumber(this.#tx, u.id - this.#podId * USER_BITS);
  }

  #conversation(type: Stream['type'], members: number[]): string | undefined {
    return type === 'IM' || type === 'MIM' ? conversationKey(type, members) : undefined;
  }

  /** Number an event as wave 1 did (every event, delivered or not), and keep it if a feed can still deliver it. */
  #event(kind: EventKind, streamId: string, initiator: number, timestamp: number, extra: { affectedUserId?: number; messageSeq?: number } = {}): void {
    const seq = this.#nextSeq++;
    const recipients = this.#store.streams.members(streamId).map((m) => m.userId).filter((id) => this.#store.events.hasFeed(id));
    if (recipients.length > 0) this.#store.events.restoreEvent(this.#tx, { seq, kind, initiator, timestamp, streamId, ...extra }, recipients);
  }
}
