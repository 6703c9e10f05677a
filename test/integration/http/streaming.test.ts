// Streaming in the HTTP client (HttpClient.upload / download over sendStream and the undici pool) against the sandbox's blob
// routes, over HTTPS on 127.0.0.1 trusting only the sandbox CA: 100 MiB up and down with bounded memory, chunked
// uploads, Range downloads (206, 416), aborts mid-download and mid-upload, close(), the entitlement 403 and other
// statuses as HttpStatusError, the 401 refresh of downloads (and its absence for uploads), the body iterator's own
// error passed through, and a wrong contentLength.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, HttpStatusError, InvalidArgumentError } from '../../../src/errors.js';
import { HttpClient, type AuthHook } from '../../../src/http/http-client.js';
import { createDispatcher } from '../../../src/http/pool.js';
import type { Transport } from '../../../src/http/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { rejection } from '../../helpers/errors.js';
import { call, login } from '../../helpers/sandbox.js';

const MiB = 1024 * 1024;
const DISABLED = 'This feature is disabled for your pod.';

let sandbox: RunningSandbox;
let dispatcher: Transport;
let client: HttpClient;
let token: string;
let auth: AuthHook;

const newId = () => randomBytes(18).toString('base64url');
const blobUrl = (id: string) => `${sandbox.objectStoreUrl}/object/v1/blobs/${id}`;

/** A blob generated on the fly: "ATB1" then an AES-CTR keystream, in fresh 256 KiB chunks; hashed as it goes. */
async function* blob(size: number, seed: number, onChunk?: (chunk: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(`seed-${seed}`).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(256 * 1024);
  for (let left = size, first = true; left > 0; first = false) {
    const n = Math.min(zeros.length, left);
    const chunk = cipher.update(zeros.subarray(0, n));
    if (first) chunk.write('ATB1', 0, 'latin1');
    left -= n;
    onChunk?.(chunk);
    yield chunk;
  }
}

async function sha256(size: number, seed: number): Promise<string> {
  const h = createHash('sha256');
  for await (const c of blob(size, seed)) h.update(c);
  return h.digest('hex');
}

beforeAll(async () => {
  sandbox = await startSandbox();
  dispatcher = createDispatcher({ ca: readFileSync(sandbox.caCertPath, 'utf8') });
  client = new HttpClient({ transport: dispatcher, retry: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 } });
  const bot = await login(sandbox, 'sandbox-bot');
  token = (await call(sandbox, 'POST', '/login/idm/tokens', { headers: bot.headers })).json.access_token;
  auth = { headers: () => ({ authorization: `Bearer ${token}` }) };
});
afterAll(async () => {
  await client?.close();
  if (dispatcher !== undefined) await dispatcher.close({ force: true });
  await sandbox?.close();
});

