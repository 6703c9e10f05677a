/**
 * The sandbox's one door to SQLite (better-sqlite3 12, a synchronous binding): opening the database file with the
 * settings docs/sandbox.md "Persistence" promises, and the types the store modules use. No other module imports
 * better-sqlite3.
 *
 * - A file database runs in WAL mode with `synchronous=FULL` (a committed transaction survives a crash or a power
 *   loss, given a disk that honours flushes) and `locking_mode=EXCLUSIVE`: the process holds the lock from the
 *   first statement to close, so a second sandbox on the same data directory fails at once
 *   ({@link DatabaseLockedError}); exclusive mode also keeps WAL's index in process memory (no `-shm` file).
 * - Without a path the database is `:memory:`.
 * The file is created 0600 before SQLite opens it; SQLite gives its `-wal` file the database file's mode.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';

/**
 * SQLite's page cache per connection, in KiB (its default is 2 MiB): big enough that the interior pages of the
 * messages' and events' indexes stay cached at a million stored messages, so a write does not read them back from
 * disk (docs/sandbox.md "Persistence"); bounded, so RSS stays flat as the store grows.
 */
const PAGE_CACHE_KIB = 64 * 1024;

/** An open database connection. */
export type Db = Database.Database;
/** A prepared statement. */
export type Statement<P extends unknown[] | object = unknown[], R = unknown> = Database.Statement<P, R>;

/** The database file is held by another process (another sandbox on the same data directory). */
export class DatabaseLockedError extends Error {
  constructor(path: string) {
    super(`${path} is in use by another process (is another sandbox running on this data directory?)`);
    this.name = 'DatabaseLockedError';
  }
}

/** Open (creating if needed) the database at `path`, or an in-memory one. */
export function openDatabase(path: string | undefined): Db {
  if (path === undefined) {
    const db = new Database(':memory:');
    db.pragma('synchronous = OFF');
    return db;
  }
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    // Take the exclusive lock now rather than at the first write.
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (err) {
    db.close();
    if (isBusy(err)) throw new DatabaseLockedError(path);
    throw err;
  }
  return db;
}

/** True for SQLite's "database is locked" (SQLITE_BUSY) errors. */
export function isBusy(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY');
}
