// Cross test: the Node platform (node:crypto) and the portable platform (WebCrypto, noble, node-forge) compute the
// same bytes for every primitive and every deterministic format, and each reads what the other writes: transport,
// legacy wrap, entity encryption, search tokens, object envelope and blob format.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { platform as nodePlatform } from '../../src/platform/node.js';
import { platform as portablePlatform } from '../../src/platform/portable.js';
import { onPlatform, PLATFORMS, type PlatformName } from '../helpers/platforms.js';
import { sameBytes } from '../helpers/vectors.js';

const load = () => Promise.all([import('../../src/crypto/index.js'), import('../../src/store/envelope.js'), import('../../src/store/blob-format.js')]);
type Library = Awaited<ReturnType<typeof load>>;
const libraries = Object.fromEntries(await Promise.all(PLATFORMS.map(async (name) => [name, await onPlatform(name, load)] as const))) as Record<PlatformName, Library>;
/** Ordered pairs (writer, reader), the same platform included. */
const PAIRS = PLATFORMS.flatMap((writer) => PLATFORMS.map((reader) => [writer, reader] as const));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const key32 = bytes(32, 32);

describe('the two platforms are what they claim', () => {
  it('load distinct module instances bound to their own platform', async () => {
    expect(nodePlatform.name).toBe('node');
    expect(portablePlatform.name).toBe('portable');
    expect(libraries.node[0].AesKey).not.toBe(libraries.portable[0].AesKey);
    expect(libraries.node[0].getAeadBackend().name).toBe('node');
    expect(libraries.portable[0].getAeadBackend().name).toBe('webcrypto');
  });
});

