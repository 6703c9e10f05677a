// The browser harness: finding `chromium` on PATH, the SPKI pin of a server Node verified first (and refusing one it
// cannot verify), bundling for browsers without a Node built-in, and serving pages on 127.0.0.1. Launching Chromium
// is exercised by test/browser/ and test/unit/bench/cases/browser.test.ts.
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser, findChromium, serverKeyPin, servePages } from '../../../src/bench/chromium.js';
import { loadOrCreateTls } from '../../../src/sandbox/tls.js';

describe('findChromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allegro-find-chromium-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds an executable `chromium` on PATH, first match first, and nothing else', () => {
    const [a, b, empty] = ['a', 'b', 'empty'].map((name) => join(dir, name)) as [string, string, string];
    for (const d of [a, b]) mkdirSync(d);
    expect(findChromium([empty, a].join(delimiter))).toBeUndefined();
    writeFileSync(join(a, 'chromium'), '#!/bin/sh\n');
    expect(findChromium(a)).toBeUndefined(); // not executable
    chmodSync(join(a, 'chromium'), 0o755);
    writeFileSync(join(b, 'chromium'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findChromium(['', a, b].join(delimiter))).toBe(join(a, 'chromium'));
    expect(findChromium('')).toBeUndefined();
  });
});

describe('serverKeyPin', () => {
  let server: ReturnType<typeof createServer>;
  let url: string;
  let tls: Awaited<ReturnType<typeof loadOrCreateTls>>;
  beforeAll(async () => {
    tls = await loadOrCreateTls(undefined);
    server = createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem }, (_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is the base64 SHA-256 of the server certificate's SubjectPublicKeyInfo, once its chain is verified", async () => {
    const spki = new X509Certificate(tls.serverCertPem).publicKey.export({ type: 'spki', format: 'der' });
    expect(await serverKeyPin(url, tls.caCertPem)).toBe(createHash('sha256').update(spki).digest('base64'));
  });

  it('refuses a server its CA did not issue', async () => {
    const stranger = await loadOrCreateTls(undefined);
    await expect(serverKeyPin(url, stranger.caCertPem)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });
});

describe('bundleForBrowser and servePages', () => {
  it('bundles the portable platform for a browser, and serves pages on 127.0.0.1 (404 for anything else)', async () => {
    const root = join(import.meta.dirname, '../../..');
    const script = await bundleForBrowser({ contents: "import { getAeadBackend } from './dist/crypto/index.js'; globalThis.backend = getAeadBackend().name;", resolveDir: root });
    expect(script).toContain('webcrypto');
    expect(script).not.toMatch(/from\s*["']node:/);
    const pages = await servePages({ '/index.html': '<p>hi</p>', '/app.js': script });
    try {
      expect(pages.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const index = await fetch(`${pages.origin}/`);
      expect([index.status, index.headers.get('content-type'), await index.text()]).toEqual([200, 'text/html; charset=utf-8', '<p>hi</p>']);
      const app = await fetch(`${pages.origin}/app.js`);
      expect([app.status, app.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
      await app.arrayBuffer();
      expect((await fetch(`${pages.origin}/missing.js`)).status).toBe(404);
    } finally {
      await pages.close();
    }
  });
});
