/**
 * The one door to protobufjs: encodes and decodes `allegro_ts.v1.ObjectEnvelope` (proto/allegro_ts/v1/envelope.proto)
 * with the static code generated into ./envelope.js by `npm run proto`. No other module imports protobufjs.
 *
 * - Size cap: input longer than `maxLength` is refused before protobufjs sees a byte.
 * - Trust boundary: every decode error becomes `MALFORMED_CIPHERTEXT`; the decoded message and every message about
 *   to be encoded go through the generated `verify`.
 * - int64 policy: the generated code keeps `rotation_id` as a Long (`--force-long`); this module converts it to and
 *   from a `bigint` through its two 32-bit halves, so no value in [-2^63, 2^63) loses precision. If protobufjs runs
 *   without long.js (it then decodes int64 as a JS number), an unsafe value is refused rather than rounded.
 * - Canonical output: fields holding their proto3 default (0, empty string, empty bytes) are omitted and fields are
 *   written in field-number order, which is what every conforming proto3 encoder produces. {@link isCanonical}
 *   checks `encodeEnvelope(decodeEnvelope(x)) == x`, which refuses unknown fields, padded varints, explicit
 *   defaults, repeated fields and invalid UTF-8, so one envelope has exactly one encoding.
 */
import $protobuf from 'protobufjs/minimal.js';
import { InvalidArgumentError, MalformedCiphertextError } from '../../errors.js';
import { describeValue } from '../../util/validate.js';
import { allegro_ts } from './envelope.js';

const ObjectEnvelope = allegro_ts.v1.ObjectEnvelope;
type RotationLong = NonNullable<allegro_ts.v1.IObjectEnvelope['rotationId']>;

const WHAT = 'object envelope';

/** Every field of an `allegro_ts.v1.ObjectEnvelope`, with `rotationId` as an exact bigint. */
export interface EnvelopeMessage {
  version: number;
  podId: number;
  threadId: Uint8Array;
  rotationId: bigint;
  partition: string;
  sortKey: string;
  objectType: string;
  salt: Uint8Array;
  keyCommitment: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

const TWO_32 = 1n << 32n;

/** Long-like value (long.js Long or protobufjs' {low, high}) or a number → bigint, exactly or not at all. */
function int64ToBigInt(value: unknown): bigint {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return BigInt(value);
    throw new MalformedCiphertextError(WHAT, 'rotationId cannot be represented exactly (protobufjs is running without long.js)');
  }
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: unknown; high: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0));
    }
  }
  throw new MalformedCiphertextError(WHAT, 'rotationId is not an integer');
}

/** bigint in [-2^63, 2^63) → the {low, high} bits protobufjs' writer accepts without needing long.js. */
function bigIntToInt64(value: bigint): RotationLong {
  const bits = BigInt.asUintN(64, value);
  const low = Number(bits % TWO_32) | 0;
  const high = Number(bits / TWO_32) | 0;
  // protobufjs' Writer.int64 reads only `low` and `high` (util.LongBits.from); the declared type is long.js' Long.
  return { low, high, unsigned: false } as unknown as RotationLong;
}

/**
 * Encode an envelope in canonical proto3 form (defaults omitted, field-number order).
 * @throws InvalidArgumentError if a field has the wrong type (a bug in the caller: the envelope module validates first).
 */
export function encodeEnvelope(message: EnvelopeMessage): Uint8Array {
  const plain: allegro_ts.v1.IObjectEnvelope = {};
  if (message.version !== 0) plain.version = message.version;
  if (message.podId !== 0) plain.podId = message.podId;
  if (message.threadId.length !== 0) plain.threadId = message.threadId;
  if (message.rotationId !== 0n) plain.rotationId = bigIntToInt64(message.rotationId);
  if (message.partition !== '') plain.partition = message.partition;
  if (message.sortKey !== '') plain.sortKey = message.sortKey;
  if (message.objectType !== '') plain.objectType = message.objectType;
  if (message.salt.length !== 0) plain.salt = message.salt;
  if (message.keyCommitment.length !== 0) plain.keyCommitment = message.keyCommitment;
  if (message.iv.length !== 0) plain.iv = message.iv;
  if (message.ciphertext.length !== 0) plain.ciphertext = message.ciphertext;
  const problem = ObjectEnvelope.verify(plain);
  if (problem !== null) throw new InvalidArgumentError('envelope', 'a valid ObjectEnvelope', problem);
  const out = ObjectEnvelope.encode(plain).finish();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decode an envelope. Byte fields are views into `bytes`, not copies. Checks only the protobuf layer: field sizes,
 * the version and canonical form are the envelope module's business.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for input longer than `maxLength` (checked before
 *   decoding), input that is not a protobuf message, or a message that fails `verify`.
 */
export function decodeEnvelope(bytes: Uint8Array, maxLength: number): EnvelopeMessage {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('envelope', 'a Uint8Array', describeValue(bytes));
  if (bytes.length > maxLength) throw new MalformedCiphertextError(WHAT, `${bytes.length} bytes exceeds the limit of ${maxLength}`);
  let decoded: allegro_ts.v1.ObjectEnvelope;
  try {
    decoded = ObjectEnvelope.decode(bytes);
  } catch {
    throw new MalformedCiphertextError(WHAT, 'not a protobuf ObjectEnvelope');
  }
  const problem = ObjectEnvelope.verify(decoded);
  if (problem !== null) throw new MalformedCiphertextError(WHAT, problem);
  return {
    version: decoded.version,
    podId: decoded.podId,
    threadId: decoded.threadId,
    rotationId: int64ToBigInt(decoded.rotationId),
    partition: decoded.partition,
    sortKey: decoded.sortKey,
    objectType: decoded.objectType,
    salt: decoded.salt,
    keyCommitment: decoded.keyCommitment,
    iv: decoded.iv,
    ciphertext: decoded.ciphertext,
  };
}

const EMPTY = new Uint8Array(0);
const CIPHERTEXT_TAG = (11 << 3) | 2; // field 11, wire type 2 (length-delimited)

/**
 * Whether `bytes` is exactly the canonical encoding of `message`, which must be `decodeEnvelope(bytes)`.
 * Compares the re-encoded header fields and the ciphertext's tag and length, not the ciphertext itself: decoding took
 * it verbatim from the end of `bytes`, so comparing it again would only cost time (≈100 ms per 64 MiB).
 */
export function isCanonical(bytes: Uint8Array, message: EnvelopeMessage): boolean {
  const head = encodeEnvelope({ ...message, ciphertext: EMPTY });
  const ciphertextLength = message.ciphertext.length;
  const trailer = ciphertextLength === 0 ? EMPTY : $protobuf.Writer.create().uint32(CIPHERTEXT_TAG).uint32(ciphertextLength).finish();
  if (bytes.length !== head.length + trailer.length + ciphertextLength) return false;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head[i]) return false;
  for (let i = 0; i < trailer.length; i++) if (bytes[head.length + i] !== trailer[i]) return false;
  return true;
}

/** Whether this runtime's protobufjs decodes int64 as exact Long objects (true wherever long.js loads, e.g. Node). */
export function hasExactInt64(): boolean {
  return $protobuf.util.Long !== null && $protobuf.util.Long !== undefined;
}
