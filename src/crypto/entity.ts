/**
 * Symphony entity encryption: deterministic encryption of hashtags (`#tag`) and cashtags (`$tag`) with the 32-byte
 * entity key, as Symphony's `EntityCryptoHandler` (V1, `?…`) and `EntityCryptoHandlerV2` (V2 "typeahead", `!…`)
 * write it (docs/protocol.md §3.6; known answers in test/vectors/, sections `entityV1` and `entityV2`).
 *
 * The entity is lower-cased (`toLowerCase`, prefix included) and UTF-8 encoded; its AES-256-GCM IV is derived from
 * the key and the entity, so equal entities give equal ciphertexts and the server can match them without the key.
 *
 * | version | text                                                                                           |
 * |---------|------------------------------------------------------------------------------------------------|
 * | V1      | `?` base64( 0x01 0x00, IV 16, AAD 16 (zero), ciphertext, tag 16 ): a salt-less CiphertextTransport v1 |
 * | V2      | `!` base64( 0x02, rotationId int64 BE (0), token 12 × n, IV 16, tag 16, ciphertext, n (1 byte, ≤ 4) ) |
 *
 * - V1 IV = SHA-256(entity ‖ SHA-256(EK))[0..16]; V2 IV = HMAC-SHA256(SHA-256(EK), entity)[0..16]; AAD = 16 zeros.
 * - V2 token i = HMAC-SHA256(EK, prefix)[0..12] for the prefixes of the lower-cased entity (its `#`/`$` included)
 *   of 3, 5, 8 and 13 UTF-16 code units that the entity is long enough for. Because the header and tokens always
 *   fill a multiple of 3 bytes, their base64 is a literal prefix of the ciphertext text: {@link entityTypeaheadPrefix}
 *   turns what a user has typed into that search prefix.
 * - Strings become bytes as Java's `String.getBytes(UTF_8)` does: an unpaired surrogate (including one left by cutting
 *   a prefix inside a surrogate pair) is encoded as `?` (inferred from the Java runtime; the vectors hold no such case).
 *
 * Decryption accepts only the canonical text: standard padded base64, and bytes equal to what encryption derives
 * from the recovered entity (IV, zero AAD, rotation id 0, tokens and their count). The V2 tokens are outside the GCM
 * tag, so without this check they could be altered undetected.
 */
import { DecryptionFailedError, InvalidArgumentError, MalformedCiphertextError, UnsupportedVersionError } from '../errors.js';
import { concatBytes, constantTimeEqual, fromUtf8, javaUtf8, readInt64BE, toBase64, tryFromBase64, wipe } from '../util/bytes.js';
import { describeValue, requireString } from '../util/validate.js';
import { GCM_TAG_LENGTH, type AeadBackend, type AeadBackendName } from './aead.js';
import { AesKey } from './aes-key.js';
import { getAeadBackend } from './backends.js';
import { platform } from '#platform';

/** First character of a V1 entity ciphertext. */
export const ENTITY_V1_PREFIX = '?';
/** First character of a V2 (typeahead) entity ciphertext. */
export const ENTITY_V2_PREFIX = '!';

/** Lengths, in UTF-16 code units, of the entity prefixes a V2 ciphertext carries a token for. */
export const TYPEAHEAD_PREFIX_LENGTHS: readonly number[] = Object.freeze([3, 5, 8, 13]);

const IV_LENGTH = 16;
const AAD = new Uint8Array(16);
const TOKEN_LENGTH = 12;
const V1_HEADER = 2;
const V1_MIN = V1_HEADER + IV_LENGTH + AAD.length + GCM_TAG_LENGTH;
const V2_HEADER = 9;
const V2_MIN = V2_HEADER + IV_LENGTH + GCM_TAG_LENGTH + 1;
const MAX_TOKENS = TYPEAHEAD_PREFIX_LENGTHS.length;

/** Options of the entity functions. */
export interface EntityOptions {
  /** AEAD backend (name or instance); default: the runtime's fastest. */
  backend?: AeadBackendName | AeadBackend;
}


function requireEntityKey(entityKey: unknown): asserts entityKey is AesKey {
  if (!(entityKey instanceof AesKey)) throw new InvalidArgumentError('entityKey', 'an AesKey', describeValue(entityKey));
  if (entityKey.wiped) throw new InvalidArgumentError('entityKey', 'a live key', 'a key that has been wiped');
}

/** Validate an entity and return it lower-cased. */
function normalizeEntity(parameter: string, entity: unknown): string {
  requireString(parameter, entity);
  if (!entity.startsWith('#') && !entity.startsWith('$')) {
    throw new InvalidArgumentError(parameter, 'a string starting with "#" or "$"', describeValue(entity));
  }
  return entity.toLowerCase();
}

function v1Iv(entityKey: AesKey, plaintext: Uint8Array): Uint8Array {
  return platform.sha256(plaintext, platform.sha256(entityKey.bytes)).subarray(0, IV_LENGTH);
}

function v2Iv(entityKey: AesKey, plaintext: Uint8Array): Uint8Array {
  return platform.hmacSha256(platform.sha256(entityKey.bytes), plaintext).subarray(0, IV_LENGTH);
}

