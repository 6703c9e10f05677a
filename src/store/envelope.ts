/**
 * allegro-ts object envelope v1 (`cipherSuiteId` {@link ENVELOPE_CIPHER_SUITE_ID}): the default format of an
 * encrypted Object Store payload. A protobuf message (proto/allegro_ts/v1/envelope.proto, encoded by ./proto/codec.ts)
 * whose clear header names the object (pod, thread, rotation, partition, sort key, object type) and whose body is
 * AES-256-GCM under a key derived for this one object. Byte layout and threat model: docs/wire-formats.md
 * "Object envelope v1", docs/threat-model.md "Objects".
 *
 * With H = the canonical header (below) and CK = the thread's content key for the rotation:
 * - per-object key K = HKDF-SHA256(ikm = CK, salt = 32 random bytes, info = "allegro-ts object v1" ‖ H, 32 bytes)
 *   (RFC 5869). Every object gets a fresh key, so GCM's random-nonce limit (2^32 messages per key) never applies
 *   to a content key, however many objects it protects;
 * - key commitment C = HMAC-SHA256(K, "allegro-ts commit v1"), stored in the envelope and compared in constant
 *   time before any decryption: a wrong key (or a header moved to another context) is refused without running GCM,
 *   and one ciphertext cannot open under two keys;
 * - ciphertext = AES-256-GCM(K, 12-byte random IV, AAD = H, plaintext) ‖ 16-byte tag.
 *
 * The context is bound twice (in the key derivation and as AAD); on top of that `openObject` compares the envelope's
 * header with the context the caller expects, so a payload copied to another object, thread, rotation, partition,
 * sort key, pod or object type fails with `DECRYPTION_FAILED`.
 *
 * Canonical header H (all integers big-endian, strings UTF-8, `len` = u32 byte length):
 * `version u32 ‖ podId i32 ‖ len ‖ threadId ‖ rotationId i64 ‖ len ‖ partition ‖ len ‖ sortKey ‖ len ‖ objectType ‖ salt(32)`.
 */
import { DecryptionFailedError, InvalidArgumentError, MalformedCiphertextError, UnsupportedVersionError } from '../errors.js';
import type { AeadBackend, AeadBackendName } from '../crypto/aead.js';
import { GCM_TAG_LENGTH } from '../crypto/aead.js';
import { AesKey } from '../crypto/aes-key.js';
import { getAeadBackend } from '../crypto/backends.js';
import { platform } from '#platform';
import { randomBytes } from '../crypto/random.js';
import { concatBytes, constantTimeEqual, toBase64Url, tryFromBase64, utf8, wipe, writeInt32BE, writeInt64BE } from '../util/bytes.js';
import { describeValue, optionsObject, requireBytes, requireInt32, requireInt64, requirePositiveInteger, requireString } from '../util/validate.js';
import { decodeEnvelope, encodeEnvelope, isCanonical, type EnvelopeMessage } from './proto/codec.js';

/** `cipherSuiteId` written beside an object envelope v1 in the Object Store's JSON. */
export const ENVELOPE_CIPHER_SUITE_ID = 'ALLEGRO_TS_OBJECT_V1';

/** The envelope version this module reads and writes. */
export const ENVELOPE_VERSION = 1;

/** Field sizes and limits of object envelope v1. */
export const EnvelopeSizes = {
  salt: 32,
  keyCommitment: 32,
  iv: 12,
  tag: GCM_TAG_LENGTH,
  /** Longest thread id, in bytes (Symphony's are 16–32). */
  maxThreadId: 256,
  /** Longest partition, sort key or object type, in UTF-8 bytes. */
  maxText: 1024,
} as const;

/** Default upper bound on the size of an envelope accepted by {@link openObject} and {@link readObjectHeader}: 64 MiB. */
export const DEFAULT_MAX_ENVELOPE_LENGTH = 64 * 1024 * 1024;

/**
 * Largest plaintext {@link sealObject} accepts: the default envelope limit less room for the largest header, so that
 * everything it writes opens under the default limit.
 */
export const MAX_OBJECT_PLAINTEXT_LENGTH = DEFAULT_MAX_ENVELOPE_LENGTH - 8192;

