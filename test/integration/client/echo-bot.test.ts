// The README's echo bot (examples/echo-bot.mjs), run as a separate process against the sandbox.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';

let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 500 } });
});
afterAll(() => sandbox.close());

it('echoes an encrypted message back, encrypted', async () => {
  const root = join(import.meta.dirname, '../../..');
  const child = spawn(process.execPath, [join(root, 'examples/echo-bot.mjs'), sandbox.configPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const alice = await AllegroClient.create(identityConfig(sandbox, 'alice'));
  try {
    for (let i = 0; i < 100 && !output.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('echo bot sandbox-bot is listening');
    const room = (await alice.pod.streams({ types: ['ROOM'] }))[0]!.id;
    await new Promise((r) => setTimeout(r, 300));
    await alice.pod.send(room, 'ping 42');
    let echoed: string | undefined;
    for (let i = 0; i < 100 && echoed === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      echoed = (await alice.pod.history(room, { limit: 5 })).map((m) => m.text).find((t) => t.startsWith('echo:'));
    }
    expect(echoed).toBe('echo: ping 42');
    // The pod never saw the text: every stored copy is ciphertext.
    expect(JSON.stringify(sandbox.store.messages(room).map((m) => m.posted))).not.toContain('ping 42');
  } finally {
    await alice.close();
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  }
});
