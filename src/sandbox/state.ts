/**
 * The sandbox's state: pod, users with their Key Manager keys, streams with members and per-rotation content
 * keys, messages, attachments, connections, presence, datafeeds and their events, Object Store objects, and blobs
 * (metadata only; their bytes are files, routes/blobs.ts). Every change is a {@link StateRecord}; `apply` is the only
 * code that mutates state and is deterministic, so replaying the journal (journal.ts) rebuilds exactly the state that was acknowledged. Randomness (keys, ids, timestamps) is
 * drawn before a record is made, never inside `apply`.
 *
 * Object Store feeds and their queues are object-feeds.ts's, which applies their records.
 *
 * Datafeed events are derived from records as they are applied (a message posts a SOCIALMESSAGE event to every
 * member, a membership change a MAESTRO event), so they need no records of their own.
 */
import { standardBase64Id, userIdOf } from './ids.js';
import { ObjectFeedStore, type ObjectFeedRecord, type ObjectFeedSnapshot } from './object-feeds.js';

/** A user or bot of the pod. */
export interface UserState {
  id: number;
  username: string;
  displayName: string;
  email: string;
  type: 'NORMAL' | 'SYSTEM';
  /** RSA public key (SPKI PEM) registered for JWT login; undefined = certificate login only. */
  loginPublicKeyPem?: string;
  /** The user's Key Manager key pair (`GET /relay/keys/me`), PEM. */
  kmPublicKeyPem: string;
  kmPrivateKeyPem: string;
  /** Account key, rotation 0, base64 (32 bytes). */
  accountKey: string;
  /** The user's wall (POST) stream, used by Symphony as the salt thread of hashtag search tokens. */
  wallStreamId: string;
  presence: { category: string; timestamp: number };
}

/** One member of a stream. */
export interface MemberState {
  owner: boolean;
  joinDate: number;
}

/** A message as the pod stores it: the client's SocialMessage with its encrypted fields, plus server fields. */
export interface MessageState {
  messageId: string;
  fromUserId: number;
  ingestionDate: number;
  /** The stored SocialMessage JSON (ciphertext fields as submitted). */
  payload: Record<string, unknown>;
}

/** A conversation: IM, MIM, room, or a user's wall (POST). */
export interface StreamState {
  id: string;
  type: 'IM' | 'MIM' | 'ROOM' | 'POST';
  createdBy: number;
  createdAt: number;
  active: boolean;
  /** Room attributes as given at creation or update (V3RoomAttributes); empty for other types. */
  attributes: Record<string, unknown>;
  members: Map<number, MemberState>;
  /** Content key per rotation id (decimal string), base64. */
  rotations: Map<string, string>;
  currentRotation: string;
  messages: MessageState[];
  lastMessageDate: number;
}

/** A connection request between two users, keyed `${from}:${to}`. */
export interface ConnectionState {
  from: number;
  to: number;
  status: 'PENDING' | 'ACCEPTED' | 'REJECTED';
  firstRequestedAt: number;
  updatedAt: number;
  requestCounter: number;
}

/** A Datafeed 2.0 feed. */
export interface FeedState {
  id: string;
  userId: number;
  createdAt: number;
  /** Highest event sequence number acknowledged; events after it are (re-)delivered. */
  ackSeq: number;
  lastReadAt: number;
}

/** A datafeed event: `name` SOCIALMESSAGE or MAESTRO, `payload` the LiveCurrentMessage. */
export interface EventState {
  seq: number;
  eventId: string;
  name: 'SOCIALMESSAGE' | 'MAESTRO';
  initiatorId: number;
  timestamp: number;
  recipients: readonly number[];
  payload: Record<string, unknown>;
}

/** One version of an Object Store object (StoredApplicationObject or DeletedApplicationObject). */
export interface ObjectRecord {
  absoluteHash: string;
  baseHash: string;
  /** 1 for the first version. */
  version: number;
  partitionHash: string;
  sortKey: string;
  owner: number;
  createdDate: number;
  /** Set on the tombstone of a logically deleted object. */
  deletionType?: 'LOGICAL';
  /** The object as stored (client fields plus the server's). */
  body: Record<string, unknown>;
}