describe('primitives give identical bytes', () => {
  it('SHA-256 and HMAC-SHA256 over any split of the input', () => {
    fc.assert(
      fc.property(bytes(0, 64), fc.array(bytes(0, 300), { maxLength: 4 }), (key, parts) => {
        expect(sameBytes(portablePlatform.sha256(...parts), nodePlatform.sha256(...parts))).toBe(true);
        expect(sameBytes(portablePlatform.hmacSha256(key, ...parts), nodePlatform.hmacSha256(key, ...parts))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('AES-256-CBC without padding, both directions', () => {
    fc.assert(
      fc.property(key32, bytes(16, 16), fc.integer({ min: 0, max: 20 }), (key, iv, blocks) => {
        const data = nodeRandomBytes(blocks * 16);
        const encrypted = nodePlatform.aesCbcEncryptNoPadding(key, iv, data);
        expect(sameBytes(portablePlatform.aesCbcEncryptNoPadding(key, iv, data), encrypted)).toBe(true);
        expect(sameBytes(portablePlatform.aesCbcDecryptNoPadding(key, iv, encrypted), data)).toBe(true);
        expect(sameBytes(nodePlatform.aesCbcDecryptNoPadding(key, iv, encrypted), data)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('the frame cipher seals identically and opens the other platform\'s frames', async () => {
    await fc.assert(
      fc.asyncProperty(key32, bytes(12, 12), bytes(0, 40), bytes(0, 5000), async (k, nonce, aad, plaintext) => {
        const frames = await Promise.all(PLATFORMS.map(async (name) => {
          const key = new libraries[name][0].AesKey(k);
          const platform = name === 'node' ? nodePlatform : portablePlatform;
          const { ciphertext, tag } = await platform.frameCipher.seal(key, nonce, aad, plaintext);
          return new Uint8Array([...ciphertext, ...tag]);
        }));
        expect(sameBytes(frames[0]!, frames[1]!)).toBe(true);
        for (const [i, name] of PLATFORMS.entries()) {
          const platform = name === 'node' ? nodePlatform : portablePlatform;
          const opened = await platform.frameCipher.open(new libraries[name][0].AesKey(k), nonce, aad, frames[1 - i]!);
          expect(sameBytes(opened, plaintext)).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('randomness fills every byte, beyond the 65,536-byte WebCrypto limit too', () => {
    for (const platform of [nodePlatform, portablePlatform]) {
      const big = platform.randomFill(new Uint8Array(200_000));
      // 200,000 random bytes contain every value; a skipped chunk would leave a long run of zeros.
      expect(new Set(big).size).toBe(256);
      expect(big.subarray(65_536, 65_536 + 64).some((b) => b !== 0)).toBe(true);
      expect(big.subarray(199_900).some((b) => b !== 0)).toBe(true);
    }
  });
});

describe('deterministic formats give identical bytes', () => {
  it('key ids, entity encryption v1 and v2, typeahead prefixes', async () => {
    await fc.assert(
      fc.asyncProperty(key32, fc.string({ minLength: 1, maxLength: 30 }), async (k, text) => {
        const entity = `#${text.toLowerCase()}`;
        const results = await Promise.all(PLATFORMS.map(async (name) => {
          const crypto = libraries[name][0];
          const key = new crypto.AesKey(k);
          return {
            keyId: key.keyId,
            v1: await crypto.encryptEntityV1(key, entity),
            v2: await crypto.encryptEntityV2(key, entity),
            prefix: crypto.entityTypeaheadPrefix(key, entity.slice(0, 4)),
          };
        }));
        expect(results[1]).toEqual(results[0]);
        for (const [writer, reader] of PAIRS) {
          const crypto = libraries[reader][0];
          const written = results[PLATFORMS.indexOf(writer)]!;
          expect(await crypto.decryptEntity(new crypto.AesKey(k), written.v1)).toBe(entity);
          expect(await crypto.decryptEntity(new crypto.AesKey(k), written.v2)).toBe(entity);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('search tokens, plain and hashed, both rotation variants', () => {
    fc.assert(
      fc.property(key32, key32, fc.string({ maxLength: 80 }), fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 }), fc.constantFrom(0n, 7n), (k, wall, text, hashtags, rotationId) => {
        // tokenize() shuffles its output; compare as sets.
        const tokens = PLATFORMS.map((name) => {
          const crypto = libraries[name][0];
          return new Set(crypto.tokenize({ text, entityTokens: hashtags, contentKey: k, wallKey: wall, rotationId }));
        });
        expect(tokens[1]).toEqual(tokens[0]);
        const words = libraries.node[0].plainTokens(text);
        expect(libraries.portable[0].hashedTokens(words, k, rotationId)).toEqual(libraries.node[0].hashedTokens(words, k, rotationId));
      }),
      { numRuns: 100 },
    );
  });
});

describe('randomized formats: each platform reads what the other writes', () => {
  it('CiphertextTransport v3 (text and bytes)', async () => {
    await fc.assert(
      fc.asyncProperty(key32, bytes(0, 3000), fc.bigInt({ min: 0n, max: 2n ** 40n }), async (k, plaintext, rotationId) => {
        for (const [writer, reader] of PAIRS) {
          const w = libraries[writer][0];
          const r = libraries[reader][0];
          const transport = await w.encryptTransport(new w.AesKey(k), plaintext, { rotationId });
          expect(sameBytes(await r.decryptTransport(new r.AesKey(k), transport), plaintext)).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
    for (const [writer, reader] of PAIRS) {
      const w = libraries[writer][0];
      const r = libraries[reader][0];
      const k = nodeRandomBytes(32);
      expect(await r.decryptText(new r.AesKey(k), await w.encryptText(new w.AesKey(k), 'héllo 😀', { rotationId: 3 }))).toBe('héllo 😀');
    }
  });

  it('the legacy 48-byte key wrap', () => {
    fc.assert(
      fc.property(key32, key32, (account, content) => {
        for (const [writer, reader] of PAIRS) {
          const w = libraries[writer][0];
          const r = libraries[reader][0];
          const wrapped = w.wrapLegacyKey(new w.AesKey(account), content);
          expect(sameBytes(r.unwrapLegacyKey(new r.AesKey(account), wrapped), content)).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('the object envelope and the blob format', async () => {
    const objectContext = { podId: 7, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: 2n, partition: 'p', sortKey: 's', objectType: 't' };
    const blobContext = { podId: 7, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: 2n, blobId: 'file.bin' };
    const k = nodeRandomBytes(32);
    const plaintext = nodeRandomBytes(10_000);
    for (const [writer, reader] of PAIRS) {
      const [wCrypto, wEnvelope, wBlob] = libraries[writer];
      const [rCrypto, rEnvelope, rBlob] = libraries[reader];
      const sealed = await wEnvelope.sealObject(new wCrypto.AesKey(k), objectContext, plaintext);
      expect(sameBytes(await rEnvelope.openObject(new rCrypto.AesKey(k), objectContext, sealed), plaintext)).toBe(true);

      const blob: Uint8Array[] = [];
      for await (const chunk of wBlob.encryptBlob(new wCrypto.AesKey(k), blobContext, [plaintext], { frameSize: 4096 })) blob.push(chunk);
      const opened: number[] = [];
      for await (const chunk of rBlob.decryptBlob(new rCrypto.AesKey(k), blobContext, blob)) opened.push(...chunk);
      expect(sameBytes(new Uint8Array(opened), plaintext)).toBe(true);
    }
  });
});
