/**
 * A real browser for `allegro bench browser` and the browser test (test/browser/): Debian's `chromium` (found on
 * PATH, as `command -v chromium` would; never a browser downloaded by Playwright) driven by `playwright-core`,
 * headless, with a fresh profile in a temporary directory, and pages bundled from the package's built entry points
 * by esbuild and served over plain HTTP on 127.0.0.1. The one source module that loads playwright-core, and the one
 * that loads esbuild (test/package/browser-bundle.test.ts does too, for its own checks): both are development
 * dependencies, loaded on first use, so that an installed package without them reports them missing.
 *
 * Trust (docs/architecture.md "Browsers"): the sandbox's certificate is issued by its own CA, which Chromium does
 * not know. Rather than turning certificate checks off, Node first connects to the server verifying its chain
 * against that CA ({@link serverKeyPin}), and Chromium is launched with `--ignore-certificate-errors-spki-list`
 * naming exactly that server key's SPKI SHA-256: Chromium then accepts only a chain holding that key (the flag is
 * honoured only with a `--user-data-dir`, which the fresh profile provides); every other certificate is checked
 * as usual.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect } from 'node:tls';
import type { BrowserContext, Page } from 'playwright-core';

/** The flags every launch gets: headless, no sandbox (containers), no GPU, no background traffic, no QUIC. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

/** The `chromium` executable on PATH, or undefined when there is none (`apt-get install chromium`). */
export function findChromium(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'chromium');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The base64 SHA-256 of the SubjectPublicKeyInfo of the certificate `url`'s server presents, once Node has verified
 * its chain and name against `caPem` (the value `--ignore-certificate-errors-spki-list` takes).
 */
export function serverKeyPin(url: string, caPem: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: caPem, servername: /^[\d.]+$|:/.test(hostname) ? undefined : hostname }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      if (peer === undefined) {
        reject(new Error(`${url} presented no certificate`));
        return;
      }
      const spki = new X509Certificate(peer.raw).publicKey.export({ type: 'spki', format: 'der' });
      resolve(createHash('sha256').update(spki).digest('base64'));
    });
    socket.once('error', reject);
  });
}

/** A headless Chromium with a fresh profile; `close()` ends it and removes the profile. */
export interface ChromiumSession {
  context: BrowserContext;
  /** The browser's version string, e.g. `156.0.8078.114`. */
  version: string;
  /** A new tab; its console errors and page errors are collected in `problems`. */
  newPage(): Promise<Page>;
  /** Console errors and uncaught page errors of every tab, as text. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Launch `executablePath` headless with {@link CHROMIUM_ARGS}, a temporary profile, and `trustKeys` (SPKI pins from
 * {@link serverKeyPin}) accepted whatever their chain.
 * @throws Error when playwright-core is not installed (a development dependency).
 */
export async function launchChromium(executablePath: string, options: { trustKeys?: readonly string[] } = {}): Promise<ChromiumSession> {
  const { chromium } = await importDevDependency<typeof import('playwright-core')>('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'allegro-chromium-'));
  const trust = options.trustKeys === undefined || options.trustKeys.length === 0 ? [] : [`--ignore-certificate-errors-spki-list=${options.trustKeys.join(',')}`];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...CHROMIUM_ARGS, ...trust] });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const problems: string[] = [];
  return {
    context,
    version: context.browser()?.version() ?? 'unknown',
    problems,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Bundle `entry` for browsers, as a consumer's bundler would: esbuild, `platform: 'browser'` (so `#platform` takes
 * the portable platform), ES module output. The repository's own tsconfig.json (which maps `#platform` to the Node
 * sources for type checking) is not applied. Returns the JavaScript text.
 */
export async function bundleForBrowser(entry: string | { contents: string; resolveDir: string }): Promise<string> {
  const { build } = await importDevDependency<typeof import('esbuild')>('esbuild');
  const result = await build({
    bundle: true, write: false, platform: 'browser', format: 'esm', logLevel: 'silent', tsconfigRaw: {},
    ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: 'js' } }),
  });
  return result.outputFiles[0]!.text;
}

/** Pages served over HTTP on 127.0.0.1: `origin` is where they are, `close()` stops serving. */
export interface ServedPages {
  origin: string;
  close(): Promise<void>;
}

/** Serve `files` (path → content; `/` is `/index.html`) on 127.0.0.1, on a free port; anything else is a 404. */
export async function servePages(files: Record<string, string | Uint8Array>): Promise<ServedPages> {
  const type = (path: string) => (path.endsWith('.html') ? 'text/html; charset=utf-8' : path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/octet-stream');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://page.invalid').pathname.replace(/\/$/, '/index.html');
    const body = files[path];
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': type(path), 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Load a development dependency, or say which one is missing. */
async function importDevDependency<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw new Error(`${name} is not installed (a development dependency of allegro-ts: run \`npm ci\` in a clone of the repository)`, { cause: err });
  }
}
