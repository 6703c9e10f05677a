// What only the shared PostgreSQL store does (the contract both stores keep is in contract.test.ts): several store
// instances (host processes) on one database — event appends wake the watchers of the others through NOTIFY, also
// after the listening connection was cut; migrations run once when hosts start together, and a newer schema is
// refused; the host directory; connection failures reported without secrets. On a throwaway server
// (test/helpers/postgres.ts).
import { beforeEach, expect, it } from 'vitest';
import { AllegroError } from '../../../../src/errors.js';
import { PgDatabase } from '../../../../src/agent-host/store/pg.js';
import { openPostgresStore, POSTGRES_SCHEMA_VERSION } from '../../../../src/agent-host/store/postgres.js';
import { describePostgres, usePostgresStores, type RunningPostgres } from '../../../helpers/postgres.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const agent = { id: 'a1', userName: 'bot', identity: { kind: 'rsa' as const, username: 'bot', privateKeyEnv: 'BOT_KEY' }, users: [], canProvision: false, provisioningMode: 0, managementMode: 0 };

async function until(ms: number, check: () => boolean): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await sleep(10);
  }
}

describePostgres('the PostgreSQL agent host store', () => {
  const pg = usePostgresStores();
  const open = pg.open;
  let server: RunningPostgres;
  beforeEach(() => {
    server = pg.server();
  });

  it('wakes the watchers of another host process when events commit there, and after its listening connection was cut', async () => {
    const [writer, reader] = [await open(), await open()];
    await writer.putAgent(agent);
    const lease = (await writer.claimAgent('a1', 'w', 60_000))!;
    const seen: number[] = [];
    reader.watchEvents('a1', () => {
      void reader.readEvents('a1', seen.at(-1) ?? 0, 10).then((w) => seen.push(...w.events.map((e) => e.eventId)));
    });
    await writer.appendEvents(lease, [{ type: 'message', local: false, time: 1, body: {} }]);
    await until(5000, () => seen.length === 1);

    // Cut the reader's LISTEN connection from the server side: it reconnects, wakes its watchers (a notification may
    // have been missed meanwhile), and later notifications arrive again.
    await server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'");
    await writer.appendEvents(lease, [{ type: 'message', local: false, time: 2, body: {} }]);
    await until(10_000, () => seen.includes(2));
    await sleep(1500); // the reconnect is due after 1 s
    await writer.appendEvents(lease, [{ type: 'message', local: false, time: 3, body: {} }]);
    await until(5000, () => seen.includes(3));
  });

  it('migrates once when hosts start together, records the schema version, and refuses a newer one', async () => {
    const opened = await Promise.all([open(), open(), open()]);
    expect(opened).toHaveLength(3);
    const db = PgDatabase.open({ url: server.url() });
    try {
      expect(await db.query('SELECT version FROM agent_host_schema')).toEqual([{ version: POSTGRES_SCHEMA_VERSION }]);
      await db.query('UPDATE agent_host_schema SET version = version + 1');
      const err = await openPostgresStore({ url: server.url() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AllegroError);
      expect(err).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
      expect((err as Error).message).toContain(`schema version ${POSTGRES_SCHEMA_VERSION + 1}`);
    } finally {
      await db.close();
    }
  });

  it('keeps a directory of live hosts, and finds the live owner of an agent with its URL', async () => {
    const [a, b] = [await open(), await open()];
    await a.announceHost('host-a', 'https://127.0.0.1:1001', 60_000);
    await b.announceHost('host-b', 'https://127.0.0.1:1002', 60_000);
    await b.announceHost('host-gone', 'https://127.0.0.1:1003', 1);
    await sleep(5);
    expect((await a.listHosts()).map((h) => [h.owner, h.url])).toEqual([['host-a', 'https://127.0.0.1:1001'], ['host-b', 'https://127.0.0.1:1002']]);
    expect(await a.findOwner('a1')).toBeUndefined();
    const lease = (await b.claimAgent('a1', 'host-b', 60_000))!;
    expect(await a.findOwner('a1')).toEqual({ lease, url: 'https://127.0.0.1:1002' });
    await b.releaseLease(lease);
    expect(await a.findOwner('a1')).toBeUndefined();
    await b.claimAgent('a1', 'host-gone', 60_000);
    expect(await a.findOwner('a1')).toBeUndefined(); // its holder's announcement expired
    await a.removeHost('host-a');
    expect((await a.listHosts()).map((h) => h.owner)).toEqual(['host-b']);
    const now = await a.now();
    expect(Math.abs(now - Date.now())).toBeLessThan(5000);
  });

  it('reports connection failures as AllegroErrors naming server, database and user, never the password', async () => {
    const secret = 'not-the-password-7f3a';
    const failures = await Promise.all([
      openPostgresStore({ host: '127.0.0.1', port: server.port, database: 'postgres', user: server.user, password: secret }).catch((e: unknown) => e),
      openPostgresStore({ url: `postgresql://${server.user}@127.0.0.1:${server.port}/nosuchdb`, password: server.password }).catch((e: unknown) => e),
      openPostgresStore({ url: `postgresql://${server.user}:${secret}@127.0.0.1:1/postgres` }).catch((e: unknown) => e),
      openPostgresStore({ url: `http://${server.user}:${secret}@127.0.0.1/postgres` }).catch((e: unknown) => e),
      openPostgresStore({ url: `postgresql://${server.user}:${secret}@127.0.0.1/postgres?sslmode=require` }).catch((e: unknown) => e),
    ]);
    expect(failures.map((e) => (e as AllegroError).code)).toEqual(['AUTHENTICATION_FAILED', 'INVALID_CONFIG', 'NETWORK_ERROR', 'INVALID_CONFIG', 'INVALID_CONFIG']);
    expect((failures[0] as Error).message).toBe(`PostgreSQL at 127.0.0.1:${server.port}/postgres as ${server.user} refused the credentials`);
    expect((failures[2] as AllegroError).retryable).toBe(true);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(AllegroError);
      expect(`${(failure as Error).message} ${JSON.stringify(failure)} ${String((failure as Error).stack)}`).not.toContain(secret);
    }
    // The password given apart from the URL works (the URL carries none).
    const store = await openPostgresStore({ url: `postgresql://${server.user}@127.0.0.1:${server.port}/postgres`, password: server.password });
    expect(await store.listAgents()).toEqual([]);
    await store.close();
  });
});