describe('upload and download', () => {
  const SIZE = 100 * MiB;
  const id = newId();

  it('streams 100 MiB up and down with RSS growth under 64 MiB', async () => {
    // Warm up first (TLS, crypto and stream code paths, allocator arenas), so that only the transfer is measured.
    const warm = newId();
    await client.upload({ method: 'PUT', url: blobUrl(warm), body: blob(16 * MiB, 0), contentLength: 16 * MiB, auth });
    for await (const chunk of (await client.download({ url: blobUrl(warm), auth })).body) if (chunk.length < 0) break;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    let size = 0;
    try {
      const answer = await client.upload({ method: 'PUT', url: blobUrl(id), body: blob(SIZE, 1, (c) => sent.update(c)), contentLength: SIZE, auth });
      expect(answer).toEqual({ blobId: id, size: SIZE });
      const download = await client.download({ url: blobUrl(id), auth });
      expect(download.status).toBe(200);
      expect(download.headers['content-length']).toBe(String(SIZE));
      for await (const chunk of download.body) {
        received.update(chunk);
        size += chunk.length;
      }
    } finally {
      clearInterval(sample);
    }
    expect(size).toBe(SIZE);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    expect(peak - before).toBeLessThan(64 * MiB);
  });

  it('uploads without a length (chunked) and HEADs the size', async () => {
    const chunked = newId();
    expect(await client.upload({ method: 'PUT', url: blobUrl(chunked), body: blob(3 * MiB + 5, 2), auth })).toEqual({ blobId: chunked, size: 3 * MiB + 5 });
    const head = await client.download({ method: 'HEAD', url: blobUrl(chunked), auth });
    expect([head.status, head.headers['content-length']]).toEqual([200, String(3 * MiB + 5)]);
    let bytes = 0;
    for await (const chunk of head.body) bytes += chunk.length;
    expect(bytes).toBe(0);
    const h = createHash('sha256');
    for await (const chunk of (await client.download({ url: blobUrl(chunked), auth })).body) h.update(chunk);
    expect(h.digest('hex')).toBe(await sha256(3 * MiB + 5, 2));
  });

  it('downloads a Range (206) and maps an unsatisfiable one to HttpStatusError 416', async () => {
    const start = 50 * MiB - 7;
    const end = start + 100_000;
    const part = await client.download({ url: blobUrl(id), auth, headers: { Range: `bytes=${start}-${end}` } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of part.body) chunks.push(chunk);
    const got = Buffer.concat(chunks);
    // The expected bytes, regenerated.
    const expected = Buffer.alloc(end - start + 1);
    let at = 0;
    for await (const chunk of blob(SIZE, 1)) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end + 1 - at, chunk.length);
      if (from < to) Buffer.from(chunk).copy(expected, at + from - start, from, to);
      at += chunk.length;
      if (at > end) break;
    }
    expect(got.equals(expected)).toBe(true);
    const refused = await rejection(client.download({ url: blobUrl(id), auth, headers: { range: `bytes=${SIZE}-` } }));
    expect(refused).toBeInstanceOf(HttpStatusError);
    expect(refused).toMatchObject({ status: 416, serverMessage: expect.stringContaining('Range not satisfiable') });
  });

  it('aborting mid-download fails the body with AbortedError', async () => {
    const controller = new AbortController();
    const download = await client.download({ url: blobUrl(id), auth, signal: controller.signal });
    let read = 0;
    const err = await rejection((async () => {
      for await (const chunk of download.body) {
        read += chunk.length;
        if (read > 5 * MiB) controller.abort();
      }
    })());
    expect(err).toBeInstanceOf(AbortedError);
    expect(read).toBeLessThan(SIZE);
    // The client still works (the connection was dropped, not reused half-read).
    expect((await client.download({ method: 'HEAD', url: blobUrl(id), auth })).status).toBe(200);
  });

  it('close() ends a download being read with AbortedError', async () => {
    const other = new HttpClient({ transport: dispatcher });
    const download = await other.download({ url: blobUrl(id), auth });
    const err = await rejection((async () => {
      let read = 0;
      for await (const chunk of download.body) {
        read += chunk.length;
        if (read > MiB) await other.close();
      }
    })());
    expect(err).toBeInstanceOf(AbortedError);
  });

  it('leaving the loop early or cancel() frees the connection', async () => {
    for (let i = 0; i < 3; i++) {
      const download = await client.download({ url: blobUrl(id), auth });
      for await (const chunk of download.body) if (chunk.length > 0) break;
      (await client.download({ url: blobUrl(id), auth })).cancel();
    }
    expect((await client.download({ method: 'HEAD', url: blobUrl(id), auth })).status).toBe(200);
  });
});

