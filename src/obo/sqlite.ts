/**
 * The library's one door to SQLite (better-sqlite3 12, a synchronous binding, loaded on first use so that importing
 * `allegro-ts/obo` does not load a native module an app may never need): opening the tenant registry's database
 * (obo/tenants.ts). A file database runs in WAL mode with `synchronous=FULL` (a committed write survives a crash or a
 * power loss, given a disk that honours flushes) and waits up to `busyTimeoutMs` for another process's write, so
 * several instances of an app may share one file. The file is created 0600 before SQLite opens it.
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';

/** An open database connection. */
export type Database = BetterSqlite3.Database;

/** How long a write waits for another connection's lock, in milliseconds. */
const BUSY_TIMEOUT_MS = 5_000;

/** Open (creating if needed) the database at `path`, or an in-memory one for `:memory:`. */
export async function openDatabase(path: string): Promise<Database> {
  const { default: Sqlite } = await import('better-sqlite3');
  if (path === ':memory:') return new Sqlite(':memory:');
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Sqlite(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
