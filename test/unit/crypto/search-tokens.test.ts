// Search tokens (ClientTokenizer_v2): Symphony known answers, word-splitting and CJK edge cases, both hash
// variants against an independent node:crypto computation, and the shuffled union that tokenize returns.
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllegroError } from '../../../src/errors.js';
import { tryFromHex } from '../../../src/util/bytes.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { hashedTokens, hashedTokensWithSalt, plainTokens, tokenize } from '../../../src/crypto/search-tokens.js';
import vectors from '../../vectors/symphony-crypto-1.63.2.json' with { type: 'json' };

const contentKey = new Uint8Array(32).fill(0x11);
const wallKey = new Uint8Array(32).fill(0x22);

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The token of `word` computed directly with node:crypto: salt = SHA-256(key). */
function reference(word: string, key: Uint8Array, rotationId: number): string {
  const salt = sha256(key);
  const digest = rotationId === 0
    ? createHash('sha256').update(salt).update(word, 'utf8').digest()
    : createHmac('sha256', salt).update(word, 'utf8').digest();
  return digest.toString('base64');
}

function invalidParameter(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AllegroError);
    expect((err as AllegroError).code).toBe('INVALID_ARGUMENT');
    return (err as AllegroError & { parameter: string }).parameter;
  }
  throw new Error('expected an error');
}

// The vectors record getPlainTokens(text) and getHashedTokens(plainTokens, contentKey, rotationId): the salted
// hashing step called with the key bytes themselves as the salt (vectors meta.searchTokens). Messages use the salt
// SHA-256(content key), which ClientTokenizer_v2.tokenize derives with getSalt.
describe('known answers (symphony-crypto-1.63.2)', () => {
  it.each(vectors.searchTokens)('$text', (v) => {
    const keyBytes = tryFromHex(v.contentKey)!;
    expect(plainTokens(v.text)).toEqual(v.plainTokens);
    expect(hashedTokensWithSalt(v.plainTokens, keyBytes, v.rotationId)).toEqual(v.hashedTokens);
    expect(hashedTokensWithSalt(v.plainTokens, keyBytes, BigInt(v.rotationId))).toEqual(v.hashedTokens);
  });

  it('hashedTokens and tokenize salt the vector words with SHA-256 of the content key', () => {
    for (const v of vectors.searchTokens) {
      const keyBytes = tryFromHex(v.contentKey)!;
      const expected = hashedTokensWithSalt(v.plainTokens, sha256(keyBytes), v.rotationId);
      expect(expected).not.toEqual(v.hashedTokens);
      expect(hashedTokens(v.plainTokens, keyBytes, v.rotationId)).toEqual(expected);
      expect(hashedTokens(v.plainTokens, new AesKey(keyBytes), v.rotationId)).toEqual(expected);
      expect(tokenize({ text: v.text, contentKey: keyBytes, rotationId: v.rotationId }).sort()).toEqual(expected);
    }
  });
});

describe('plainTokens', () => {
  it.each([
    ['', []],
    ['   \t\n ', []],
    ['!?.,;:()[]{}<>"\'`~^-+=*/\\|&%$#', []],
    ['…—“”‘’¡¿', []],
    ['@alice', ['@alice']],
    ['snake_case_word', ['snake_case_word']],
    ['mail me: bob@example.com', ['bob@example', 'com', 'mail', 'me']],
    ['ÉTÉ Straße', ['straße', 'été']],
    ['x86_64 v2.0', ['0', 'v2', 'x86_64']],
    ['dup Dup DUP', ['dup']],
    ['don’t', ['don', 't']],
    ['٣ apples ３', ['apples']], // only ASCII digits count as digits
    ['中', ['中']],
    ['中文', ['中文']],
    ['中文字', ['中文', '中文字', '文字']],
    ['abc中文测试', ['abc', 'abc中文测试', '中文', '文测', '测试']],
    ['a中b', ['a', 'a中b', 'b', '中']],
    ['中文a测试文', ['a', '中文', '中文a测试文', '测试', '试文']],
    ['ひらがな', ['がな', 'ひら', 'ひらがな', 'らが']],
    ['한국어', ['한국어']], // Hangul is not in the tokenizer's CJK set
    ['ＡＢＣ', ['ａｂ', 'ａｂｃ', 'ｂｃ']], // fullwidth forms are
    ['😀hi😀', ['hi']],
    ['𝐀𝐁', ['𝐀𝐁']], // astral letters are kept whole (and have no lower case)
  ])('%j', (text, expected) => {
    expect(plainTokens(text)).toEqual(expected);
  });

  it('returns sorted, distinct, non-empty words of letters, ASCII digits, "@" and "_" only', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (text) => {
        const tokens = plainTokens(text);
        expect(tokens).toEqual([...new Set(tokens)].sort());
        for (const token of tokens) expect(token).toMatch(/^[\p{L}0-9@_]+$/u);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a non-string text', () => {
    expect(invalidParameter(() => plainTokens(undefined as unknown as string))).toBe('text');
  });
});

