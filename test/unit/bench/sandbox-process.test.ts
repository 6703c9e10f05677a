// Runs the built module (dist/, built by `npm test`'s pretest): the sandbox it starts is dist/cli/main.js.
import { describe, expect, it } from 'vitest';
import { spawnSandbox } from '../../../dist/bench/sandbox-process.js';

describe('spawnSandbox', () => {
  it('starts `allegro sandbox` in a child process and stops it, also when asked twice', async () => {
    const sandbox = await spawnSandbox(true);
    expect(sandbox.podUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.port).toBeGreaterThan(0);
    await sandbox.stop();
    await sandbox.stop(); // a second stop() returns at once
    await expect(fetch(sandbox.podUrl)).rejects.toThrow();
  });
});
