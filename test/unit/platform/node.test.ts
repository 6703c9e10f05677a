// The Node platform's non-crypto parts: file reading relative to a base directory and the directory of a path. Its crypto is covered by every other test and by test/cross/.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platform } from '../../../src/platform/node.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-platform-'));
  await writeFile(join(dir, 'a.txt'), 'héllo');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('node platform', () => {
  it('reads a file by absolute path, or relative to a base directory', async () => {
    expect(new TextDecoder().decode(await platform.readFile(join(dir, 'a.txt')))).toBe('héllo');
    expect(new TextDecoder().decode(await platform.readFile('a.txt', dir))).toBe('héllo');
    expect(new TextDecoder().decode(await platform.readFile(join(dir, 'a.txt'), '/elsewhere'))).toBe('héllo');
    await expect(platform.readFile('missing.txt', dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives the absolute directory of a path', () => {
    expect(platform.directoryOf(join(dir, 'a.txt'))).toBe(dir);
    expect(platform.directoryOf('x/y.json')).toBe(join(process.cwd(), 'x'));
  });
});
