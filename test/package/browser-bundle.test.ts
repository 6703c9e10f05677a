/**
 * The package bundles for browsers: esbuild bundles the built entry points (dist/, as a consumer's bundler sees
 * them, with `platform: 'browser'`, so that `#platform` takes its `default` condition) and no module may import a
 * Node built-in (`node:*` or a bare `crypto`, `fs`, …), directly or through a dependency. A dependency's own
 * browser mapping (node-forge maps `crypto` to nothing) counts as clean. The `allegro-ts/crypto` bundle must also
 * run where there are no Node globals: it is executed in a bare `vm` context with only web APIs.
 *
 * Needs dist/ (`npm test` builds it first).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** A Node built-in module specifier (`node:sqlite` and other newer ones too, which Node 20 does not know). */
const nodeBuiltin = (specifier: string) => specifier.startsWith('node:') || isBuiltin(specifier);

/** Leaves Node built-ins out of the bundle (as externals to report) unless a package's browser mapping replaces them. */
const nodeBuiltins: Plugin = {
  name: 'node-builtins',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (!nodeBuiltin(args.path) || args.pluginData === 'resolving') return undefined;
      const own = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      // Resolved by esbuild itself (a browser mapping such as node-forge's `"crypto": false`): let it do so.
      return own.errors.length === 0 ? undefined : { path: args.path, external: true };
    });
  },
};

const BUNDLE: BuildOptions = {
  bundle: true,
  write: false,
  platform: 'browser',
  format: 'esm',
  metafile: true,
  logLevel: 'silent',
  // The consumer's view: our own tsconfig.json (which maps #platform to the Node sources for type checking) is not
  // part of the package.
  tsconfigRaw: {},
  plugins: [nodeBuiltins],
};

async function bundle(entry: string): Promise<Metafile> {
  const result = await build({ ...BUNDLE, entryPoints: [join(ROOT, entry)] });
  return result.metafile!;
}

const firstParty = (input: string) => input.startsWith('dist/');
const packageOf = (input: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? input;

/**
 * For each first-party module, the Node built-ins it imports and the packages it imports that reach one, as
 * `{ 'dist/x.js': ['node:tls', 'undici'] }`; `details` lists the built-ins each package reaches.
 */
function nodeImports(meta: Metafile): { byModule: Record<string, string[]>; details: string[] } {
  const reached = new Map<string, Set<string>>();
  const builtinsReachedFrom = (input: string, seen = new Set<string>()): Set<string> => {
    const known = reached.get(input);
    if (known !== undefined) return known;
    const found = new Set<string>();
    seen.add(input);
    for (const imported of meta.inputs[input]?.imports ?? []) {
      if (imported.external && nodeBuiltin(imported.path)) found.add(imported.path);
      else if (!imported.external && !firstParty(imported.path) && !seen.has(imported.path)) {
        for (const b of builtinsReachedFrom(imported.path, seen)) found.add(b);
      }
    }
    reached.set(input, found);
    return found;
  };
  const byModule: Record<string, string[]> = {};
  const details = new Set<string>();
  for (const [input, { imports }] of Object.entries(meta.inputs)) {
    if (!firstParty(input)) continue;
    const offenders = new Set<string>();
    for (const imported of imports) {
      if (imported.external && nodeBuiltin(imported.path)) offenders.add(imported.path);
      else if (!imported.external && !firstParty(imported.path)) {
        const builtins = builtinsReachedFrom(imported.path);
        if (builtins.size > 0) {
          offenders.add(packageOf(imported.path));
          details.add(`${packageOf(imported.path)} → ${[...builtins].sort().join(', ')}`);
        }
      }
    }
    if (offenders.size > 0) byModule[input] = [...offenders].sort();
  }
  return { byModule, details: [...details].sort() };
}

beforeAll(() => {
  const newest = (dir: string) => Math.max(...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(dir, f)).mtimeMs));
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  if (newest(join(ROOT, 'src')) > newest(join(ROOT, 'dist'))) throw new Error('dist/ is older than src/: run `npm run build` (npm test does)');
});

describe('browser bundles', () => {
  for (const entry of ['dist/index.js', 'dist/crypto/index.js', 'dist/errors.js']) {
    it(`${relative('dist', entry)}: no Node built-in anywhere`, async () => {
      const meta = await bundle(entry);
      expect(nodeImports(meta).byModule).toEqual({});
      expect(Object.keys(meta.inputs).filter((input) => input.startsWith('dist/platform/'))).toEqual(
        entry === 'dist/errors.js' ? [] : ['dist/platform/portable.js'],
      );
      // HTTP (the root's client; the platform's transport factory) is the fetch transport, never undici's pool.
      expect(Object.keys(meta.inputs).includes('dist/http/pool.js')).toBe(false);
      expect(Object.keys(meta.inputs).includes('dist/http/fetch-transport.js')).toBe(entry !== 'dist/errors.js');
    });
  }

  it('the checker sees a Node built-in when one is there (a bundle of the Node platform)', async () => {
    const { byModule } = nodeImports(await bundle('dist/platform/node.js'));
    expect(byModule['dist/platform/node.js']).toEqual(['node:crypto', 'node:fs/promises', 'node:path']);
    expect(byModule['dist/crypto/rsa-node.js']).toEqual(['node:crypto', 'node:util']);
  });
});

