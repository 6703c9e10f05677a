// Test runner configuration: unit, property and cross tests under test/, run by `npm test`. Tests run from source,
// so the package version that `npm run build` writes into dist/version.js is defined here (src/version.ts).
import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  define: { __ALLEGRO_TS_VERSION__: JSON.stringify(version) },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
