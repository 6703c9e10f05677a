// The Object Store client against the sandbox over HTTPS on 127.0.0.1: objects and versions, conflicts, deletion,
// paging, transactions, typed errors (entitlement, permission, not a member), Allegro Format B both ways, blobs.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { EntitlementError, MalformedResponseError } from '../../../src/errors.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { parseBlobRef } from '../../../src/store/object-store-client.js';
import { identityConfig } from '../../helpers/client.js';
import { startRelay } from '../../helpers/relay.js';
import { call, login } from '../../helpers/sandbox.js';
import { codeOf } from '../../helpers/errors.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;
let alice: AllegroClient;
let bob: AllegroClient;
let room: string;
let partition: string;


beforeAll(async () => {
  sandbox = await startSandbox();
  [bot, alice, bob] = await Promise.all([AllegroClient.create(identityConfig(sandbox, 'sandbox-bot')), AllegroClient.create(identityConfig(sandbox, 'alice')), AllegroClient.create(identityConfig(sandbox, 'bob'))]);
  room = await bot.pod.createRoom({ name: 'objects' });
  await bot.pod.addMember(room, alice.userId);
  partition = await bot.objects.partition('state', { readers: [alice.userId, bob.userId] });
});
afterAll(async () => {
  await Promise.all([bot, alice, bob].map((c) => c?.close()));
  await sandbox?.close();
});

describe('objects', () => {
  it('stores, fetches by hash and by sort key, updates with optimistic concurrency', async () => {
    const v1 = await bot.objects.put({ partition, sortKey: 'settings', threadId: room, objectType: 'settings', header: { app: 'demo' }, payload: { volume: 1 } });
    expect(v1).toMatchObject({ version: 1, sortKey: 'settings', objectType: 'settings' });
    const v2 = await bot.objects.update(v1, { payload: { volume: 2 } });
    expect(v2.version).toBe(2);
    expect(await codeOf(bot.objects.update(v1, { payload: { volume: 3 } }))).toBe('CONFLICT');
    expect((await bot.objects.get(v1.absoluteHash, { current: true })).json()).toEqual({ volume: 2 });
    expect((await bot.objects.get(v1.absoluteHash)).json()).toEqual({ volume: 1 });
    const bySortKey = await alice.objects.getBySortKey(partition, 'settings');
    expect(bySortKey.json()).toEqual({ volume: 2 });
    expect(bySortKey.header).toEqual({ app: 'demo' });
    const versions = [];
    for await (const v of bot.objects.versions(v1.baseHash, { pageSize: 1 })) versions.push(v.json<{ volume: number }>().volume);
    expect(versions).toEqual([1, 2]);
  });

  it('pages through a partition with an async iterator', async () => {
    for (const k of ['p-3', 'p-1', 'p-2']) await bot.objects.put({ partition, sortKey: k, threadId: room, payload: k });
    const keys = [];
    for await (const o of bot.objects.list(partition, { sortKeyPrefix: 'p-', pageSize: 2 })) keys.push(o.sortKey);
    expect(keys).toEqual(['p-1', 'p-2', 'p-3']);
  });

  it('deletes logically (GONE afterwards) and physically (NOT_FOUND afterwards)', async () => {
    const a = await bot.objects.put({ partition, sortKey: 'to-forget', threadId: room, payload: 1 });
    await bot.objects.delete(a, 'LOGICAL');
    expect(await codeOf(bot.objects.getBySortKey(partition, 'to-forget'))).toBe('GONE');
    const b = await bot.objects.put({ partition, sortKey: 'to-purge', threadId: room, payload: 1 });
    await bot.objects.delete(b, 'PHYSICAL');
    expect(await codeOf(bot.objects.get(b.absoluteHash))).toBe('NOT_FOUND');
  });

  it('writes transactions all or nothing; more than 6 objects fail before anything is sent', async () => {
    const before = sandbox.store.counts().objectVersions;
    const ops = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ op: 'put' as const, partition, sortKey: `${prefix}-${i}`, threadId: room, payload: i }));
    await expect(bot.objects.transaction(ops(7, 'tx7'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'ops' });
    const existing = await bot.objects.getBySortKey(partition, 'settings');
    const stale = { ...existing, absoluteHash: existing.baseHash };
    expect(await codeOf(bot.objects.transaction([...ops(2, 'txc'), { op: 'update', current: stale, payload: 'x' }]))).toBe('CONFLICT');
    expect(sandbox.store.counts().objectVersions).toBe(before);
    const written = await bot.objects.transaction([...ops(5, 'tx'), { op: 'update', current: existing, payload: { volume: 9 } }]);
    expect(written).toHaveLength(6);
    expect((await bot.objects.getBySortKey(partition, 'settings')).json()).toEqual({ volume: 9 });
  });

  it('never sends plaintext to the store', async () => {
    await bot.objects.put({ partition, sortKey: 'secret', threadId: room, payload: { password: 'correct horse battery staple' } });
    expect(JSON.stringify(sandbox.store.objectVersions().map((o) => o.body))).not.toContain('correct horse');
  });
});