/** An object version as the Object Store answers it: the stored body plus the server's fields. */
export function objectJson(o: ObjectRecord): Record<string, unknown> {
  return { ...o.body, absoluteHash: o.absoluteHash, baseHash: o.baseHash, version: o.version, createdDate: o.createdDate, owner: o.owner };
}

/** An Object Store partition and who may use it. */
export interface PartitionState {
  hash: string;
  name: string;
  owner: number;
  /** Permissions of users other than the owner. */
  permissions: Record<string, Array<'READ' | 'WRITE'>>;
}

/** A committed blob of the Object Store's large-payload side (routes/blobs.ts); the bytes are in a file. */
export interface BlobState {
  id: string;
  owner: number;
  /** Bytes. */
  size: number;
  createdAt: number;
}

/** One write of an Object Store transaction. */
export type ObjectWrite =
  | { kind: 'put'; object: ObjectRecord }
  | { kind: 'delete'; baseHash: string; deletionType: 'PHYSICAL' }
  | { kind: 'delete'; baseHash: string; deletionType: 'LOGICAL'; tombstone: ObjectRecord };

/** Changes, as journaled. */
export type StateRecord =
  | { t: 'pod'; podId: number; name: string; objectStore: boolean; entityKey: string; tokenSecret: string }
  | { t: 'user'; user: UserState }
  | {
    t: 'stream'; id: string; type: StreamState['type']; by: number; at: number; attributes: Record<string, unknown>;
    members: Array<{ id: number; owner: boolean }>; rotationId: string; contentKey: string;
  }
  | { t: 'stream.update'; id: string; at: number; by: number; attributes?: Record<string, unknown>; active?: boolean }
  | { t: 'member.add'; streamId: string; userId: number; by: number; at: number }
  | { t: 'member.remove'; streamId: string; userId: number; by: number; at: number }
  | { t: 'member.owner'; streamId: string; userId: number; owner: boolean; by: number; at: number }
  | { t: 'rotate'; streamId: string; rotationId: string; contentKey: string; at: number }
  | { t: 'message'; streamId: string; message: MessageState }
  | { t: 'attachment'; id: string; streamId: string; by: number; data: string }
  | { t: 'presence'; userId: number; category: string; at: number }
  | { t: 'connection'; from: number; to: number; status: ConnectionState['status']; at: number }
  | { t: 'feed'; id: string; userId: number; at: number }
  | { t: 'feed.ack'; id: string; ackSeq: number; at: number }
  | { t: 'feed.delete'; id: string }
  | { t: 'entitlement'; objectStore: boolean }
  | { t: 'partition'; partition: PartitionState }
  | { t: 'objects'; writes: ObjectWrite[] }
  | { t: 'blob'; id: string; owner: number; size: number; createdAt: number }
  | { t: 'blob.delete'; id: string }
  | ObjectFeedRecord;

/** The complete state, in memory. */
export class SandboxState {
  podId = 0;
  podName = '';
  objectStore = true;
  /** Entity key (hashtags), base64. */
  entityKey = '';
  /** Secret of the tokens the sandbox issues, base64. */
  tokenSecret = '';
  readonly users = new Map<number, UserState>();
  readonly usersByName = new Map<string, UserState>();
  readonly streams = new Map<string, StreamState>();
  readonly messages = new Map<string, { streamId: string; message: MessageState }>();
  readonly attachments = new Map<string, { streamId: string; by: number; data: Buffer }>();
  readonly connections = new Map<string, ConnectionState>();
  readonly feeds = new Map<string, FeedState>();
  readonly events: EventState[] = [];
  /** Object versions by absolute hash. */
  readonly objects = new Map<string, ObjectRecord>();
  /** Absolute hashes of each object's versions, oldest first, by base hash. */
  readonly objectVersions = new Map<string, string[]>();
  /** Current objects (and logically deleted ones): base hash by sort key, by partition hash. */
  readonly partitionIndex = new Map<string, Map<string, string>>();
  readonly partitions = new Map<string, PartitionState>();
  /** Committed blobs by id (their files are `<files>/blobs/<id>.blob`). */
  readonly blobs = new Map<string, BlobState>();
  /** Object Store feeds and their queued messages. */
  objectFeeds = new ObjectFeedStore();
  #nextUserNumber = 1000;
  #nextSeq = 1;

