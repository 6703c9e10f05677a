/**
 * Symphony search tokens: the `tokenIds` sent with a message so the server can find it by word without reading it,
 * as Symphony's `ClientTokenizer_v2` makes them (docs/protocol.md §3.7; known answers in test/vectors/, section
 * `searchTokens`). Rules, from the vectors and the behaviour of `ClientTokenizer_v2` in crypto 1.63.2:
 *
 * - Words: the text is lower-cased (`toLowerCase`); every character that is not a Unicode letter (`\p{L}`), an ASCII
 *   digit, `@` or `_` separates words. Only ASCII digits count (the Java pattern's `\d` is ASCII-only), so a digit
 *   such as `٣` or `３` splits a word like punctuation does.
 * - CJK: a word containing CJK characters also yields its CJK runs (a run of 1 or 2 characters as it is, a longer
 *   run as all its 2-character windows) and its non-CJK parts. "CJK" is the Java tokenizer's set: CJK Radicals
 *   Supplement and Kangxi Radicals (U+2E80–2FDF), CJK Symbols and Punctuation, Hiragana and Katakana (U+3000–30FF),
 *   Kanbun (U+3190–319F), CJK Strokes through CJK Compatibility (U+31C0–33FF), Extension A (U+3400–4DBF), Unified
 *   Ideographs (U+4E00–9FFF), Compatibility Ideographs (U+F900–FAFF), Vertical Forms (U+FE10–FE1F), Compatibility
 *   Forms (U+FE30–FE4F) and Halfwidth and Fullwidth Forms (U+FF00–FFEF). Hangul syllables are not in it, so Korean
 *   words are kept whole; fullwidth Latin letters are in it, so `ＡＢＣ` also gives `ａｂ` and `ｂｃ`. Only letters
 *   reach this step, so most of those blocks never matter. The vectors confirm the Han case only.
 * - Hashing: salt = SHA-256(key); token = base64(SHA-256(salt ‖ word)) for rotation id 0, else
 *   base64(HMAC-SHA256(salt, word)). Words are UTF-8 encoded as Java does ({@link javaUtf8}). The vectors exercise
 *   the salted step alone (`getHashedTokens` called with the key bytes as the salt): {@link hashedTokensWithSalt}.
 * - A message's tokens are its words hashed with the thread's content key plus its hashtags hashed with the wall key
 *   (the content key of the user's own wall thread), both with the variant the *thread's* rotation id selects,
 *   shuffled so their order reveals nothing about the text.
 */
import { InvalidArgumentError } from '../errors.js';
import { toBase64, wipe } from '../util/bytes.js';
import { describeValue, requireBytes, requireInt64, requireString } from '../util/validate.js';
import { AES_KEY_LENGTH, AesKey } from './aes-key.js';
import { javaUtf8 } from '../util/bytes.js';
import { platform } from '#platform';
import { randomBytes } from './random.js';

const WORD_SEPARATORS = /[^\p{L}0-9@_]+/u;
const CJK_CHARS = '\\u2E80-\\u2FDF\\u3000-\\u30FF\\u3190-\\u319F\\u31C0-\\u33FF\\u3400-\\u4DBF\\u4E00-\\u9FFF' +
  '\\uF900-\\uFAFF\\uFE10-\\uFE1F\\uFE30-\\uFE4F\\uFF00-\\uFFEF';
const HAS_CJK = new RegExp(`[${CJK_CHARS}]`, 'u');
const CJK_AND_OTHER_RUNS = new RegExp(`[${CJK_CHARS}]+|[^${CJK_CHARS}]+`, 'gu');

/** Add the CJK runs (or their bigrams) and the non-CJK parts of `word` to `tokens`. */
function addCjkParts(word: string, tokens: Set<string>): void {
  for (const run of word.match(CJK_AND_OTHER_RUNS) ?? []) {
    // Every CJK character is in the BMP, so `length` counts characters here.
    if (!HAS_CJK.test(run) || run.length <= 2) {
      tokens.add(run);
    } else {
      for (let i = 0; i + 2 <= run.length; i++) tokens.add(run.slice(i, i + 2));
    }
  }
}

/**
 * The words Symphony indexes for `text`: lower-cased, split at every character other than a letter, an ASCII digit,
 * `@` or `_`, plus the CJK runs, CJK bigrams and non-CJK parts of words containing CJK characters.
 * @returns the distinct words, sorted by UTF-16 code units.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if `text` is not a string.
 * @example
 * ```ts
 * plainTokens('Hello World, buy AAPL now!'); // ['aapl', 'buy', 'hello', 'now', 'world']
 * plainTokens('中文测试 ok');                   // ['ok', '中文', '中文测试', '文测', '测试']
 * ```
 */
export function plainTokens(text: string): string[] {
  requireString('text', text);
  const tokens = new Set<string>();
  for (const word of text.toLowerCase().split(WORD_SEPARATORS)) {
    if (word === '') continue;
    tokens.add(word);
    if (HAS_CJK.test(word)) addCjkParts(word, tokens);
  }
  return [...tokens].sort();
}

function requireStringArray(parameter: string, value: unknown): asserts value is readonly string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(parameter, 'an array of strings', describeValue(value));
  value.forEach((item, index) => requireString(`${parameter}[${index}]`, item));
}

/** The bytes of a content key given as a live AesKey or as 32 bytes. */
function keyBytes(parameter: string, key: unknown): Uint8Array {
  if (key instanceof AesKey) {
    if (key.wiped) throw new InvalidArgumentError(parameter, 'a live key', 'a key that has been wiped');
    return key.bytes;
  }
  if (!(key instanceof Uint8Array)) throw new InvalidArgumentError(parameter, 'an AesKey or a Uint8Array', describeValue(key));
  requireBytes(parameter, key, AES_KEY_LENGTH);
  return key;
}

