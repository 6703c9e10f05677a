/**
 * "allegro-ts blob v1": framed streaming AEAD for large payloads (files, attachments, exports) encrypted with a
 * thread's content key, in constant memory and with random-access decryption. The design follows the STREAM
 * construction as Tink's AES-GCM-HKDF streaming AEAD and the AWS Encryption SDK's framed body use it
 * (docs/architecture.md "Design rationale"), with AWS-style key commitment.
 *
 * Wire format (all integers big-endian):
 *
 * | offset | length | field                                                                    |
 * |-------:|-------:|--------------------------------------------------------------------------|
 * |      0 |      4 | magic `ATB1` (0x41 0x54 0x42 0x31)                                       |
 * |      4 |      1 | version, 1                                                               |
 * |      5 |      4 | frame size F, uint32, 4,096 ≤ F ≤ 4,194,304 (default 65,536)             |
 * |      9 |     32 | salt, random per blob                                                    |
 * |     41 |     32 | key commitment                                                           |
 * |     73 |      … | frames: F + 16 bytes each, then one final frame of 16..F + 15 bytes      |
 *
 * - The context ({@link BlobContext}: pod, thread, rotation, blob id) is not stored; the reader supplies it.
 *   `contextDigest = SHA-256(header[0..41) ‖ canonical context)` is computed once per blob.
 * - `PRK = HMAC-SHA256(salt, contentKey)` (HKDF-Extract, RFC 5869); the per-blob key is
 *   `HKDF-Expand(PRK, "allegro-ts blob v1", 32)` and the commitment is
 *   `HKDF-Expand(PRK, "allegro-ts blob commit" ‖ contextDigest, 32)`. The reader recomputes the commitment and
 *   compares it in constant time before opening any frame, so a wrong key, a wrong context or an altered header
 *   fails at once with `DECRYPTION_FAILED`, and no ciphertext decrypts under two keys (key commitment).
 * - Frame i (0-based) = AES-256-GCM(per-blob key, nonce = uint64 i ‖ uint32 last, AAD = contextDigest), written
 *   `ciphertext ‖ tag`, where `last` is 1 on the final frame only. Every frame but the final one holds exactly F
 *   plaintext bytes; the final frame holds the remaining 0..F − 1 bytes (so a blob whose size is a multiple of F
 *   ends with an empty final frame, and an empty blob is one empty final frame). The final frame is therefore
 *   recognisable by its length alone, which lets both directions stream without look-ahead; the nonce flag makes
 *   truncation (no final frame), extension (bytes after it), reordering and duplication fail authentication.
 *
 * Guarantees: a frame's plaintext is released only after its tag verified. A streaming reader may have released
 * the frames before a failure; the output is complete and authentic only once the iteration ends without error.
 * Memory is constant: at most one frame is buffered beyond the chunk being processed.
 *
 * Portable: no Node imports (Node stream adapters are in ./blob-node-streams.ts); GCM runs through
 * `platform.frameCipher` (node:crypto in Node, WebCrypto in browsers) unless `options.backend` chooses another, and
 * on all cores with `options.parallel` (./blob-pipeline.ts over `platform.frameWorkers`; docs/architecture.md "Blobs
 * on all cores"), with the same bytes and errors.
 */
import { getAeadBackend } from '../crypto/backends.js';
import type { AeadBackend, AeadBackendName } from '../crypto/aead.js';
import { GCM_TAG_LENGTH } from '../crypto/aead.js';
import { AesKey } from '../crypto/aes-key.js';
import { frameCipherOver, type FrameCipher } from '../crypto/frame-cipher.js';
import { platform } from '#platform';
import { DecryptionFailedError, InvalidArgumentError, MalformedCiphertextError, UnsupportedOperationError, UnsupportedVersionError } from '../errors.js';
import { constantTimeEqual, toBase64Url, tryFromBase64, utf8 } from '../util/bytes.js';
import { describeValue, optionsObject, requireInt32, requireInt64 } from '../util/validate.js';
import { openSource, type ByteSource, type OpenedSource } from '../util/web-streams.js';
import { FramePipeline, type ThreadPlan } from './blob-pipeline.js';

/** Magic bytes at the start of every blob: ASCII `ATB1`. */
export const BLOB_MAGIC: Uint8Array = Uint8Array.of(0x41, 0x54, 0x42, 0x31);
/** The only version written and read. */
export const BLOB_VERSION = 1;
/** Length of the fixed header. */
export const BLOB_HEADER_LENGTH = 73;
/** Frame size used when the caller does not choose one. */
export const DEFAULT_BLOB_FRAME_SIZE = 65_536;
/** Smallest allowed frame size (4 KiB). */
export const MIN_BLOB_FRAME_SIZE = 4_096;
/** Largest allowed frame size (4 MiB). */
export const MAX_BLOB_FRAME_SIZE = 4_194_304;
/** Longest thread id or blob id, in UTF-8 bytes (or decoded base64 bytes for a thread id). */
export const MAX_BLOB_ID_LENGTH = 1_024;