describe('typed errors', () => {
  it('refuses a reader who is not a member of the object\'s thread, naming the thread', async () => {
    const err = await bob.objects.getBySortKey(partition, 'settings').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONTENT_KEY_UNAVAILABLE', threadId: room, reason: 'not-a-member' });
  });

  it('maps another user\'s partition (no permission) to FORBIDDEN', async () => {
    expect(await codeOf(bob.objects.put({ partition, sortKey: 'intruder', threadId: await bob.pod.createRoom({ name: 'b' }), payload: 1 }))).toBe('FORBIDDEN');
  });

  it('answers every Object Store method with EntitlementError when the pod lacks the entitlement', async () => {
    const existing = await bot.objects.getBySortKey(partition, 'settings');
    await sandbox.admin.setObjectStoreEntitlement(false);
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['partition', () => bot.objects.partition('x')],
        ['put', () => bot.objects.put({ partition, sortKey: 'e', threadId: room, payload: 1 })],
        ['update', () => bot.objects.update(existing, { payload: 2 })],
        ['delete', () => bot.objects.delete(existing)],
        ['get', () => bot.objects.get(existing.absoluteHash)],
        ['getBySortKey', () => bot.objects.getBySortKey(partition, 'settings')],
        ['list', async () => { for await (const _ of bot.objects.list(partition)) break; }],
        ['versions', async () => { for await (const _ of bot.objects.versions(existing.baseHash)) break; }],
        ['transaction', () => bot.objects.transaction([{ op: 'put', partition, sortKey: 't', threadId: room, payload: 1 }])],
        ['putBlob', () => bot.objects.putBlob((async function* () { yield new Uint8Array(10); })(), { threadId: room })],
        ['getBlob', () => bot.objects.getBlob({ blobId: 'x', threadId: room, rotationId: 0n, size: 0 })],
      ];
      for (const [name, run] of calls) {
        const err = await run().catch((e: unknown) => e);
        expect(err, name).toBeInstanceOf(EntitlementError);
        expect((err as EntitlementError).code).toBe('ENTITLEMENT_DISABLED');
        expect((err as Error).message).toContain('Object Store entitlement');
      }
    } finally {
      await sandbox.admin.setObjectStoreEntitlement(true);
    }
  });
});

