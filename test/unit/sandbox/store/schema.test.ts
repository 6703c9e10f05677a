import { describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION } from '../../../../src/sandbox/store/schema.js';
import { openDatabase } from '../../../../src/sandbox/store/sqlite.js';

const tables = (db: ReturnType<typeof openDatabase>) =>
  db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => r.name);

describe('migrate', () => {
  it('creates every table of a new database and records the schema version', () => {
    const db = openDatabase(undefined);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    migrate(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(tables(db)).toEqual([
      'attachment_chunks', 'attachments', 'blobs', 'connections', 'event_recipients', 'events', 'feeds', 'members', 'message_replacements',
      'message_suppressions', 'messages', 'object_feed_messages', 'object_feeds', 'objects', 'partitions', 'pod', 'revocations', 'rotations',
      'streams', 'user_profiles', 'users', 'versions',
    ]);
    // The event log keeps the facts an Agent API reader needs as columns.
    expect(db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')").all().map((c) => c.name))
      .toEqual(['seq', 'kind', 'initiator', 'ts', 'stream_id', 'affected_user', 'message_seq', 'payload']);
    // The Agent's kinds of feed are columns of the feeds (migration 2).
    expect(db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('feeds')").all().map((c) => c.name))
      .toEqual(['id', 'user_id', 'created_at', 'ack_seq', 'last_read_at', 'kind', 'tag', 'owner', 'filter']);
    db.close();
  });

  it('brings a version 2 database (before Object Store feeds) to the current version, keeping its rows', () => {
    const db = openDatabase(undefined);
    migrate(db);
    db.exec('DROP TABLE object_feed_messages; DROP TABLE object_feeds;');
    db.pragma('user_version = 2');
    db.exec("INSERT INTO blobs (id, owner, size, created_at) VALUES ('b', 1, 2, 3)");
    migrate(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(tables(db)).toContain('object_feeds');
    expect(tables(db)).toContain('object_feed_messages');
    expect(db.prepare('SELECT count(*) AS n FROM blobs').get()).toEqual({ n: 1 });
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
});
