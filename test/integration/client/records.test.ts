// Encrypted records through the client against the sandbox over HTTPS on 127.0.0.1: a bot encrypts, another member
// decrypts with her own keys, a non-member gets CONTENT_KEY_UNAVAILABLE, records survive a key rotation, tampering
// fails with DECRYPTION_FAILED before any key is fetched, and bad input is INVALID_ARGUMENT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { codeOf } from '../../helpers/errors.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;
let alice: AllegroClient;
let bob: AllegroClient;
let room: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  const connect = (username: string) => AllegroClient.create(identityConfig(sandbox, username, { keys: { rotationCheckMs: 100 } }));
  [bot, alice, bob] = await Promise.all([connect('sandbox-bot'), connect('alice'), connect('bob')]);
  room = await bot.pod.createRoom({ name: 'records' });
  await bot.pod.addMember(room, alice.userId);
});
afterAll(async () => {
  await Promise.all([bot, alice, bob].map((c) => c?.close()));
  await sandbox?.close();
});

describe('encryptRecord / decryptRecord', () => {
  it('encrypts under the thread\'s current key; every member decrypts, others cannot', async () => {
    const standard = Buffer.from(room, 'base64url').toString('base64');
    const record = await bot.encryptRecord({ threadId: standard, header: { customer: 42 }, recordType: 'order', payload: { total: 99.5 }, associatedData: 'orders/1' });
    expect(record).toMatchObject({ format: 'allegro-ts.record', version: 1, threadId: room, rotationId: '0', recordType: 'order', header: { customer: 42 } });
    const text = JSON.stringify(record);
    expect(text).not.toContain('99.5');
    const opened = await alice.decryptRecord(text, { associatedData: 'orders/1' });
    expect(opened.json()).toEqual({ total: 99.5 });
    expect(opened).toMatchObject({ threadId: room, rotationId: 0n, recordType: 'order', header: { customer: 42 } });
    expect(await bob.decryptRecord(record, { associatedData: 'orders/1' }).catch((e: unknown) => e)).toMatchObject({ code: 'CONTENT_KEY_UNAVAILABLE', reason: 'not-a-member', threadId: room });
    expect(await codeOf(bob.encryptRecord({ threadId: room, payload: 1 }))).toBe('CONTENT_KEY_UNAVAILABLE');
  });

  it('keeps old records readable after a rotation and writes new ones under the new key', async () => {
    const before = await bot.encryptRecord({ threadId: room, payload: 'before' });
    const rotation = await sandbox.admin.rotate(room);
    await new Promise((r) => setTimeout(r, 150));
    const after = await bot.encryptRecord({ threadId: room, payload: 'after' });
    expect(after.rotationId).toBe(rotation);
    expect(before.rotationId).not.toBe(rotation);
    expect((await alice.decryptRecord(before)).json()).toBe('before');
    expect((await alice.decryptRecord(after)).json()).toBe('after');
  });

  it('refuses a tampered record with DECRYPTION_FAILED, checking the form before fetching any key', async () => {
    const record = await bot.encryptRecord({ threadId: room, header: { level: 'user' }, payload: 'secret' });
    const fresh = await AllegroClient.create(identityConfig(sandbox, 'alice'));
    try {
      expect(await codeOf(fresh.decryptRecord({ ...record, header: { level: 'admin' } }))).toBe('DECRYPTION_FAILED');
      // A rotation id that disagrees with the envelope is refused without a key fetch.
      expect(await codeOf(fresh.decryptRecord({ ...record, rotationId: '12345' }))).toBe('DECRYPTION_FAILED');
      expect(fresh.keys.stats().contentKeys.misses).toBe(1);
      expect(await codeOf(fresh.decryptRecord({ ...record, version: 2 as 1 }))).toBe('UNSUPPORTED_VERSION');
      expect(await codeOf(fresh.decryptRecord('not a record'))).toBe('MALFORMED_CIPHERTEXT');
    } finally {
      await fresh.close();
    }
  });

  it('names the bad parameter', async () => {
    await expect(bot.encryptRecord(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'input' });
    await expect(bot.encryptRecord({ threadId: room, payload: undefined })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'payload' });
    await expect(bot.encryptRecord({ threadId: 'not base64!', payload: 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'threadId' });
    await expect(bot.encryptRecord({ threadId: room, payload: 1, header: { at: new Date() as never } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', parameter: 'header.at' });
  });
});
