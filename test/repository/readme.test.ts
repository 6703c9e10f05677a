/**
 * The README's tables say what the repository holds: "Entry points" lists exactly package.json's `exports`, the two
 * "Dependencies" tables exactly its `dependencies` and `devDependencies`, "Command line" every command of the CLI's
 * usage text (src/cli/main.ts) and no flag that text does not have, and "Layout" every top-level folder and every
 * folder of src/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitFiles, ROOT } from '../helpers/repository.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The text of the README section under `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The first cell of every body row of the Markdown tables in `text` (header and separator rows left out). */
function rowNames(text: string): string[] {
  const lines = text.split('\n');
  const separator = (line: string | undefined) => line !== undefined && /^\|[\s|:-]+\|$/.test(line);
  return lines
    .filter((line, i) => line.startsWith('|') && !separator(line) && !separator(lines[i + 1]))
    .map((line) => /^\|\s*((?:[^|\\]|\\.)*?)\s*\|/.exec(line)?.[1] ?? '');
}

/** The backticked names of a cell: `` `name` `` → name. */
const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The command words and flags of the CLI's usage text. */
function usage(): { commands: string[]; flags: string[] } {
  const source = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8');
  const text = /const USAGE = `([\s\S]*?)`;/.exec(source)?.[1];
  if (text === undefined) throw new Error('src/cli/main.ts has no USAGE text');
  const body = text.slice(text.indexOf('Commands:'));
  const commands = [...new Set([...body.matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]!))];
  const flags = [...new Set([...body.matchAll(/--[a-z][\w-]*/g)].map((m) => m[0]))];
  return { commands, flags };
}

const tracked = gitFiles();
if (tracked === undefined) console.warn('readme: not a git checkout (or no git); the layout test is skipped');

describe('README.md', () => {
  it('lists exactly the package entry points', () => {
    const exported = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => (k === '.' ? 'allegro-ts' : `allegro-ts/${k.slice(2)}`));
    const listed = rowNames(section('Entry points')).flatMap(ticked);
    expect(listed.sort()).toEqual(exported.sort());
  });

  it('lists exactly the dependencies and the dev dependencies, each with its reason', () => {
    const text = section('Dependencies');
    const devAt = text.indexOf('\nDev only:');
    expect(devAt).toBeGreaterThan(0);
    const runtime = rowNames(text.slice(0, devAt)).flatMap(ticked);
    const dev = rowNames(text.slice(devAt)).flatMap(ticked);
    expect(runtime.sort()).toEqual(Object.keys(pkg.dependencies).sort());
    expect(dev.sort()).toEqual(Object.keys(pkg.devDependencies).sort());
    const reasons = text.split('\n').filter((line) => /^\| `/.test(line)).filter((line) => (line.split('|')[2] ?? '').trim().length < 10);
    expect(reasons).toEqual([]);
  });

  it('pins every dependency exactly (better-sqlite3 to 12.x: 13 crashes on Node 20)', () => {
    const loose = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(([, version]) => !/^\d+\.\d+\.\d+$/.test(version));
    expect(loose).toEqual([]);
    expect(pkg.dependencies['better-sqlite3']).toMatch(/^12\./);
  });

  it('names every command of the CLI and no flag it does not have', () => {
    const { commands, flags } = usage();
    expect(commands).toEqual(expect.arrayContaining(['demo', 'sandbox', 'send', 'bench', 'vectors']));
    const cells = rowNames(section('Command line'));
    const named = cells.flatMap(ticked).map((span) => span.replace(/^npx allegro /, '').split(/\s/)[0]!);
    expect(commands.filter((c) => !named.includes(c))).toEqual([]);
    const readmeFlags = [...new Set(cells.join(' ').match(/--[a-z][\w-]*/g) ?? [])];
    expect(readmeFlags.filter((f) => !flags.includes(f))).toEqual([]);
  });

  it.skipIf(tracked === undefined)('names every top-level folder and every folder of src/ in its layout', () => {
    const text = section('Layout');
    const topLevel = [...new Set((tracked ?? []).filter((f) => f.includes('/')).map((f) => f.slice(0, f.indexOf('/'))))];
    const srcFolders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/${e.name}`);
    expect(topLevel).toEqual(expect.arrayContaining(['src', 'test', 'docs']));
    const missing = [...topLevel.map((d) => `${d}/`), ...srcFolders].filter((name) => !new RegExp(`\`${name.replace(/[.]/g, '\\.')}[\`/]`).test(text));
    expect(missing).toEqual([]);
  });
});