const KEY_LABEL = utf8('allegro-ts object v1');
const COMMIT_LABEL = utf8('allegro-ts commit v1');
const HASH_LENGTH = 32;
const KEY_LENGTH = 32;
const WHAT = 'object envelope';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where an object lives: everything its envelope is bound to. */
export interface ObjectContext {
  /** Symphony pod id (signed 32-bit). */
  podId: number;
  /** Thread (stream) id in base64; URL-safe without padding is canonical, standard base64 is accepted too. */
  threadId: string;
  /** Rotation id of the content key that protects the object. */
  rotationId: bigint;
  /** Partition hash. */
  partition: string;
  /** Sort key within the partition. */
  sortKey: string;
  /** Application-defined type of the object. */
  objectType: string;
}

/** Options of {@link sealObject}. */
export interface SealObjectOptions {
  /** AEAD backend; the runtime's default when absent. */
  backend?: AeadBackendName | AeadBackend;
}

/** Options of {@link readObjectHeader}. */
export interface ReadObjectOptions {
  /** Refuse envelopes longer than this many bytes. Default {@link DEFAULT_MAX_ENVELOPE_LENGTH}. */
  maxLength?: number;
}

/** Options of {@link openObject}. */
export interface OpenObjectOptions extends ReadObjectOptions {
  /** AEAD backend; the runtime's default when absent. */
  backend?: AeadBackendName | AeadBackend;
}

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes (at most 255 × 32).
 * Built on the platform's HMAC-SHA256; no dependency.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  requireBytes('ikm', ikm);
  requireBytes('salt', salt);
  requireBytes('info', info);
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_LENGTH) {
    throw new InvalidArgumentError('length', `an integer from 0 to ${255 * HASH_LENGTH}`, describeValue(length));
  }
  // RFC 5869 §2.2: an absent salt is HashLen zero bytes.
  const prk = platform.hmacSha256(salt.length === 0 ? new Uint8Array(HASH_LENGTH) : salt, ikm);
  const out = new Uint8Array(length);
  let block: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  for (let offset = 0, i = 1; offset < length; offset += HASH_LENGTH, i++) {
    counter[0] = i;
    const next = platform.hmacSha256(prk, block, info, counter);
    wipe(block);
    block = next;
    out.set(block.subarray(0, Math.min(HASH_LENGTH, length - offset)), offset);
  }
  wipe(prk, block);
  return out;
}

/** A validated context with the thread id decoded and the strings encoded. */
interface Header {
  podId: number;
  threadId: Uint8Array;
  rotationId: bigint;
  partition: string;
  sortKey: string;
  objectType: string;
  partitionBytes: Uint8Array;
  sortKeyBytes: Uint8Array;
  objectTypeBytes: Uint8Array;
}

function requireText(parameter: string, value: unknown): Uint8Array {
  requireString(parameter, value);
  if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(parameter, 'well-formed Unicode', 'a string with an unpaired surrogate');
  const bytes = utf8(value);
  if (bytes.length > EnvelopeSizes.maxText) {
    throw new InvalidArgumentError(parameter, `at most ${EnvelopeSizes.maxText} UTF-8 bytes`, `${bytes.length} bytes`);
  }
  return bytes;
}

function contextHeader(parameter: string, ctx: unknown): Header {
  if (typeof ctx !== 'object' || ctx === null) throw new InvalidArgumentError(parameter, 'an ObjectContext', describeValue(ctx));
  const c = ctx as Record<string, unknown>;
  const podId = requireInt32(`${parameter}.podId`, c.podId);
  requireString(`${parameter}.threadId`, c.threadId);
  const threadId = tryFromBase64(c.threadId);
  if (threadId === undefined || threadId.length === 0 || threadId.length > EnvelopeSizes.maxThreadId) {
    throw new InvalidArgumentError(`${parameter}.threadId`, `base64 of 1 to ${EnvelopeSizes.maxThreadId} bytes`, describeValue(c.threadId));
  }
  const rotationId = requireInt64(`${parameter}.rotationId`, c.rotationId);
  const partitionBytes = requireText(`${parameter}.partition`, c.partition);
  const sortKeyBytes = requireText(`${parameter}.sortKey`, c.sortKey);
  const objectTypeBytes = requireText(`${parameter}.objectType`, c.objectType);
  return {
    podId,
    threadId,
    rotationId,
    partition: c.partition as string,
    sortKey: c.sortKey as string,
    objectType: c.objectType as string,
    partitionBytes,
    sortKeyBytes,
    objectTypeBytes,
  };
}

