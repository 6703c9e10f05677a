// The SQLite state bot (examples/sqlite-state-bot.mjs), run as a separate process against the sandbox: it keeps
// facts as encrypted records in its own database, which holds no plaintext, refuses a record moved to another row,
// and still knows its facts after a restart. A room member decrypts the bot's record with her own keys.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';

const root = join(import.meta.dirname, '../../..');
let sandbox: RunningSandbox;
let alice: AllegroClient;
let dir: string;
let room: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'allegro-sqlite-bot-'));
  sandbox = await startSandbox({ config: { datafeedWaitMs: 500 } });
  alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
  room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
});
afterAll(async () => {
  await alice?.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Start the example bot; resolves once it listens. */
async function startBot(dbPath: string): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'examples/sqlite-state-bot.mjs'), sandbox.configPath, dbPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  for (let i = 0; i < 150 && !output.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(output).toContain('sqlite state bot sandbox-bot is listening');
  // Let its datafeed exist before the first message.
  await new Promise((r) => setTimeout(r, 500));
  return {
    child,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Send `text` to the room as alice and wait for the bot's answer that starts with `prefix`. */
async function ask(text: string, prefix: string): Promise<string> {
  const before = new Set((await alice.pod.history(room, { limit: 50 })).map((m) => m.messageId));
  await alice.pod.send(room, text);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const reply = (await alice.pod.history(room, { limit: 50 })).find((m) => !before.has(m.messageId) && m.text.startsWith(prefix));
    if (reply !== undefined) return reply.text;
  }
  throw new Error(`no answer starting with ${JSON.stringify(prefix)} to ${JSON.stringify(text)}`);
}

it('keeps encrypted facts in SQLite, refuses a moved record, and remembers across a restart', async () => {
  const dbPath = join(dir, 'state.db');
  let bot = await startBot(dbPath);
  try {
    expect(await ask('remember door 1234 open sesame', 'remembered')).toBe('remembered door');
    expect(await ask('recall door', 'door')).toBe('door = 1234 open sesame');

    const db = new Database(dbPath);
    try {
      const row = db.prepare('SELECT stream, record FROM facts WHERE name = ?').get('door') as { stream: string; record: string };
      // The database holds ciphertext and the clear header only.
      expect(row.record).not.toContain('1234');
      expect(row.record).not.toContain('sesame');
      const record = JSON.parse(row.record) as { header: Record<string, unknown>; recordType: string; format: string };
      expect(record).toMatchObject({ format: 'allegro-ts.record', recordType: 'fact', header: { name: 'door', by: alice.userId } });
      // Any member of the room can decrypt it with her own keys.
      const mine = await alice.decryptRecord(row.record, { associatedData: JSON.stringify([row.stream, 'door']) });
      expect(mine.json()).toEqual({ value: '1234 open sesame' });
      // The same record copied into another row is refused there.
      db.prepare('INSERT INTO facts (stream, name, record) VALUES (?, ?, ?)').run(row.stream, 'window', row.record);
    } finally {
      db.close();
    }
    expect(await ask('recall window', 'cannot read')).toBe('cannot read window: DECRYPTION_FAILED');

    await bot.stop();
    bot = await startBot(dbPath);
    expect(await ask('recall door', 'door')).toBe('door = 1234 open sesame');
    expect(await ask('forget door', 'forgot')).toBe('forgot door');
    expect(await ask('recall door', 'nothing')).toBe('nothing is remembered as door');
  } finally {
    await bot.stop();
  }
});
