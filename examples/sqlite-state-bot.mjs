// A bot that keeps its state in its own SQLite database, encrypted: each fact is an encrypted record
// (docs/wire-formats.md "Encrypted record v1") under the content key of the room it was told in, so the database
// holds only ciphertext and a clear header, and any member of the room can decrypt it. In a room:
//   remember NAME VALUE…   store VALUE under NAME (replacing it)
//   recall NAME            answer with the value
//   forget NAME            delete it
// Run it against the sandbox: `npx allegro sandbox` prints a configPath; then
// `node examples/sqlite-state-bot.mjs CONFIG_PATH [DB_PATH]` (default ./bot-state.db).
import Database from 'better-sqlite3';
import { AllegroClient } from 'allegro-ts';

const configPath = process.argv[2] ?? process.env.ALLEGRO_CONFIG;
const dbPath = process.argv[3] ?? 'bot-state.db';
if (!configPath) throw new Error('usage: node examples/sqlite-state-bot.mjs CONFIG_PATH [DB_PATH] (or set ALLEGRO_CONFIG)');

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE IF NOT EXISTS facts (
  stream TEXT NOT NULL,
  name TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (stream, name)
)`);
const save = db.prepare('INSERT INTO facts (stream, name, record) VALUES (?, ?, ?) ON CONFLICT (stream, name) DO UPDATE SET record = excluded.record');
const load = db.prepare('SELECT record FROM facts WHERE stream = ? AND name = ?');
const drop = db.prepare('DELETE FROM facts WHERE stream = ? AND name = ?');
// The row's key is the record's associated data: a record copied into another row does not decrypt there.
const rowKey = (stream, name) => JSON.stringify([stream, name]);

const bot = await AllegroClient.create(configPath);
const feed = bot.datafeed();
process.once('SIGINT', () => feed.stop());
process.once('SIGTERM', () => feed.stop());
console.log(`sqlite state bot ${bot.username} is listening (${dbPath})`);

await feed.listen(async (event) => {
  if (event.initiatorId === bot.userId || !event.message) return;
  const stream = event.message.threadId;
  const [command, name, ...words] = event.message.text.trim().split(/\s+/);
  if (name === undefined) return;
  if (command === 'remember' && words.length > 0) {
    const record = await bot.encryptRecord({
      threadId: stream, recordType: 'fact', header: { name, by: event.initiatorId, at: event.timestamp },
      payload: { value: words.join(' ') }, associatedData: rowKey(stream, name),
    });
    save.run(stream, name, JSON.stringify(record));
    await bot.pod.send(stream, `remembered ${name}`);
  } else if (command === 'recall') {
    const row = load.get(stream, name);
    if (row === undefined) return bot.pod.send(stream, `nothing is remembered as ${name}`);
    try {
      const fact = await bot.decryptRecord(row.record, { associatedData: rowKey(stream, name) });
      await bot.pod.send(stream, `${name} = ${fact.json().value}`);
    } catch (err) {
      // A record that was altered, or moved from another row, is refused: DECRYPTION_FAILED, nothing more.
      await bot.pod.send(stream, `cannot read ${name}: ${err.code ?? 'error'}`);
    }
  } else if (command === 'forget') {
    drop.run(stream, name);
    await bot.pod.send(stream, `forgot ${name}`);
  }
});
await bot.close();
db.close();
