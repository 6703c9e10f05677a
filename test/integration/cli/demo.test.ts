// The README's first command, `npm run demo`, runs `allegro demo`: every step must succeed and the exit code be 0.
// Here with a 4 MiB blob (--small) to keep the suite quick; the full 100 MiB run is the same code path.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');

it('runs every demo step successfully on the embedded sandbox', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'demo', '--small'], { timeout: 120_000 });
  expect(stdout).toMatch(/Summary: (\d+)\/\1 steps succeeded/);
  expect(stdout).not.toContain('✘');
  for (const claim of [
    'encrypted objects', 'exchange encrypted messages', 'through the Agent; Alice decrypts it natively', 'Agent host: the super user provisions',
    '/Events long poll returns it decrypted', '503 with Retry-After', 'blob through the Object Store', 'same SHA-256',
    'CONTENT_KEY_UNAVAILABLE', 'ENTITLEMENT_DISABLED', 'cached app token', 'https://open.symphony.com/?streamId=', 'OBO_PERMISSION_DENIED',
    'APP_NOT_INSTALLED', 'partner callback', 'Alice\'s own client decrypts it natively',
  ]) {
    expect(stdout).toContain(claim);
  }
}, 150_000);
