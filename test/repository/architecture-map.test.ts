/**
 * docs/architecture.md describes src/ as it is: its "Module map" names every folder and every module of src/ (and
 * nothing that is gone), and its "Dependencies between folders" diagram has exactly the edges of the folder-level
 * import graph (a root file of src/ counts as its own node; type-only imports count), computed from the sources
 * with the reader of test/helpers/import-graph.ts. On a mismatch the failure lists what to add or remove.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, modulesUnder, SRC } from '../helpers/import-graph.js';

const ARCHITECTURE = resolve(SRC, '../docs/architecture.md');
const text = readFileSync(ARCHITECTURE, 'utf8');

/** The fenced block that follows `heading` (the first ``` block after it). */
function blockAfter(heading: string): string {
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`docs/architecture.md has no heading "${heading}"`);
  const match = /\n```[^\n]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (match === null) throw new Error(`docs/architecture.md has no code block after "${heading}"`);
  return match[1]!;
}

/**
 * The paths the module map names, relative to src/: folders end with `/`. A line's first word is a folder (`name/`)
 * or a file (`name.ts`, `.js`); indentation (2 spaces a level) places it under the folder above it. Lines that start
 * with more spaces than their level allows are a description's continuation.
 */
function mapPaths(block: string): string[] {
  const lines = block.split('\n');
  if (lines[0]?.trim() !== 'src/') throw new Error('the module map must start with "src/"');
  const stack: string[] = [];
  const paths: string[] = [];
  for (const line of lines.slice(1)) {
    const match = /^( +)(\S+)/.exec(line);
    if (match === null) continue;
    const level = match[1]!.length / 2 - 1;
    const word = match[2]!;
    if (!Number.isInteger(level) || level > stack.length || !/^[\w.-]+(\/|\.(ts|js))$/.test(word)) continue;
    stack.length = level;
    const path = [...stack, word].join('');
    paths.push(path);
    if (word.endsWith('/')) stack.push(word);
  }
  return paths;
}

/** Every folder (with `/`) and every file of src/, relative to src/. */
function sourceTree(): string[] {
  return readdirSync(SRC, { recursive: true, withFileTypes: true })
    .map((entry) => relative(SRC, join(entry.parentPath, entry.name)) + (entry.isDirectory() ? '/' : ''))
    .sort();
}

/** The folder-level node of a module: its top folder under src/, or the root file's name without `.ts`. */
/** A folder's or top-level module's node id in the diagram (a Mermaid id: `-` becomes `_`). */
const nodeOf = (module: string): string =>
  (module.includes('/') ? module.slice(0, module.indexOf('/')) : module.replace(/\.ts$/, '')).replaceAll('-', '_');

/** The edges `from --> to` between different nodes of the import graph of src/. */
function folderGraph(): string[] {
  const edges = new Set<string>();
  for (const module of modulesUnder()) {
    for (const target of importsOf(module).flatMap((edge) => edge.targets)) {
      const from = nodeOf(module);
      const to = nodeOf(target);
      if (from !== to) edges.add(`${from} --> ${to}`);
    }
  }
  return [...edges].sort();
}

/** The edges of the diagram, as `from --> to`. */
function documentedEdges(block: string): string[] {
  return block
    .split('\n')
    .map((line) => /^\s*(\w+)\s*-->\s*(\w+)\s*$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} --> ${m[2]}`)
    .sort();
}


describe('docs/architecture.md', () => {
  const listed = mapPaths(blockAfter('## Module map'));

  it('names every folder of src/ in its module map', () => {
    const folders = sourceTree().filter((p) => p.endsWith('/'));
    expect(folders.length).toBeGreaterThan(10);
    expect(folders.filter((f) => !listed.includes(f))).toEqual([]);
  });

  it('names every module of src/ in its module map, and nothing that does not exist', () => {
    const tree = sourceTree();
    expect({
      missingFromMap: tree.filter((p) => !p.endsWith('/') && !listed.includes(p)),
      inMapButNotInSrc: listed.filter((p) => !tree.includes(p)),
    }).toEqual({ missingFromMap: [], inMapButNotInSrc: [] });
  });

  it('draws exactly the folder-level import graph of src/', () => {
    const actual = folderGraph();
    const drawn = documentedEdges(blockAfter('## Dependencies between folders'));
    expect(actual.length).toBeGreaterThan(20);
    // On failure, the "expected" side is the block to paste into the diagram.
    expect(drawn.join('\n')).toEqual(actual.join('\n'));
  });

  it('reads maps and diagrams as intended (a reader that saw nothing would pass the tests above)', () => {
    const block = ['src/', '  index.ts              entry', '  crypto/               formats', '    aead.ts             x',
      '                        continuation crypto/ words', '    sub/', '      deep.ts', '  util/', '    bytes.ts'].join('\n');
    expect(mapPaths(block)).toEqual(['index.ts', 'crypto/', 'crypto/aead.ts', 'crypto/sub/', 'crypto/sub/deep.ts', 'util/', 'util/bytes.ts']);
    expect(documentedEdges('graph TD\n  a --> b\n  c["c.ts"]\n  b-->c\n')).toEqual(['a --> b', 'b --> c']);
    expect(listed).toContain('store/proto/codec.ts');
    expect(folderGraph()).toContain('client --> store');
  });
});