describe('upload failures', () => {
  const blobDir = () => join(dirname(dirname(sandbox.caCertPath)), 'blobs');

  it('aborting mid-upload fails with AbortedError and the sandbox keeps nothing', async () => {
    const id = newId();
    const controller = new AbortController();
    let produced = 0;
    const body = blob(50 * MiB, 3, (c) => {
      produced += c.length;
      if (produced > 8 * MiB) controller.abort();
    });
    const err = await rejection(client.upload({ method: 'PUT', url: blobUrl(id), body, contentLength: 50 * MiB, auth, signal: controller.signal }));
    expect(err).toBeInstanceOf(AbortedError);
    const deadline = Date.now() + 5000;
    while (existsSync(join(blobDir(), `${id}.part`)) && Date.now() < deadline) await sleep(10);
    expect(existsSync(join(blobDir(), `${id}.part`))).toBe(false);
    expect(sandbox.store.blob(id)).toBeUndefined();
  });

  it('a source that stalls is given up when the signal fires', async () => {
    const controller = new AbortController();
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('ATB1');
      await new Promise(() => {}); // never yields again
    }
    setTimeout(() => controller.abort(), 200);
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: stalled(), auth, signal: controller.signal }))).toBeInstanceOf(AbortedError);
  });

  it('the 403 of a pod without the Object Store entitlement is HttpStatusError with its message, for upload and download', async () => {
    const id = newId();
    await client.upload({ method: 'PUT', url: blobUrl(id), body: blob(1000, 4), auth });
    await sandbox.admin.setObjectStoreEntitlement(false);
    try {
      // A large body: the answer comes before it is sent, and ends the upload.
      const up = await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: blob(20 * MiB, 5), contentLength: 20 * MiB, auth }));
      expect(up).toBeInstanceOf(HttpStatusError);
      expect(up).toMatchObject({ status: 403, serverMessage: DISABLED });
      const down = await rejection(client.download({ url: blobUrl(id), auth }));
      expect(down).toBeInstanceOf(HttpStatusError);
      expect(down).toMatchObject({ status: 403, serverMessage: DISABLED });
    } finally {
      await sandbox.admin.setObjectStoreEntitlement(true);
    }
  });

  it('other refusals: 409, 400 without the magic, 404, with the server message', async () => {
    const id = newId();
    await client.upload({ method: 'PUT', url: blobUrl(id), body: blob(1000, 6), auth });
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(id), body: blob(1000, 6), auth }))).toMatchObject({ status: 409, serverMessage: 'A blob with this id exists' });
    async function* plaintext(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('not ciphertext at all');
    }
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: plaintext(), auth }))).toMatchObject({ status: 400, serverMessage: expect.stringContaining('ATB1') });
    expect(await rejection(client.download({ url: blobUrl(newId()), auth }))).toMatchObject({ status: 404, serverMessage: 'No blob has that id' });
  });

  it('download refreshes once on 401; upload does not (the body cannot be replayed)', async () => {
    let stale = true;
    let refreshes = 0;
    const refreshing: AuthHook = {
      headers: () => ({ authorization: `Bearer ${stale ? 'expired-token' : token}` }),
      onUnauthorized: async () => {
        refreshes++;
        stale = false;
        return true;
      },
    };
    const id = newId();
    const up = await rejection(client.upload({ method: 'PUT', url: blobUrl(id), body: blob(1000, 7), auth: refreshing }));
    expect(up).toMatchObject({ status: 401 });
    expect(refreshes).toBe(0);
    expect(String((up as Error).message)).not.toContain('expired-token');
    stale = false;
    await client.upload({ method: 'PUT', url: blobUrl(id), body: blob(1000, 7), auth: refreshing });
    stale = true;
    const download = await client.download({ url: blobUrl(id), auth: refreshing });
    expect(download.status).toBe(200);
    expect(refreshes).toBe(1);
    download.cancel();
  });

  it("an error thrown by the body's iterator is rethrown unchanged, and nothing is kept", async () => {
    const id = newId();
    const boom = new Error('source failed');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* blob(2 * MiB, 8);
      throw boom;
    }
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(id), body: failing(), contentLength: 4 * MiB, auth }))).toBe(boom);
    async function* wrongType(): AsyncGenerator<Uint8Array> {
      yield 'text' as unknown as Uint8Array;
    }
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: wrongType(), auth }))).toBeInstanceOf(InvalidArgumentError);
    await sleep(50);
    expect(sandbox.store.blob(id)).toBeUndefined();
  });

  it('a body of another length than contentLength is InvalidArgumentError; bad arguments are refused up front', async () => {
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: blob(1000, 9), contentLength: 2000, auth }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: blob(3000, 9), contentLength: 2000, auth }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: Buffer.from('ATB1') as unknown as AsyncIterable<Uint8Array>, auth }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(client.upload({ method: 'PUT', url: blobUrl(newId()), body: blob(10, 9), contentLength: -1, auth }))).toBeInstanceOf(InvalidArgumentError);
  });
});
