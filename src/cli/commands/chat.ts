/**
 * The chat commands of the `allegro` CLI, each driven by a client config file (the sandbox writes one):
 * `streams`, `send STREAM TEXT`, `read STREAM [--limit N]` and `listen` (prints decrypted events as JSON lines
 * until Ctrl-C). Every message is encrypted and decrypted in this process.
 */
import { AllegroClient } from '../../client.js';
import { loadConfig } from '../../config.js';

/**
 * Connect the bot of `configPath`, first reporting through `warn` each key of the file that allegro-ts does not read
 * (docs/config.md "Keys allegro-ts does not read"): a typo in a BDK config.yaml would otherwise pass silently.
 */
async function connect(configPath: string, warn: (line: string) => void): Promise<AllegroClient> {
  const config = await loadConfig(configPath);
  for (const key of config.ignoredKeys) warn(`warning: ${configPath}: allegro-ts does not read ${key}`);
  return AllegroClient.create(config);
}

/** Run `action` with a connected client, closing it afterwards; resolves to exit code 0. Warnings go to `warn`. */
export async function withClient(configPath: string, action: (bot: AllegroClient) => Promise<void>, warn = (line: string) => console.error(line)): Promise<number> {
  const bot = await connect(configPath, warn);
  try {
    await action(bot);
    return 0;
  } finally {
    await bot.close();
  }
}

/** Print the bot's streams, one per line: id, type, name or members. */
export function streamsCommand(configPath: string, print: (line: string) => void): Promise<number> {
  return withClient(configPath, async (bot) => {
    for (const s of await bot.pod.streams({ limit: 200 })) print(`${s.id}\t${s.type}\t${s.name ?? s.members.join(',')}`);
  });
}

/** Send one message; prints its id. */
export function sendCommand(configPath: string, stream: string, text: string, print: (line: string) => void): Promise<number> {
  return withClient(configPath, async (bot) => print(await bot.pod.send(stream, text)));
}

/**
 * Print the last messages of a stream, decrypted, oldest first; a message that cannot be decrypted is printed as
 * `[not decrypted: CODE]` in place of its text.
 */
export function readCommand(configPath: string, stream: string, limit: number, print: (line: string) => void): Promise<number> {
  return withClient(configPath, async (bot) => {
    for (const m of await bot.pod.history(stream, { limit })) {
      print(`${new Date(m.timestamp).toISOString()}\t${m.fromUserId}\t${m.error === undefined ? m.text : `[not decrypted: ${m.error.code}]`}`);
    }
  });
}

/** Print decrypted datafeed events as JSON lines until SIGINT/SIGTERM. */
export async function listenCommand(configPath: string, print: (line: string) => void, report: (line: string) => void): Promise<number> {
  const bot = await connect(configPath, report);
  const feed = bot.datafeed({ onError: (err, retryInMs) => report(`datafeed: ${(err as Error).message}; retrying in ${retryInMs} ms`) });
  const stop = () => feed.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    report(`listening as ${bot.username} (${bot.userId}); Ctrl-C to stop`);
    await feed.listen((event) => {
      print(JSON.stringify({
        eventId: event.eventId, name: event.name, timestamp: event.timestamp, from: event.initiatorId,
        ...(event.message === undefined ? {} : { streamId: event.message.threadId, text: event.message.text }),
        ...(event.error === undefined ? {} : { error: event.error.code, detail: event.error.message }),
      }));
    });
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await bot.close();
  }
}
