// The sandbox as Allegro uses it: JWT and certificate login, the Key Manager key chain, membership enforcement,
// rotation, and encrypted messages and attachments on the native path. Real HTTPS on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512 } from '../../../src/crypto/rsa.js';
import { decryptText, encryptText, encryptTransport, parseTransport, transportFromBase64, decryptTransport } from '../../../src/crypto/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { accountKey, call, contentKey, firstStream, login, type Login } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: Login;
let alice: Login;
let bob: Login;
let roomId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ config: { sessionTtlSeconds: 2 } });
  [bot, alice, bob] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice'), login(sandbox, 'bob')]);
  roomId = await firstStream(sandbox, bot, 'ROOM');
});
afterAll(() => sandbox.close());

describe('authentication', () => {
  it('refuses unknown users, bad signatures, malformed and expired tokens with 401', async () => {
    const key = new RsaPrivateKey(readFileSync(sandbox.identities.get('alice')!.privateKeyPath!, 'utf8'));
    const cases = [
      await signJwtRs512(key, { sub: 'nobody' }),
      await signJwtRs512(key, { sub: 'sandbox-bot' }),
      'not.a.jwt',
    ];
    for (const token of cases) {
      for (const path of ['/login/pubkey/authenticate', '/relay/pubkey/authenticate']) {
        const reply = await call(sandbox, 'POST', path, { json: { token } });
        expect(reply.status).toBe(401);
        expect(reply.json.code).toBe(401);
      }
    }
    const expired = await signJwtRs512(key, { sub: 'alice', exp: Math.floor(Date.now() / 1000) + 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(sandbox, 'POST', '/login/pubkey/authenticate', { json: { token: expired } })).status).toBe(401);
  });

  it('logs in with a client certificate over mutual TLS, and refuses without one', async () => {
    const files = sandbox.identities.get('sandbox-bot')!;
    const cert = { cert: readFileSync(files.certificatePath!, 'utf8'), key: readFileSync(files.certificateKeyPath!, 'utf8') };
    for (const path of ['/sessionauth/v1/authenticate', '/keyauth/v1/authenticate']) {
      const ok = await call(sandbox, 'POST', path, { cert });
      expect(ok.status).toBe(200);
      expect(ok.json.name).toBe(path.startsWith('/session') ? 'sessionToken' : 'keyManagerToken');
      expect((await call(sandbox, 'POST', path)).status).toBe(401);
    }
    const certSession = (await call(sandbox, 'POST', '/sessionauth/v1/authenticate', { cert })).json.token;
    const info = await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { sessionToken: certSession } });
    expect(info.json.username).toBe('sandbox-bot');
  });

  it('expires session tokens (sessionTtlSeconds) and accepts the skey cookie', async () => {
    const fresh = await login(sandbox, 'bob');
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: { cookie: `skey=${fresh.session}` } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: fresh.headers });
    expect(expired.status).toBe(401);
    bob = await login(sandbox, 'bob');
    [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
  });
});

describe('Key Manager and keystore', () => {
  it('serves the key chain: user keys, account key (PKCS#1 v1.5), content key (transport v3), entity key', async () => {
    const { accountKey: ak } = await accountKey(sandbox, bot);
    const info = await call(sandbox, 'POST', '/keystore/cryptoRotationInfo/multiple', { headers: bot.headers, json: [roomId] });
    const rotation = info.json.data[0].cryptoRotationInfo.acceptedRotationId;
    const ck = await contentKey(sandbox, bot, ak, roomId, rotation);
    expect(ck).toBeInstanceOf(AesKey);
    expect(Buffer.from((ck as AesKey).bytes).toString('base64')).toBe(sandbox.store.contentKey(roomId, String(rotation))?.toString('base64'));
    const ek = await call(sandbox, 'GET', '/relay/keys/entityKey', { headers: bot.kmHeaders });
    const entityKey = await decryptTransport(ak, transportFromBase64(ek.json.entityKey));
    expect(Buffer.from(entityKey).toString('base64')).toBe(sandbox.store.pod().entityKey.toString('base64'));
  });

  it('refuses content keys to non-members with 404, and keys of other users with 403', async () => {
    const imId = await firstStream(sandbox, bot, 'IM');
    const { accountKey: bobAk } = await accountKey(sandbox, bob);
    const refused = await contentKey(sandbox, bob, bobAk, imId, 0);
    expect(refused).toMatchObject({ status: 404 });
    const other = await call(sandbox, 'GET', `/keystore/wrappedContentKeys/one?threadId=${imId}&rotationId=0&userId=${bot.userId}`, { headers: bob.headers });
    expect(other.status).toBe(403);
    const info = await call(sandbox, 'POST', '/keystore/cryptoRotationInfo/multiple', { headers: bob.headers, json: [imId] });
    expect(info.json.data).toEqual([]);
  });

  it('rotates a room key and still serves old rotations for history', async () => {
    const { accountKey: ak } = await accountKey(sandbox, alice);
    const before = await contentKey(sandbox, alice, ak, roomId, 0) as AesKey;
    const rotationId = await sandbox.admin.rotate(roomId);
    expect(rotationId).toBe('1');
    const info = await call(sandbox, 'POST', '/keystore/cryptoRotationInfo/multiple', { headers: alice.headers, json: [roomId] });
    expect(info.json.data[0].cryptoRotationInfo).toMatchObject({ acceptedRotationId: 1, retiredRotationId: 0 });
    const after = await contentKey(sandbox, alice, ak, roomId, 1) as AesKey;
    expect(after.keyId).not.toEqual(before.keyId);
    expect((await contentKey(sandbox, alice, ak, roomId, 0) as AesKey).keyId).toEqual(before.keyId);
    expect(await contentKey(sandbox, alice, ak, roomId, 7)).toMatchObject({ status: 404 });
  });

  it('stops giving content keys to a member once removed', async () => {
    const created = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'removal' } });
    const id = created.json.roomSystemInfo.id;
    expect((await call(sandbox, 'POST', `/pod/v1/room/${id}/membership/add`, { headers: bot.headers, json: { id: bob.userId } })).status).toBe(200);
    const { accountKey: ak } = await accountKey(sandbox, bob);
    expect(await contentKey(sandbox, bob, ak, id, 0)).toBeInstanceOf(AesKey);
    expect((await call(sandbox, 'POST', `/pod/v1/room/${id}/membership/remove`, { headers: bob.headers, json: { id: bob.userId } })).status).toBe(403);
    expect((await call(sandbox, 'POST', `/pod/v1/room/${id}/membership/remove`, { headers: bot.headers, json: { id: bob.userId } })).status).toBe(200);
    expect(await contentKey(sandbox, bob, ak, id, 0)).toMatchObject({ status: 404 });
  });
});

