/**
 * Symphony's CiphertextTransport: the binary format of every encrypted chat field and wrapped key
 * (docs/protocol.md §3.3; byte layout in docs/wire-formats.md; known answers in test/vectors/).
 *
 * | version | layout                                                                                      | min |
 * |---------|---------------------------------------------------------------------------------------------|-----|
 * | 1       | 0x01, options(1, bit0 = password) [salt 16], IV 16, AAD 16, ciphertext, tag 16              |  50 |
 * | 2       | 0x02, podId int32 BE, rotationId int64 BE, IV 16, AAD 16, ciphertext, tag 16                |  61 |
 * | 3       | version-2 layout with 0x03, then keyId 32 (HMAC-SHA256(key, "KeyFingerprint")), mode 1     |  94 |
 *
 * A password-based version-1 transport is decrypted with the key the caller derived from the password and the
 * salt (`passwordSalt` of {@link parseTransport}); this module does not derive keys from passwords.
 *
 * Reading accepts versions 1–3. Writing produces version 3 exactly as Symphony's `ClientCryptoHandler.encryptMsg`
 * does: podId 0 unless configured, random 16-byte IV and 16-byte AAD, the key's cached key id, mode 0 (AES-GCM).
 * Mode 1 (AES-CBC, no integrity) is decrypted only when the caller passes `allowUnauthenticatedCbc: true`.
 * A version-3 key id that is not the supplied key's gives `KEY_ID_MISMATCH` before any decryption.
 */
import {
  InvalidArgumentError,
  MalformedCiphertextError,
  UnsupportedModeError,
  UnsupportedVersionError,
  KeyIdMismatchError,
  DecryptionFailedError,
} from '../errors.js';
import {
  constantTimeEqual,
  fromUtf8,
  readInt32BE,
  readInt64BE,
  toBase64,
  tryFromBase64,
  utf8,
  writeInt32BE,
  writeInt64BE,
} from '../util/bytes.js';
import { describeValue, optionsObject, requireBytes, requireInt32, requireInt64, requirePositiveInteger, requireString } from '../util/validate.js';
import { GCM_TAG_LENGTH, type AeadBackend, type AeadBackendName } from './aead.js';
import { AesKey } from './aes-key.js';
import { getAeadBackend } from './backends.js';
import { platform } from '#platform';
import { randomBytes, randomInto } from './random.js';

/** CiphertextTransport encryption-mode byte values (`CiphertextTransportEncryptionMode`). */
export const EncryptionMode = {
  AES_GCM: 0,
  AES_CBC: 1,
  RSA_OAEP: 2,
  RSA_PSS: 3,
  RSA_PKCS1_V1_5: 4,
} as const;

/** Transport versions this module reads. */
export const READABLE_TRANSPORT_VERSIONS = [1, 2, 3] as const;

/** Field sizes of the format. */
export const TransportSizes = {
  iv: 16,
  aad: 16,
  tag: GCM_TAG_LENGTH,
  keyId: 32,
  passwordSalt: 16,
  /** Bytes a version-3 transport adds to the plaintext: 45 header + 16 tag + 32 key id + 1 mode. */
  v3Overhead: 94,
} as const;

const DEFAULT_POD_IDS: readonly number[] = [0];

/** Default upper bound on the size of a transport accepted by the parser: 64 MiB. */
export const DEFAULT_MAX_TRANSPORT_LENGTH = 64 * 1024 * 1024;

const V1_HEADER = 2;
const V2_HEADER = 13;
const V3_TRAILER = TransportSizes.keyId + 1;

/** A parsed CiphertextTransport. Byte fields are views into the parsed input, not copies. */
export interface CiphertextTransport {
  version: 1 | 2 | 3;
  /** Pod id field (0 in everything Symphony's library writes; 0 for version 1). */
  podId: number;
  /** Rotation id of the content key (0 for version 1). */
  rotationId: bigint;
  /** Version 1 only: the 16-byte salt of a password-based transport. */
  passwordSalt?: Uint8Array;
  iv: Uint8Array;
  aad: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  /** Version 3 only: HMAC-SHA256(key, "KeyFingerprint"). */
  keyId?: Uint8Array;
  /** Encryption mode byte; version 1 and 2 imply AES-GCM (0). */
  mode: number;
}

/** Options of {@link parseTransport}. */
export interface ParseOptions {
  /** Reject inputs longer than this many bytes. Default {@link DEFAULT_MAX_TRANSPORT_LENGTH}. */
  maxLength?: number;
}

function minimumLength(version: 1 | 2 | 3, passwordBased: boolean): number {
  const body = TransportSizes.iv + TransportSizes.aad + TransportSizes.tag;
  if (version === 1) return V1_HEADER + (passwordBased ? TransportSizes.passwordSalt : 0) + body;
  return V2_HEADER + body + (version === 3 ? V3_TRAILER : 0);
}

