// pod.history() against the sandbox when some messages of a page cannot be decrypted: a member posts, through the
// native path, a well-formed ciphertext under a random key, one naming a rotation the thread does not have, and one
// under the right key with a flipped byte. Every message of the page comes back, in order; the bad ones carry a typed `error`.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import { AllegroError } from '../../../src/errors.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { startRelay } from '../../helpers/relay.js';
import { postRaw } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;
let room: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
  room = await bot.pod.createRoom({ name: 'history with bad messages' });
  const alice = await bot.pod.users({ usernames: ['alice'] });
  await bot.pod.addMember(room, alice[0]!.id);
});
afterAll(async () => {
  await bot?.close();
  await sandbox?.close();
});

describe('history', () => {
  it('returns every message of the page, the undecryptable ones with a typed error and their clear metadata', async () => {
    const rotation = await bot.keys.currentRotation(room);
    await bot.pod.send(room, 'before');
    await postRaw(sandbox, 'alice', room, await encryptText(new AesKey(randomBytes(32)), 'forged under a random key', { rotationId: rotation }));
    await postRaw(sandbox, 'alice', room, await encryptText(new AesKey(randomBytes(32)), 'a rotation that does not exist', { rotationId: rotation + 1000n }));
    const tampered = Buffer.from(await encryptText(await bot.keys.contentKey(room, rotation), 'tampered', { rotationId: rotation }), 'base64');
    tampered[45]! ^= 1; // the first ciphertext byte, after the 45-byte v3 header (docs/wire-formats.md §1)
    await postRaw(sandbox, 'alice', room, tampered.toString('base64'));
    await bot.pod.send(room, 'after');

    const page = await bot.pod.history(room, { limit: 10 });
    expect(page.map((m) => m.error?.code)).toEqual([undefined, 'KEY_ID_MISMATCH', 'CONTENT_KEY_UNAVAILABLE', 'DECRYPTION_FAILED', undefined]);
    expect(page.map((m) => m.text)).toEqual(['before', '', '', '', 'after']);
    const aliceId = (await bot.pod.users({ usernames: ['alice'] }))[0]!.id;
    for (const bad of page.slice(1, 4)) {
      expect(bad.error).toBeInstanceOf(AllegroError);
      expect(bad).toMatchObject({ fromUserId: aliceId, presentationML: '', entityJson: {} });
      expect(bad.messageId).toMatch(/^[A-Za-z0-9_+/=-]{8,}$/);
      expect(bad.timestamp).toBeGreaterThan(0);
      expect(bad.error!.message).not.toMatch(/forged|tampered/);
    }
    expect(page[0]!.error).toBeUndefined();
    expect('error' in page[0]!).toBe(false);
  });

  it('still rejects as a whole when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(bot.pod.history(room, { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('send', () => {
  it('carries the data JSON it is given, encrypted, to the readers\' entity JSON', async () => {
    const data = { labels: { type: 'com.example.labels', version: '1.0', level: 'secret' } };
    const id = await bot.pod.send(room, '<messageML>labelled</messageML>', { data });
    const read = await bot.pod.message(id);
    expect(read.entityJson).toEqual(data);
    expect(JSON.stringify(sandbox.store.messages(room).map((m) => m.posted))).not.toContain('com.example.labels');
  });
});

describe('answers without a body that the pod API documents', () => {
  // GET /pod/v3/users and POST /pod/v1/streams/list answer 204 when nothing matches (pod-api-public.yaml); the
  // sandbox answers 200 with an empty list, so a relay turns those answers into a real pod's 204.
  it('reads a 204 of users() and streams() as an empty list, not a TypeError', async () => {
    const relay = await startRelay(sandbox, (method, path, _answer, res) => {
      if (!((method === 'GET' && path.startsWith('/pod/v3/users')) || (method === 'POST' && path.startsWith('/pod/v1/streams/list')))) return false;
      res.writeHead(204);
      res.end();
      return true;
    });
    const client = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { pod: relay.component }));
    try {
      expect(await client.pod.users({ usernames: ['nobody-at-all'] })).toEqual([]);
      expect(await client.pod.streams()).toEqual([]);
    } finally {
      await client.close();
      await relay.close();
    }
  });
});
