// Entity (hashtag/cashtag) encryption: Symphony known answers on every AEAD backend, typeahead prefixes,
// canonical-form checks, hostile input and invalid arguments.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllegroError } from '../../../src/errors.js';
import { toBase64, tryFromBase64, tryFromHex } from '../../../src/util/bytes.js';
import type { AeadBackendName } from '../../../src/crypto/aead.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import {
  decryptEntity,
  encryptEntityV1,
  encryptEntityV2,
  entityTypeaheadPrefix,
  TYPEAHEAD_PREFIX_LENGTHS,
} from '../../../src/crypto/entity.js';
import vectors from '../../vectors/symphony-crypto-1.63.2.json' with { type: 'json' };
import { BACKENDS } from '../../helpers/vectors.js';


function keyFromHex(hex: string): AesKey {
  return new AesKey(tryFromHex(hex)!);
}

function bytesOf(ciphertext: string): Uint8Array {
  return tryFromBase64(ciphertext.slice(1))!;
}

async function rejection(promise: Promise<unknown>): Promise<AllegroError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AllegroError);
    return err as AllegroError;
  }
  throw new Error('expected a rejection');
}

const entityArb = fc
  .tuple(fc.constantFrom('#', '$'), fc.string({ unit: 'grapheme', maxLength: 20 }))
  .map(([prefix, rest]) => prefix + rest);
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => new AesKey(bytes));
const encryptArb = fc.constantFrom(encryptEntityV1, encryptEntityV2);

describe('known answers (symphony-crypto-1.63.2)', () => {
  for (const backend of BACKENDS) {
    describe(`backend ${backend}`, () => {
      it.each(vectors.entityV1)('V1 $entity', async (v) => {
        const key = keyFromHex(v.entityKey);
        expect(await encryptEntityV1(key, v.entity, { backend })).toBe(v.ciphertext);
        expect(await decryptEntity(key, v.ciphertext, { backend })).toBe(v.entity.toLowerCase());
      });
      it.each(vectors.entityV2)('V2 $entity', async (v) => {
        const key = keyFromHex(v.entityKey);
        expect(await encryptEntityV2(key, v.entity, { backend })).toBe(v.ciphertext);
        expect(await decryptEntity(key, v.ciphertext, { backend })).toBe(v.entity.toLowerCase());
      });
    });
  }

  it('V2 carries one token per prefix length the entity reaches (>=, counted in UTF-16 units, "#"/"$" included)', () => {
    for (const v of vectors.entityV2) {
      const bytes = bytesOf(v.ciphertext);
      const expected = TYPEAHEAD_PREFIX_LENGTHS.filter((n) => v.entity.length >= n).length;
      expect(bytes[bytes.length - 1]).toBe(expected);
    }
    // '#été' is 4 characters but 6 UTF-8 bytes: one token, so lengths are not counted in bytes.
    const ete = vectors.entityV2.find((v) => v.entity === '#été')!;
    expect(bytesOf(ete.ciphertext).at(-1)).toBe(1);
    // '$AAPL' is exactly 5 long and has the 5-character token.
    const aapl = vectors.entityV2.find((v) => v.entity === '$AAPL')!;
    expect(bytesOf(aapl.ciphertext).at(-1)).toBe(2);
  });

  it('the typeahead prefix of the entity itself starts its V2 ciphertext', () => {
    for (const v of vectors.entityV2) {
      const key = keyFromHex(v.entityKey);
      expect(v.ciphertext.startsWith(entityTypeaheadPrefix(key, v.entity))).toBe(true);
    }
  });
});