describe('Allegro Format B compatibility', () => {
  it('reads an object written the way the Java Allegro client writes it', async () => {
    const { key, rotationId } = await bot.keys.currentContentKey(room);
    const iv = randomBytes(16);
    const aad = randomBytes(16);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update('{"_type":"com.example.Note","text":"from Java"}'), cipher.final()]);
    const encryptedPayload = Buffer.concat([iv, aad, body, cipher.getAuthTag()]).toString('base64');
    const raw = await login(sandbox, 'sandbox-bot');
    const hash = randomBytes(34).toString('base64url');
    const stored = await call(sandbox, 'PUT', `/object/v1/objects/${hash}`, {
      headers: { authorization: `Bearer ${raw.session}` },
      json: { _type: 'com.symphony.s2.model.object.StoredApplicationObject', partitionHash: partition, sortKey: 'from-java', threadId: room, rotationId: Number(rotationId), cipherSuiteId: 'RSA2048_AES256', encryptedPayload },
    });
    expect(stored.status).toBe(200);
    expect((await alice.objects.getBySortKey(partition, 'from-java')).json()).toEqual({ _type: 'com.example.Note', text: 'from Java' });
  });

  it('writes objects the Java Allegro client can read', async () => {
    await bot.objects.put({ partition, sortKey: 'for-java', threadId: room, payload: { text: 'to Java' }, format: 'allegro' });
    const stored = sandbox.store.objectVersions().find((o) => o.sortKey === 'for-java')!.body;
    expect(stored.cipherSuiteId).toBe('RSA2048_AES256');
    const bytes = Buffer.from(String(stored.encryptedPayload), 'base64');
    const { key } = await bot.keys.currentContentKey(room);
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, bytes.subarray(0, 16));
    decipher.setAAD(bytes.subarray(16, 32));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(32, bytes.length - 16)), decipher.final()]);
    expect(JSON.parse(plain.toString('utf8'))).toEqual({ text: 'to Java' });
  });
});

describe('blobs', () => {
  it('streams a blob up and down in frames, reads byte ranges, and keeps only ciphertext', async () => {
    const size = 3 * 1024 * 1024 + 12345;
    const data = randomBytes(size);
    async function* chunks() {
      for (let i = 0; i < size; i += 100_000) yield data.subarray(i, Math.min(size, i + 100_000));
    }
    let progress = 0;
    const ref = await bot.objects.putBlob(chunks(), { threadId: room, size, onProgress: (n) => { progress += n; } });
    expect(progress).toBe(size);
    expect(parseBlobRef(ref.ref)).toEqual({ blobId: ref.blobId, threadId: ref.threadId, rotationId: ref.rotationId, size });
    const down = await alice.objects.getBlob(ref.ref);
    const digest = createHash('sha256');
    for await (const chunk of down.content) digest.update(chunk);
    expect(digest.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    for (const [start, end] of [[0, 10], [65_530, 65_545], [size - 100, size], [1_000_000, 1_200_000]] as const) {
      expect(Buffer.from(await alice.objects.getBlobRange(ref, start, end)).equals(data.subarray(start, end))).toBe(true);
    }
    await expect(bob.objects.getBlob(ref)).rejects.toMatchObject({ code: 'CONTENT_KEY_UNAVAILABLE' });
    await bot.objects.deleteBlob(ref);
    expect(await codeOf((async () => { for await (const _ of (await alice.objects.getBlob(ref)).content) break; })())).toBe('NOT_FOUND');
  });
});

describe('blobs with web streams', () => {
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    const reader = stream.getReader();
    for (let step = await reader.read(); !step.done; step = await reader.read()) parts.push(step.value);
    return Buffer.concat(parts);
  }

  it('puts from a ReadableStream and from a Blob (its size sent), and reads back as a ReadableStream', async () => {
    const data = randomBytes(300_000);
    const fromStream = await bot.objects.putBlob(new Blob([data]).stream(), { threadId: room });
    const fromBlob = await bot.objects.putBlob(new Blob([data.subarray(0, 100_000), data.subarray(100_000)]), { threadId: room });
    expect([fromStream.size, fromBlob.size]).toEqual([data.length, data.length]);
    for (const ref of [fromStream, fromBlob]) {
      const down = await alice.objects.getBlob(ref.ref);
      expect(down.size).toBe(data.length);
      expect(sha(await readAll(down.stream()))).toBe(sha(data));
    }
  });

  it('a Blob whose size disagrees with options.size, and a source of no kind, are refused with INVALID_ARGUMENT', async () => {
    expect(await codeOf(bot.objects.putBlob(new Blob([new Uint8Array(10)]), { threadId: room, size: 11 }))).toBe('INVALID_ARGUMENT');
    for (const source of [new Uint8Array(10), 'text', { length: 1 }]) {
      expect(await codeOf(bot.objects.putBlob(source as never, { threadId: room }))).toBe('INVALID_ARGUMENT');
    }
  });

  it('cancelling the ReadableStream of a download ends it', async () => {
    const data = randomBytes(400_000);
    const ref = await bot.objects.putBlob([data], { threadId: room, size: data.length });
    const reader = (await alice.objects.getBlob(ref)).stream().getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    expect((await reader.read()).done).toBe(true);
  });
});