/** The canonical header H: the AAD, and (after the label) the HKDF info. */
function canonicalHeader(h: Header, salt: Uint8Array): Uint8Array {
  const variable = [h.threadId, h.partitionBytes, h.sortKeyBytes, h.objectTypeBytes];
  const out = new Uint8Array(4 + 4 + 8 + variable.reduce((n, v) => n + 4 + v.length, 0) + salt.length);
  const view = new DataView(out.buffer);
  let offset = 0;
  const putBytes = (bytes: Uint8Array) => {
    view.setUint32(offset, bytes.length, false);
    out.set(bytes, offset + 4);
    offset += 4 + bytes.length;
  };
  view.setUint32(offset, ENVELOPE_VERSION, false);
  writeInt32BE(out, offset + 4, h.podId);
  offset += 8;
  putBytes(h.threadId);
  writeInt64BE(out, offset, h.rotationId);
  offset += 8;
  putBytes(h.partitionBytes);
  putBytes(h.sortKeyBytes);
  putBytes(h.objectTypeBytes);
  out.set(salt, offset);
  return out;
}

/** Per-object key and its commitment. The caller wipes the key. */
function deriveObjectKey(contentKey: AesKey, salt: Uint8Array, header: Uint8Array): { key: AesKey; commitment: Uint8Array } {
  const keyBytes = hkdfSha256(contentKey.bytes, salt, concatBytes(KEY_LABEL, header), KEY_LENGTH);
  const commitment = platform.hmacSha256(keyBytes, COMMIT_LABEL);
  const key = new AesKey(keyBytes);
  wipe(keyBytes);
  return { key, commitment };
}

function requireContentKey(key: unknown): asserts key is AesKey {
  if (!(key instanceof AesKey)) throw new InvalidArgumentError('contentKey', 'an AesKey', describeValue(key));
}

