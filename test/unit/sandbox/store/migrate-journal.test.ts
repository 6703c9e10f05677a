import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateJournal, readJournal } from '../../../../src/sandbox/store/migrate-journal.js';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { startSandbox } from '../../../../src/sandbox/server.js';

const pod = { t: 'pod', podId: 7, name: 'p', objectStore: true, entityKey: Buffer.alloc(32, 1).toString('base64'), tokenSecret: Buffer.alloc(32, 2).toString('base64') };
const user = (n: number, username: string) => ({
  t: 'user', user: {
    id: 7 * 2 ** 36 + n, username, displayName: username, email: `${username}@x`, type: 'NORMAL', kmPublicKeyPem: 'pub', kmPrivateKeyPem: 'priv',
    accountKey: Buffer.alloc(32, n % 256).toString('base64'), wallStreamId: `wall${n}`, presence: { category: 'OFFLINE', timestamp: 1 },
  },
});
const lines = (...records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

describe('readJournal / migrateJournal', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-migrate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a log without a snapshot, ignoring an unterminated last line (an interrupted append)', async () => {
    const journal = join(dir, 'torn');
    await mkdir(journal);
    await writeFile(join(journal, 'journal-0.log'), `${lines(pod, user(1000, 'a'))}{"t":"user","us`);
    const { snapshot, records } = await readJournal(journal);
    expect(snapshot).toBeUndefined();
    expect(records.map((r) => r.t)).toEqual(['pod', 'user']);
    const store = SandboxStore.open(undefined);
    await migrateJournal(store, journal);
    expect(store.pod.require()).toMatchObject({ podId: 7, name: 'p', nextUserNumber: 1001 });
    expect(store.pod.require().feedSecret).toHaveLength(32);
    expect(store.users.byName('a')?.accountKey).toEqual(Buffer.alloc(32, 1000 % 256));
  });

  it('refuses a corrupt complete line, naming it; the sandbox then does not start and leaves the journal as it was', async () => {
    const data = join(dir, 'corrupt');
    const journal = join(data, 'journal');
    await mkdir(journal, { recursive: true });
    await writeFile(join(journal, 'journal-0.log'), `${lines(pod)}not json\n${lines(user(1000, 'a'))}`);
    await expect(readJournal(journal)).rejects.toThrow(`${join(journal, 'journal-0.log')}: line 2 is corrupt; the journal was not migrated`);
    await expect(startSandbox({ dataDir: data })).rejects.toThrow('line 2 is corrupt');
    expect(await readdir(data)).toContain('journal');
    expect(await readdir(data)).not.toContain('journal.migrated');
    // The failed migration committed nothing: the next start tries again.
    const store = SandboxStore.open(join(data, 'sandbox.db'));
    expect(store.pod.get()).toBeUndefined();
    store.close();
  });

  it('refuses a snapshot without generation and state', async () => {
    const journal = join(dir, 'bad-snapshot');
    await mkdir(journal);
    await writeFile(join(journal, 'snapshot.json'), '{"generation": 1}');
    await expect(readJournal(journal)).rejects.toThrow('has no generation and snapshot');
  });
});