describe('blob range reads against a store that answers with the wrong number of bytes', () => {
  type Mode = 'surplus in one chunk' | 'surplus over several chunks' | 'short' | 'not 206';
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it.each<Mode>(['surplus in one chunk', 'surplus over several chunks', 'short', 'not 206'])('%s: MALFORMED_RESPONSE, never a RangeError or silently cut bytes', async (mode) => {
    const data = randomBytes(200_000);
    const ref = await bot.objects.putBlob((async function* () { yield data; })(), { threadId: room, size: data.length });
    let broken = true;
    const relay = await startRelay(sandbox, async (method, path, answer, res) => {
      if (!broken || method !== 'GET' || !path.startsWith('/object/v1/blobs/') || answer.status !== 206) return false;
      const body = answer.body;
      if (mode === 'not 206') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
        return true;
      }
      res.writeHead(206, { 'content-type': 'application/octet-stream' }); // chunked: no length to contradict
      if (mode === 'short') {
        res.end(body.subarray(0, body.length - 1));
      } else if (mode === 'surplus in one chunk') {
        res.end(Buffer.concat([body, Buffer.alloc(7, 0xee)]));
      } else {
        // Separate writes, apart in time, reach the client as separate chunks.
        for (const part of [body.subarray(0, 10), body.subarray(10), Buffer.alloc(5, 0xee), Buffer.alloc(5, 0xdd)]) {
          res.write(part);
          await sleep(30);
        }
        res.end();
      }
      return true;
    });
    const reader = await AllegroClient.create(identityConfig(sandbox, 'alice', { objectStore: relay.component }));
    try {
      const err = await reader.objects.getBlobRange(ref, 1000, 1010).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(MalformedResponseError);
      expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /object/v1/blobs/{id}' });
      // The same reader, through the same relay, reads fine once the store answers correctly.
      broken = false;
      expect(Buffer.from(await reader.objects.getBlobRange(ref, 1000, 1010)).equals(data.subarray(1000, 1010))).toBe(true);
    } finally {
      await reader.close();
      await relay.close();
    }
  });
});

