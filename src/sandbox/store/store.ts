/**
 * The sandbox's storage (docs/sandbox.md "Persistence"): one SQLite database (`<data dir>/sandbox.db`, or in
 * memory), its tables by concern (./pod.ts, ./users.ts, ./profiles.ts, ./streams.ts, ./messages.ts,
 * ./message-edits.ts, ./events.ts, ./agent-feeds.ts, ./objects.ts, ./blobs.ts, ./revocations.ts, ./feeds.ts,
 * ./apps.ts, ./policies.ts, ./signals.ts, ./follows.ts), and the one way to change it, {@link SandboxStore.write}
 * (group commit, ./transaction.ts). Reads run directly against the database and see only committed data: every
 * write runs synchronously inside one flush, so no read interleaves with an open transaction. Nothing is cached in memory:
 * the process's memory does not grow with what is stored.
 */
import { AgentFeedTable } from './agent-feeds.js';
import { AppTable, type App } from './apps.js';
import { BlobTable, type Blob } from './blobs.js';
import { EventLog, POD_WIDE } from './events.js';
import { FollowTable } from './follows.js';
import { ObjectFeedTable } from './feeds.js';
import { MessageEditTable } from './message-edits.js';
import { MessageTable, type Message } from './messages.js';
import { ObjectTable, type ObjectRecord } from './objects.js';
import { PodTable, type Pod } from './pod.js';
import { PolicyTable } from './policies.js';
import { ProfileTable } from './profiles.js';
import { RevocationTable } from './revocations.js';
import { SignalTable } from './signals.js';
import { migrate } from './schema.js';
import { openDatabase, type Db } from './sqlite.js';
import { StreamTable, type Member, type Stream } from './streams.js';
import { WriteQueue, type Tx } from './transaction.js';
import { UserTable, type User } from './users.js';

/** How many rows the main tables hold. */
export interface StoreCounts {
  users: number;
  streams: number;
  messages: number;
  attachments: number;
  /** Feed rows (live, or expired and not yet swept). */
  feeds: number;
  /** Logged events still kept, and their (recipient, event) rows. */
  events: number;
  eventRecipients: number;
  /** Object versions (tombstones included). */
  objectVersions: number;
  partitions: number;
  /** Object Store feeds, and the messages queued in them. */
  objectFeeds: number;
  objectFeedMessages: number;
}

/** A read-only view of a sandbox's storage, for tests and tools (`RunningSandbox.store`). */
export interface SandboxStoreView {
  counts(): StoreCounts;
  pod(): Pod;
  /** A user by id, or by username (case-insensitive). */
  user(idOrName: number | string): User | undefined;
  /** A stream with its members and rotation ids. */
  stream(id: string): (Stream & { members: Member[]; rotations: string[] }) | undefined;
  message(messageId: string): Message | undefined;
  /** Every message of a stream, oldest first. */
  messages(streamId: string): Message[];
  blob(id: string): Blob | undefined;
  /** Every object version, oldest first. */
  objectVersions(): ObjectRecord[];
  /** The content key of a stream's rotation. */
  contentKey(streamId: string, rotationId: string): Buffer | undefined;
  /** Sequence number of the newest event logged. */
  lastEventSeq(): number;
  /** An OBO app, with the users it is installed for. */
  app(appId: string): (App & { installedFor: number[] }) | undefined;
  /** How many messages an Object Store feed holds (0 for no such feed). */
  queuedFeedMessages(feedHash: string): number;
  /** What is inconsistent (SQLite's integrity check, rows that name a missing row); empty when all is well. */
  check(): string[];
}

/** Rows that must name an existing row elsewhere: what {@link SandboxStore.check} counts. */
const DANGLING: ReadonlyArray<[string, string]> = [
  ['members of a missing user', 'SELECT count(*) AS n FROM members WHERE user_id NOT IN (SELECT id FROM users)'],
  ['members of a missing stream', 'SELECT count(*) AS n FROM members WHERE stream_id NOT IN (SELECT id FROM streams)'],
  ['streams without a content key', 'SELECT count(*) AS n FROM streams s WHERE NOT EXISTS (SELECT 1 FROM rotations r WHERE r.stream_id = s.id AND r.rotation_id = s.current_rotation)'],
  ['messages of a missing stream', 'SELECT count(*) AS n FROM messages WHERE stream_id NOT IN (SELECT id FROM streams)'],
  ['attachments of a missing stream', 'SELECT count(*) AS n FROM attachments WHERE stream_id NOT IN (SELECT id FROM streams)'],
  // A datahose feed is the pod-wide recipient's (./agent-feeds.ts), and must name the user who reads it.
  ['feeds of a missing user', `SELECT count(*) AS n FROM feeds WHERE user_id NOT IN (SELECT id FROM users) AND (user_id <> ${POD_WIDE} OR owner NOT IN (SELECT id FROM users))`],
  ['event recipients of a missing event', 'SELECT count(*) AS n FROM event_recipients WHERE seq NOT IN (SELECT seq FROM events)'],
  ['events of a missing message', 'SELECT count(*) AS n FROM events WHERE message_seq IS NOT NULL AND message_seq NOT IN (SELECT seq FROM messages)'],
  ['objects whose current version is missing', 'SELECT count(*) AS n FROM objects WHERE current NOT IN (SELECT id FROM versions)'],
  ['objects in a missing partition', 'SELECT count(*) AS n FROM objects WHERE partition_hash NOT IN (SELECT hash FROM partitions)'],
  ['installations of a missing app', 'SELECT count(*) AS n FROM app_installs WHERE app_id NOT IN (SELECT app_id FROM apps)'],
  ['installations for a missing user', 'SELECT count(*) AS n FROM app_installs WHERE user_id NOT IN (SELECT id FROM users)'],
  ['subscribers of a missing signal', 'SELECT count(*) AS n FROM signal_subscribers WHERE signal_id NOT IN (SELECT id FROM signals)'],
  ['feed messages of a missing feed', 'SELECT count(*) AS n FROM object_feed_messages WHERE feed_hash NOT IN (SELECT hash FROM object_feeds)'],
];