  /** The next free user id. */
  nextUserId(): number {
    return userIdOf(this.podId, this.#nextUserNumber);
  }

  /** Apply one change. Throws only on a record that cannot belong to this state (a corrupt journal). */
  apply(r: StateRecord): void {
    switch (r.t) {
      case 'pod':
        this.podId = r.podId;
        this.podName = r.name;
        this.objectStore = r.objectStore;
        this.entityKey = r.entityKey;
        this.tokenSecret = r.tokenSecret;
        return;
      case 'entitlement':
        this.objectStore = r.objectStore;
        return;
      case 'user':
        this.users.set(r.user.id, { ...r.user, presence: { ...r.user.presence } });
        this.usersByName.set(r.user.username.toLowerCase(), this.users.get(r.user.id)!);
        this.#nextUserNumber = Math.max(this.#nextUserNumber, r.user.id - userIdOf(this.podId, 0) + 1);
        return;
      case 'stream': {
        const members = new Map(r.members.map((m) => [m.id, { owner: m.owner, joinDate: r.at }]));
        this.streams.set(r.id, {
          id: r.id, type: r.type, createdBy: r.by, createdAt: r.at, active: true, attributes: r.attributes, members,
          rotations: new Map([[r.rotationId, r.contentKey]]), currentRotation: r.rotationId, messages: [], lastMessageDate: r.at,
        });
        if (r.type !== 'POST') this.#maestro(r.id, r.type === 'ROOM' ? 'CREATE_ROOM' : 'CREATE_IM', r.by, r.at, [...members.keys()], {});
        return;
      }
      case 'stream.update': {
        const s = this.stream(r.id);
        if (r.attributes !== undefined) s.attributes = r.attributes;
        if (r.active !== undefined) s.active = r.active;
        this.#maestro(r.id, r.active === undefined ? 'UPDATE_ROOM' : r.active ? 'REACTIVATE_ROOM' : 'DEACTIVATE_ROOM', r.by, r.at, [...s.members.keys()], {});
        return;
      }
      case 'member.add': {
        const s = this.stream(r.streamId);
        s.members.set(r.userId, { owner: false, joinDate: r.at });
        this.#maestro(r.streamId, 'JOIN_ROOM', r.by, r.at, [...s.members.keys()], { affectedUserId: r.userId });
        return;
      }
      case 'member.remove': {
        const s = this.stream(r.streamId);
        const before = [...s.members.keys()];
        s.members.delete(r.userId);
        this.#maestro(r.streamId, 'LEAVE_ROOM', r.by, r.at, before, { affectedUserId: r.userId });
        return;
      }
      case 'member.owner': {
        const s = this.stream(r.streamId);
        const m = s.members.get(r.userId);
        if (m !== undefined) m.owner = r.owner;
        this.#maestro(r.streamId, r.owner ? 'PROMOTE_OWNER' : 'DEMOTE_OWNER', r.by, r.at, [...s.members.keys()], { affectedUserId: r.userId });
        return;
      }
      case 'rotate': {
        const s = this.stream(r.streamId);
        s.rotations.set(r.rotationId, r.contentKey);
        s.currentRotation = r.rotationId;
        return;
      }
      case 'message': {
        const s = this.stream(r.streamId);
        s.messages.push(r.message);
        s.lastMessageDate = r.message.ingestionDate;
        this.messages.set(r.message.messageId, { streamId: r.streamId, message: r.message });
        this.#event('SOCIALMESSAGE', r.message.fromUserId, r.message.ingestionDate, [...s.members.keys()], r.message.payload);
        return;
      }
      case 'attachment':
        this.attachments.set(r.id, { streamId: r.streamId, by: r.by, data: Buffer.from(r.data, 'base64') });
        return;
      case 'presence':
        this.user(r.userId).presence = { category: r.category, timestamp: r.at };
        return;
      case 'connection': {
        const key = `${r.from}:${r.to}`;
        const existing = this.connections.get(key);
        this.connections.set(key, {
          from: r.from, to: r.to, status: r.status, updatedAt: r.at,
          firstRequestedAt: existing?.firstRequestedAt ?? r.at,
          requestCounter: (existing?.requestCounter ?? 0) + (r.status === 'PENDING' ? 1 : 0),
        });
        return;
      }
      case 'feed':
        this.feeds.set(r.id, { id: r.id, userId: r.userId, createdAt: r.at, ackSeq: this.#nextSeq - 1, lastReadAt: r.at });
        return;
      case 'feed.ack': {
        const f = this.feeds.get(r.id);
        if (f !== undefined) {
          f.ackSeq = Math.max(f.ackSeq, r.ackSeq);
          f.lastReadAt = r.at;
        }
        return;
      }
      case 'feed.delete':
        this.feeds.delete(r.id);
        return;
      case 'partition':
        this.partitions.set(r.partition.hash, r.partition);
        return;
      case 'objects':
        for (const w of r.writes) this.#applyObjectWrite(w);
        return;
      case 'blob':
        this.blobs.set(r.id, { id: r.id, owner: r.owner, size: r.size, createdAt: r.createdAt });
        return;
      case 'blob.delete':
        this.blobs.delete(r.id);
        return;
      case 'objectFeed':
      case 'objectFeed.delete':
      case 'objectFeed.messages':
      case 'objectFeed.ack':
      case 'objectFeed.read':
        this.objectFeeds.apply(r);
        return;
    }
  }

  /** The current (latest) version of an object, by base hash. */
  currentObject(baseHash: string): ObjectRecord | undefined {
    const versions = this.objectVersions.get(baseHash);
    return versions === undefined ? undefined : this.objects.get(versions.at(-1)!);
  }

  #indexOf(partitionHash: string): Map<string, string> {
    let index = this.partitionIndex.get(partitionHash);
    if (index === undefined) {
      index = new Map();
      this.partitionIndex.set(partitionHash, index);
    }
    return index;
  }

  #applyObjectWrite(w: ObjectWrite): void {
    const previous = this.currentObject(w.kind === 'put' ? w.object.baseHash : w.baseHash);
    const index = previous === undefined ? undefined : this.partitionIndex.get(previous.partitionHash);
    if (previous !== undefined && index?.get(previous.sortKey) === previous.baseHash) index.delete(previous.sortKey); // not if another object has since taken it
    if (w.kind === 'put' || w.deletionType === 'LOGICAL') {
      const object = w.kind === 'put' ? w.object : w.tombstone;
      this.objects.set(object.absoluteHash, object);
      const versions = this.objectVersions.get(object.baseHash) ?? [];
      versions.push(object.absoluteHash);
      this.objectVersions.set(object.baseHash, versions);
      // Tombstones stay in the index so that a fetch by sort key can answer "deleted" (410) rather than 404.
      this.#indexOf(object.partitionHash).set(object.sortKey, object.baseHash);
      return;
    }
    for (const hash of this.objectVersions.get(w.baseHash) ?? []) this.objects.delete(hash);
    this.objectVersions.delete(w.baseHash);
  }

  /** The user with this id; throws on a corrupt journal. */
  user(id: number): UserState {
    const u = this.users.get(id);
    if (u === undefined) throw new Error(`journal refers to unknown user ${id}`);
    return u;
  }

  /** The stream with this id; throws on a corrupt journal. */
  stream(id: string): StreamState {
    const s = this.streams.get(id);
    if (s === undefined) throw new Error(`journal refers to unknown stream ${id}`);
    return s;
  }

  #maestro(streamId: string, event: string, by: number, at: number, recipients: number[], extra: Record<string, unknown>): void {
    const payload = { version: 'MAESTRO', event, threadId: standardBase64Id(streamId), fromUserId: by, ingestionDate: at, ...extra };
    this.#event('MAESTRO', by, at, recipients, payload);
  }

