// The library's SQLite adapter (src/obo/sqlite.ts): a file database in WAL mode with synchronous=FULL and a busy
// timeout, created 0600 whatever the umask; `:memory:` in memory; two connections to one file can both write.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/obo/sqlite.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-obo-sqlite-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('opens a file in WAL mode, synchronous FULL, mode 0600, shareable by two connections', async () => {
    const path = join(dir, 'db.sqlite');
    const previous = process.umask(0o022);
    try {
      const a = await openDatabase(path);
      const b = await openDatabase(path);
      expect(a.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(a.pragma('synchronous', { simple: true })).toBe(2);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      a.exec('CREATE TABLE t (x INTEGER)');
      a.prepare('INSERT INTO t VALUES (1)').run();
      b.prepare('INSERT INTO t VALUES (2)').run();
      expect(a.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
      a.close();
      b.close();
    } finally {
      process.umask(previous);
    }
  });

  it('opens :memory: in memory', async () => {
    const db = await openDatabase(':memory:');
    expect(db.memory).toBe(true);
    db.close();
  });
});
