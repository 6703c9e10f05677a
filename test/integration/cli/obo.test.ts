// `allegro obo` against the sandbox over HTTPS: the sandbox's generated configuration drives its seeded app (the same
// file as the bot's), acting for alice and bob by username or id; the bot, for whom the app is not installed, is
// refused with APP_NOT_INSTALLED (exit 3); a missing --as is a usage error (exit 2).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connections, im, presence, send, userArgument, whoami, withOboSession } from '../../../src/cli/commands/obo.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { rejection } from '../../helpers/errors.js';

const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');
let sandbox: RunningSandbox;
const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args]).then(
  ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
  (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
);

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

describe('allegro obo', () => {
  it('whoami, presence (set and read), connections and im act for the user --as names', async () => {
    const lines: string[] = [];
    const print = (line: string) => lines.push(line);
    const warnings: string[] = [];
    const as = (user: string, action: Parameters<typeof withOboSession>[2]) => withOboSession(sandbox.configPath, user, action, (w) => warnings.push(w));
    expect(await as('alice', (s) => whoami(s, print))).toBe(0);
    expect(JSON.parse(lines[0]!)).toEqual({ appId: 'sandbox-crm', userId: sandbox.identities.get('alice')!.userId, username: 'alice', displayName: 'Alice Archer' });
    const bobId = sandbox.identities.get('bob')!.userId;
    expect(await as(String(bobId), (s) => presence(s, 'BUSY', print))).toBe(0);
    expect(lines[1]).toMatch(new RegExp(`^${bobId}\\tBUSY\\t\\d{4}-`));
    expect(await as('bob', (s) => presence(s, undefined, print))).toBe(0);
    expect(lines[2]!.split('\t')[1]).toBe('BUSY');
    expect(await as('alice', (s) => im(s, ['bob'], print))).toBe(0);
    const [streamId, link] = lines[3]!.split('\t');
    expect(link).toBe(`https://open.symphony.com/?streamId=${streamId}&streamType=im`);
    expect(await as('alice', (s) => connections(s, 'ALL', print))).toBe(0);
    const file = join(dirname(sandbox.configPath), 'note.txt');
    await writeFile(file, 'attached by the CLI');
    expect(await as('alice', (s) => send(s, streamId!, 'hello from the CLI', [file], print))).toBe(0);
    const messageId = lines.at(-1)!;
    const posted = sandbox.store.message(messageId)!.posted as { attachments: Array<{ name: string }> };
    expect(posted.attachments.map((a) => a.name)).toEqual(['note.txt']);
    expect(warnings).toEqual([]);
    expect(await rejection(as('alice', (s) => im(s, ['nobody'], print)))).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('reads digits as a user id and anything else as a username', () => {
    expect([userArgument('13469017441257'), userArgument('alice'), userArgument('007bond')]).toEqual([13469017441257, 'alice', '007bond']);
  });

  it('as a command: exit 3 with the code for a user the app is not installed for, exit 2 without --as', async () => {
    const refused = await run(['obo', 'whoami', '--as', 'sandbox-bot', '--config', sandbox.configPath]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^allegro: APP_NOT_INSTALLED: The app sandbox-crm is not installed for the user "sandbox-bot"/);
    const ok = await run(['obo', 'whoami', '--as', 'bob', '--config', sandbox.configPath]);
    expect([ok.code, JSON.parse(ok.stdout).username]).toEqual([0, 'bob']);
    const usage = await run(['obo', 'whoami', '--config', sandbox.configPath]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--as USER is required/);
    expect((await run(['obo', 'presence', 'BUSY', 'extra', '--as', 'bob', '--config', sandbox.configPath])).code).toBe(2);
  });
});
