// The message codec (MessageML itself: test/unit/pod/messageml.test.ts): encoding into the
// SocialMessage a native client posts (every content field a CiphertextTransport v3 under the context's rotation,
// no plaintext anywhere, hashtags/cashtags as entity v1 and v2 ciphertexts, search tokens) and decoding back with
// a rotation resolver or a plain key, including tampered fields and rotations the resolver does not have.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { decryptEntity, ENTITY_V1_PREFIX, ENTITY_V2_PREFIX } from '../../../src/crypto/entity.js';
import { hashedTokens, tokenize } from '../../../src/crypto/search-tokens.js';
import { decryptText, parseTransport, transportFromBase64 } from '../../../src/crypto/transport.js';
import { AllegroError, ContentKeyUnavailableError } from '../../../src/errors.js';
import { decodeMessage, encodeMessage, rotationOf, type EncodeContext } from '../../../src/pod/message-codec.js';
import { parseMessageMl } from '../../../src/pod/messageml.js';
import { toBase64 } from '../../../src/util/bytes.js';

const CONTENT_FIELDS = ['text', 'presentationML', 'entityJSON', 'encryptedEntities'] as const;

function context(rotationId = 7n, overrides: Partial<EncodeContext> = {}): EncodeContext {
  return {
    threadId: toBase64(randomBytes(24)),
    contentKey: new AesKey(randomBytes(32)),
    rotationId,
    entityKey: new AesKey(randomBytes(32)),
    wallKey: new AesKey(randomBytes(32)),
    clientVersion: 'allegro-ts-test',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Flip one byte of a base64 transport field. */
function tamper(field: string, index: (length: number) => number): string {
  const bytes = transportFromBase64(field);
  bytes[index(bytes.length)]! ^= 0x01;
  return toBase64(bytes);
}

describe('encodeMessage', () => {
  const message = '<messageML>Buy <cash tag="GOOGL"/> for <hash tag="Quarterly"/> results, <mention uid="349026222344891"/> <b>now</b></messageML>';

  it('encrypts every content field as a base64 CiphertextTransport v3 under the context key and rotation', async () => {
    for (const rotationId of [0n, 7n, 2n ** 40n + 3n]) {
      const ctx = context(rotationId);
      const payload = await encodeMessage(message, ctx);
      for (const name of CONTENT_FIELDS) {
        const field = payload[name];
        expect(typeof field).toBe('string');
        const parsed = parseTransport(transportFromBase64(field as string));
        expect(parsed.version).toBe(3);
        expect(parsed.rotationId).toBe(rotationId);
        expect(parsed.podId).toBe(0);
        expect(toBase64(parsed.keyId!)).toBe(toBase64(ctx.contentKey.keyId));
        expect(rotationOf(field as string)).toBe(rotationId);
      }
      expect(payload).toMatchObject({
        version: 'SOCIALMESSAGE', threadId: ctx.threadId, clientVersionInfo: 'allegro-ts-test', format: 'com.symphony.messageml.v2', attachments: [],
      });
      const rendered = parseMessageMl(message);
      expect(await decryptText(ctx.contentKey, payload.text as string)).toBe(rendered.text);
      expect(await decryptText(ctx.contentKey, payload.presentationML as string)).toBe(rendered.presentationML);
      expect(JSON.parse(await decryptText(ctx.contentKey, payload.entityJSON as string))).toEqual(rendered.entityJSON);
      expect(JSON.parse(await decryptText(ctx.contentKey, payload.encryptedEntities as string))).toEqual({
        hashtags: [{ id: '$GOOGL', text: '$GOOGL', type: 'KEYWORD' }, { id: '#Quarterly', text: '#Quarterly', type: 'KEYWORD' }],
        userMentions: [{ id: 349026222344891, type: 'USER_FOLLOW' }],
      });
    }
  });

  it('encrypts the same message differently every time', async () => {
    const ctx = context();
    const [a, b] = await Promise.all([encodeMessage(message, ctx), encodeMessage(message, ctx)]);
    for (const name of CONTENT_FIELDS) expect(a[name]).not.toBe(b[name]);
  });

  it('hashtags and cashtags carry entity v1 (?) and v2 (!) forms that decrypt to the lower-cased tag', async () => {
    const ctx = context();
    const payload = await encodeMessage(message, ctx);
    const entities = payload.entities as { hashtags: Array<{ id: string; text: string; type: string; indexStart?: number; indexEnd?: number }>; userMentions: unknown[] };
    expect(entities.hashtags).toHaveLength(4);
    const [cashV1, cashV2, hashV1, hashV2] = entities.hashtags as [typeof entities.hashtags[0], typeof entities.hashtags[0], typeof entities.hashtags[0], typeof entities.hashtags[0]];
    for (const [entry, prefix] of [[cashV1, ENTITY_V1_PREFIX], [cashV2, ENTITY_V2_PREFIX], [hashV1, ENTITY_V1_PREFIX], [hashV2, ENTITY_V2_PREFIX]] as const) {
      expect(entry.id.startsWith(prefix)).toBe(true);
      expect(entry.text).toBe(entry.id);
      expect(entry.type).toBe('KEYWORD');
    }
    expect(cashV2).toMatchObject({ indexStart: 0, indexEnd: 0 });
    expect(await decryptEntity(ctx.entityKey, cashV1.id)).toBe('$googl');
    expect(await decryptEntity(ctx.entityKey, cashV2.id)).toBe('$googl');
    expect(await decryptEntity(ctx.entityKey, hashV1.id)).toBe('#quarterly');
    expect(await decryptEntity(ctx.entityKey, hashV2.id)).toBe('#quarterly');
    // Encrypted with the entity key, not the content key.
    await expect(decryptEntity(ctx.contentKey, hashV1.id)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    expect(entities.userMentions).toEqual([{ id: 349026222344891, type: 'USER_FOLLOW' }]);
    // No clear tag anywhere (the mention's user id is public by design).
    const json = JSON.stringify(payload);
    for (const clear of ['GOOGL', 'googl', 'Quarterly', 'quarterly', 'results', 'class=']) expect(json).not.toContain(clear);
  });

  it('a message without tags has no entity ciphertexts', async () => {
    const payload = await encodeMessage('just words', context());
    expect(payload.entities).toEqual({ hashtags: [], userMentions: [] });
  });

  it('tokenIds are, as a set, what tokenize() gives for the same inputs', async () => {
    for (const rotationId of [0n, 9n]) {
      const ctx = context(rotationId);
      const payload = await encodeMessage(message, ctx);
      const { text, presentationML } = parseMessageMl(message);
      const expected = tokenize({ text: `${text} ${presentationML}`, entityTokens: ['$GOOGL', '#Quarterly'], contentKey: ctx.contentKey, wallKey: ctx.wallKey, rotationId });
      const tokenIds = payload.tokenIds as string[];
      expect(new Set(tokenIds).size).toBe(tokenIds.length);
      expect(new Set(tokenIds)).toEqual(new Set(expected));
      // Independently: words hashed with the content key, the tags with the wall key.
      for (const t of hashedTokens(['buy', 'googl', 'quarterly', 'now'], ctx.contentKey, rotationId)) expect(tokenIds).toContain(t);
      for (const t of hashedTokens(['#Quarterly', '$GOOGL'], ctx.wallKey, rotationId)) expect(tokenIds).toContain(t);
      for (const t of hashedTokens(['#Quarterly'], ctx.contentKey, rotationId)) expect(tokenIds).not.toContain(t);
    }
  });

  it('no plaintext anywhere in the payload (random texts with at least 4 alphanumerics)', async () => {
    const ctx = context(3n);
    const alnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), minLength: 4, maxLength: 16 });
    const parts = fc.tuple(fc.string({ maxLength: 20 }), alnum, fc.string({ unit: 'grapheme', maxLength: 20 }))
      .filter(([a, b, c]) => !/^\s*<messageML>/.test(a + b + c));
    const leaks = (t: string, payload: Record<string, unknown>): boolean => {
      const json = JSON.stringify(payload);
      return json.includes(t) || json.includes(JSON.stringify(t).slice(1, -1));
    };
    // The parts of every payload that do not depend on the text (keys, constants, thread id): a text that happens to
    // be one of those words is not a leak.
    const blank = { text: '', presentationML: '', entityJSON: '', encryptedEntities: '', tokenIds: [] };
    const skeleton = JSON.stringify({ ...(await encodeMessage('unrelated', ctx)), ...blank });
    await fc.assert(fc.asyncProperty(parts, async ([before, core, after]) => {
      const t = before + core + after;
      fc.pre(!skeleton.includes(t));
      const payload = await encodeMessage(t, ctx);
      // A random collision with base64 ciphertext would not repeat; a leak would.
      if (leaks(t, payload)) expect(leaks(t, await encodeMessage(t, ctx))).toBe(false);
      // Nor any 8-character run of it (a chance match of 8 base64 characters is negligible).
      const json = JSON.stringify(payload);
      for (let i = 0; i + 8 <= core.length; i++) expect(json).not.toContain(core.slice(i, i + 8));
      for (const token of payload.tokenIds as string[]) expect(token).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const decoded = await decodeMessage(payload, ctx.contentKey);
      expect(decoded.text).toBe(t.trim());
    }), { numRuns: 100 });
  });
});

