// The HTTP layer's boundaries, read from the sources: undici is loaded by src/http/pool.ts alone (other modules may
// import its types); the portable part — the fetch transport, HttpClient, util/async.ts and everything they import —
// reaches no `node:` module and no undici at run time, so a browser can use it; and the datafeed imports no `node:`
// module itself (what it reaches through the crypto core is the platform boundary's business).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** The run-time imports of a module (`import type` and `export type` left out), as written. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (m[1] === undefined) out.push(m[2]!);
  }
  return out;
}

/** Every module reachable at run time from `entries`, with the bare or `node:` specifiers they import. */
function closure(entries: string[]): { modules: string[]; external: Map<string, string> } {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const queue = entries.map((e) => join(SRC, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else external.set(specifier, relative(SRC, file));
    }
  }
  return { modules: [...seen].map((f) => relative(SRC, f)), external };
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the HTTP layer', () => {
  it('loads undici in src/http/pool.ts only', () => {
    const loaders = sources(SRC).filter((f) => runtimeImports(f).includes('undici')).map((f) => relative(SRC, f));
    expect(loaders).toEqual(['http/pool.ts']);
  });

  it('keeps the fetch transport, HttpClient and util/async.ts free of node: modules and undici', () => {
    const { modules, external } = closure(['http/fetch-transport.ts', 'http/http-client.ts', 'util/async.ts']);
    expect(modules).toContain('http/transport.ts');
    expect(modules).toContain('http/transport-errors.ts');
    expect(modules).not.toContain('http/pool.ts');
    expect([...external.entries()].filter(([specifier]) => specifier.startsWith('node:') || specifier === 'undici')).toEqual([]);
  });

  it('keeps node: imports out of the datafeed itself', () => {
    expect(runtimeImports(join(SRC, 'pod/datafeed.ts')).filter((s) => s.startsWith('node:'))).toEqual([]);
  });

  it('would see a node: import if there were one (the reader is not blind)', () => {
    expect(runtimeImports(join(SRC, 'http/pool.ts'))).toContain('node:tls');
    expect(runtimeImports(join(SRC, 'http/undici-transport.ts'))).not.toContain('undici');
  });
});
