// One version string: src/version.ts (and the dist/version.js that `npm run build` writes) carry package.json's
// version, and the User-Agent and client type derive from it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_USER_AGENT } from '../../src/http/http-client.js';
import { VERSION } from '../../src/version.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('VERSION', () => {
  it("is package.json's version, from source and in the build", async () => {
    expect(VERSION).toBe(version);
    const built = (await import(new URL('../../dist/version.js', import.meta.url).href)) as { VERSION: string };
    expect(built.VERSION).toBe(version);
    expect(readFileSync(new URL('../../dist/version.js', import.meta.url), 'utf8')).not.toContain('__ALLEGRO_TS_VERSION__');
  });

  it('makes the User-Agent', () => {
    expect(DEFAULT_USER_AGENT).toBe(`allegro-ts/${version}`);
  });
});