describe('the allegro-ts/crypto bundle without Node', () => {
  let code: string;

  beforeAll(async () => {
    const result = await build({ ...BUNDLE, entryPoints: [join(ROOT, 'dist/crypto/index.js')], format: 'iife', globalName: 'allegro', metafile: false });
    code = result.outputFiles![0]!.text;
  });

  /** A context with web APIs only (plus `extra`, then `prelude` run), the bundle loaded into it as the global `allegro`. */
  function webContext(extra: Record<string, unknown> = {}, prelude = '') {
    const web = { crypto: globalThis.crypto, TextEncoder, TextDecoder, atob, btoa, URL, console, setTimeout, clearTimeout, queueMicrotask, ...extra };
    const context = createContext(web);
    // Browsers and workers name their global scope `self` (node-forge looks for it). TextEncoder is this process's,
    // so its arrays belong to another realm than the context's; a browser's belong to the page's own.
    runInContext(`globalThis.self = globalThis;
      const HostTextEncoder = TextEncoder;
      globalThis.TextEncoder = class { encode(text) { return new Uint8Array(new HostTextEncoder().encode(text)); } };
      ${prelude}`, context);
    runInContext(code, context);
    return context;
  }

  it('encrypts, decrypts, unwraps keys and signs JWTs in a context with only web APIs', async () => {
    const context = webContext();
    expect(runInContext('typeof Buffer + typeof process + typeof require', context)).toBe('undefinedundefinedundefined');
    const report = await runInContext(`(async () => {
      const { AesKey, encryptText, decryptText, encryptEntityV2, decryptEntity, wrapLegacyKey, unwrapLegacyKey,
        generateRsaKeyPair, RsaPrivateKey, RsaPublicKey, unwrapKey, signJwtRs512, verifyJwtRs512, tokenize, getAeadBackend } = allegro;
      const key = new AesKey(crypto.getRandomValues(new Uint8Array(32)));
      const text = await decryptText(key, await encryptText(key, 'hello', { rotationId: 1 }));
      const entity = await decryptEntity(key, await encryptEntityV2(key, '#tag'));
      const legacy = unwrapLegacyKey(key, wrapLegacyKey(key, key.bytes)).join() === key.bytes.join();
      const pair = await generateRsaKeyPair();
      const privateKey = new RsaPrivateKey(pair.privateKeyPem);
      const publicKey = new RsaPublicKey(pair.publicKeyPem);
      const unwrapped = [];
      for (const padding of ['pkcs1-v1_5', 'oaep-sha1', 'oaep-sha256']) {
        unwrapped.push((await unwrapKey(privateKey, await publicKey.wrap(key.bytes, padding), padding)).join() === key.bytes.join());
      }
      const claims = await verifyJwtRs512(publicKey, await signJwtRs512(privateKey, { sub: 'bot' }));
      const tokens = tokenize({ text: 'hello world', contentKey: key, rotationId: 1 }).length;
      return { text, entity, legacy, unwrapped, sub: claims.sub, tokens, backend: getAeadBackend().name };
    })()`, context);
    expect(report).toEqual({ text: 'hello', entity: '#tag', legacy: true, unwrapped: [true, true, true], sub: 'bot', tokens: 2, backend: 'webcrypto' });
  });

  it('unwraps PKCS#1 v1.5 keys where a `process` global claims Node (Workers with Node compatibility, Electron)', async () => {
    // node-forge then looks for node:crypto, which a browser bundle does not have; its randomness must not need it.
    const context = webContext({ process: { versions: { node: '20.0.0' }, env: {} } }, 'globalThis.global = globalThis;');
    const unwrapped = await runInContext(`(async () => {
      const { generateRsaKeyPair, RsaPrivateKey, RsaPublicKey, unwrapKey } = allegro;
      const pair = await generateRsaKeyPair();
      const key = crypto.getRandomValues(new Uint8Array(32));
      const wrapped = await new RsaPublicKey(pair.publicKeyPem).wrap(key, 'pkcs1-v1_5');
      return (await unwrapKey(new RsaPrivateKey(pair.privateKeyPem), wrapped, 'pkcs1-v1_5')).join() === key.join();
    })()`, context);
    expect(unwrapped).toBe(true);
  });
});