  #event(name: EventState['name'], initiatorId: number, timestamp: number, recipients: number[], payload: Record<string, unknown>): void {
    const seq = this.#nextSeq++;
    this.events.push({ seq, eventId: `e${seq}`, name, initiatorId, timestamp, recipients, payload });
  }

  /** Events after `afterSeq` and at most `upToSeq` addressed to `userId`, at most `limit`. */
  eventsFor(userId: number, afterSeq: number, limit: number, upToSeq = Number.POSITIVE_INFINITY): EventState[] {
    const out: EventState[] = [];
    // Events are ordered by seq; binary search for the first one after `afterSeq`.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.events.length && out.length < limit; i++) {
      const e = this.events[i]!;
      if (e.seq > upToSeq) break;
      if (e.recipients.includes(userId)) out.push(e);
    }
    return out;
  }

  /** Sequence number of the newest event (0 when there is none). */
  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  /** The whole state as JSON-compatible data (journal compaction). */
  toSnapshot(): StateSnapshot {
    return {
      podId: this.podId, podName: this.podName, objectStore: this.objectStore, entityKey: this.entityKey, tokenSecret: this.tokenSecret,
      nextUserNumber: this.#nextUserNumber, nextSeq: this.#nextSeq,
      users: [...this.users.values()],
      streams: [...this.streams.values()].map((st) => ({ ...st, members: [...st.members], rotations: [...st.rotations] })),
      attachments: [...this.attachments].map(([id, a]) => ({ id, streamId: a.streamId, by: a.by, data: a.data.toString('base64') })),
      connections: [...this.connections.values()],
      feeds: [...this.feeds.values()],
      events: this.events,
      partitions: [...this.partitions.values()],
      objectVersions: [...this.objectVersions.values()].map((hashes) => hashes.map((h) => this.objects.get(h)!)),
      blobs: [...this.blobs.values()].map((b) => ({ ...b })),
      objectFeeds: this.objectFeeds.toSnapshot(),
    };
  }

  /** Rebuild a state from {@link toSnapshot} output. */
  static fromSnapshot(snapshot: StateSnapshot): SandboxState {
    const state = new SandboxState();
    state.podId = snapshot.podId;
    state.podName = snapshot.podName;
    state.objectStore = snapshot.objectStore;
    state.entityKey = snapshot.entityKey;
    state.tokenSecret = snapshot.tokenSecret;
    state.#nextUserNumber = snapshot.nextUserNumber;
    state.#nextSeq = snapshot.nextSeq;
    for (const u of snapshot.users) {
      state.users.set(u.id, u);
      state.usersByName.set(u.username.toLowerCase(), u);
    }
    for (const st of snapshot.streams) {
      const stream: StreamState = { ...st, members: new Map(st.members), rotations: new Map(st.rotations) };
      state.streams.set(st.id, stream);
      for (const m of stream.messages) state.messages.set(m.messageId, { streamId: st.id, message: m });
    }
    for (const a of snapshot.attachments) state.attachments.set(a.id, { streamId: a.streamId, by: a.by, data: Buffer.from(a.data, 'base64') });
    for (const c of snapshot.connections) state.connections.set(`${c.from}:${c.to}`, c);
    for (const f of snapshot.feeds) state.feeds.set(f.id, f);
    for (const e of snapshot.events) state.events.push(e); // not push(...events): a spread of >~120k arguments overflows the stack
    for (const p of snapshot.partitions) state.partitions.set(p.hash, p);
    for (const b of snapshot.blobs ?? []) state.blobs.set(b.id, { ...b });
    state.objectFeeds = ObjectFeedStore.fromSnapshot(snapshot.objectFeeds);
    for (const versions of snapshot.objectVersions) {
      for (const object of versions) state.#applyObjectWrite({ kind: 'put', object });
    }
    // Replay goes object by object, not in write order, so a tombstone may have taken a sort key a live object holds.
    for (const o of snapshot.objectVersions.map((versions) => versions.at(-1)!)) {
      if (o.deletionType === undefined) state.#indexOf(o.partitionHash).set(o.sortKey, o.baseHash);
    }
    return state;
  }
}

/** JSON form of the whole state. */
export interface StateSnapshot {
  podId: number;
  podName: string;
  objectStore: boolean;
  entityKey: string;
  tokenSecret: string;
  nextUserNumber: number;
  nextSeq: number;
  users: UserState[];
  streams: Array<Omit<StreamState, 'members' | 'rotations'> & { members: Array<[number, MemberState]>; rotations: Array<[string, string]> }>;
  attachments: Array<{ id: string; streamId: string; by: number; data: string }>;
  connections: ConnectionState[];
  feeds: FeedState[];
  events: EventState[];
  partitions: PartitionState[];
  /** Every object's versions, oldest first. */
  objectVersions: ObjectRecord[][];
  /** Committed blobs (absent in snapshots written before blobs existed). */
  blobs?: BlobState[];
  /** Object Store feeds and their queues (absent in snapshots written before feeds existed). */
  objectFeeds?: ObjectFeedSnapshot;
}
