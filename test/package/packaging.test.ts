/**
 * The package as npm would publish it: `npm pack` (without lifecycle scripts: dist/ is already built) into a
 * temporary directory, then publint (package.json fields, exports and the files they point to, in strict mode:
 * warnings fail too) and @arethetypeswrong/cli (types resolve like the JavaScript for every entry point, under the
 * `esm-only` profile: this package is ESM only, so CommonJS `require` and node10 resolution are out of scope). Both
 * run on the local tarball and need no network.
 *
 * Needs dist/ (`npm test` builds it first).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

let dir: string;
let tarball: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-pack-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, packed!.filename);
}, 120_000);

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the published package', () => {
  it('passes publint in strict mode', async () => {
    const data = await readFile(tarball);
    // The tarball's files are under package/.
    const { messages } = await publint({ pkgDir: 'package', strict: true, pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) } });
    expect(messages.map((m) => `${m.type} ${m.code} at ${m.path.join('.')}`)).toEqual([]);
  });

  it('passes @arethetypeswrong/cli with the esm-only profile', async () => {
    const attw = join(ROOT, 'node_modules/.bin/attw');
    const result = await run(attw, [tarball, '--profile', 'esm-only', '--format', 'json'], { cwd: ROOT }).catch((err: { stdout: string; code: number }) => err);
    const report = JSON.parse(result.stdout) as { analysis: { entrypoints: Record<string, unknown> } };
    expect('code' in result ? result.code : 0, result.stdout.slice(0, 2000)).toBe(0);
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(['.', './crypto', './errors', './obo', './package.json', './sandbox']);
  });
});
