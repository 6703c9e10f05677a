/**
 * The shape of src/'s import graph (docs/architecture.md "Module map"): no import cycles, type-only imports included,
 * and the sandbox uses the library only through its public entry points (the root, `allegro-ts/crypto`,
 * `allegro-ts/errors`, `allegro-ts/obo`) plus src/util/, as an application would.
 */
import { describe, expect, it } from 'vitest';
import { importCycles, importsOf, modulesUnder, SRC } from '../helpers/import-graph.js';

/** What the sandbox may import from outside src/sandbox/. */
const SANDBOX_MAY_IMPORT = [/^index\.ts$/, /^crypto\/index\.ts$/, /^errors\.ts$/, /^obo\/index\.ts$/, /^util\/[\w-]+\.ts$/];

describe('the import graph of src/', () => {
  it('has no cycles, type-only imports included', () => {
    expect(importCycles().map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('lets the sandbox use the library only through its public entry points (and src/util/)', () => {
    const sandboxModules = modulesUnder(`${SRC}/sandbox`);
    expect(sandboxModules.length).toBeGreaterThan(10);
    const offending = sandboxModules.flatMap((module) =>
      importsOf(module)
        .flatMap((edge) => edge.targets.map((target) => ({ module, specifier: edge.specifier, target })))
        .filter(({ target }) => !target.startsWith('sandbox/') && !SANDBOX_MAY_IMPORT.some((allowed) => allowed.test(target)))
        .map(({ module, specifier }) => `${module} imports ${specifier}`));
    expect(offending).toEqual([]);
  });

  it('finds the imports it checks (a graph reader that saw nothing would pass the tests above)', () => {
    const edges = importsOf('sandbox/routes/keys.ts');
    expect(edges).toContainEqual({ specifier: '../../crypto/index.js', targets: ['crypto/index.ts'] });
    expect(importsOf('crypto/aes-key.ts')).toContainEqual({ specifier: '#platform', targets: ['platform/node.ts', 'platform/portable.ts'] });
    // Type-only imports count: src/sandbox/routes/control.ts imports only types from ../admin.js.
    expect(importsOf('sandbox/routes/control.ts').map((e) => e.specifier)).toContain('../admin.js');
  });
});
