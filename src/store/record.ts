/**
 * Encrypted record v1: a self-describing, JSON-safe record for a bot's own database (SQLite, Postgres, Mongo…),
 * the allegro-ts counterpart of Allegro's `EncryptedApplicationRecord` (docs/protocol.md §1.6). It carries a clear
 * header the database can index, the thread and rotation whose content key protects it, an application record
 * type, and the payload sealed as an object envelope v1 (./envelope.ts). Layout, binding and checks:
 * docs/wire-formats.md "Encrypted record v1".
 *
 * The envelope is bound to the pod, thread, rotation and record type, and — through its sort-key field — to a
 * SHA-256 digest of the header's canonical JSON (RFC 8785) and of optional associated data that the application
 * supplies again on reading (a row's primary key, say) but that is not stored. So changing any field of a record
 * (header, thread, rotation, record type, ciphertext), or moving it to a row with other associated data, fails with
 * `DECRYPTION_FAILED`; re-ordering the header's keys, as databases do, does not.
 */
import { DecryptionFailedError, InvalidArgumentError, MalformedCiphertextError, UnsupportedVersionError } from '../errors.js';
import type { AeadBackend, AeadBackendName } from '../crypto/aead.js';
import type { AesKey } from '../crypto/aes-key.js';
import { platform } from '#platform';
import { canonicalJson, type JsonValue } from '../util/canonical-json.js';
import { fromUtf8, toBase64, toBase64Url, tryFromBase64, utf8 } from '../util/bytes.js';
import { describeValue, requireBase64Id, requireInt32, requireInt64 } from '../util/validate.js';
import { DEFAULT_MAX_ENVELOPE_LENGTH, EnvelopeSizes, openObject, readObjectHeader, sealObject, type ObjectContext } from './envelope.js';

export type { JsonValue } from '../util/canonical-json.js';

/** The `format` of every encrypted record. */
export const RECORD_FORMAT: EncryptedRecord['format'] = 'allegro-ts.record';

/** The record version this module reads and writes. */
export const RECORD_VERSION: EncryptedRecord['version'] = 1;

/** The envelope `partition` of every record: not a partition hash (it has spaces), so no object opens as a record. */
export const RECORD_PARTITION = 'allegro-ts record v1';

/** Default record type. */
export const DEFAULT_RECORD_TYPE = 'record';

/** Limits of encrypted record v1. */
export const RecordSizes = {
  /** Longest canonical header, in UTF-8 bytes. */
  maxHeader: 65_536,
  /** Longest associated data, in UTF-8 bytes. */
  maxAssociatedData: 65_536,
  /** Longest record type, in UTF-8 bytes (as an envelope's object type). */
  maxRecordType: EnvelopeSizes.maxText,
} as const;

const BINDING_LABEL = utf8('allegro-ts record v1');
const WHAT = 'encrypted record';
const FIELDS = ['format', 'version', 'threadId', 'rotationId', 'recordType', 'header', 'encryptedPayload'] as const;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ROTATION = /^(0|-?[1-9][0-9]{0,18})$/;
/** Longest `encryptedPayload`: the base64 of the largest envelope the reader accepts. */
const MAX_PAYLOAD_TEXT = Math.ceil(DEFAULT_MAX_ENVELOPE_LENGTH / 3) * 4;
/** Longest record given as JSON text. */
const MAX_RECORD_TEXT = MAX_PAYLOAD_TEXT + 6 * RecordSizes.maxHeader;

/** A clear record header: a JSON object (visible to the database; never put secrets here). */
export type RecordHeader = { [name: string]: JsonValue };

/** An encrypted record as stored: plain JSON (`JSON.stringify` it into a text column, or store it as a document). */
export interface EncryptedRecord {
  /** Always `allegro-ts.record`. */
  format: 'allegro-ts.record';
  /** Always 1. */
  version: 1;
  /** The thread whose content key protects the payload, URL-safe base64 without padding. */
  threadId: string;
  /** The rotation of that content key, as a decimal string (a 64-bit integer). */
  rotationId: string;
  /** The application's type of record. */
  recordType: string;
  /** The clear header. */
  header: RecordHeader;
  /** The object envelope v1 sealing the payload, standard base64. */
  encryptedPayload: string;
}

/** What {@link AllegroClient.encryptRecord} encrypts. */
export interface RecordInput {
  /** The thread whose current content key encrypts the payload: its members can decrypt the record. */
  threadId: string;
  /** The payload: bytes, or any JSON value (encoded as UTF-8 JSON). */
  payload: Uint8Array | unknown;
  /** Clear header (JSON object; bound to the ciphertext, readable without a key). Default `{}`. */
  header?: RecordHeader;
  /** The application's type of record (1–1024 UTF-8 bytes); bound to the ciphertext. Default `record`. */
  recordType?: string;
  /**
   * Data the record is bound to but that is not stored in it, such as the primary key of its row: decryption must
   * be given the same string, so a record copied to another row fails. Not secret. Default none (`''`).
   */
  associatedData?: string;
}

