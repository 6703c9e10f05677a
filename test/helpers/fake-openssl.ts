// A stand-in `openssl` for the benchmark tests: answers `version` and `speed … -bytes N` at once, as OpenSSL 3 does
// with -mr (N × 1000 bytes/s on one process, twice that with -multi), and logs its arguments to calls.log beside it.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

const SCRIPT = `#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
if [ "$1" = version ]; then echo "OpenSSL 9.9.9 fake"; exit 0; fi
if [ "$FAKE_OPENSSL_FAIL" = 1 ]; then echo "speed: Unknown option or cipher: aes-256-gcm" >&2; exit 1; fi
bytes=0; prev=
for a in "$@"; do [ "$prev" = "-bytes" ] && bytes=$a; prev=$a; done
case "$*" in
  *-multi*) echo "Forked child 0"; echo "Got: +H:$bytes from 0"; echo "Got: +F:25:AES-256-GCM:$((bytes * 1000)).00 from 0"
            echo "+F:25:AES-256-GCM:$((bytes * 2000)).00" ;;
  *) echo "+H:$bytes"; echo "+F:25:AES-256-GCM:$((bytes * 1000)).00" ;;
esac
`;

/** A directory holding the fake `openssl`, its path, the calls it logged so far, and its removal. */
export interface FakeOpenssl {
  dir: string;
  command: string;
  calls(): Promise<string[]>;
  remove(): Promise<void>;
}

/** Create a fake `openssl` in a new temporary directory. */
export async function fakeOpenssl(): Promise<FakeOpenssl> {
  const dir = await mkdtemp(join(tmpdir(), 'allegro-fake-openssl-'));
  const command = join(dir, 'openssl');
  await writeFile(command, SCRIPT);
  await chmod(command, 0o755);
  return {
    dir,
    command,
    calls: async () => (await readFile(join(dir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== ''),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A fake `openssl` for the enclosing `describe`: created before its tests, removed after them. */
export function useFakeOpenssl(): () => FakeOpenssl {
  let fake: FakeOpenssl | undefined;
  beforeAll(async () => { fake = await fakeOpenssl(); });
  afterAll(async () => { await fake?.remove(); });
  return () => fake!;
}