describe('hashedTokens', () => {
  it('uses SHA-256(salt || word) for rotation 0 and HMAC-SHA256(salt, word) otherwise', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.string({ unit: 'grapheme', maxLength: 10 }), { maxLength: 5 }),
        fc.constantFrom(0, 1, -1, 7, 2 ** 53 - 1),
        (key, words, rotationId) => {
          const expected = [...new Set(words.map((w) => reference(w, key, rotationId)))].sort();
          expect(hashedTokens(words, key, rotationId)).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('hashedTokensWithSalt takes any salt and names its parameters', () => {
    expect(hashedTokensWithSalt(['a'], new Uint8Array(0), 1)).toHaveLength(1);
    expect(invalidParameter(() => hashedTokensWithSalt(['a'], 'salt' as unknown as Uint8Array, 0))).toBe('salt');
    expect(invalidParameter(() => hashedTokensWithSalt([7 as unknown as string], contentKey, 0))).toBe('words[0]');
    expect(invalidParameter(() => hashedTokensWithSalt(['a'], contentKey, Number.NaN))).toBe('rotationId');
  });

  it('de-duplicates and accepts an empty list', () => {
    expect(hashedTokens(['a', 'a'], contentKey, 0)).toHaveLength(1);
    expect(hashedTokens([], contentKey, 0)).toEqual([]);
  });

  it('encodes an unpaired surrogate as Java does ("?")', () => {
    expect(hashedTokens(['a\uD800'], contentKey, 3)).toEqual(hashedTokens(['a?'], contentKey, 3));
  });

  it('names the invalid parameter', () => {
    expect(invalidParameter(() => hashedTokens('word' as unknown as string[], contentKey, 0))).toBe('words');
    expect(invalidParameter(() => hashedTokens(['ok', 5 as unknown as string], contentKey, 0))).toBe('words[1]');
    expect(invalidParameter(() => hashedTokens(['a'], new Uint8Array(16), 0))).toBe('contentKey');
    expect(invalidParameter(() => hashedTokens(['a'], 'key' as unknown as Uint8Array, 0))).toBe('contentKey');
    expect(invalidParameter(() => hashedTokens(['a'], contentKey, 1.5))).toBe('rotationId');
    expect(invalidParameter(() => hashedTokens(['a'], contentKey, 2n ** 63n))).toBe('rotationId');
    const wiped = new AesKey(contentKey);
    wiped.wipe();
    expect(invalidParameter(() => hashedTokens(['a'], wiped, 0))).toBe('contentKey');
  });
});

describe('tokenize', () => {
  it('is the union of the words under the content key and the hashtags under the wall key', () => {
    for (const rotationId of [0, 9n]) {
      const text = 'Q3 results are in #earnings';
      const entityTokens = ['#earnings', '#q3'];
      const tokens = tokenize({ text, entityTokens, contentKey: new AesKey(contentKey), wallKey, rotationId });
      const expected = new Set([...hashedTokens(plainTokens(text), contentKey, rotationId), ...hashedTokens(entityTokens, wallKey, rotationId)]);
      expect(tokens).toHaveLength(expected.size);
      expect(new Set(tokens)).toEqual(expected);
    }
  });

  it('hashes hashtags with the variant of the thread rotation id, not the wall key rotation', () => {
    const [token] = tokenize({ text: '', entityTokens: ['#tag'], contentKey, wallKey, rotationId: 4 });
    expect(token).toBe(reference('#tag', wallKey, 4));
  });

  it('returns the tokens in a random order', () => {
    const text = 'one two three four five six seven eight nine ten';
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) orders.add(tokenize({ text, contentKey, rotationId: 0 }).join(','));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('shuffles every token to every position (no fixed points in the shuffle)', () => {
    const text = 'a b c d';
    const sorted = hashedTokens(plainTokens(text), contentKey, 0);
    const seen = sorted.map(() => new Set<string>());
    for (let i = 0; i < 200; i++) tokenize({ text, contentKey, rotationId: 0 }).forEach((t, at) => seen[at]!.add(t));
    for (const position of seen) expect(position.size).toBe(sorted.length);
  });

  it('gives no tokens for an empty message', () => {
    expect(tokenize({ text: '', contentKey, rotationId: 1 })).toEqual([]);
    expect(tokenize({ text: '...', entityTokens: [], contentKey, rotationId: 1 })).toEqual([]);
  });

  it('names the invalid field', () => {
    expect(invalidParameter(() => tokenize(null as unknown as Parameters<typeof tokenize>[0]))).toBe('options');
    expect(invalidParameter(() => tokenize({ text: 1 as unknown as string, contentKey, rotationId: 0 }))).toBe('options.text');
    expect(invalidParameter(() => tokenize({ text: '', entityTokens: [1 as unknown as string], contentKey, wallKey, rotationId: 0 }))).toBe('options.entityTokens[0]');
    expect(invalidParameter(() => tokenize({ text: '', contentKey: new Uint8Array(31), rotationId: 0 }))).toBe('options.contentKey');
    expect(invalidParameter(() => tokenize({ text: '', contentKey, wallKey: new Uint8Array(0), rotationId: 0 }))).toBe('options.wallKey');
    expect(invalidParameter(() => tokenize({ text: '', entityTokens: ['#x'], contentKey, rotationId: 0 }))).toBe('options.wallKey');
    expect(invalidParameter(() => tokenize({ text: '', contentKey, rotationId: '0' as unknown as number }))).toBe('options.rotationId');
  });
});