describe('decodeMessage', () => {
  const message = '<messageML>Hi <hash tag="Topic"/> &amp; <i>more</i><br/>bye</messageML>';

  it('round-trips presentationML, text and entity JSON with a plain AesKey and with a resolver', async () => {
    const ctx = context(5n);
    const payload = await encodeMessage(message, ctx);
    const rendered = parseMessageMl(message);
    const stored = { ...payload, messageId: 'msg-1', fromUserId: 71811853189121, ingestionDate: 1_700_000_000_123 };
    const seen: bigint[] = [];
    const resolver = (rotationId: bigint) => {
      seen.push(rotationId);
      return ctx.contentKey;
    };
    for (const key of [ctx.contentKey, resolver]) {
      const decoded = await decodeMessage(stored, key);
      expect(decoded).toEqual({
        messageId: 'msg-1', threadId: ctx.threadId, fromUserId: 71811853189121, timestamp: 1_700_000_000_123,
        presentationML: rendered.presentationML, text: rendered.text, entityJson: rendered.entityJSON,
      });
    }
    expect(seen).toEqual([5n, 5n, 5n]);
  });

  it('a resolver picks the key of each rotation, so older history decrypts too', async () => {
    const keys = new Map([[1n, new AesKey(randomBytes(32))], [2n, new AesKey(randomBytes(32))]]);
    const old = await encodeMessage('old words', context(1n, { contentKey: keys.get(1n)! }));
    const fresh = await encodeMessage('new words', context(2n, { contentKey: keys.get(2n)! }));
    const resolver = (rotationId: bigint) => keys.get(rotationId) ?? new AesKey(randomBytes(32));
    expect((await decodeMessage(old, resolver)).text).toBe('old words');
    expect((await decodeMessage(fresh, resolver)).text).toBe('new words');
    // With one plain key, the other rotation's message cannot be read.
    await expect(decodeMessage(old, keys.get(2n)!)).rejects.toMatchObject({ code: 'KEY_ID_MISMATCH' });
  });

  it('missing fields decode to empty values', async () => {
    const ctx = context();
    expect(await decodeMessage({}, ctx.contentKey)).toEqual({ messageId: '', threadId: '', fromUserId: 0, timestamp: 0, presentationML: '', text: '', entityJson: {} });
  });

  it('a tampered field fails with DECRYPTION_FAILED (ciphertext, tag, IV or AAD), with nothing else said', async () => {
    const ctx = context(4n);
    const payload = await encodeMessage(message, ctx);
    const resolver = () => ctx.contentKey;
    const positions: Array<(length: number) => number> = [
      () => 13, // IV
      () => 29, // AAD
      () => 45, // first ciphertext byte
      (n) => n - 33 - 1, // last tag byte
    ];
    for (const name of ['presentationML', 'text', 'entityJSON'] as const) {
      for (const at of positions) {
        for (const key of [ctx.contentKey, resolver]) {
          const err = await rejection(decodeMessage({ ...payload, [name]: tamper(payload[name] as string, at) }, key));
          expect(err).toBeInstanceOf(AllegroError);
          expect((err as AllegroError).code).toBe('DECRYPTION_FAILED');
          expect((err as AllegroError).message).toBe('Decryption failed.');
        }
      }
    }
  });

  it('a field under a rotation the resolver does not have: the resolver error propagates', async () => {
    const known = context(1n);
    const payload = await encodeMessage(message, known);
    const later = await encodeMessage('later', context(2n, { threadId: known.threadId }));
    const refusal = new ContentKeyUnavailableError(known.threadId, 2n, 'unknown-rotation');
    const resolver = (rotationId: bigint) => {
      if (rotationId === 1n) return known.contentKey;
      throw refusal;
    };
    expect((await decodeMessage(payload, resolver)).text).toBe(parseMessageMl(message).text);
    // One field from another rotation (e.g. an edit) is enough.
    expect(await rejection(decodeMessage({ ...payload, text: later.text }, resolver))).toBe(refusal);
    expect(await rejection(decodeMessage(later, resolver))).toBe(refusal);
    const asyncRefusal = await rejection(decodeMessage(later, async () => { throw refusal; }));
    expect(asyncRefusal).toBe(refusal);
  });
});
