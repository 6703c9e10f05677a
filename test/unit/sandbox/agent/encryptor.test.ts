import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesKey, decryptTransport, encryptTransport, parseTransport, transportFromBase64 } from '../../../../src/crypto/index.js';
import { decodeMessage, encodeMessage } from '../../../../src/index.js';
import { AgentEncryptor, type KeyManagerAccess } from '../../../../src/sandbox/agent/encryptor.js';
import { HttpError } from '../../../../src/sandbox/http-error.js';
import { newId, standardBase64Id } from '../../../../src/sandbox/ids.js';

/** A Key Manager state: streams with members and content keys per rotation, and an entity key. */
function keyManager() {
  const streams = new Map<string, { members: Set<number>; rotations: Map<string, Uint8Array>; current: string }>();
  const entityKey = randomBytes(32);
  let fetches = 0;
  const access: KeyManagerAccess = {
    contentKey(userId, streamId, rotationId) {
      fetches++;
      const s = streams.get(streamId);
      if (s === undefined || !s.members.has(userId)) return undefined;
      const r = rotationId ?? s.current;
      const key = s.rotations.get(r);
      return key === undefined ? undefined : { rotationId: r, key };
    },
    entityKey: () => entityKey,
  };
  const add = (members: number[]) => {
    const id = newId();
    streams.set(id, { members: new Set(members), rotations: new Map([['0', randomBytes(32)]]), current: '0' });
    return id;
  };
  const rotate = (id: string) => {
    const s = streams.get(id)!;
    s.current = String(Number(s.current) + 1);
    s.rotations.set(s.current, randomBytes(32));
  };
  return { access, streams, add, rotate, entityKey, fetches: () => fetches };
}

function httpError(err: unknown): HttpError {
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

describe('AgentEncryptor', () => {
  const km = keyManager();
  const bot = { id: 1, wallStreamId: km.add([1]) };
  const room = km.add([1, 2]);
  const agent = new AgentEncryptor(km.access);

  it('writes what the native path writes: a SocialMessage of CiphertextTransport v3 fields that decodeMessage reads', async () => {
    const payload = await agent.encode(bot, room, { messageMl: '<messageML>Hello <b><hash tag="deal"/></b> <mention uid="2"/></messageML>', resolveMention: ({ userId }: { userId: number }) => ({ userId, displayName: 'Alice Archer' }) } as never);
    expect(payload).toMatchObject({ version: 'SOCIALMESSAGE', threadId: standardBase64Id(room), format: 'com.symphony.messageml.v2', msgFeatures: 3, clientVersionInfo: 'allegro-ts-sandbox-agent' });
    for (const field of ['text', 'presentationML', 'entityJSON', 'encryptedEntities']) {
      const t = parseTransport(transportFromBase64(payload[field] as string));
      expect(t.version).toBe(3);
      expect(t.rotationId).toBe(0n);
    }
    const key = new AesKey(km.streams.get(room)!.rotations.get('0')!);
    const decoded = await decodeMessage(payload, key);
    expect(decoded.presentationML).toBe('<div data-format="PresentationML" data-version="2.0" class="wysiwyg">Hello <b><span class="entity" data-entity-id="keyword1">#deal</span></b> <span class="entity" data-entity-id="mention2">@Alice Archer</span></div>');
    expect(decoded.entityJson).toMatchObject({ keyword1: { type: 'org.symphonyoss.taxonomy' }, mention2: { type: 'com.symphony.user.mention' } });
    expect(JSON.stringify(payload)).not.toContain('deal');
  });

  it('reads what the native path writes, under every rotation the history has', async () => {
    const key0 = new AesKey(km.streams.get(room)!.rotations.get('0')!);
    const native0 = await encodeMessage('<messageML>before the rotation</messageML>', {
      threadId: standardBase64Id(room), contentKey: key0, rotationId: 0n, entityKey: new AesKey(km.entityKey), wallKey: key0, clientVersion: 'test',
    });
    km.rotate(room);
    const after = await agent.encode(bot, room, { messageMl: '<messageML>after</messageML>' });
    expect(parseTransport(transportFromBase64(after.text as string)).rotationId).toBe(1n);
    expect((await agent.decode(2, room, native0)).text).toBe('before the rotation');
    expect((await agent.decode(2, room, after)).text).toBe('after');
  });

  it('fetches keys as the user: a non-member gets 403 and nothing is encrypted or decrypted for them', async () => {
    const payload = await agent.encode(bot, room, { messageMl: '<messageML>members only</messageML>' });
    expect(httpError(await agent.encode({ id: 3, wallStreamId: bot.wallStreamId }, room, { messageMl: '<messageML>x</messageML>' }).catch((e: unknown) => e)).status).toBe(403);
    expect(httpError(await agent.decode(3, room, payload).catch((e: unknown) => e)).status).toBe(403);
    expect(httpError(await agent.seal(3, room, new Uint8Array(4)).catch((e: unknown) => e)).status).toBe(403);
    // Membership is asked of the Key Manager on every use, so a removed member loses access at once.
    km.streams.get(room)!.members.delete(2);
    expect(httpError(await agent.decode(2, room, payload).catch((e: unknown) => e)).status).toBe(403);
    km.streams.get(room)!.members.add(2);
  });

  it('seals attachments as pod.uploadAttachment does and opens native ones', async () => {
    const bytes = randomBytes(1000);
    const sealed = await agent.seal(1, room, bytes);
    const current = km.streams.get(room)!.current;
    const key = new AesKey(km.streams.get(room)!.rotations.get(current)!);
    expect(Buffer.from(await decryptTransport(key, sealed)).equals(bytes)).toBe(true);
    const native = await encryptTransport(key, bytes, { rotationId: BigInt(current) });
    expect(Buffer.from(await agent.open(2, room, native)).equals(bytes)).toBe(true);
  });

  it('refuses malformed MessageML with the reader\'s located error, before any key is used', async () => {
    const err = await agent.encode(bot, room, { messageMl: '<messageML><p>open</messageML>' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', line: 1, column: expect.any(Number) });
  });

  it('wipes its cached keys on close', async () => {
    const local = new AgentEncryptor(km.access);
    const sealed = await local.seal(1, room, new Uint8Array(8));
    local.close();
    expect((await local.open(1, room, sealed)).length).toBe(8); // keys are fetched again after close
  });
});