const WHAT = 'allegro-ts blob';
const SALT_OFFSET = 9;
const SALT_LENGTH = 32;
const COMMITMENT_OFFSET = 41;
const COMMITMENT_LENGTH = 32;
const NONCE_LENGTH = 12;
const KEY_INFO = utf8('allegro-ts blob v1');
const COMMIT_INFO = utf8('allegro-ts blob commit');
const HKDF_BLOCK_1 = Uint8Array.of(1);

/** What a blob is bound to. The reader must supply the same values; none of them is stored in the blob. */
export interface BlobContext {
  /** Pod id, a signed 32-bit integer (as in CiphertextTransport). */
  podId: number;
  /**
   * Thread (stream) id. Standard and URL-safe base64 spellings of the same id, padded or not, bind the same
   * thread; any other string is bound as its UTF-8 bytes.
   */
  threadId: string;
  /** Rotation id of the content key, a signed 64-bit integer. */
  rotationId: bigint;
  /** The caller's id for this blob (for example the object id or file name), UTF-8, 1..1,024 bytes. */
  blobId: string;
}

/** Options of {@link encryptBlob} and the encrypting stream adapters. */
export interface EncryptBlobOptions {
  /** Plaintext bytes per frame, 4,096..4,194,304; default 65,536. */
  frameSize?: number;
  /** AES-GCM implementation; default `platform.frameCipher` (node:crypto in Node). */
  backend?: AeadBackendName | AeadBackend;
  /** Seal frames on all cores: see {@link BlobParallelism}; default {@link DEFAULT_BLOB_PARALLELISM}. */
  parallel?: BlobParallelism;
}

/**
 * Whether a blob's frames are sealed or opened on all cores: on worker threads (`platform.frameWorkers`: one per CPU
 * but one, in Node) and on the calling thread (docs/architecture.md "Blobs on all cores"). The bytes and the errors
 * are the same either way.
 *
 * - `'auto'`: once {@link PARALLEL_THRESHOLD} bytes of the blob have passed and a thread is ready (they start in the
 *   background, so no frame waits for them), when the default backend is used on a machine with more than one CPU;
 *   on the calling thread only otherwise.
 * - `true`: from the first frame. `UNSUPPORTED_OPERATION` where there are no worker threads (portable platform);
 *   `INVALID_ARGUMENT` with a `backend` other than the default (the threads use node:crypto).
 * - `false`: always on this thread.
 */
export type BlobParallelism = boolean | 'auto';

/**
 * What `options.parallel` is when not given: `false` for now, because on the only machine measured so far the parallel
 * path cost about twice the CPU per byte of one thread and was slower (docs/performance.md §7); `'auto'` once a
 * measurement shows it faster.
 */
export const DEFAULT_BLOB_PARALLELISM: BlobParallelism = false;

/** Options of {@link decryptBlob}, {@link decryptRange} and the decrypting stream adapters. */
export interface DecryptBlobOptions {
  /** AES-GCM implementation; default `platform.frameCipher` (node:crypto in Node). */
  backend?: AeadBackendName | AeadBackend;
  /** Open frames on all cores: see {@link BlobParallelism}; default {@link DEFAULT_BLOB_PARALLELISM}. */
  parallel?: BlobParallelism;
}


/** Reads `length` bytes at `offset` of a stored blob (for example an HTTP range request). */
export type BlobRangeReader = (offset: number, length: number) => Promise<Uint8Array>;

/** The parsed fixed header of a blob (readable without the key; nothing in it is secret). */
export interface BlobHeader {
  version: number;
  frameSize: number;
  salt: Uint8Array;
  commitment: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation and encodings

function requireFrameSize(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_BLOB_FRAME_SIZE && value <= MAX_BLOB_FRAME_SIZE) return value;
  throw new InvalidArgumentError(parameter, `an integer from ${MIN_BLOB_FRAME_SIZE} to ${MAX_BLOB_FRAME_SIZE}`, describeValue(value));
}

function requireSize(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new InvalidArgumentError(parameter, 'a non-negative safe integer', describeValue(value));
}

