// `allegro read` against the sandbox: a stream holding a message that cannot be decrypted prints every other
// message and marks the bad one with its error code, exit 0. A config key allegro-ts does not read is warned about.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCommand, withClient } from '../../../src/cli/commands/chat.js';
import { AllegroClient } from '../../../src/client.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { postRaw } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let room: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
  try {
    room = await bot.pod.createRoom({ name: 'read' });
    await bot.pod.addMember(room, (await bot.pod.users({ usernames: ['alice'] }))[0]!.id);
    await bot.pod.send(room, 'first');
    await postRaw(sandbox, 'alice', room, await encryptText(new AesKey(randomBytes(32)), 'forged', { rotationId: await bot.keys.currentRotation(room) }));
    await bot.pod.send(room, 'last');
  } finally {
    await bot.close();
  }
});
afterAll(async () => {
  await sandbox?.close();
});

describe('allegro read', () => {
  it('prints the messages it can decrypt and marks the one it cannot', async () => {
    const lines: string[] = [];
    expect(await readCommand(sandbox.configPath, room, 10, (line) => lines.push(line))).toBe(0);
    expect(lines).toHaveLength(3);
    const fields = lines.map((line) => line.split('\t'));
    for (const f of fields) {
      expect(f).toHaveLength(3);
      expect(new Date(f[0]!).toISOString()).toBe(f[0]);
    }
    expect(fields.map((f) => f[2])).toEqual(['first', '[not decrypted: KEY_ID_MISMATCH]', 'last']);
    expect(lines.join('\n')).not.toContain('forged');
  });
});

describe('the config file of a command', () => {
  it('each key allegro-ts does not read is warned about before connecting; the sandbox\'s own file has none', async () => {
    const warnings: string[] = [];
    expect(await withClient(sandbox.configPath, async () => {}, (line) => warnings.push(line))).toBe(0);
    expect(warnings).toEqual([]);
    const typo = join(dirname(sandbox.configPath), 'typo.yaml');
    await writeFile(typo, `${await readFile(join(dirname(sandbox.configPath), 'config.yaml'), 'utf8')}keymanager:\n  host: km.example.com\nreadTimeout: 60000\n`);
    let seen = 0;
    expect(await withClient(typo, async () => { seen = warnings.length; }, (line) => warnings.push(line))).toBe(0);
    expect(warnings).toEqual([`warning: ${typo}: allegro-ts does not read keymanager`, `warning: ${typo}: allegro-ts does not read readTimeout`]);
    expect(seen).toBe(2);
  });
});
