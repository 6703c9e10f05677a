/**
 * The sandbox database's schema (docs/sandbox.md "Persistence") and its migrations, versioned with
 * `PRAGMA user_version`: a new database gets every migration in order; an existing one the migrations above its
 * version; a database newer than this code is refused rather than misread.
 *
 * Tables by concern: `pod` (one row), `users` (with their Key Manager keys and presence), `connections`;
 * `streams`, `members`, `rotations` (content keys); `messages`, `attachments` + `attachment_chunks`; the event log
 * `events` + `event_recipients` and `feeds` (with the Agent's kinds of feed); `message_replacements` and
 * `message_suppressions`; `user_profiles`; the Object Store's `partitions`, `objects` (one row per object: its
 * current version, partition and sort key) and `versions`; `blobs` (metadata; the bytes are files); `revocations`;
 * the Object Store feeds `object_feeds` and their queues `object_feed_messages` (version 3); OBO `apps` and
 * `app_installs`, `pod_policies`, `user_entitlements`, `signals` and `signal_subscribers`, `follows` (version 4).
 */
import type { Db } from './sqlite.js';

/** The migrations; `MIGRATIONS[i]` takes a database from version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE pod (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pod_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    object_store INTEGER NOT NULL,
    entity_key BLOB NOT NULL,
    token_secret BLOB NOT NULL,
    feed_secret BLOB NOT NULL,
    next_user_number INTEGER NOT NULL
  );
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    type TEXT NOT NULL,
    login_public_key TEXT,
    km_public_key TEXT NOT NULL,
    km_private_key TEXT NOT NULL,
    account_key BLOB NOT NULL,
    wall_stream_id TEXT NOT NULL,
    presence TEXT NOT NULL,
    presence_at INTEGER NOT NULL
  );
  CREATE INDEX users_by_email ON users (email_key);
  CREATE TABLE connections (
    from_user INTEGER NOT NULL,
    to_user INTEGER NOT NULL,
    status TEXT NOT NULL,
    first_requested_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    request_counter INTEGER NOT NULL,
    PRIMARY KEY (from_user, to_user)
  ) WITHOUT ROWID;
  CREATE INDEX connections_to ON connections (to_user);

  CREATE TABLE streams (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    current_rotation TEXT NOT NULL,
    last_message_date INTEGER NOT NULL,
    conversation_key TEXT
  );
  CREATE INDEX streams_by_conversation ON streams (conversation_key) WHERE conversation_key IS NOT NULL;
  CREATE TABLE members (
    stream_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    owner INTEGER NOT NULL,
    join_date INTEGER NOT NULL,
    PRIMARY KEY (stream_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX members_by_user ON members (user_id, stream_id);
  CREATE TABLE rotations (
    stream_id TEXT NOT NULL,
    rotation_id TEXT NOT NULL,
    content_key BLOB NOT NULL,
    PRIMARY KEY (stream_id, rotation_id)
  ) WITHOUT ROWID;

  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    from_user INTEGER NOT NULL,
    ingestion_date INTEGER NOT NULL,
    payload TEXT NOT NULL
  );
  CREATE INDEX messages_by_stream ON messages (stream_id, ingestion_date);
  CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL,
    by_user INTEGER NOT NULL,
    size INTEGER NOT NULL
  );
  CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (attachment_id, n)
  );

  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    initiator INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    stream_id TEXT,
    affected_user INTEGER,
    message_seq INTEGER,
    payload TEXT
  );
  CREATE TABLE event_recipients (
    user_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX event_recipients_by_seq ON event_recipients (seq);
  CREATE TABLE feeds (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    ack_seq INTEGER NOT NULL,
    last_read_at INTEGER NOT NULL
  );
  CREATE INDEX feeds_by_user ON feeds (user_id);

  CREATE TABLE partitions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner INTEGER NOT NULL,
    permissions TEXT NOT NULL
  );
  CREATE INDEX partitions_by_owner ON partitions (owner, name);
  CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    absolute_hash TEXT NOT NULL UNIQUE,
    base_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    partition_hash TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    owner INTEGER NOT NULL,
    created_date INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE UNIQUE INDEX versions_by_object ON versions (base_hash, version);
  CREATE TABLE objects (
    base_hash TEXT PRIMARY KEY,
    partition_hash TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    current INTEGER NOT NULL,
    deleted INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX objects_by_sort_key ON objects (partition_hash, sort_key, deleted);
  CREATE UNIQUE INDEX objects_live_sort_key ON objects (partition_hash, sort_key) WHERE deleted = 0;

  CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE revocations (
    subject TEXT PRIMARY KEY,
    issued_before INTEGER NOT NULL,
    expires INTEGER NOT NULL
  );
  `,
  // 2: the Agent API's state (./agent-feeds.ts, ./message-edits.ts) and the users' directory fields (./profiles.ts).
  `
  ALTER TABLE feeds ADD COLUMN kind TEXT NOT NULL DEFAULT 'datafeed';
  ALTER TABLE feeds ADD COLUMN tag TEXT;
  ALTER TABLE feeds ADD COLUMN owner INTEGER;
  ALTER TABLE feeds ADD COLUMN filter TEXT;
  CREATE INDEX feeds_by_owner ON feeds (owner, tag) WHERE owner IS NOT NULL;
  CREATE TABLE message_replacements (
    original TEXT PRIMARY KEY,
    replacement TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE message_suppressions (
    message_id TEXT PRIMARY KEY,
    by_user INTEGER NOT NULL,
    at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE user_profiles (
    user_id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL
  );
  `,
  // 3: the Object Store's feeds and their queues (./feeds.ts).
  `
  CREATE TABLE object_feeds (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner INTEGER NOT NULL,
    selections TEXT NOT NULL,
    expiry_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL
  );
  CREATE TABLE object_feed_messages (
    seq INTEGER PRIMARY KEY,
    feed_hash TEXT NOT NULL,
    message_id TEXT NOT NULL,
    payload TEXT NOT NULL
  );
  CREATE UNIQUE INDEX object_feed_messages_by_id ON object_feed_messages (feed_hash, message_id);
  CREATE INDEX object_feed_messages_by_feed ON object_feed_messages (feed_hash, seq);
  `,
  // 4: OBO apps, their installations, the pod's policies and the users' entitlements (./apps.ts, ./policies.ts);
  // signals and their subscribers (./signals.ts); who follows whom (./follows.ts).
  `
  CREATE TABLE apps (
    app_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key TEXT,
    permissions TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    callback_url TEXT,
    callback_api_key TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE app_installs (
    app_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE pod_policies (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    im_requires_connection INTEGER NOT NULL,
    agent_url TEXT
  );
  CREATE TABLE user_entitlements (
    user_id INTEGER PRIMARY KEY,
    can_send_files INTEGER NOT NULL
  );
  CREATE TABLE signals (
    id TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    visible_on_profile INTEGER NOT NULL,
    company_wide INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX signals_by_owner ON signals (owner);
  CREATE TABLE signal_subscribers (
    signal_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    pushed INTEGER NOT NULL,
    subscribed_at INTEGER NOT NULL,
    PRIMARY KEY (signal_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX signal_subscribers_by_user ON signal_subscribers (user_id);
  CREATE TABLE follows (
    user_id INTEGER NOT NULL,
    follower_id INTEGER NOT NULL,
    followed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, follower_id)
  ) WITHOUT ROWID;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database to {@link SCHEMA_VERSION}, in one transaction. */
export function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`The sandbox database has schema version ${version}, newer than this allegro-ts (${SCHEMA_VERSION}); use a newer allegro-ts`);
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
