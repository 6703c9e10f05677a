import { describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION } from '../../../../src/sandbox/store/schema.js';
import { openDatabase } from '../../../../src/sandbox/store/sqlite.js';

const tables = (db: ReturnType<typeof openDatabase>) =>
  db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => r.name);

const columns = (db: ReturnType<typeof openDatabase>, table: string) =>
  db.prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)').all(table).map((c) => c.name);

/** What each migration added, undone in reverse: a database as an older sandbox left it. */
const UNDO: Record<number, string> = {
  2: `DROP INDEX feeds_by_owner; ALTER TABLE feeds DROP COLUMN kind; ALTER TABLE feeds DROP COLUMN tag; ALTER TABLE feeds DROP COLUMN owner;
      ALTER TABLE feeds DROP COLUMN filter; DROP TABLE message_replacements; DROP TABLE message_suppressions; DROP TABLE user_profiles`,
  3: 'DROP TABLE object_feed_messages; DROP TABLE object_feeds',
  4: `DROP TABLE apps; DROP TABLE app_installs; DROP TABLE pod_policies; DROP TABLE user_entitlements; DROP TABLE signals;
      DROP TABLE signal_subscribers; DROP TABLE follows`,
};

function atVersion(version: number): ReturnType<typeof openDatabase> {
  const db = openDatabase(undefined);
  migrate(db);
  for (let v = SCHEMA_VERSION; v > version; v--) db.exec(UNDO[v]!);
  db.pragma(`user_version = ${version}`);
  return db;
}

describe('migrate', () => {
  it('creates every table of a new database and records the schema version', () => {
    const db = openDatabase(undefined);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    migrate(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(tables(db)).toEqual([
      'app_installs', 'apps', 'attachment_chunks', 'attachments', 'blobs', 'connections', 'event_recipients', 'events', 'feeds', 'follows',
      'members', 'message_replacements', 'message_suppressions', 'messages', 'object_feed_messages', 'object_feeds', 'objects', 'partitions',
      'pod', 'pod_policies', 'revocations', 'rotations', 'signal_subscribers', 'signals', 'streams', 'user_entitlements', 'user_profiles',
      'users', 'versions',
    ]);
    // The event log keeps the facts an Agent API reader needs as columns.
    expect(db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')").all().map((c) => c.name))
      .toEqual(['seq', 'kind', 'initiator', 'ts', 'stream_id', 'affected_user', 'message_seq', 'payload']);
    // The Agent's kinds of feed are columns of the feeds (migration 2).
    expect(columns(db, 'feeds'))
      .toEqual(['id', 'user_id', 'created_at', 'ack_seq', 'last_read_at', 'kind', 'tag', 'owner', 'filter']);
    db.close();
  });

  it('does nothing to a database at the current version', () => {
    const db = openDatabase(undefined);
    migrate(db);
    db.exec("INSERT INTO blobs (id, owner, size, created_at) VALUES ('b', 1, 2, 3)");
    migrate(db);
    expect(db.prepare('SELECT count(*) AS n FROM blobs').get()).toEqual({ n: 1 });
    db.close();
  });

  it('refuses a database newer than this code, changing nothing', () => {
    const db = openDatabase(undefined);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    expect(() => migrate(db)).toThrow(`The sandbox database has schema version ${SCHEMA_VERSION + 1}, newer than this allegro-ts (${SCHEMA_VERSION}); use a newer allegro-ts`);
    expect(tables(db)).toEqual([]);
    db.close();
  });

  it.each([1, 2, 3])('brings a version %i database to the current version, keeping its rows', (version) => {
    const db = atVersion(version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    db.exec("INSERT INTO blobs (id, owner, size, created_at) VALUES ('b', 1, 2, 3)");
    migrate(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const fresh = openDatabase(undefined);
    migrate(fresh);
    expect(tables(db)).toEqual(tables(fresh));
    expect(columns(db, 'feeds')).toEqual(columns(fresh, 'feeds'));
    expect(db.prepare('SELECT count(*) AS n FROM blobs').get()).toEqual({ n: 1 });
    fresh.close();
    db.close();
  });
});