function maxLengthOf(options: ReadObjectOptions): number {
  return options.maxLength === undefined ? DEFAULT_MAX_ENVELOPE_LENGTH : requirePositiveInteger('options.maxLength', options.maxLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decode and check an envelope: size cap, protobuf, version, canonical form, field sizes.
 * @throws MalformedCiphertextError, UnsupportedVersionError
 */
function parseEnvelope(bytes: Uint8Array, maxLength: number): EnvelopeMessage {
  requireBytes('envelope', bytes);
  if (bytes.length === 0) throw new MalformedCiphertextError(WHAT, 'the input is empty');
  const m = decodeEnvelope(bytes, maxLength);
  if (m.version === 0) throw new MalformedCiphertextError(WHAT, 'the version is missing');
  if (m.version !== ENVELOPE_VERSION) throw new UnsupportedVersionError(WHAT, m.version, [ENVELOPE_VERSION]);
  // One envelope, one encoding: refuses unknown fields, padded varints, explicit defaults, repeats, invalid UTF-8.
  if (!isCanonical(bytes, m)) throw new MalformedCiphertextError(WHAT, 'not in canonical protobuf form');
  const sizeProblem =
    m.threadId.length === 0 || m.threadId.length > EnvelopeSizes.maxThreadId ? `threadId of ${m.threadId.length} bytes` :
    m.salt.length !== EnvelopeSizes.salt ? `salt of ${m.salt.length} bytes` :
    m.keyCommitment.length !== EnvelopeSizes.keyCommitment ? `keyCommitment of ${m.keyCommitment.length} bytes` :
    m.iv.length !== EnvelopeSizes.iv ? `iv of ${m.iv.length} bytes` :
    m.ciphertext.length < EnvelopeSizes.tag ? `ciphertext of ${m.ciphertext.length} bytes, shorter than the tag` :
    undefined;
  if (sizeProblem !== undefined) throw new MalformedCiphertextError(WHAT, sizeProblem);
  for (const [name, text] of [['partition', m.partition], ['sortKey', m.sortKey], ['objectType', m.objectType]] as const) {
    if (LONE_SURROGATE.test(text) || utf8(text).length > EnvelopeSizes.maxText) throw new MalformedCiphertextError(WHAT, `invalid ${name}`);
  }
  return m;
}

/**
 * Encrypt `plaintext` for the object `ctx` under the thread's content key (of `ctx.rotationId`).
 * @returns the encoded envelope (protobuf bytes; base64 them for the Object Store's JSON).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad key, context or plaintext, or a plaintext longer than
 *   {@link MAX_OBJECT_PLAINTEXT_LENGTH}.
 */
export async function sealObject(contentKey: AesKey, ctx: ObjectContext, plaintext: Uint8Array, options?: SealObjectOptions): Promise<Uint8Array> {
  requireContentKey(contentKey);
  const h = contextHeader('ctx', ctx);
  requireBytes('plaintext', plaintext);
  if (plaintext.length > MAX_OBJECT_PLAINTEXT_LENGTH) {
    throw new InvalidArgumentError('plaintext', `at most ${MAX_OBJECT_PLAINTEXT_LENGTH} bytes`, describeValue(plaintext));
  }
  const backend = getAeadBackend(optionsObject('options', options).backend);
  const salt = randomBytes(EnvelopeSizes.salt);
  const iv = randomBytes(EnvelopeSizes.iv);
  const header = canonicalHeader(h, salt);
  const { key, commitment } = deriveObjectKey(contentKey, salt, header);
  try {
    const ciphertext = await backend.seal(key, iv, header, plaintext);
    return encodeEnvelope({
      version: ENVELOPE_VERSION,
      podId: h.podId,
      threadId: h.threadId,
      rotationId: h.rotationId,
      partition: h.partition,
      sortKey: h.sortKey,
      objectType: h.objectType,
      salt,
      keyCommitment: commitment,
      iv,
      ciphertext,
    });
  } finally {
    key.wipe();
  }
}

/**
 * The clear header of an envelope, without the key: how a reader learns which rotation's content key to fetch.
 * Nothing here is authenticated until {@link openObject} succeeds.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for oversized, undecodable, non-canonical or
 *   ill-sized input; UnsupportedVersionError (`UNSUPPORTED_VERSION`) for a version other than 1.
 */
export function readObjectHeader(bytes: Uint8Array, options?: ReadObjectOptions): ObjectContext & { version: number } {
  const m = parseEnvelope(bytes, maxLengthOf(optionsObject('options', options)));
  return {
    version: m.version,
    podId: m.podId,
    threadId: toBase64Url(m.threadId),
    rotationId: m.rotationId,
    partition: m.partition,
    sortKey: m.sortKey,
    objectType: m.objectType,
  };
}

/**
 * Decrypt the envelope of the object `expected` with the thread's content key (of `expected.rotationId`).
 * The envelope's header must name exactly `expected`; the key commitment is checked before any decryption.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`), UnsupportedVersionError (`UNSUPPORTED_VERSION`) as
 *   {@link readObjectHeader}; DecryptionFailedError (`DECRYPTION_FAILED`) for a header that is not `expected`, a
 *   wrong key, or tampered bytes; InvalidArgumentError (`INVALID_ARGUMENT`) for bad arguments.
 */
export async function openObject(contentKey: AesKey, expected: ObjectContext, bytes: Uint8Array, options?: OpenObjectOptions): Promise<Uint8Array> {
  requireContentKey(contentKey);
  const h = contextHeader('expected', expected);
  const opts = optionsObject('options', options);
  const backend = getAeadBackend(opts.backend);
  const m = parseEnvelope(bytes, maxLengthOf(opts));
  const sameContext =
    m.podId === h.podId &&
    m.rotationId === h.rotationId &&
    sameBytes(m.threadId, h.threadId) &&
    m.partition === h.partition &&
    m.sortKey === h.sortKey &&
    m.objectType === h.objectType;
  if (!sameContext) throw new DecryptionFailedError();
  const header = canonicalHeader(h, m.salt);
  const { key, commitment } = deriveObjectKey(contentKey, m.salt, header);
  try {
    if (!constantTimeEqual(commitment, m.keyCommitment)) throw new DecryptionFailedError();
    return await backend.open(key, m.iv, header, m.ciphertext);
  } finally {
    key.wipe();
  }
}
