import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseLockedError, isBusy, openDatabase } from '../../../../src/sandbox/store/sqlite.js';

describe('openDatabase', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-sqlite-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('opens a file in WAL mode with synchronous=FULL, 0600 whatever the umask', async () => {
    const path = join(dir, 'a.db');
    const previous = process.umask(0);
    let db;
    try {
      db = openDatabase(path);
    } finally {
      process.umask(previous);
    }
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(`${path}-wal`)).mode & 0o777).toBe(0o600);
    } finally {
      db.close();
    }
    const again = openDatabase(path);
    expect(again.prepare('SELECT x FROM t').get()).toEqual({ x: 1 });
    again.close();
  });

  it('refuses a database another process holds, with an error that says so, and opens it once that process is gone', async () => {
    const path = join(dir, 'held.db');
    openDatabase(path).close();
    // Another process holds the lock (as a second sandbox on the same data directory would); then it dies (kill -9).
    const holder = `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))}); const db = new D(${JSON.stringify(path)});
      db.pragma('locking_mode = EXCLUSIVE'); db.exec('BEGIN IMMEDIATE; COMMIT'); process.stdout.write('held'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', holder], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    try {
      let error: unknown;
      try {
        openDatabase(path).close();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DatabaseLockedError);
      expect((error as Error).message).toBe(`${path} is in use by another process (is another sandbox running on this data directory?)`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const db = openDatabase(path);
    db.close();
  });

  it('without a path, opens an in-memory database', () => {
    const db = openDatabase(undefined);
    expect(db.memory).toBe(true);
    db.close();
  });

  it('isBusy tells SQLite\'s busy errors from others', () => {
    expect(isBusy(new Error('x'))).toBe(false);
    const db = openDatabase(undefined);
    let error: unknown;
    try {
      db.exec('SELECT * FROM missing');
    } catch (err) {
      error = err;
    }
    expect(error).toBeDefined();
    expect(isBusy(error)).toBe(false);
    db.close();
  });
});