describe('entityTypeaheadPrefix', () => {
  const key = new AesKey(new Uint8Array(32).fill(7));

  it('matches entities sharing the longest prefix length the typed text reaches', async () => {
    const hello = await encryptEntityV2(key, '#Hello');
    expect(hello.startsWith(entityTypeaheadPrefix(key, '#hel'))).toBe(true);
    expect(hello.startsWith(entityTypeaheadPrefix(key, '#HELL'))).toBe(true);
    expect(hello.startsWith(entityTypeaheadPrefix(key, '#hello'))).toBe(true);
    expect(hello.startsWith(entityTypeaheadPrefix(key, '#help'))).toBe(false);
    expect(hello.startsWith(entityTypeaheadPrefix(key, '#ha'))).toBe(false);
    expect(hello.startsWith(entityTypeaheadPrefix(key, '$hel'))).toBe(false);
  });

  it('is the bare header, matching every V2 ciphertext, below 3 characters', () => {
    expect(entityTypeaheadPrefix(key, '#h')).toBe('!AgAAAAAAAAAA');
  });

  it('encodes a surrogate pair cut by a prefix as Java does ("?")', async () => {
    // '#a😀' is 4 UTF-16 units; its 3-unit prefix ends in a lone high surrogate.
    expect(entityTypeaheadPrefix(key, '#a😀')).toBe(entityTypeaheadPrefix(key, '#a?'));
    expect(await decryptEntity(key, await encryptEntityV2(key, '#a😀b'))).toBe('#a😀b');
  });

  it('is a prefix of the V2 ciphertext of every extension of the typed text', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, entityArb, fc.string({ unit: 'grapheme', maxLength: 8 }), async (k, typed, more) => {
        const full = await encryptEntityV2(k, typed + more);
        expect(full.startsWith(entityTypeaheadPrefix(k, typed + more))).toBe(true);
        // Extending the text keeps the tokens of the lengths the typed text reaches, unless lower-casing the whole
        // changes the typed part (Greek final sigma: '#ΑΣ' gives '#ας' but '#ΑΣΑ' gives '#ασα').
        if ((typed + more).toLowerCase().startsWith(typed.toLowerCase())) {
          expect(full.startsWith(entityTypeaheadPrefix(k, typed))).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('Java UTF-8', () => {
  it('an entity with a lone surrogate decrypts as Java would write it', async () => {
    const key = new AesKey(new Uint8Array(32).fill(1));
    expect(await decryptEntity(key, await encryptEntityV1(key, '#x\uD800y'))).toBe('#x?y');
  });
});

describe('round trip', () => {
  it('decrypt(encrypt(entity)) is the lower-cased entity, V1 and V2, non-ASCII included', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, entityArb, encryptArb, async (key, entity, encrypt) => {
        const ciphertext = await encrypt(key, entity);
        expect(await decryptEntity(key, ciphertext)).toBe(entity.toLowerCase());
        expect(await encrypt(key, entity.toLowerCase())).toBe(ciphertext);
      }),
      { numRuns: 150 },
    );
  });

  it('is deterministic and case-insensitive', async () => {
    const key = new AesKey(new Uint8Array(32).fill(3));
    expect(await encryptEntityV1(key, '#Symphony')).toBe(await encryptEntityV1(key, '#SYMPHONY'));
    expect(await encryptEntityV2(key, '$aapl')).toBe(await encryptEntityV2(key, '$AAPL'));
    expect(await encryptEntityV1(key, '#a')).not.toBe(await encryptEntityV1(key, '$a'));
  });

  it('accepts the shortest entities, "#" and "$"', async () => {
    const key = new AesKey(new Uint8Array(32).fill(4));
    for (const entity of ['#', '$']) {
      expect(await decryptEntity(key, await encryptEntityV1(key, entity))).toBe(entity);
      expect(await decryptEntity(key, await encryptEntityV2(key, entity))).toBe(entity);
    }
  });
});

describe('tampering and hostile input', () => {
  it('rejects any single flipped bit of the encoded bytes', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, entityArb, encryptArb, fc.nat(), fc.integer({ min: 0, max: 7 }), async (key, entity, encrypt, at, bit) => {
        const ciphertext = await encrypt(key, entity);
        const bytes = bytesOf(ciphertext);
        bytes[at % bytes.length]! ^= 1 << bit;
        await rejection(decryptEntity(key, ciphertext[0] + toBase64(bytes)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects any single flipped bit of the text', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, entityArb, encryptArb, fc.nat(), fc.integer({ min: 0, max: 15 }), async (key, entity, encrypt, at, bit) => {
        const ciphertext = await encrypt(key, entity);
        const i = at % ciphertext.length;
        const flipped = ciphertext.slice(0, i) + String.fromCharCode(ciphertext.charCodeAt(i) ^ (1 << bit)) + ciphertext.slice(i + 1);
        await rejection(decryptEntity(key, flipped));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects every truncation, of the text and of the bytes', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, entityArb, encryptArb, fc.nat(), async (key, entity, encrypt, cut) => {
        const ciphertext = await encrypt(key, entity);
        await rejection(decryptEntity(key, ciphertext.slice(0, cut % ciphertext.length)));
        const bytes = bytesOf(ciphertext);
        await rejection(decryptEntity(key, ciphertext[0] + toBase64(bytes.subarray(0, cut % bytes.length))));
      }),
      { numRuns: 150 },
    );
  });

  it('rejects a ciphertext made with another key as DECRYPTION_FAILED', async () => {
    const a = new AesKey(new Uint8Array(32).fill(1));
    const b = new AesKey(new Uint8Array(32).fill(2));
    expect((await rejection(decryptEntity(b, await encryptEntityV1(a, '#x')))).code).toBe('DECRYPTION_FAILED');
    expect((await rejection(decryptEntity(b, await encryptEntityV2(a, '#xyzzy')))).code).toBe('DECRYPTION_FAILED');
  });

  it('raises only AllegroError for arbitrary text and arbitrary bytes after a valid prefix', async () => {
    const key = new AesKey(new Uint8Array(32).fill(9));
    const framed = fc
      .tuple(fc.constantFrom('?', '!'), fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 120 }))
      .map(([prefix, version, rest]) => prefix + toBase64(Uint8Array.of(version, ...rest)));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), framed), async (text) => {
        await rejection(decryptEntity(key, text));
      }),
      { numRuns: 200 },
    );
  });

  it('gives MALFORMED_CIPHERTEXT or UNSUPPORTED_VERSION for bad framing', async () => {
    const key = new AesKey(new Uint8Array(32).fill(5));
    const v2 = bytesOf(await encryptEntityV2(key, '#framing'));
    const code = async (text: string) => (await rejection(decryptEntity(key, text))).code;
    const withCount = (count: number) => {
      const copy = v2.slice();
      copy[copy.length - 1] = count;
      return '!' + toBase64(copy);
    };
    expect(await code('')).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('#hello')).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('?')).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('?not base64!')).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('?AQA')).toBe('MALFORMED_CIPHERTEXT'); // unpadded
    expect(await code('?' + toBase64(new Uint8Array(49).fill(0).fill(1, 0, 1)))).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('?' + toBase64(Uint8Array.of(1, 1, ...new Uint8Array(64))))).toBe('MALFORMED_CIPHERTEXT');
    expect(await code('?' + toBase64(Uint8Array.of(3, ...new Uint8Array(93))))).toBe('UNSUPPORTED_VERSION');
    expect(await code('!' + toBase64(Uint8Array.of(1, ...new Uint8Array(60))))).toBe('UNSUPPORTED_VERSION');
    expect(await code('!' + toBase64(Uint8Array.of(2, ...new Uint8Array(40))))).toBe('MALFORMED_CIPHERTEXT');
    expect(await code(withCount(5))).toBe('MALFORMED_CIPHERTEXT');
    expect(await code(withCount(255))).toBe('MALFORMED_CIPHERTEXT');
    expect(await code(withCount(4))).toBe('MALFORMED_CIPHERTEXT'); // 4 tokens do not fit in these bytes
    expect(await code(withCount(1))).toBe('DECRYPTION_FAILED');
    const rotated = v2.slice();
    rotated[8] = 1;
    expect(await code('!' + toBase64(rotated))).toBe('MALFORMED_CIPHERTEXT');
  });

  it('rejects a re-encoding that is not canonical (URL-safe or unpadded base64)', async () => {
    const key = new AesKey(new Uint8Array(32).fill(6));
    const ciphertext = await encryptEntityV1(key, '#canonical');
    const urlSafe = ciphertext.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(urlSafe).not.toBe(ciphertext);
    expect((await rejection(decryptEntity(key, urlSafe))).code).toBe('MALFORMED_CIPHERTEXT');
  });

  it('never puts the entity in an error message', async () => {
    const key = new AesKey(new Uint8Array(32).fill(8));
    const other = new AesKey(new Uint8Array(32).fill(9));
    const err = await rejection(decryptEntity(other, await encryptEntityV2(key, '#secretproject')));
    expect(err.message).not.toContain('secret');
    expect((await rejection(encryptEntityV1(key, 'secretproject'))).message).not.toContain('secret');
  });
});

