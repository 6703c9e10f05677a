// Test runner configuration: unit, property, cross, type and package tests under test/, run by `npm test`. Tests run
// from source, so the package version that `npm run build` writes into dist/version.js is defined here
// (src/version.ts).
//
// `#platform` (package.json `imports`) resolves to the source of a platform, never to dist/, so that no test loads a
// module beside its dist/ twin. Two projects:
// - `node`: every test, on src/platform/node.ts;
// - `portable`: the tests of everything that computes bytes (crypto, store formats, message codec, properties) again,
//   on src/platform/portable.ts (WebCrypto, noble, node-forge), as a browser would run them.
// test/cross/ loads both platforms explicitly (test/helpers/platforms.ts) and compares their bytes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

const platformAlias = (name: 'node' | 'portable') => ({
  '#platform': fileURLToPath(new URL(`./src/platform/${name}.ts`, import.meta.url)),
});

export default defineConfig({
  define: { __ALLEGRO_TS_VERSION__: JSON.stringify(version) },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        resolve: { alias: platformAlias('node') },
        test: { name: 'node', include: ['test/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: platformAlias('portable') },
        test: {
          name: 'portable',
          include: [
            'test/unit/crypto/**/*.test.ts',
            'test/unit/store/{allegro-payload,blob-format,envelope,record}.test.ts',
            'test/unit/util/canonical-json.test.ts',
            'test/unit/pod/message-codec.test.ts',
            'test/property/**/*.test.ts',
          ],
        },
      },
    ],
  },
});