/** A decrypted record. */
export interface DecryptedRecord {
  threadId: string;
  rotationId: bigint;
  recordType: string;
  /** The clear header (authenticated: it is the header the record was encrypted with). */
  header: RecordHeader;
  /** The decrypted payload. */
  payload: Uint8Array;
  /** The payload parsed as UTF-8 JSON. */
  json<T = unknown>(): T;
}

/** Options of {@link sealRecord} and {@link openRecord}. */
export interface RecordCryptoOptions {
  /** AEAD backend; the runtime's default when absent. */
  backend?: AeadBackendName | AeadBackend;
}

/** Where a record's key comes from: the pod, and the thread and rotation of the content key. */
export interface RecordContext {
  podId: number;
  threadId: string;
  rotationId: bigint;
}

/** A record whose form has been checked, before any key is used. */
export interface ParsedRecord {
  threadId: string;
  rotationId: bigint;
  recordType: string;
  header: RecordHeader;
  /** The canonical JSON of the header. */
  headerText: string;
  envelope: Uint8Array;
}

/** Makes the error for a bad field: InvalidArgumentError on encryption, MalformedCiphertextError on decryption. */
type Fail = (parameter: string, expected: string, problem: string) => Error;

const TYPE_EXPECTED = `well-formed text of 1 to ${RecordSizes.maxRecordType} UTF-8 bytes`;
const HEADER_EXPECTED = `a JSON object of I-JSON values, at most ${RecordSizes.maxHeader} bytes as canonical JSON`;

function requireRecordType(value: unknown, fail: Fail): string {
  if (typeof value !== 'string') throw fail('recordType', TYPE_EXPECTED, describeValue(value));
  const length = utf8(value).length;
  if (length === 0 || length > RecordSizes.maxRecordType || LONE_SURROGATE.test(value)) throw fail('recordType', TYPE_EXPECTED, describeValue(value));
  return value;
}

function headerText(value: unknown, fail: Fail): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('header', HEADER_EXPECTED, describeValue(value));
  const text = canonicalJson(value, (path, problem) => fail(path.replace(/^\$/, 'header'), 'a JSON value', problem));
  const length = utf8(text).length;
  if (length > RecordSizes.maxHeader) throw fail('header', HEADER_EXPECTED, `${length} bytes of canonical JSON`);
  return text;
}

const invalid: Fail = (parameter, expected, problem) => new InvalidArgumentError(parameter, expected, problem);
const malformed: Fail = (parameter, expected, problem) => new MalformedCiphertextError(WHAT, `${parameter} is ${problem}, not ${expected}`);

function associatedBytes(value: unknown): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (typeof value !== 'string' || LONE_SURROGATE.test(value)) throw new InvalidArgumentError('associatedData', 'a well-formed string', describeValue(value));
  const bytes = utf8(value);
  if (bytes.length > RecordSizes.maxAssociatedData) throw new InvalidArgumentError('associatedData', `at most ${RecordSizes.maxAssociatedData} UTF-8 bytes`, `${bytes.length} bytes`);
  return bytes;
}

/** The envelope's sort key: base64url(SHA-256(label ‖ len ‖ canonical header ‖ len ‖ associated data)). */
function binding(header: string, associatedData: Uint8Array): string {
  const h = utf8(header);
  const lengths = new Uint8Array(8);
  const view = new DataView(lengths.buffer);
  view.setUint32(0, h.length, false);
  view.setUint32(4, associatedData.length, false);
  return toBase64Url(platform.sha256(BINDING_LABEL, lengths.subarray(0, 4), h, lengths.subarray(4), associatedData));
}

/**
 * The envelope is the record's ciphertext: one that does not parse does not authenticate, whatever the damage, so
 * its parse errors become `DECRYPTION_FAILED` like a failed tag. Anything else (bad arguments, bugs) passes.
 */
function unauthentic(err: unknown): unknown {
  return err instanceof MalformedCiphertextError || err instanceof UnsupportedVersionError ? new DecryptionFailedError() : err;
}

function envelopeContext(podId: number, r: { threadId: string; rotationId: bigint; recordType: string }, header: string, associatedData: Uint8Array): ObjectContext {
  return { podId, threadId: r.threadId, rotationId: r.rotationId, partition: RECORD_PARTITION, sortKey: binding(header, associatedData), objectType: r.recordType };
}

/**
 * Seal `plaintext` as a record under the content key of `ctx` (the caller fetched it for that thread and rotation).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the parameter: a header that is not a JSON object (or
 *   not JSON, or longer than 64 KiB canonical), a bad record type, associated data or context, or a plaintext the
 *   envelope refuses.
 */