/** Add the tokens of `words` under `salt` to `tokens`. */
function hashInto(tokens: Set<string>, words: readonly string[], salt: Uint8Array, rotationId: bigint): void {
  for (const word of words) {
    const bytes = javaUtf8(word);
    tokens.add(toBase64(rotationId === 0n ? platform.sha256(salt, bytes) : platform.hmacSha256(salt, bytes)));
  }
}

/** Add the tokens of `words` under the salt SHA-256(`key`) to `tokens`. */
function hashWithKeyInto(tokens: Set<string>, words: readonly string[], key: Uint8Array, rotationId: bigint): void {
  const salt = platform.sha256(key);
  hashInto(tokens, words, salt, rotationId);
  wipe(salt);
}

/**
 * Hash words into search tokens with an explicit salt, as Symphony's `ClientTokenizer_v2.getHashedTokens` does:
 * base64(SHA-256(salt ‖ word)) for rotation id 0, base64(HMAC-SHA256(salt, word)) otherwise. Messages use the salt
 * SHA-256(content key), which {@link hashedTokens} and {@link tokenize} derive; the known-answer vectors call this
 * step directly with the key bytes as the salt.
 * @param words the words, used as given (not lower-cased).
 * @param salt the salt bytes.
 * @param rotationId the rotation id of the thread; only whether it is 0 matters.
 * @returns the distinct tokens, sorted.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for `words` that is not an array of strings, a `salt` that is
 *   not a Uint8Array, or a `rotationId` that is not a signed 64-bit integer.
 */
export function hashedTokensWithSalt(words: readonly string[], salt: Uint8Array, rotationId: bigint | number): string[] {
  requireStringArray('words', words);
  requireBytes('salt', salt);
  const rotation = requireInt64('rotationId', rotationId);
  const tokens = new Set<string>();
  hashInto(tokens, words, salt, rotation);
  return [...tokens].sort();
}

/**
 * Hash words into search tokens with a content key, as a message's tokens (and a search for those words) are made:
 * salt = SHA-256(key); base64(SHA-256(salt ‖ word)) for rotation id 0, base64(HMAC-SHA256(salt, word)) otherwise.
 * @param words the words, typically from {@link plainTokens}; used as given (not lower-cased).
 * @param contentKey the content key, as an AesKey or its 32 bytes.
 * @param rotationId the rotation id of the thread; only whether it is 0 matters.
 * @returns the distinct tokens, sorted.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for `words` that is not an array of strings, a `contentKey`
 *   that is neither a live AesKey nor 32 bytes, or a `rotationId` that is not a signed 64-bit integer.
 * @example
 * ```ts
 * hashedTokens(plainTokens('buy AAPL'), contentKey, 0); // two base64 strings of 32 bytes
 * ```
 */
export function hashedTokens(words: readonly string[], contentKey: AesKey | Uint8Array, rotationId: bigint | number): string[] {
  requireStringArray('words', words);
  const rotation = requireInt64('rotationId', rotationId);
  const key = keyBytes('contentKey', contentKey);
  const tokens = new Set<string>();
  hashWithKeyInto(tokens, words, key, rotation);
  return [...tokens].sort();
}

/** Options of {@link tokenize}. */
export interface TokenizeOptions {
  /** The message text to index (Symphony indexes its markdown text, a space, then its presentationML). */
  text: string;
  /** Clear texts of the message's hashtags, hashed as given (not lower-cased or split). Default: none. */
  entityTokens?: readonly string[];
  /** Content key of the thread the message is sent to (an AesKey or its 32 bytes). */
  contentKey: AesKey | Uint8Array;
  /** Content key of the sender's wall thread; required when `entityTokens` is not empty. */
  wallKey?: AesKey | Uint8Array;
  /** Rotation id of `contentKey`; selects the hash variant for words and hashtags alike. */
  rotationId: bigint | number;
}

function randomUint32(): number {
  const bytes = randomBytes(4);
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/** Shuffle in place with Fisher–Yates and unbiased (rejection-sampled) CSPRNG indices. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % bound);
    let value = randomUint32();
    while (value >= limit) value = randomUint32();
    const j = value % bound;
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * All search tokens of a message, as Symphony's `ClientTokenizer_v2.tokenize` makes them: the words of `text`
 * hashed with the thread's content key, and `entityTokens` hashed with the wall key, both with the variant
 * `rotationId` selects; distinct, in random order.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the bad field (`options.text`, `options.entityTokens`,
 *   `options.contentKey`, `options.wallKey`, `options.rotationId`), including a missing `wallKey` when
 *   `entityTokens` is not empty.
 * @example
 * ```ts
 * const tokenIds = tokenize({ text: 'Q3 results #earnings', entityTokens: ['#earnings'], contentKey, wallKey, rotationId: 5n });
 * ```
 */
export function tokenize(options: TokenizeOptions): string[] {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'an object', describeValue(options));
  requireString('options.text', options.text);
  const entityTokens = options.entityTokens ?? [];
  requireStringArray('options.entityTokens', entityTokens);
  const rotation = requireInt64('options.rotationId', options.rotationId);
  const contentKey = keyBytes('options.contentKey', options.contentKey);
  if (options.wallKey === undefined && entityTokens.length > 0) {
    throw new InvalidArgumentError('options.wallKey', 'the wall key when entityTokens is not empty', 'undefined');
  }
  const wallKey = options.wallKey === undefined ? undefined : keyBytes('options.wallKey', options.wallKey);
  const tokens = new Set<string>();
  hashWithKeyInto(tokens, plainTokens(options.text), contentKey, rotation);
  if (wallKey !== undefined) hashWithKeyInto(tokens, entityTokens, wallKey, rotation);
  return shuffle([...tokens]);
}
