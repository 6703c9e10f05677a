/**
 * allegro-ts in a real browser: Debian's Chromium (headless, driven by playwright-core, a fresh profile) loads the
 * example extension app (examples/extension-app/), bundled by esbuild from the package's public entry (dist/, as
 * `allegro-ts`) and served over HTTP on 127.0.0.1, and talks to a sandbox on 127.0.0.1 over HTTPS and CORS. Node
 * plays the bot: it writes objects, a 64 MiB blob and a message into a room alice is in, and tampers with one
 * object; it logs alice in and hands her tokens to the page (first a stale pair, so that the page's refresh on 401
 * is exercised). In the page, alice connects with those tokens, lists and decrypts the bot's objects (paged), reads
 * the blob through a web ReadableStream and one range of it (SHA-256 checked against Node's), is refused the
 * tampered object with DECRYPTION_FAILED, decrypts the bot's message from the history and from the datafeed. A screenshot of the page goes to
 * .test-report/browser/.
 *
 * The sandbox's certificate is trusted in Chromium by its key alone (`--ignore-certificate-errors-spki-list`, after
 * Node verified the chain against the sandbox CA: src/bench/chromium.ts); nothing else about TLS is relaxed.
 * Without `chromium` on PATH the file is skipped, with a warning (`apt-get install chromium`).
 *
 * Needs dist/ (`npm test` builds it first).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser, findChromium, launchChromium, serverKeyPin, servePages, type ChromiumSession, type ServedPages } from '../../src/bench/chromium.js';
import { AllegroClient } from '../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { identityConfig } from '../helpers/client.js';
import { call, login } from '../helpers/sandbox.js';

const ROOT = resolve(import.meta.dirname, '../..');
const APP = join(ROOT, 'examples/extension-app');
const REPORT_DIR = join(ROOT, '.test-report/browser');
const BLOB_BYTES = 64 * 1024 * 1024;
const RANGE = { start: 9_999_991, end: 10_262_144 };

const chromiumPath = findChromium();
if (chromiumPath === undefined) console.warn('test/browser/extension-app.test.ts: SKIPPED, no `chromium` on PATH (install it: apt-get update && apt-get install -y chromium)');

/** SHA-256 as hex. */
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.skipIf(chromiumPath === undefined)('the extension app in Chromium', () => {
  let sandbox: RunningSandbox;
  let bot: AllegroClient;
  let browser: ChromiumSession;
  let pages: ServedPages;
  let page: Page;
  const fixture = {} as {
    room: string; partition: string; objects: Record<string, unknown>; genuine: string; tampered: string; blobRef: string; blobSha256: string; rangeSha256: string; message: string;
  };
  /** Token pairs handed to the page, in order: the first is stale. */
  let tokenRequests = 0;

  beforeAll(async () => {
    sandbox = await startSandbox();
    bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
    const aliceId = sandbox.identities.get('alice')!.userId;
    const room = (await bot.pod.streams({ types: ['ROOM'] })).find((s) => s.type === 'ROOM')!.id;
    fixture.room = room;

    // Objects in a partition alice may read, encrypted with the room's key; more than a page of them.
    fixture.partition = await bot.objects.partition('extension-app', { readers: [aliceId] });
    fixture.objects = { a: { n: 1 }, b: { n: 2, text: 'zwei' }, c: ['three'], d: 'four' };
    for (const [sortKey, payload] of Object.entries(fixture.objects)) await bot.objects.put({ partition: fixture.partition, sortKey, threadId: room, payload });

    // A tampered object: a new version of a genuine one whose ciphertext has one bit flipped, written by the bot
    // straight to the store (which keeps whatever ciphertext it is given).
    const victims = await bot.objects.partition('extension-app-tampered', { readers: [aliceId] });
    const genuine = await bot.objects.put({ partition: victims, sortKey: 'victim', threadId: room, payload: { secret: 'kept' } });
    fixture.genuine = genuine.absoluteHash;
    const botLogin = await login(sandbox, 'sandbox-bot');
    const api = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: botLogin.headers })).json.access_token}` };
    const raw = (await call(sandbox, 'GET', `/object/v1/objects/${genuine.absoluteHash}`, { headers: api })).json;
    const ciphertext = Buffer.from(raw.encryptedPayload, 'base64');
    ciphertext[ciphertext.length - 20]! ^= 0x01;
    fixture.tampered = randomBytes(32).toString('base64url');
    const written = await call(sandbox, 'PUT', `/object/v1/objects/${fixture.tampered}`, {
      headers: api,
      json: {
        _type: 'com.symphony.s2.model.object.StoredApplicationObject', hashType: 1, partitionHash: raw.partitionHash, sortKey: raw.sortKey,
        threadId: raw.threadId, rotationId: raw.rotationId, cipherSuiteId: raw.cipherSuiteId, header: raw.header,
        encryptedPayload: ciphertext.toString('base64'), baseHash: raw.baseHash, prevHash: raw.absoluteHash, prevSortKey: raw.sortKey,
      },
    });
    expect(written.status).toBe(200);

    // A 64 MiB blob, and the SHA-256 of it and of one range that straddles frames.
    const data = randomBytes(BLOB_BYTES);
    fixture.blobSha256 = sha256(data);
    fixture.rangeSha256 = sha256(data.subarray(RANGE.start, RANGE.end));
    fixture.blobRef = (await bot.objects.putBlob((function* () {
      for (let at = 0; at < data.length; at += 1024 * 1024) yield data.subarray(at, at + 1024 * 1024);
    })(), { threadId: room, size: data.length })).ref;

    fixture.message = `for the extension app ${randomBytes(4).toString('hex')}`;
    await bot.pod.send(room, `<messageML>${fixture.message}</messageML>`);

    // The page: the example app as `npx esbuild …` would build it, served on 127.0.0.1.
    pages = await servePages({ '/index.html': readFileSync(join(APP, 'index.html'), 'utf8'), '/bundle.js': await bundleForBrowser(join(APP, 'app.js')) });
    browser = await launchChromium(chromiumPath!, { trustKeys: [await serverKeyPin(sandbox.podUrl, readFileSync(sandbox.caCertPath, 'utf8'))] });
    page = await browser.newPage();
    // Alice's tokens, from Node: the first pair is stale (as a page's would be after a while), then fresh logins.
    await page.exposeFunction('fetchTokens', async () => {
      if (tokenRequests++ === 0) return { session: 'stale-session-token', keyManager: 'stale-key-manager-token' };
      const alice = await login(sandbox, 'alice');
      return { session: alice.session, keyManager: alice.km };
    });
    await page.goto(`${pages.origin}/`);
    await page.waitForSelector('body[data-ready="true"]');
  });

  afterAll(async () => {
    if (page !== undefined) {
      mkdirSync(REPORT_DIR, { recursive: true });
      await page.screenshot({ path: join(REPORT_DIR, 'extension-app.png'), fullPage: true }).catch(() => {});
    }
    await browser?.close();
    await pages?.close();
    await bot?.close();
    await sandbox?.close();
  });

  /** Call `window.extensionApp[name](...args)` in the page. */
  const app = <T = Record<string, unknown>>(name: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([n, a]) => (window as unknown as { extensionApp: Record<string, (...x: unknown[]) => unknown> }).extensionApp[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;

  it('connects as alice (the form) with the tokens from Node, renewing the stale ones on the first 401 through tokens.refresh', async () => {
    await page.fill('#pod', sandbox.podUrl);
    await page.click('#connect button');
    await page.waitForSelector('#log li');
    expect(await page.textContent('#log li')).toBe(`✓ connect: user alice (${sandbox.identities.get('alice')!.userId})`);
    expect(tokenRequests).toBe(2);
    expect(await app('renewals')).toEqual({ session: 1, keyManager: 1 });
  });

  it("lists the bot's objects in the thread's partition, page by page, decrypted", async () => {
    const listed = await app<{ objects: Array<{ sortKey: string; value: unknown }> }>('listObjects', fixture.partition);
    expect(listed.objects.map((o) => [o.sortKey, o.value])).toEqual(Object.entries(fixture.objects));
  });

  it('refuses the tampered object with DECRYPTION_FAILED, and still reads the genuine one', async () => {
    expect(await app('getObject', fixture.tampered)).toEqual({ error: { code: 'DECRYPTION_FAILED', name: 'DecryptionFailedError', message: expect.any(String) } });
    expect(await app('getObject', fixture.genuine)).toMatchObject({ sortKey: 'victim', value: { secret: 'kept' } });
  });

  it('reads the 64 MiB blob through a web ReadableStream, with the SHA-256 Node computed', async () => {
    const read = await app<{ size: number; sha256: string; seconds: number }>('readBlob', fixture.blobRef);
    expect({ size: read.size, sha256: read.sha256 }).toEqual({ size: BLOB_BYTES, sha256: fixture.blobSha256 });
  });

  it('reads one range of the blob (range requests), with the SHA-256 Node computed', async () => {
    expect(await app('readRange', fixture.blobRef, RANGE.start, RANGE.end)).toMatchObject({ size: RANGE.end - RANGE.start, sha256: fixture.rangeSha256 });
  });

  it('decrypts the message the bot sent to the room', async () => {
    const read = await app<{ messages: Array<{ from: number; text: string; error: string | null }> }>('readMessages', fixture.room, 5);
    expect(read.messages).toContainEqual({ from: bot.userId, text: fixture.message, error: null });
  });

  it('listens on the datafeed (its token derived from the renewed session) and decrypts a message sent meanwhile', async () => {
    await app('listen');
    // A new feed starts at "now", so send until one arrives after it exists.
    const nonce = randomBytes(4).toString('hex');
    let seen = false;
    for (let i = 0; i < 20 && !seen; i++) {
      await bot.pod.send(fixture.room, `<messageML>live ${nonce} ${i}</messageML>`);
      seen = await page.waitForSelector(`#log li:has-text("live ${nonce}")`, { timeout: 500 }).then(() => true, () => false);
    }
    expect(await page.textContent(`#log li:has-text("live ${nonce}")`)).toMatch(new RegExp(`^✓   live ${bot.userId}: live ${nonce} \\d+$`));
  });

  it('met no error in the page but the stale tokens\' 401s: CORS let every request through', () => {
    // Chromium logs each refused request as a failed resource; a CORS refusal would be logged here too.
    expect(browser.problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    expect(browser.problems.length).toBeGreaterThan(0);
  });
});