export async function sealRecord(
  contentKey: AesKey, ctx: RecordContext, input: { plaintext: Uint8Array; header?: RecordHeader; recordType?: string; associatedData?: string }, options?: RecordCryptoOptions,
): Promise<EncryptedRecord> {
  const header = headerText(input.header ?? {}, invalid);
  const recordType = requireRecordType(input.recordType ?? DEFAULT_RECORD_TYPE, invalid);
  const threadId = requireBase64Id('ctx.threadId', ctx.threadId);
  const rotationId = requireInt64('ctx.rotationId', ctx.rotationId);
  const podId = requireInt32('ctx.podId', ctx.podId);
  const sealed = await sealObject(contentKey, envelopeContext(podId, { threadId, rotationId, recordType }, header, associatedBytes(input.associatedData)), input.plaintext, options);
  return {
    format: RECORD_FORMAT, version: RECORD_VERSION, threadId, rotationId: rotationId.toString(), recordType,
    header: JSON.parse(header) as RecordHeader, encryptedPayload: toBase64(sealed),
  };
}

/**
 * Check the form of a record (an object, or its JSON text) without a key: every field present and well formed,
 * nothing else, and the thread, rotation and record type equal to those in the envelope's clear header.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for anything that is not a record v1;
 *   UnsupportedVersionError (`UNSUPPORTED_VERSION`) for a record of another version; DecryptionFailedError
 *   (`DECRYPTION_FAILED`) when the envelope does not parse or disagrees with the record's fields.
 */
export function readRecord(value: unknown): ParsedRecord {
  const refuse = (problem: string) => new MalformedCiphertextError(WHAT, problem);
  let record = value;
  if (typeof record === 'string') {
    if (record.length > MAX_RECORD_TEXT) throw refuse(`text longer than ${MAX_RECORD_TEXT} characters`);
    try {
      record = JSON.parse(record) as unknown;
    } catch {
      throw refuse('the text is not JSON');
    }
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw refuse(`${describeValue(record)} is not a record`);
  const r = record as Record<string, unknown>;
  if (r.format !== RECORD_FORMAT) throw refuse(`format is not ${RECORD_FORMAT}`);
  if (typeof r.version !== 'number' || !Number.isSafeInteger(r.version)) throw refuse('version is not an integer');
  if (r.version !== RECORD_VERSION) throw new UnsupportedVersionError(WHAT, r.version, [RECORD_VERSION]);
  const extra = Object.keys(r).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra !== undefined) throw refuse('it has a field that is not one of a record v1');
  const threadBytes = typeof r.threadId === 'string' && r.threadId.length <= 512 ? tryFromBase64(r.threadId) : undefined;
  if (threadBytes === undefined || threadBytes.length === 0 || threadBytes.length > EnvelopeSizes.maxThreadId || toBase64Url(threadBytes) !== r.threadId) {
    throw refuse(`threadId is not URL-safe unpadded base64 of 1 to ${EnvelopeSizes.maxThreadId} bytes`);
  }
  if (typeof r.rotationId !== 'string' || !ROTATION.test(r.rotationId)) throw refuse('rotationId is not a decimal integer string');
  const rotationId = BigInt(r.rotationId);
  if (rotationId !== BigInt.asIntN(64, rotationId)) throw refuse('rotationId is outside the 64-bit range');
  const recordType = requireRecordType(r.recordType, malformed);
  const text = headerText(r.header, malformed);
  if (typeof r.encryptedPayload !== 'string' || r.encryptedPayload.length > MAX_PAYLOAD_TEXT) throw refuse('encryptedPayload is not a string of base64');
  const envelope = tryFromBase64(r.encryptedPayload);
  if (envelope === undefined || toBase64(envelope) !== r.encryptedPayload) throw refuse('encryptedPayload is not canonical standard base64');
  let clear: ReturnType<typeof readObjectHeader>;
  try {
    clear = readObjectHeader(envelope);
  } catch (err) {
    throw unauthentic(err);
  }
  if (clear.threadId !== r.threadId || clear.rotationId !== rotationId || clear.objectType !== recordType || clear.partition !== RECORD_PARTITION) {
    throw new DecryptionFailedError();
  }
  return { threadId: r.threadId, rotationId, recordType, header: JSON.parse(text) as RecordHeader, headerText: text, envelope };
}

/**
 * Decrypt a record read by {@link readRecord} with the content key of its thread and rotation.
 * @param associatedData what the record was encrypted with (default none).
 * @throws DecryptionFailedError (`DECRYPTION_FAILED`) for a wrong key, pod or associated data, or any change to the
 *   record; InvalidArgumentError (`INVALID_ARGUMENT`) for bad arguments.
 */
export async function openRecord(contentKey: AesKey, podId: number, record: ParsedRecord, associatedData?: string, options?: RecordCryptoOptions): Promise<DecryptedRecord> {
  const ctx = envelopeContext(requireInt32('podId', podId), record, record.headerText, associatedBytes(associatedData));
  let payload: Uint8Array;
  try {
    payload = await openObject(contentKey, ctx, record.envelope, options);
  } catch (err) {
    throw unauthentic(err);
  }
  return {
    threadId: record.threadId, rotationId: record.rotationId, recordType: record.recordType, header: record.header, payload,
    json: <T>() => JSON.parse(fromUtf8(payload)) as T,
  };
}