describe('invalid arguments', () => {
  const key = new AesKey(new Uint8Array(32).fill(2));

  async function parameterOf(promise: Promise<unknown>): Promise<string> {
    const err = await rejection(promise);
    expect(err.code).toBe('INVALID_ARGUMENT');
    return (err as AllegroError & { parameter: string }).parameter;
  }

  it('names the parameter', async () => {
    for (const encrypt of [encryptEntityV1, encryptEntityV2]) {
      expect(await parameterOf(encrypt(key, 'hello'))).toBe('entity');
      expect(await parameterOf(encrypt(key, ''))).toBe('entity');
      expect(await parameterOf(encrypt(key, '?already'))).toBe('entity');
      expect(await parameterOf(encrypt(key, 42 as unknown as string))).toBe('entity');
      expect(await parameterOf(encrypt(new Uint8Array(32) as unknown as AesKey, '#x'))).toBe('entityKey');
      expect(await parameterOf(encrypt(key, '#x', { backend: 'bogus' as AeadBackendName }))).toBe('backend');
    }
    expect(await parameterOf(decryptEntity(key, 42 as unknown as string))).toBe('ciphertext');
    expect(await parameterOf(decryptEntity(null as unknown as AesKey, '?AAAA'))).toBe('entityKey');
    expect(() => entityTypeaheadPrefix(key, 'hel')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'typed' }));
  });

  it('rejects a wiped key', async () => {
    const wiped = new AesKey(new Uint8Array(32).fill(1));
    wiped.wipe();
    expect(await parameterOf(encryptEntityV1(wiped, '#x'))).toBe('entityKey');
    expect(await parameterOf(decryptEntity(wiped, '?AAAA'))).toBe('entityKey');
  });
});