/** The V2 tokens of a lower-cased entity, concatenated: one per prefix length it reaches. */
function typeaheadTokens(entityKey: AesKey, lowerCased: string): Uint8Array {
  const tokens = TYPEAHEAD_PREFIX_LENGTHS.filter((length) => lowerCased.length >= length).map((length) =>
    platform.hmacSha256(entityKey.bytes, javaUtf8(lowerCased.slice(0, length))).subarray(0, TOKEN_LENGTH),
  );
  return concatBytes(...tokens);
}

/** Header and tokens of a V2 ciphertext: version 2, rotation id 0, then the tokens. */
function v2Head(entityKey: AesKey, lowerCased: string): Uint8Array {
  return concatBytes(Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0), typeaheadTokens(entityKey, lowerCased));
}

/**
 * Encrypt a hashtag or cashtag in Symphony's V1 format (`?…`). Deterministic: the same key and entity (in any
 * letter case) always give the same text.
 * @param entityKey the entity key (EK).
 * @param entity a string starting with `#` or `$`; it is lower-cased before encryption.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad or wiped `entityKey`, an `entity` that does not start
 *   with `#` or `$`, or an unknown `options.backend`.
 * @example
 * ```ts
 * const tag = await encryptEntityV1(new AesKey(entityKeyBytes), '#Hello'); // '?AQA…'
 * ```
 */
export async function encryptEntityV1(entityKey: AesKey, entity: string, options: EntityOptions = {}): Promise<string> {
  requireEntityKey(entityKey);
  const lowerCased = normalizeEntity('entity', entity);
  const backend = getAeadBackend(options.backend);
  const plaintext = javaUtf8(lowerCased);
  const iv = v1Iv(entityKey, plaintext);
  const sealed = await backend.seal(entityKey, iv, AAD, plaintext);
  return ENTITY_V1_PREFIX + toBase64(concatBytes(Uint8Array.of(1, 0), iv, AAD, sealed));
}

/**
 * Encrypt a hashtag or cashtag in Symphony's V2 "typeahead" format (`!…`), which also carries tokens of the
 * entity's prefixes so that {@link entityTypeaheadPrefix} searches find it. Deterministic.
 * @param entityKey the entity key (EK).
 * @param entity a string starting with `#` or `$`; it is lower-cased before encryption.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad or wiped `entityKey`, an `entity` that does not start
 *   with `#` or `$`, or an unknown `options.backend`.
 * @example
 * ```ts
 * const tag = await encryptEntityV2(new AesKey(entityKeyBytes), '$AAPL'); // '!AgAAAAAAAAAA…'
 * ```
 */
export async function encryptEntityV2(entityKey: AesKey, entity: string, options: EntityOptions = {}): Promise<string> {
  requireEntityKey(entityKey);
  const lowerCased = normalizeEntity('entity', entity);
  const backend = getAeadBackend(options.backend);
  const plaintext = javaUtf8(lowerCased);
  const iv = v2Iv(entityKey, plaintext);
  const sealed = await backend.seal(entityKey, iv, AAD, plaintext);
  const split = sealed.length - GCM_TAG_LENGTH;
  const head = v2Head(entityKey, lowerCased);
  const count = (head.length - V2_HEADER) / TOKEN_LENGTH;
  const out = concatBytes(head, iv, sealed.subarray(split), sealed.subarray(0, split), Uint8Array.of(count));
  return ENTITY_V2_PREFIX + toBase64(out);
}

/**
 * The search prefix for what a user has typed so far (for example `#hel`): the leading characters shared by the V2
 * ciphertexts of every entity that starts with the same first 3, 5, 8 or 13 characters as the typed text (the
 * longest of those the typed text reaches). Typed text shorter than 3 characters gives the prefix every V2
 * ciphertext starts with.
 * @param entityKey the entity key (EK).
 * @param typed a string starting with `#` or `$`; it is lower-cased.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad or wiped `entityKey`, or `typed` not starting with `#`
 *   or `$`.
 * @example
 * ```ts
 * const prefix = entityTypeaheadPrefix(ek, '#hel');
 * (await encryptEntityV2(ek, '#Hello')).startsWith(prefix); // true
 * ```
 */
export function entityTypeaheadPrefix(entityKey: AesKey, typed: string): string {
  requireEntityKey(entityKey);
  return ENTITY_V2_PREFIX + toBase64(v2Head(entityKey, normalizeEntity('typed', typed)));
}

/**
 * Decrypt a V1 (`?…`) or V2 (`!…`) entity ciphertext and return the entity as it was encrypted (lower-cased).
 * @param entityKey the entity key (EK).
 * @param ciphertext the text, exactly as Symphony writes it (standard base64 with padding after the prefix).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad or wiped `entityKey`, a non-string `ciphertext` or an
 *   unknown `options.backend`.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for an empty text, a prefix other than `?` or `!`,
 *   non-canonical base64, a length the format cannot have, a token count above 4, a non-zero V2 rotation id or a
 *   V1 options byte other than 0.
 * @throws UnsupportedVersionError (`UNSUPPORTED_VERSION`) when the version byte is not 1 after `?` or 2 after `!`.
 * @throws DecryptionFailedError (`DECRYPTION_FAILED`) for a wrong key or altered bytes (tag, IV, AAD or tokens).
 * @example
 * ```ts
 * await decryptEntity(ek, '?AQAIDnVh…'); // '#hello'
 * ```
 */
