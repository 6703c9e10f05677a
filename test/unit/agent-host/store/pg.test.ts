// The one `pg` adapter (src/agent-host/store/pg.ts) on a throwaway PostgreSQL server: transactions commit or roll
// back whole, a real serialization failure is run again, 64-bit integers come back as numbers, LISTEN delivers
// notifications at COMMIT, URLs are read into their parts, and a closed pool refuses work.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PgDatabase } from '../../../../src/agent-host/store/pg.js';
import { AllegroError } from '../../../../src/errors.js';
import { describePostgres, startPostgres, type RunningPostgres } from '../../../helpers/postgres.js';

describePostgres('the pg adapter', () => {
  let server: RunningPostgres;
  let db: PgDatabase;
  beforeAll(async () => {
    server = await startPostgres();
    db = PgDatabase.open({ url: server.url() });
    await db.query('CREATE TABLE counters (id integer PRIMARY KEY, n bigint NOT NULL)');
    await db.query('INSERT INTO counters VALUES (1, 0)');
  });
  afterAll(async () => {
    await db?.close();
    await server?.stop();
  });

  it('commits a transaction that returns, and rolls back one that throws (the error passes through)', async () => {
    expect(await db.transaction(async (tx) => {
      await tx.query('UPDATE counters SET n = n + 1 WHERE id = 1');
      return 'done';
    })).toBe('done');
    const boom = new Error('boom');
    await expect(db.transaction(async (tx) => {
      await tx.query('UPDATE counters SET n = n + 100 WHERE id = 1');
      throw boom;
    })).rejects.toBe(boom);
    expect(await db.query('SELECT n FROM counters WHERE id = 1')).toEqual([{ n: 1 }]);
  });

  it('runs a transaction again when PostgreSQL reports a serialization failure', async () => {
    let attempts = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Two repeatable-read transactions read the row, then both update it: the second to commit must be retried.
    const first = db.transaction(async (tx) => {
      await tx.query('SELECT n FROM counters WHERE id = 1');
      await gate;
      await tx.query('UPDATE counters SET n = n + 1 WHERE id = 1');
    }, 'repeatable read');
    const second = db.transaction(async (tx) => {
      attempts++;
      await tx.query('SELECT n FROM counters WHERE id = 1');
      if (attempts === 1) {
        release();
        await first;
      }
      await tx.query('UPDATE counters SET n = n + 10 WHERE id = 1');
    }, 'repeatable read');
    await Promise.all([first, second]);
    expect(attempts).toBe(2);
    expect(await db.query('SELECT n FROM counters WHERE id = 1')).toEqual([{ n: 12 }]);
  });

  it('reads 64-bit integers as numbers', async () => {
    expect(await db.query('SELECT 9007199254740991::bigint AS big, count(*) AS rows FROM counters')).toEqual([{ big: 9007199254740991, rows: 1 }]);
  });

  it('delivers notifications to a LISTEN connection at COMMIT, not before', async () => {
    const payloads: string[] = [];
    const listener = await db.listen('adapter_test', (p) => payloads.push(p), () => undefined);
    try {
      await db.transaction(async (tx) => {
        await tx.query("SELECT pg_notify('adapter_test', 'one')");
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(payloads).toEqual([]);
      });
      const deadline = Date.now() + 5000;
      while (payloads.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(payloads).toEqual(['one']);
    } finally {
      await listener.close();
    }
  });

  it('reads a URL into its parts, percent-decoded, and refuses other schemes and query parameters', async () => {
    const encoded = PgDatabase.open({ url: `postgres://${server.user}:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/postgres` });
    try {
      expect(encoded.where).toBe(`127.0.0.1:${server.port}/postgres as ${server.user}`);
      expect(await encoded.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await encoded.close();
    }
    expect(() => PgDatabase.open({ url: 'not a url' })).toThrow(AllegroError);
    expect(() => PgDatabase.open({ url: 'mysql://db/x' })).toThrow('must start with postgresql://');
    expect(() => PgDatabase.open({ url: 'postgresql://db/x?sslmode=require' })).toThrow('no query parameters');
  });

  it('refuses work once closed', async () => {
    const other = PgDatabase.open({ url: server.url() });
    await other.close();
    await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
  });
});