/**
 * Parse a CiphertextTransport of version 1, 2 or 3 without decrypting it.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for empty, short or oversized input.
 * @throws UnsupportedVersionError (`UNSUPPORTED_VERSION`) for a first byte other than 1, 2 or 3.
 */
export function parseTransport(bytes: Uint8Array, options?: ParseOptions): CiphertextTransport {
  requireBytes('transport', bytes);
  const { maxLength: max } = optionsObject('options', options);
  const maxLength = max === undefined ? DEFAULT_MAX_TRANSPORT_LENGTH : requirePositiveInteger('options.maxLength', max);
  if (bytes.length === 0) throw new MalformedCiphertextError('CiphertextTransport', 'the input is empty');
  if (bytes.length > maxLength) {
    throw new MalformedCiphertextError('CiphertextTransport', `${bytes.length} bytes exceeds the limit of ${maxLength}`);
  }
  const version = bytes[0]!;
  if (version !== 1 && version !== 2 && version !== 3) {
    const hint = version === 0x41 ? ' (the input looks base64-encoded; decode it first)' : '';
    throw new UnsupportedVersionError(`CiphertextTransport${hint}`, version, READABLE_TRANSPORT_VERSIONS);
  }
  if (version === 1 && bytes.length > 1 && (bytes[1]! & 0xfe) !== 0) {
    throw new MalformedCiphertextError('CiphertextTransport v1', 'unknown option bits are set');
  }
  const passwordBased = version === 1 && bytes.length > 1 && bytes[1] === 1;
  const min = minimumLength(version, passwordBased);
  if (bytes.length < min) {
    throw new MalformedCiphertextError(`CiphertextTransport v${version}`, `${bytes.length} bytes is shorter than the minimum of ${min}`);
  }
  let offset: number;
  let podId = 0;
  let rotationId = 0n;
  let passwordSalt: Uint8Array | undefined;
  if (version === 1) {
    offset = V1_HEADER;
    if (passwordBased) {
      passwordSalt = bytes.subarray(offset, offset + TransportSizes.passwordSalt);
      offset += TransportSizes.passwordSalt;
    }
  } else {
    podId = readInt32BE(bytes, 1);
    rotationId = readInt64BE(bytes, 5);
    offset = V2_HEADER;
  }
  const end = version === 3 ? bytes.length - V3_TRAILER : bytes.length;
  const iv = bytes.subarray(offset, offset + TransportSizes.iv);
  const aad = bytes.subarray(offset + TransportSizes.iv, offset + TransportSizes.iv + TransportSizes.aad);
  const ciphertext = bytes.subarray(offset + TransportSizes.iv + TransportSizes.aad, end - TransportSizes.tag);
  const tag = bytes.subarray(end - TransportSizes.tag, end);
  const parsed: CiphertextTransport = { version, podId, rotationId, iv, aad, ciphertext, tag, mode: EncryptionMode.AES_GCM };
  if (passwordSalt !== undefined) parsed.passwordSalt = passwordSalt;
  if (version === 3) {
    parsed.keyId = bytes.subarray(end, end + TransportSizes.keyId);
    parsed.mode = bytes[bytes.length - 1]!;
  }
  return parsed;
}

/**
 * Serialize a transport of any readable version (the inverse of {@link parseTransport}). Fields a version does
 * not carry are ignored; fields it needs must be present with their exact sizes.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a missing or mis-sized field.
 */
export function serializeTransport(transport: CiphertextTransport): Uint8Array {
  const { version } = transport;
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new InvalidArgumentError('transport.version', '1, 2 or 3', describeValue(version));
  }
  requireBytes('transport.iv', transport.iv, TransportSizes.iv);
  requireBytes('transport.aad', transport.aad, TransportSizes.aad);
  requireBytes('transport.ciphertext', transport.ciphertext);
  requireBytes('transport.tag', transport.tag, TransportSizes.tag);
  const salt = version === 1 ? transport.passwordSalt : undefined;
  if (salt !== undefined) requireBytes('transport.passwordSalt', salt, TransportSizes.passwordSalt);
  const header = version === 1 ? V1_HEADER + (salt?.length ?? 0) : V2_HEADER;
  const body = TransportSizes.iv + TransportSizes.aad + transport.ciphertext.length + TransportSizes.tag;
  const out = new Uint8Array(header + body + (version === 3 ? V3_TRAILER : 0));
  out[0] = version;
  if (version === 1) {
    out[1] = salt === undefined ? 0 : 1;
    if (salt !== undefined) out.set(salt, V1_HEADER);
  } else {
    writeInt32BE(out, 1, requireInt32('transport.podId', transport.podId));
    writeInt64BE(out, 5, requireInt64('transport.rotationId', transport.rotationId));
  }
  let offset = header;
  for (const part of [transport.iv, transport.aad, transport.ciphertext, transport.tag]) {
    out.set(part, offset);
    offset += part.length;
  }
  if (version === 3) {
    const keyId = transport.keyId;
    requireBytes('transport.keyId', keyId, TransportSizes.keyId);
    out.set(keyId, offset);
    const mode = transport.mode;
    if (!Number.isInteger(mode) || mode < 0 || mode > 255) throw new InvalidArgumentError('transport.mode', 'a byte', describeValue(mode));
    out[offset + TransportSizes.keyId] = mode;
  }
  return out;
}