describe('writes whose answer was lost', () => {
  const lostAnswer = (times = 1) => sandbox.faults.add({ path: '/object/v1/objects/', method: 'PUT', dropAfter: true, times });
  const allUsed = () => expect(sandbox.faults.list().every((r) => r.remaining === 0)).toBe(true);

  it('put: the retry meets its own object (409) and reports the write, stored once', async () => {
    const before = sandbox.store.counts().objectVersions;
    lostAnswer();
    const ref = await bot.objects.put({ partition, sortKey: 'lost-put', threadId: room, payload: { n: 1 } });
    allUsed();
    sandbox.faults.clear();
    expect(ref).toMatchObject({ version: 1, sortKey: 'lost-put', partition });
    expect(sandbox.store.counts().objectVersions).toBe(before + 1);
    expect((await bot.objects.getBySortKey(partition, 'lost-put')).absoluteHash).toBe(ref.absoluteHash);
  });

  it('update: the retry meets a prevHash that is no longer the latest (409), because it is its own version', async () => {
    const v1 = await bot.objects.put({ partition, sortKey: 'lost-update', threadId: room, payload: { n: 1 } });
    lostAnswer();
    const v2 = await bot.objects.update(v1, { payload: { n: 2 } });
    allUsed();
    sandbox.faults.clear();
    expect(v2).toMatchObject({ version: 2, baseHash: v1.baseHash });
    expect((await bot.objects.get(v1.absoluteHash, { current: true })).json()).toEqual({ n: 2 });
    expect(await codeOf(bot.objects.update(v1, { payload: { n: 3 } }))).toBe('CONFLICT');
  });

  it('delete: the retry meets GONE (logical) or NOT_FOUND (physical) of its own deletion and succeeds', async () => {
    const logical = await bot.objects.put({ partition, sortKey: 'lost-delete', threadId: room, payload: 1 });
    lostAnswer();
    await bot.objects.delete(logical, 'LOGICAL');
    allUsed();
    expect(await codeOf(bot.objects.getBySortKey(partition, 'lost-delete'))).toBe('GONE');
    const physical = await bot.objects.put({ partition, sortKey: 'lost-purge', threadId: room, payload: 1 });
    lostAnswer();
    await bot.objects.delete(physical, 'PHYSICAL');
    allUsed();
    sandbox.faults.clear();
    expect(await codeOf(bot.objects.get(physical.absoluteHash))).toBe('NOT_FOUND');
  });

  it('a retry that meets a real conflict still reports it: a taken sort key, a stale version, an object already deleted', async () => {
    // Each first attempt never reaches the store (dropped before serving); the retry is refused, and nothing of ours is there.
    const droppedBefore = () => sandbox.faults.add({ path: '/object/v1/objects/', method: 'PUT', drop: true, times: 1 });
    const taken = await bot.objects.put({ partition, sortKey: 'really-taken', threadId: room, payload: 1 });
    droppedBefore();
    expect(await codeOf(bot.objects.put({ partition, sortKey: 'really-taken', threadId: room, payload: 2 }))).toBe('CONFLICT');
    allUsed();
    await bot.objects.update(taken, { payload: 2 });
    droppedBefore();
    expect(await codeOf(bot.objects.update(taken, { payload: 3 }))).toBe('CONFLICT');
    allUsed();
    const logical = await bot.objects.put({ partition, sortKey: 'deleted-before', threadId: room, payload: 1 });
    await bot.objects.delete(logical, 'LOGICAL');
    droppedBefore();
    expect(await codeOf(bot.objects.delete(logical, 'LOGICAL'))).toBe('GONE');
    allUsed();
    const physical = await bot.objects.put({ partition, sortKey: 'purged-before', threadId: room, payload: 1 });
    await bot.objects.delete(physical, 'PHYSICAL');
    droppedBefore();
    // Gone either way; a physical delete cannot tell whose it was once every version is removed, and the object is gone.
    await bot.objects.delete(physical, 'PHYSICAL');
    allUsed();
    expect(await codeOf(bot.objects.delete(physical, 'PHYSICAL'))).toBe('NOT_FOUND');
    sandbox.faults.clear();
  });

  it('a 409 on a retry where the hash holds other content is the real CONFLICT', async () => {
    let first = true;
    // The first attempt is forwarded with another payload and its answer lost; the retry sends the real one.
    const relay = await startRelay(sandbox, (method, path, _answer, res) => {
      if (method !== 'PUT' || !path.startsWith('/object/v1/objects/') || !first) return false;
      first = false;
      res.destroy();
      return true;
    }, (method, path, body) => {
      if (method !== 'PUT' || !path.startsWith('/object/v1/objects/') || !first) return body;
      const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      return Buffer.from(JSON.stringify({ ...json, encryptedPayload: randomBytes(64).toString('base64') }));
    });
    const writer = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { objectStore: relay.component }));
    try {
      expect(await codeOf(writer.objects.put({ partition, sortKey: 'impostor', threadId: room, payload: 'mine' }))).toBe('CONFLICT');
      expect(first).toBe(false);
    } finally {
      await writer.close();
      await relay.close();
    }
  });
});
