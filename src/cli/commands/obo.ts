/**
 * The `allegro obo` commands (docs/cli.md "OBO"): an OBO app of a config file (its `app` section; `bot` optional)
 * acting for the user named by `--as` (a user id or a username): `whoami`, `im USER...` (creates or finds the IM or
 * MIM, prints its id and a click-to-chat link), `send STREAM TEXT [--file F]...` (through the Agent), `presence
 * [CATEGORY]` (prints, or sets then prints) and `connections [--status S]`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Connection } from '../../pod/pod-api.js';
import { loadAppConfig } from '../../config.js';
import { InvalidArgumentError } from '../../errors.js';
import { OboApp } from '../../obo/app.js';
import type { OboSession } from '../../obo/session.js';
import { symphonyUri } from '../../obo/symphony-uri.js';

/** A `--as` or user argument: digits are a user id, anything else a username. */
export function userArgument(value: string): number | string {
  return /^\d{1,16}$/.test(value) ? Number(value) : value;
}

/** Run `action` as `as` through the app of `configPath`, closing the app afterwards; resolves to exit code 0. */
export async function withOboSession(configPath: string, as: string, action: (session: OboSession) => Promise<void>, warn: (line: string) => void): Promise<number> {
  const config = await loadAppConfig(configPath);
  for (const key of config.ignoredKeys) warn(`warning: ${configPath}: allegro-ts does not read ${key}`);
  const app = await OboApp.create(config);
  try {
    await action(await app.user(userArgument(as)));
    return 0;
  } finally {
    await app.close();
  }
}

/** `whoami`: the user the session acts for, as JSON. */
export async function whoami(session: OboSession, print: (line: string) => void): Promise<void> {
  const me = await session.me();
  print(JSON.stringify({ appId: session.appId, userId: me.id, username: me.username, displayName: me.displayName }));
}

/** `im USER...`: the IM or MIM with those users (ids or usernames); prints its id and its click-to-chat link. */
export async function im(session: OboSession, users: readonly string[], print: (line: string) => void): Promise<void> {
  const given = users.map(userArgument);
  const names = given.filter((u): u is string => typeof u === 'string');
  const found = names.length === 0 ? [] : await session.users({ usernames: names });
  const ids = given.map((u) => {
    if (typeof u === 'number') return u;
    const user = found.find((f) => f.username.toLowerCase() === u.toLowerCase());
    if (user === undefined) throw new InvalidArgumentError('USER', 'a user id or the username of a user of the pod', JSON.stringify(u));
    return user.id;
  });
  const streamId = await session.createIm(ids);
  print(`${streamId}\t${symphonyUri({ streamId, streamType: 'im' })}`);
}

/** `send STREAM TEXT [--file F]...`: a message (and attachments) through the Agent; prints its id. */
export async function send(session: OboSession, stream: string, text: string, files: readonly string[], print: (line: string) => void): Promise<void> {
  const attachments = await Promise.all(files.map(async (f) => ({ name: basename(f), content: new Uint8Array(await readFile(f)) })));
  print(await session.send(stream, text, { attachments }));
}

/** `presence [CATEGORY]`: sets the user's presence when given, then prints it. */
export async function presence(session: OboSession, category: string | undefined, print: (line: string) => void): Promise<void> {
  const p = category === undefined ? await session.presence() : await session.setPresence(category);
  print(`${p.userId}\t${p.category}\t${new Date(p.timestamp).toISOString()}`);
}

/** `connections [--status S]`: one line per connection: user id, status, last update. */
export async function connections(session: OboSession, status: Connection['status'] | 'ALL' | undefined, print: (line: string) => void): Promise<void> {
  for (const c of await session.connections(status)) print(`${c.userId}\t${c.status}\t${c.updatedAt === undefined ? '' : new Date(c.updatedAt).toISOString()}`);
}