/** Options of {@link encryptTransport}. */
export interface EncryptOptions {
  /** Rotation id of the content key, written in the header. */
  rotationId: bigint | number;
  /** Pod id written in the header. Symphony's library always writes 0, which is the default. */
  podId?: number;
  /** AEAD backend (name or instance); default: the runtime's fastest. */
  backend?: AeadBackendName | AeadBackend;
}

/**
 * The key to decrypt with: an {@link AesKey}, or a function that returns the content key of the rotation named
 * in the transport's header (the way Allegro picks keys: docs/protocol.md §5.2). With a function, a header
 * whose rotation id was altered selects another key and so fails to decrypt.
 */
export type TransportKey = AesKey | ((rotationId: bigint, transport: CiphertextTransport) => AesKey | Promise<AesKey>);

/** Options of {@link decryptTransport}. */
export interface DecryptOptions extends ParseOptions {
  /**
   * Pod ids accepted in a version 2 or 3 header. Symphony's library writes 0 (the default, `[0]`); add your
   * pod's id if clients on your pod write it, or pass `'any'` to skip the check. The pod id is not covered by
   * the GCM tag, so this check is what makes an altered pod id fail.
   */
  podIds?: readonly number[] | 'any';
  /** AEAD backend (name or instance); default: the runtime's fastest. */
  backend?: AeadBackendName | AeadBackend;
  /**
   * Decrypt mode 1 (AES-CBC without padding). CBC has no integrity: a tampered ciphertext decrypts to garbage
   * instead of failing. Off by default; turn it on only to read legacy data you cannot re-encrypt.
   */
  allowUnauthenticatedCbc?: boolean;
}

function requireKey(key: unknown): asserts key is AesKey {
  if (!(key instanceof AesKey)) throw new InvalidArgumentError('key', 'an AesKey', describeValue(key));
}

/**
 * Encrypt `plaintext` into a version-3 CiphertextTransport with AES-256-GCM.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad key, plaintext, rotation id or pod id.
 * @example
 * ```ts
 * const key = new AesKey(contentKeyBytes);
 * const wire = await encryptTransport(key, utf8('hello'), { rotationId: 0 });
 * ```
 */
export async function encryptTransport(key: AesKey, plaintext: Uint8Array, options: EncryptOptions): Promise<Uint8Array> {
  requireKey(key);
  requireBytes('plaintext', plaintext);
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'an object with rotationId', describeValue(options));
  const rotationId = requireInt64('options.rotationId', options.rotationId);
  const podId = requireInt32('options.podId', options.podId ?? 0);
  const keyId = key.keyId;
  const ivAt = V2_HEADER;
  const bodyAt = ivAt + TransportSizes.iv + TransportSizes.aad;
  let out: Uint8Array;
  if (options.backend === undefined) {
    // The runtime's frame cipher (synchronous over node:crypto) hands over ciphertext and tag without a combined
    // copy or a promise hop, and the transport is allocated once: header, pooled IV and AAD, body, tag, key id
    // (docs/performance.md §2).
    out = new Uint8Array(bodyAt + plaintext.length + TransportSizes.tag + V3_TRAILER);
    randomInto(out, ivAt, TransportSizes.iv + TransportSizes.aad);
    const pending = platform.frameCipher.seal(key, out.subarray(ivAt, ivAt + TransportSizes.iv), out.subarray(ivAt + TransportSizes.iv, bodyAt), plaintext);
    const sealed = 'then' in pending ? await pending : pending;
    out.set(sealed.ciphertext, bodyAt);
    out.set(sealed.tag, bodyAt + plaintext.length);
  } else {
    const ivAndAad = randomBytes(TransportSizes.iv + TransportSizes.aad);
    out = await getAeadBackend(options.backend).seal(key, ivAndAad.subarray(0, TransportSizes.iv), ivAndAad.subarray(TransportSizes.iv), plaintext, { headroom: bodyAt, tailroom: V3_TRAILER });
    out.set(ivAndAad, ivAt);
  }
  out[0] = 3;
  writeInt32BE(out, 1, podId);
  writeInt64BE(out, 5, rotationId);
  out.set(keyId, out.length - V3_TRAILER);
  out[out.length - 1] = EncryptionMode.AES_GCM;
  return out;
}

