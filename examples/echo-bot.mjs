// An echo bot: every encrypted message it receives, it decrypts and sends back encrypted. Run it against the
// sandbox: `npx allegro sandbox` prints a configPath; then `node examples/echo-bot.mjs CONFIG_PATH`.
import { AllegroClient } from 'allegro-ts';

const configPath = process.argv[2] ?? process.env.ALLEGRO_CONFIG;
if (!configPath) throw new Error('usage: node examples/echo-bot.mjs CONFIG_PATH (or set ALLEGRO_CONFIG)');
const bot = await AllegroClient.create(configPath);
const feed = bot.datafeed();
process.once('SIGINT', () => feed.stop());
console.log(`echo bot ${bot.username} is listening`);
await feed.listen(async (event) => {
  if (event.initiatorId === bot.userId) return;
  if (event.error) return console.error(`could not decrypt ${event.eventId}: ${event.error.code}`);
  if (event.message) await bot.pod.send(event.message.threadId, `echo: ${event.message.text}`);
});
await bot.close();