export async function decryptEntity(entityKey: AesKey, ciphertext: string, options: EntityOptions = {}): Promise<string> {
  requireEntityKey(entityKey);
  requireString('ciphertext', ciphertext);
  const backend = getAeadBackend(options.backend);
  if (ciphertext.length === 0) throw new MalformedCiphertextError('entity ciphertext', 'the text is empty');
  const prefix = ciphertext[0];
  if (prefix !== ENTITY_V1_PREFIX && prefix !== ENTITY_V2_PREFIX) {
    throw new MalformedCiphertextError('entity ciphertext', 'expected a "?" (V1) or "!" (V2) prefix');
  }
  const body = ciphertext.slice(1);
  const bytes = tryFromBase64(body);
  // Only the canonical spelling is accepted, so one entity has exactly one ciphertext text.
  if (bytes === undefined || toBase64(bytes) !== body) {
    throw new MalformedCiphertextError('entity ciphertext', 'the text after the prefix is not canonical base64');
  }
  return prefix === ENTITY_V1_PREFIX ? decryptV1(entityKey, bytes, backend) : decryptV2(entityKey, bytes, backend);
}

async function decryptV1(entityKey: AesKey, bytes: Uint8Array, backend: AeadBackend): Promise<string> {
  const what = 'entity V1 ciphertext';
  if (bytes.length === 0) throw new MalformedCiphertextError(what, 'the input is empty');
  if (bytes[0] !== 1) throw new UnsupportedVersionError(what, bytes[0]!, [1]);
  if (bytes.length < V1_MIN) throw new MalformedCiphertextError(what, `${bytes.length} bytes is shorter than the minimum of ${V1_MIN}`);
  if (bytes[1] !== 0) throw new MalformedCiphertextError(what, 'the options byte must be 0 (entities are never password-based)');
  const iv = bytes.subarray(V1_HEADER, V1_HEADER + IV_LENGTH);
  const aad = bytes.subarray(V1_HEADER + IV_LENGTH, V1_HEADER + IV_LENGTH + AAD.length);
  const plaintext = await backend.open(entityKey, iv, aad, bytes.subarray(V1_HEADER + IV_LENGTH + AAD.length));
  try {
    const entity = fromUtf8(plaintext);
    const canonical = constantTimeEqual(javaUtf8(entity), plaintext) && constantTimeEqual(aad, AAD) &&
      constantTimeEqual(iv, v1Iv(entityKey, plaintext));
    if (!canonical) throw new DecryptionFailedError();
    return entity;
  } finally {
    wipe(plaintext);
  }
}

async function decryptV2(entityKey: AesKey, bytes: Uint8Array, backend: AeadBackend): Promise<string> {
  const what = 'entity V2 ciphertext';
  if (bytes.length === 0) throw new MalformedCiphertextError(what, 'the input is empty');
  if (bytes[0] !== 2) throw new UnsupportedVersionError(what, bytes[0]!, [2]);
  if (bytes.length < V2_MIN) throw new MalformedCiphertextError(what, `${bytes.length} bytes is shorter than the minimum of ${V2_MIN}`);
  const count = bytes[bytes.length - 1]!;
  if (count > MAX_TOKENS) throw new MalformedCiphertextError(what, `the token count ${count} exceeds ${MAX_TOKENS}`);
  const tokensEnd = V2_HEADER + count * TOKEN_LENGTH;
  if (bytes.length < V2_MIN + count * TOKEN_LENGTH) {
    throw new MalformedCiphertextError(what, `${bytes.length} bytes is too short for ${count} tokens`);
  }
  if (readInt64BE(bytes, 1) !== 0n) throw new MalformedCiphertextError(what, 'the rotation id must be 0');
  const iv = bytes.subarray(tokensEnd, tokensEnd + IV_LENGTH);
  const tag = bytes.subarray(tokensEnd + IV_LENGTH, tokensEnd + IV_LENGTH + GCM_TAG_LENGTH);
  const body = bytes.subarray(tokensEnd + IV_LENGTH + GCM_TAG_LENGTH, bytes.length - 1);
  const plaintext = await backend.open(entityKey, iv, AAD, concatBytes(body, tag));
  try {
    const entity = fromUtf8(plaintext);
    const canonical = constantTimeEqual(javaUtf8(entity), plaintext) && constantTimeEqual(iv, v2Iv(entityKey, plaintext)) &&
      constantTimeEqual(bytes.subarray(0, tokensEnd), v2Head(entityKey, entity));
    if (!canonical) throw new DecryptionFailedError();
    return entity;
  } finally {
    wipe(plaintext);
  }
}