/**
 * Decrypt a CiphertextTransport (version 1, 2 or 3) with `key`.
 * @param key the content key, or a function resolving it from the header's rotation id ({@link TransportKey}).
 * @throws KeyIdMismatchError (`KEY_ID_MISMATCH`) when a version-3 key id is not `key`'s.
 * @throws DecryptionFailedError (`DECRYPTION_FAILED`) when authentication fails.
 * @throws UnsupportedModeError (`UNSUPPORTED_MODE`) for an RSA mode, or CBC without opt-in.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for input that is not a transport or carries an
 *   unaccepted pod id; UnsupportedVersionError (`UNSUPPORTED_VERSION`) for an unknown version byte.
 */
export async function decryptTransport(key: TransportKey, transport: Uint8Array, options?: DecryptOptions): Promise<Uint8Array> {
  if (typeof key !== 'function') requireKey(key);
  options = optionsObject('options', options);
  const parsed = parseTransport(transport, options);
  const podIds = options.podIds ?? DEFAULT_POD_IDS;
  if (parsed.version !== 1 && podIds !== 'any' && !podIds.includes(parsed.podId)) {
    throw new MalformedCiphertextError(`CiphertextTransport v${parsed.version}`, `pod id ${parsed.podId} is not one of the accepted pod ids (${podIds.join(', ')})`);
  }
  if (typeof key === 'function') {
    key = await key(parsed.rotationId, parsed);
    requireKey(key);
  }
  if (parsed.keyId !== undefined && !constantTimeEqual(parsed.keyId, key.keyId)) throw new KeyIdMismatchError();
  if (parsed.mode === EncryptionMode.AES_GCM) {
    const ciphertextAndTag = transport.subarray(
      parsed.ciphertext.byteOffset - transport.byteOffset,
      parsed.tag.byteOffset - transport.byteOffset + TransportSizes.tag,
    );
    // Without an explicit backend, the runtime's frame cipher (synchronous over node:crypto) saves a promise hop per
    // message, which is a measurable share of a 1 KiB decryption.
    return options.backend === undefined
      ? platform.frameCipher.open(key, parsed.iv, parsed.aad, ciphertextAndTag)
      : getAeadBackend(options.backend).open(key, parsed.iv, parsed.aad, ciphertextAndTag);
  }
  if (parsed.mode === EncryptionMode.AES_CBC) {
    if (options.allowUnauthenticatedCbc !== true) {
      throw new UnsupportedModeError(parsed.mode, 'AES-CBC has no integrity; pass allowUnauthenticatedCbc: true to read it');
    }
    // Inferred layout (docs/wire-formats.md): the CBC ciphertext sits in the ciphertext field; the tag slot is unused.
    if (parsed.ciphertext.length % 16 !== 0) throw new DecryptionFailedError();
    return platform.aesCbcDecryptNoPadding(key.bytes, parsed.iv, parsed.ciphertext);
  }
  throw new UnsupportedModeError(parsed.mode, 'only AES-GCM (0) and, on opt-in, AES-CBC (1) carry symmetric content');
}

/**
 * Decode standard or URL-safe base64 into transport bytes.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) if the text is not base64 or is too long.
 */
export function transportFromBase64(text: string, maxLength = DEFAULT_MAX_TRANSPORT_LENGTH): Uint8Array {
  requireString('ciphertext', text);
  requirePositiveInteger('maxLength', maxLength);
  if (text.length > Math.ceil(maxLength / 3) * 4) {
    throw new MalformedCiphertextError('CiphertextTransport', `the base64 text exceeds the limit of ${maxLength} bytes`);
  }
  const bytes = tryFromBase64(text);
  if (bytes === undefined) throw new MalformedCiphertextError('CiphertextTransport', 'the text is not valid base64');
  return bytes;
}

/**
 * Encrypt a string as Symphony does for a chat field: UTF-8, version-3 transport, standard base64.
 * @example
 * ```ts
 * const field = await encryptText(key, 'hello <b>world</b>', { rotationId: 0 });
 * ```
 */
export async function encryptText(key: AesKey, text: string, options: EncryptOptions): Promise<string> {
  requireString('text', text);
  return toBase64(await encryptTransport(key, utf8(text), options));
}

/**
 * Decrypt a base64 chat field (any readable transport version) to a string.
 * @throws the errors of {@link decryptTransport} and {@link transportFromBase64}.
 */
export async function decryptText(key: TransportKey, base64: string, options?: DecryptOptions): Promise<string> {
  const checked = optionsObject('options', options);
  return fromUtf8(await decryptTransport(key, transportFromBase64(base64, checked.maxLength), checked));
}