/** The open storage of a sandbox. */
export class SandboxStore {
  readonly db: Db;
  readonly pod: PodTable;
  readonly users: UserTable;
  readonly streams: StreamTable;
  readonly messages: MessageTable;
  readonly events: EventLog;
  readonly agentFeeds: AgentFeedTable;
  readonly edits: MessageEditTable;
  readonly profiles: ProfileTable;
  readonly objects: ObjectTable;
  readonly blobs: BlobTable;
  readonly revocations: RevocationTable;
  readonly apps: AppTable;
  readonly policies: PolicyTable;
  readonly signals: SignalTable;
  readonly follows: FollowTable;
  readonly objectFeeds: ObjectFeedTable;
  readonly #queue: WriteQueue;
  #closed = false;

  private constructor(db: Db, onError: (error: unknown) => void) {
    this.db = db;
    this.pod = new PodTable(db);
    this.users = new UserTable(db);
    this.streams = new StreamTable(db);
    this.messages = new MessageTable(db);
    this.events = new EventLog(db);
    this.agentFeeds = new AgentFeedTable(db);
    this.edits = new MessageEditTable(db);
    this.profiles = new ProfileTable(db);
    this.objects = new ObjectTable(db);
    this.blobs = new BlobTable(db);
    this.revocations = new RevocationTable(db);
    this.apps = new AppTable(db);
    this.policies = new PolicyTable(db);
    this.signals = new SignalTable(db);
    this.follows = new FollowTable(db);
    this.objectFeeds = new ObjectFeedTable(db);
    this.#queue = new WriteQueue(db, onError);
  }

  /**
   * Open the database at `path` (created if missing, migrated to the current schema), or an in-memory one.
   * `onError` gets failures of after-commit effects (bugs; the commit stands).
   */
  static open(path: string | undefined, onError: (error: unknown) => void = () => {}): SandboxStore {
    const db = openDatabase(path);
    try {
      migrate(db);
      return new SandboxStore(db, onError);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Apply a change: see ./transaction.ts. Resolves once it is durable. */
  write<T>(fn: (tx: Tx) => T): Promise<T> {
    return this.#queue.write(fn);
  }

  counts(): StoreCounts {
    const events = this.events.count();
    return {
      users: this.users.count(), streams: this.streams.count(), messages: this.messages.count(), attachments: this.messages.countAttachments(),
      feeds: this.events.feedCount(), events: events.events, eventRecipients: events.recipients, objectVersions: this.objects.countVersions(),
      partitions: this.objects.countPartitions(), objectFeeds: this.objectFeeds.count(), objectFeedMessages: this.objectFeeds.queuedAll(),
    };
  }

  /** What is inconsistent; empty when all is well (see {@link SandboxStoreView.check}). */
  check(): string[] {
    const problems = (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).filter((r) => r !== 'ok');
    for (const [what, sql] of DANGLING) {
      const n = (this.db.prepare(sql).get() as { n: number }).n;
      if (n > 0) problems.push(`${n} ${what}`);
    }
    return problems;
  }

  /** The read-only view. */
  view(): SandboxStoreView {
    return {
      counts: () => this.counts(),
      pod: () => this.pod.require(),
      user: (idOrName) => (typeof idOrName === 'number' ? this.users.get(idOrName) : this.users.byName(idOrName)),
      stream: (id) => {
        const s = this.streams.get(id);
        return s === undefined ? undefined : { ...s, members: this.streams.members(id), rotations: this.streams.rotations(id) };
      },
      message: (id) => this.messages.get(id),
      messages: (streamId) => [...this.messages.window(streamId, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)],
      blob: (id) => this.blobs.get(id),
      objectVersions: () => this.objects.allVersions(),
      contentKey: (streamId, rotationId) => this.streams.contentKey(streamId, rotationId),
      lastEventSeq: () => this.events.lastSeq(),
      app: (appId) => {
        const a = this.apps.get(appId);
        return a === undefined ? undefined : { ...a, installedFor: this.apps.installedFor(appId) };
      },
      queuedFeedMessages: (feedHash) => this.objectFeeds.queued(feedHash),
      check: () => this.check(),
    };
  }

  /** Run the writes queued so far, then close the database (a WAL checkpoint). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.drain();
    this.#queue.close();
    this.db.close();
  }
}
