// Test runner configuration: unit, property, cross, type and package tests under test/, run by `npm test`.
//
// `#platform` (package.json `imports`) resolves to the source of a platform, never to dist/, so that no test loads a
// module beside its dist/ twin. Two projects:
// - `node`: every test, on src/platform/node.ts;
// - `portable`: the tests of everything that computes bytes (crypto, store formats, message codec, properties) again,
//   on src/platform/portable.ts (WebCrypto, noble, node-forge), as a browser would run them.
// test/cross/ loads both platforms explicitly (test/helpers/platforms.ts) and compares their bytes.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const platformAlias = (name: 'node' | 'portable') => ({
  '#platform': fileURLToPath(new URL(`./src/platform/${name}.ts`, import.meta.url)),
});

export default defineConfig({
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
            'test/unit/store/{allegro-payload,blob-format,envelope}.test.ts',
            'test/unit/pod/message-codec.test.ts',
            'test/property/**/*.test.ts',
          ],
        },
      },
    ],
  },
});