function requireKey(key: unknown): AesKey {
  if (!(key instanceof AesKey)) throw new InvalidArgumentError('key', 'an AesKey', describeValue(key));
  void key.bytes; // a wiped key throws INVALID_ARGUMENT here, before any work
  return key;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function requireIdText(parameter: string, value: unknown): Uint8Array {
  if (typeof value !== 'string' || value.length === 0 || LONE_SURROGATE.test(value)) {
    throw new InvalidArgumentError(parameter, 'a non-empty well-formed string', describeValue(value));
  }
  const bytes = utf8(value);
  if (bytes.length > MAX_BLOB_ID_LENGTH) throw new InvalidArgumentError(parameter, `at most ${MAX_BLOB_ID_LENGTH} UTF-8 bytes`, describeValue(value));
  return bytes;
}

/** Thread id → (tag, bytes): canonical base64 spellings (either alphabet, padding optional) bind their bytes. */
function threadIdBytes(threadId: unknown): { tag: number; bytes: Uint8Array } {
  const text = requireIdText('ctx.threadId', threadId);
  const id = threadId as string;
  const decoded = tryFromBase64(id);
  if (decoded !== undefined && decoded.length > 0 && decoded.length <= MAX_BLOB_ID_LENGTH &&
    toBase64Url(decoded) === id.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')) {
    return { tag: 1, bytes: decoded };
  }
  return { tag: 2, bytes: text };
}

/**
 * The canonical encoding of a context: int32 podId ‖ int64 rotationId ‖ uint8 thread tag ‖ uint16 length ‖
 * thread bytes ‖ uint16 length ‖ blobId UTF-8.
 */
function encodeContext(ctx: unknown): Uint8Array {
  if (typeof ctx !== 'object' || ctx === null) throw new InvalidArgumentError('ctx', 'a BlobContext object', describeValue(ctx));
  const c = ctx as Partial<Record<keyof BlobContext, unknown>>;
  const podId = requireInt32('ctx.podId', c.podId);
  if (typeof c.rotationId !== 'bigint') throw new InvalidArgumentError('ctx.rotationId', 'a signed 64-bit integer (bigint)', describeValue(c.rotationId));
  const rotationId = requireInt64('ctx.rotationId', c.rotationId);
  const thread = threadIdBytes(c.threadId);
  const blob = requireIdText('ctx.blobId', c.blobId);
  const out = new Uint8Array(4 + 8 + 1 + 2 + thread.bytes.length + 2 + blob.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, podId);
  view.setBigInt64(4, rotationId);
  view.setUint8(12, thread.tag);
  view.setUint16(13, thread.bytes.length);
  out.set(thread.bytes, 15);
  view.setUint16(15 + thread.bytes.length, blob.length);
  out.set(blob, 17 + thread.bytes.length);
  return out;
}

/** Write the nonce of frame `index` into `target`: uint64 index ‖ uint32 last. */
function writeFrameNonce(target: Uint8Array, index: number, last: boolean): Uint8Array {
  const view = new DataView(target.buffer, target.byteOffset, NONCE_LENGTH);
  view.setUint32(0, Math.floor(index / 2 ** 32));
  view.setUint32(4, index >>> 0);
  view.setUint32(8, last ? 1 : 0);
  return target;
}

function resolveCipher(backend: AeadBackendName | AeadBackend | undefined): FrameCipher {
  if (backend === undefined || backend === platform.defaultAead.name || backend === platform.defaultAead) return platform.frameCipher;
  return frameCipherOver(getAeadBackend(backend));
}

/** Per-blob key, frame AAD and commitment, derived from the content key, the header prefix and the context. */
interface BlobKeys {
  key: AesKey;
  aad: Uint8Array;
  commitment: Uint8Array;
}

function deriveKeys(contentKey: AesKey, headerPrefix: Uint8Array, context: Uint8Array): BlobKeys {
  const aad = platform.sha256(headerPrefix, context);
  const prk = platform.hmacSha256(headerPrefix.subarray(SALT_OFFSET, SALT_OFFSET + SALT_LENGTH), contentKey.bytes);
  const okm = platform.hmacSha256(prk, KEY_INFO, HKDF_BLOCK_1);
  const commitment = platform.hmacSha256(prk, COMMIT_INFO, aad, HKDF_BLOCK_1);
  const key = new AesKey(okm);
  prk.fill(0);
  okm.fill(0);
  return { key, aad, commitment };
}

/**
 * Parse the fixed header without the key.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for fewer than 73 bytes, bad magic or a frame size
 *   out of range; UnsupportedVersionError (`UNSUPPORTED_VERSION`) for a version other than 1.
 */
export function parseBlobHeader(bytes: Uint8Array): BlobHeader {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('header', 'a Uint8Array', describeValue(bytes));
  if (bytes.length < BLOB_HEADER_LENGTH) throw new MalformedCiphertextError(WHAT, `truncated header (${bytes.length} of ${BLOB_HEADER_LENGTH} bytes)`);
  for (let i = 0; i < BLOB_MAGIC.length; i++) {
    if (bytes[i] !== BLOB_MAGIC[i]) throw new MalformedCiphertextError(WHAT, 'bad magic (not an allegro-ts blob)');
  }
  const version = bytes[4]!;
  if (version !== BLOB_VERSION) throw new UnsupportedVersionError(WHAT, version, [BLOB_VERSION]);
  const frameSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5);
  if (frameSize < MIN_BLOB_FRAME_SIZE || frameSize > MAX_BLOB_FRAME_SIZE) throw new MalformedCiphertextError(WHAT, `frame size ${frameSize} out of range`);
  return {
    version,
    frameSize,
    salt: bytes.slice(SALT_OFFSET, SALT_OFFSET + SALT_LENGTH),
    commitment: bytes.slice(COMMITMENT_OFFSET, COMMITMENT_OFFSET + COMMITMENT_LENGTH),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Sizes

/**
 * Size of the blob that encrypting `plainSize` bytes produces.
 * @throws InvalidArgumentError for a negative or unsafe size or a frame size out of range.
 */
export function ciphertextSize(plainSize: number, frameSize: number = DEFAULT_BLOB_FRAME_SIZE): number {
  requireSize('plainSize', plainSize);
  requireFrameSize('frameSize', frameSize);
  const frames = Math.floor(plainSize / frameSize) + 1;
  const size = BLOB_HEADER_LENGTH + plainSize + frames * GCM_TAG_LENGTH;
  if (!Number.isSafeInteger(size)) throw new InvalidArgumentError('plainSize', 'a size whose ciphertext size is a safe integer', describeValue(plainSize));
  return size;
}

/**
 * Plaintext size of a blob of `cipherSize` bytes.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) when no blob has that size (shorter than an empty
 *   blob, or a final frame shorter than a tag); InvalidArgumentError for a bad argument.
 */
export function plaintextSize(cipherSize: number, frameSize: number = DEFAULT_BLOB_FRAME_SIZE): number {
  requireSize('cipherSize', cipherSize);
  requireFrameSize('frameSize', frameSize);
  const body = cipherSize - BLOB_HEADER_LENGTH;
  if (body < GCM_TAG_LENGTH) throw new MalformedCiphertextError(WHAT, `${cipherSize} bytes is shorter than an empty blob`);
  const record = frameSize + GCM_TAG_LENGTH;
  const fullFrames = Math.floor(body / record);
  const finalRecord = body - fullFrames * record;
  if (finalRecord < GCM_TAG_LENGTH) throw new MalformedCiphertextError(WHAT, `no blob with frame size ${frameSize} is ${cipherSize} bytes long`);
  return fullFrames * frameSize + finalRecord - GCM_TAG_LENGTH;
}

// ---------------------------------------------------------------------------------------------------------------
// Chunking

/**
 * Cuts a stream of chunks into pieces of exactly `size` bytes. Pieces lying within one chunk are views of it
 * (no copy); pieces spanning chunks are assembled in one reused buffer, so each piece must be consumed before the
 * generator is resumed.
 */
class Chunker {
  readonly #size: number;
  #buffer: Uint8Array | undefined;
  #fill = 0;

  constructor(size: number) {
    this.#size = size;
  }

  *push(chunk: Uint8Array): Generator<Uint8Array> {
    const size = this.#size;
    let offset = 0;
    if (this.#fill > 0) {
      const buffer = this.#buffer!;
      const take = Math.min(size - this.#fill, chunk.length);
      buffer.set(chunk.subarray(0, take), this.#fill);
      this.#fill += take;
      offset = take;
      if (this.#fill < size) return;
      this.#fill = 0;
      yield buffer;
    }
    while (chunk.length - offset >= size) {
      yield chunk.subarray(offset, offset + size);
      offset += size;
    }
    if (offset < chunk.length) {
      this.#buffer ??= new Uint8Array(size);
      this.#buffer.set(chunk.subarray(offset), 0);
      this.#fill = chunk.length - offset;
    }
  }

  /** The bytes after the last full piece (a view of the reused buffer). */
  rest(): Uint8Array {
    return this.#buffer === undefined ? new Uint8Array(0) : this.#buffer.subarray(0, this.#fill);
  }

  wipe(): void {
    this.#buffer?.fill(0);
    this.#fill = 0;
  }
}

function badChunk(chunk: unknown): InvalidArgumentError {
  return new InvalidArgumentError('source', 'chunks of type Uint8Array', `a chunk that is ${describeValue(chunk)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// One thread or all

/** Bytes of a blob processed on the calling thread alone before `parallel: 'auto'` turns to all cores. */
export const PARALLEL_THRESHOLD = 8 * 1024 * 1024;

function resolveThreads(value: unknown, cipher: FrameCipher): ThreadPlan | undefined {
  if (value !== undefined && value !== 'auto' && value !== true && value !== false) {
    throw new InvalidArgumentError('options.parallel', "true, false or 'auto'", describeValue(value));
  }
  const workers = platform.frameWorkers;
  const parallel = value ?? DEFAULT_BLOB_PARALLELISM;
  if (parallel === false) return undefined;
  if (parallel !== true) return workers !== undefined && workers.cpus > 1 && cipher === platform.frameCipher ? { workers, after: PARALLEL_THRESHOLD } : undefined;
  if (workers === undefined) {
    throw new UnsupportedOperationError('sealing and opening blob frames on worker threads', platform.name, "the runtime has no worker threads; leave options.parallel unset or false");
  }
  if (cipher !== platform.frameCipher) {
    throw new InvalidArgumentError('options.parallel', `false or 'auto' with the ${cipher.name} backend (the threads use ${platform.frameCipher.name})`, 'true');
  }
  return { workers, after: 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// Encryption and decryption state machines, shared by the generators and the stream adapters

/**
 * What sealing and opening share: the frame index and nonce, and where each frame is processed — on this thread, or
 * on all cores (the worker threads of a {@link ThreadPlan} and this thread) from the frame at which the plan engages
 * (./blob-pipeline.ts). Frames are numbered, and their outputs released, in input order either way, so the bytes and
 * the errors are the same.
 *
 * Use: {@link header} (sealing), {@link write} for every chunk, {@link end}; on a failure of the source,
 * {@link drain} before passing the failure on; {@link wipe} at the end or on abandoning.
 */
abstract class FrameStream {
  readonly #plan: ThreadPlan | undefined;
  readonly #nonce = new Uint8Array(NONCE_LENGTH);
  #pipeline: FramePipeline | undefined;
  #index = 0;
  #bytesHere = 0;

  constructor(plan: ThreadPlan | undefined) {
    this.#plan = plan;
  }

  /** The bytes to emit before anything else (the header when sealing). */
  abstract readonly header: Uint8Array | undefined;

  /** The outputs of the frames that `chunk` completes (a non-Uint8Array chunk fails after the frames before it). */
  abstract write(chunk: unknown): AsyncGenerator<Uint8Array>;

  /** The outputs of every frame still in flight, then of the final frame. */
  abstract end(): AsyncGenerator<Uint8Array>;

  /** Seal or open one frame on this thread. */
  protected abstract here(input: Uint8Array, nonce: Uint8Array): Promise<Uint8Array[]>;

  /** The error for a blob of 2^53 frames or more. */
  protected abstract tooManyFrames(): Error;

  /** Take the frames from now on to the plan's threads, once it engages. */
  protected useThreads(direction: 'seal' | 'open', key: AesKey, aad: Uint8Array, frameLength: number): void {
    if (this.#plan !== undefined) this.#pipeline = new FramePipeline(this.#plan, direction, key, aad, frameLength, (input, nonce) => this.here(input, nonce));
  }

  /** The outputs of the complete, non-final frames `inputs`, in order. */
  protected async *frames(inputs: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for (const input of inputs) {
      const nonce = this.#nextNonce(false);
      const pipeline = this.#pipeline;
      if (pipeline?.engage(this.#bytesHere) === true) {
        await pipeline.add(input, nonce);
        if (pipeline.full) yield* pipeline.next();
      } else {
        for (const part of await this.here(input, nonce)) yield part;
        this.#bytesHere += input.length;
      }
    }
    if (this.#pipeline !== undefined) yield* this.#pipeline.ready();
  }

  /** The outputs of every frame in flight, then of the final frame `input`. */
  protected async *final(input: Uint8Array): AsyncGenerator<Uint8Array> {
    yield* this.drain();
    yield* await this.here(input, this.#nextNonce(true));
  }

  /** The outputs of every frame in flight, in order. */
  async *drain(): AsyncGenerator<Uint8Array> {
    if (this.#pipeline !== undefined) yield* this.#pipeline.finish();
  }

  /** Fail on a chunk that is not a Uint8Array, after the outputs of the frames in flight. */
  protected async *refuse(chunk: unknown): AsyncGenerator<Uint8Array, never> {
    yield* this.drain();
    throw badChunk(chunk);
  }

  wipe(): void {
    this.#pipeline?.close();
  }

  #nextNonce(last: boolean): Uint8Array {
    if (!Number.isSafeInteger(this.#index + 1)) throw this.tooManyFrames();
    writeFrameNonce(this.#nonce, this.#index++, last);
    return this.#nonce;
  }
}

/** Encrypting state of one blob. */
class BlobSealer extends FrameStream {
  readonly #cipher: FrameCipher;
  readonly #chunker: Chunker;
  readonly header: Uint8Array;
  readonly #keys: BlobKeys;

  constructor(contentKey: AesKey, context: Uint8Array, frameSize: number, cipher: FrameCipher, plan: ThreadPlan | undefined) {
    super(plan);
    this.#cipher = cipher;
    this.#chunker = new Chunker(frameSize);
    const header = new Uint8Array(BLOB_HEADER_LENGTH);
    header.set(BLOB_MAGIC, 0);
    header[4] = BLOB_VERSION;
    new DataView(header.buffer).setUint32(5, frameSize);
    platform.randomFill(header.subarray(SALT_OFFSET, SALT_OFFSET + SALT_LENGTH));
    this.#keys = deriveKeys(contentKey, header.subarray(0, COMMITMENT_OFFSET), context);
    header.set(this.#keys.commitment, COMMITMENT_OFFSET);
    this.header = header;
    this.useThreads('seal', this.#keys.key, this.#keys.aad, frameSize);
  }

  async *write(chunk: unknown): AsyncGenerator<Uint8Array> {
    if (!(chunk instanceof Uint8Array)) return yield* this.refuse(chunk);
    yield* this.frames(this.#chunker.push(chunk));
  }

  end(): AsyncGenerator<Uint8Array> {
    return this.final(this.#chunker.rest());
  }

  /** The frame's wire bytes as one or two arrays. */
  protected async here(plaintext: Uint8Array, nonce: Uint8Array): Promise<Uint8Array[]> {
    const { ciphertext, tag } = await this.#cipher.seal(this.#keys.key, nonce, this.#keys.aad, plaintext);
    if (tag.buffer === ciphertext.buffer && tag.byteOffset === ciphertext.byteOffset + ciphertext.byteLength) {
      return [new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength + tag.byteLength)];
    }
    return ciphertext.length === 0 ? [tag] : [ciphertext, tag];
  }

  protected tooManyFrames(): Error {
    return new InvalidArgumentError('source', 'fewer than 2^53 frames', 'more');
  }

  override wipe(): void {
    super.wipe();
    this.#keys.key.wipe();
    this.#chunker.wipe();
  }
}

/** Decrypting state of one blob: header first, then records of F + 16 bytes, then the final record at the end. */
class BlobOpener extends FrameStream {
  readonly #contentKey: AesKey;
  readonly #context: Uint8Array;
  readonly #cipher: FrameCipher;
  readonly #header = new Uint8Array(BLOB_HEADER_LENGTH);
  readonly header = undefined;
  #headerFill = 0;
  #keys: BlobKeys | undefined;
  #chunker: Chunker | undefined;

  constructor(contentKey: AesKey, context: Uint8Array, cipher: FrameCipher, plan: ThreadPlan | undefined) {
    super(plan);
    this.#contentKey = contentKey;
    this.#context = context;
    this.#cipher = cipher;
  }

  async *write(chunk: unknown): AsyncGenerator<Uint8Array> {
    if (!(chunk instanceof Uint8Array)) return yield* this.refuse(chunk);
    yield* this.frames(this.#records(chunk));
  }

  /**
   * The final frame: the bytes left at the end of the input, after every frame before it.
   * @throws MalformedCiphertextError if the input ended inside the header; DecryptionFailedError if it ended
   *   without a final frame.
   */
  async *end(): AsyncGenerator<Uint8Array> {
    if (this.#chunker === undefined) {
      throw new MalformedCiphertextError(WHAT, `truncated header (${this.#headerFill} of ${BLOB_HEADER_LENGTH} bytes)`);
    }
    const rest = this.#chunker.rest();
    if (rest.length < GCM_TAG_LENGTH) {
      yield* this.drain();
      throw new DecryptionFailedError();
    }
    yield* this.final(rest);
  }

  /** Complete records (ciphertext ‖ tag of a non-final frame) in `chunk`; parses the header first. */
  *#records(chunk: Uint8Array): Generator<Uint8Array> {
    let rest = chunk;
    if (this.#chunker === undefined) {
      const take = Math.min(BLOB_HEADER_LENGTH - this.#headerFill, rest.length);
      this.#header.set(rest.subarray(0, take), this.#headerFill);
      this.#headerFill += take;
      rest = rest.subarray(take);
      if (this.#headerFill < BLOB_HEADER_LENGTH) return;
      this.#start();
    }
    yield* this.#chunker!.push(rest);
  }

  #start(): void {
    const header = parseBlobHeader(this.#header);
    const keys = deriveKeys(this.#contentKey, this.#header.subarray(0, COMMITMENT_OFFSET), this.#context);
    if (!constantTimeEqual(keys.commitment, header.commitment)) {
      keys.key.wipe();
      throw new DecryptionFailedError();
    }
    this.#keys = keys;
    this.#chunker = new Chunker(header.frameSize + GCM_TAG_LENGTH);
    this.useThreads('open', keys.key, keys.aad, header.frameSize + GCM_TAG_LENGTH);
  }

  /** Verify and decrypt one record; an empty final frame gives nothing. */
  protected async here(record: Uint8Array, nonce: Uint8Array): Promise<Uint8Array[]> {
    const plaintext = await this.#cipher.open(this.#keys!.key, nonce, this.#keys!.aad, record);
    return plaintext.length === 0 ? [] : [plaintext];
  }

  protected tooManyFrames(): Error {
    return new DecryptionFailedError();
  }

  override wipe(): void {
    super.wipe();
    this.#keys?.key.wipe();
    this.#chunker?.wipe();
  }
}

function prepareEncrypt(key: unknown, ctx: unknown, options: EncryptBlobOptions | undefined): () => FrameStream {
  const contentKey = requireKey(key);
  const context = encodeContext(ctx);
  const o = optionsObject('options', options);
  const frameSize = o.frameSize === undefined ? DEFAULT_BLOB_FRAME_SIZE : requireFrameSize('options.frameSize', o.frameSize);
  const cipher = resolveCipher(o.backend);
  const plan = resolveThreads(o.parallel, cipher);
  return () => new BlobSealer(contentKey, context, frameSize, cipher, plan);
}

function prepareDecrypt(key: unknown, ctx: unknown, options: DecryptBlobOptions | undefined): () => FrameStream {
  const contentKey = requireKey(key);
  const context = encodeContext(ctx);
  const o = optionsObject('options', options);
  const cipher = resolveCipher(o.backend);
  const plan = resolveThreads(o.parallel, cipher);
  return () => new BlobOpener(contentKey, context, cipher, plan);
}

/** Run a state machine over a source: its header, its outputs for every chunk, then its end. */
async function* run(make: () => FrameStream, input: OpenedSource): AsyncGenerator<Uint8Array> {
  let machine: FrameStream | undefined;
  try {
    machine = make();
    if (machine.header !== undefined) yield machine.header;
    try {
      for await (const chunk of input.chunks) yield* machine.write(chunk);
    } catch (err) {
      // What the single-threaded path would have released before the failure (nothing if the failure is ours).
      yield* machine.drain();
      throw err;
    }
    yield* machine.end();
  } finally {
    machine?.wipe();
    await input.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Async generators

/**
 * Encrypt a stream into an allegro-ts blob v1. Arguments are checked at once; the work happens as the result is
 * iterated. Yields the header, then each frame's bytes (chunk boundaries carry no meaning: concatenate them).
 * Buffers at most one frame on the calling thread; on all cores (`options.parallel`), at most 2 × threads + 2 groups
 * of about 256 KiB. A `ReadableStream` source is locked at once, and cancelled if the consumer stops
 * before its end.
 *
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`): `key`, `ctx.*`, `options`, `options.frameSize`, `backend`,
 *   `options.parallel`, `source` (also a non-Uint8Array chunk, raised while iterating); UnsupportedOperationError
 *   (`UNSUPPORTED_OPERATION`) for `parallel: true` where there are no worker threads, or, while iterating, if a
 *   worker thread cannot start or stops.
 */
export function encryptBlob(key: AesKey, ctx: BlobContext, source: ByteSource, options?: EncryptBlobOptions): AsyncGenerator<Uint8Array> {
  const makeSealer = prepareEncrypt(key, ctx, options);
  return run(makeSealer, openSource(source));
}

/**
 * Decrypt an allegro-ts blob v1 from a stream. Yields each frame's plaintext once its tag verified, in order; the
 * output is complete and authentic only if the iteration ends without an error. Buffers as {@link encryptBlob}.
 *
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for a truncated header, bad magic or frame size;
 *   UnsupportedVersionError (`UNSUPPORTED_VERSION`); DecryptionFailedError (`DECRYPTION_FAILED`) for a wrong key
 *   or context (before any frame is read), and for any altered, missing, reordered, duplicated or extra frame;
 *   InvalidArgumentError and UnsupportedOperationError as {@link encryptBlob}.
 */
export function decryptBlob(key: AesKey, ctx: BlobContext, source: ByteSource, options?: DecryptBlobOptions): AsyncGenerator<Uint8Array> {
  const makeOpener = prepareDecrypt(key, ctx, options);
  return run(makeOpener, openSource(source));
}

// ---------------------------------------------------------------------------------------------------------------
// Web streams

/** A web `TransformStream` over a state machine, made when the stream starts; an error errors the stream. */
function transformStreamOver(make: () => FrameStream): TransformStream<Uint8Array, Uint8Array> {
  let machine: FrameStream | undefined;
  const emit = async (parts: () => AsyncGenerator<Uint8Array>, controller: TransformStreamDefaultController<Uint8Array>) => {
    try {
      for await (const part of parts()) controller.enqueue(part);
    } catch (err) {
      machine?.wipe();
      throw err;
    }
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      machine = make();
      if (machine.header !== undefined) controller.enqueue(machine.header);
    },
    transform: (chunk, controller) => emit(() => machine!.write(chunk), controller),
    flush: async (controller) => {
      await emit(() => machine!.end(), controller);
      machine!.wipe();
    },
  });
}

/**
 * A web `TransformStream` that encrypts (same format, options and errors as {@link encryptBlob}). Backpressure
 * applies between input chunks; the output of one input chunk (its size plus 16 bytes per frame) is enqueued at once.
 */
export function createEncryptTransform(key: AesKey, ctx: BlobContext, options?: EncryptBlobOptions): TransformStream<Uint8Array, Uint8Array> {
  return transformStreamOver(prepareEncrypt(key, ctx, options));
}

/**
 * A web `TransformStream` that decrypts (same checks, options and errors as {@link decryptBlob}); an error errors the
 * stream. Backpressure applies between input chunks.
 */
export function createDecryptTransform(key: AesKey, ctx: BlobContext, options?: DecryptBlobOptions): TransformStream<Uint8Array, Uint8Array> {
  return transformStreamOver(prepareDecrypt(key, ctx, options));
}

/** @internal The state machines, for ./blob-node-streams.ts. */
export const blobInternals = { prepareEncrypt, prepareDecrypt };

// ---------------------------------------------------------------------------------------------------------------
// Random access

/**
 * Decrypt plaintext bytes [`start`, `endExclusive`) of a stored blob, reading only the header and the frames that
 * cover the range (two calls to `read`: the header, then one contiguous span of frames; one call for an empty
 * range). Every frame read is authenticated, with the final-frame flag set from `totalCipherSize`.
 *
 * @param read returns exactly `length` bytes at `offset`.
 * @param totalCipherSize size of the whole stored blob.
 * @throws MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for a bad header, an impossible `totalCipherSize`, or
 *   a `read` that returned the wrong number of bytes; UnsupportedVersionError; DecryptionFailedError for a wrong
 *   key or context or an altered frame; InvalidArgumentError for a range outside the plaintext.
 */
export async function decryptRange(
  key: AesKey,
  ctx: BlobContext,
  read: BlobRangeReader,
  totalCipherSize: number,
  start: number,
  endExclusive: number,
  options?: DecryptBlobOptions,
): Promise<Uint8Array> {
  const contentKey = requireKey(key);
  const context = encodeContext(ctx);
  const cipher = resolveCipher(optionsObject('options', options).backend);
  if (typeof read !== 'function') throw new InvalidArgumentError('read', 'a function (offset, length) => Promise<Uint8Array>', describeValue(read));
  requireSize('totalCipherSize', totalCipherSize);
  requireSize('start', start);
  requireSize('endExclusive', endExclusive);
  if (totalCipherSize < BLOB_HEADER_LENGTH + GCM_TAG_LENGTH) throw new MalformedCiphertextError(WHAT, `${totalCipherSize} bytes is shorter than an empty blob`);

  const readExactly = async (offset: number, length: number): Promise<Uint8Array> => {
    const bytes: unknown = await read(offset, length);
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('read', 'a function resolving to a Uint8Array', `one resolving to ${describeValue(bytes)}`);
    if (bytes.length !== length) throw new MalformedCiphertextError(WHAT, `read(${offset}, ${length}) returned ${bytes.length} bytes`);
    return bytes;
  };

  const headerBytes = await readExactly(0, BLOB_HEADER_LENGTH);
  const header = parseBlobHeader(headerBytes);
  const keys = deriveKeys(contentKey, headerBytes.subarray(0, COMMITMENT_OFFSET), context);
  try {
    if (!constantTimeEqual(keys.commitment, header.commitment)) throw new DecryptionFailedError();
    const frameSize = header.frameSize;
    const plainSize = plaintextSize(totalCipherSize, frameSize);
    if (start > endExclusive || endExclusive > plainSize) {
      throw new InvalidArgumentError('endExclusive', `a range with start ≤ endExclusive ≤ ${plainSize} (the plaintext size)`, `[${start}, ${endExclusive})`);
    }
    const out = new Uint8Array(endExclusive - start);
    if (out.length === 0) return out;

    const record = frameSize + GCM_TAG_LENGTH;
    const finalIndex = Math.floor(plainSize / frameSize);
    const first = Math.floor(start / frameSize);
    const last = Math.floor((endExclusive - 1) / frameSize);
    const spanStart = BLOB_HEADER_LENGTH + first * record;
    const spanEnd = Math.min(BLOB_HEADER_LENGTH + (last + 1) * record, totalCipherSize);
    const span = await readExactly(spanStart, spanEnd - spanStart);
    for (let i = first; i <= last; i++) {
      const at = (i - first) * record;
      const frame = span.subarray(at, Math.min(at + record, span.length));
      const plain = await cipher.open(keys.key, writeFrameNonce(new Uint8Array(NONCE_LENGTH), i, i === finalIndex), keys.aad, frame);
      const frameStart = i * frameSize;
      const from = Math.max(start, frameStart) - frameStart;
      const to = Math.min(endExclusive, frameStart + plain.length) - frameStart;
      out.set(plain.subarray(from, to), frameStart + from - start);
    }
    return out;
  } finally {
    keys.key.wipe();
  }
}
