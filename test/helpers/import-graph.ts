// The import graph of src/, read with the TypeScript compiler's own pre-processor (static, type-only, re-export and
// dynamic imports alike), for the structure tests in test/repository/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const SRC = resolve(import.meta.dirname, '../../src');

/** Every .ts module under `dir` (declaration files excluded), as paths relative to src/. */
export function modulesUnder(dir = SRC): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => relative(SRC, join(dir, f)))
    .sort();
}

/** One import of a module: the specifier as written and, for a module of src/, the modules it resolves to. */
export interface ImportEdge {
  specifier: string;
  /** Paths relative to src/; `#platform` resolves to both platform implementations. Empty for packages and built-ins. */
  targets: string[];
}

/** The imports of `module` (a path relative to src/). */
export function importsOf(module: string): ImportEdge[] {
  const info = ts.preProcessFile(readFileSync(join(SRC, module), 'utf8'), true, true);
  return info.importedFiles.map(({ fileName: specifier }) => {
    if (specifier === '#platform') return { specifier, targets: ['platform/node.ts', 'platform/portable.ts'] };
    if (!specifier.startsWith('.')) return { specifier, targets: [] };
    const target = relative(SRC, resolve(dirname(join(SRC, module)), specifier)).replace(/\.js$/, '.ts');
    return { specifier, targets: [target] };
  });
}

/** Every import cycle of src/ (each reported once, from its smallest module), as lists of modules. */
export function importCycles(): string[][] {
  const modules = modulesUnder();
  const edges = new Map(modules.map((m) => [m, importsOf(m).flatMap((e) => e.targets).filter((t) => modules.includes(t))]));
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): void => {
    state.set(module, 'open');
    stack.push(module);
    for (const next of edges.get(module)!) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const canonical = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(canonical.join(' → '), canonical);
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(module, 'done');
  };
  for (const module of modules) if (!state.has(module)) visit(module);
  return [...cycles.values()];
}
