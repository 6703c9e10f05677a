/**
 * The version of allegro-ts, from package.json: the one source of the `User-Agent` (`allegro-ts/<version>`) and of
 * the client type reported to the pod (`allegro-ts-<version>`). `npm run build` writes package.json's version into
 * dist/version.js in place of the placeholder below; vitest.config.ts defines it for tests run from source.
 */
declare const __ALLEGRO_TS_VERSION__: string;

/** The package version, e.g. `0.1.0`. */
export const VERSION: string = __ALLEGRO_TS_VERSION__;