describe('messages on the native path', () => {
  async function send(who: Login, threadId: string, fields: Record<string, unknown>) {
    return call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', {
      headers: who.headers,
      form: { messagepayload: JSON.stringify({ version: 'SOCIALMESSAGE', threadId, msgFeatures: 3, ...fields }) },
    });
  }

  it('stores encrypted fields as submitted and returns them on read, decryptable by members', async () => {
    const { accountKey: ak } = await accountKey(sandbox, bot);
    const info = await call(sandbox, 'POST', '/keystore/cryptoRotationInfo/multiple', { headers: bot.headers, json: [roomId] });
    const rotationId = info.json.data[0].cryptoRotationInfo.acceptedRotationId;
    const ck = await contentKey(sandbox, bot, ak, roomId, rotationId) as AesKey;
    const text = await encryptText(ck, 'hello from the bot', { rotationId });
    const presentationML = await encryptText(ck, '<div data-format="PresentationML">hello from the bot</div>', { rotationId });
    const sent = await send(bot, Buffer.from(roomId, 'base64url').toString('base64'), { text, presentationML });
    expect(sent.status).toBe(200);
    const read = await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${roomId}&from=0&limit=10&excludeFields=tokenIds`, { headers: alice.headers });
    expect(read.status).toBe(200);
    const message = read.json.at(-1).message;
    expect(message.text).toBe(text);
    expect(message.fromUserId).toBe(bot.userId);
    const { accountKey: aliceAk } = await accountKey(sandbox, alice);
    const rotation = parseTransport(transportFromBase64(message.presentationML)).rotationId;
    const aliceCk = await contentKey(sandbox, alice, aliceAk, roomId, String(rotation)) as AesKey;
    expect(await decryptText(aliceCk, message.presentationML)).toContain('hello from the bot');
    for (const id of [sent.json.messageId, message.messageId]) {
      const one = await call(sandbox, 'GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${encodeURIComponent(id)}`, { headers: alice.headers });
      expect(one.json.text).toBe(text);
    }
  });

  it('refuses plaintext, bad threads and non-members', async () => {
    const { accountKey: ak } = await accountKey(sandbox, bot);
    const ck = await contentKey(sandbox, bot, ak, roomId, 1) as AesKey;
    const text = await encryptText(ck, 'x', { rotationId: 1 });
    expect((await send(bot, roomId, { text: 'plain text' })).status).toBe(400);
    expect((await send(bot, roomId, { text, presentationML: '<div>plain</div>' })).status).toBe(400);
    expect((await send(bot, roomId, { text, msgFeatures: 2 })).status).toBe(400);
    expect((await send(bot, 'AAAA', { text })).status).toBe(404);
    const imId = await firstStream(sandbox, bot, 'IM');
    expect((await send(bob, imId, { text })).status).toBe(403);
    expect((await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${imId}`, { headers: bob.headers })).status).toBe(403);
    const missing = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', { headers: bot.headers, form: { other: 'x' } });
    expect(missing.status).toBe(400);
  });

  it('stores attachments encrypted and serves them to members only', async () => {
    const { accountKey: ak } = await accountKey(sandbox, bot);
    const ck = await contentKey(sandbox, bot, ak, roomId, 1) as AesKey;
    const encrypted = await encryptTransport(ck, new Uint8Array(100_000).fill(7), { rotationId: 1 });
    const up = await call(sandbox, 'POST', `/webcontroller/ingestor/v1/attachments?threadId=${roomId}`, { headers: bot.headers, bytes: encrypted });
    expect(up.status).toBe(201);
    const down = await call(sandbox, 'GET', `/webcontroller/ingestor/v1/attachments/${up.json.fileId}`, { headers: alice.headers });
    expect(Buffer.compare(down.body, Buffer.from(encrypted))).toBe(0);
    expect((await call(sandbox, 'POST', `/webcontroller/ingestor/v1/attachments?threadId=${roomId}`, { headers: bot.headers, bytes: new Uint8Array(500).fill(65) })).status).toBe(400);
    const imId = await firstStream(sandbox, bot, 'IM');
    const upIm = await call(sandbox, 'POST', `/webcontroller/ingestor/v1/attachments?threadId=${imId}`, { headers: bot.headers, bytes: encrypted });
    expect((await call(sandbox, 'GET', `/webcontroller/ingestor/v1/attachments/${upIm.json.fileId}`, { headers: bob.headers })).status).toBe(403);
  });
});
