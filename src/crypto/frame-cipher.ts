/**
 * One-frame AES-256-GCM for framed streaming formats (store/blob-format.ts): seal returns the ciphertext and the
 * tag as two arrays, so that a backend which produces them separately (node:crypto) hands them over without
 * copying each 64 KiB frame into a fresh `ciphertext ‖ tag` array (a second large allocation per frame, which
 * cut framed encryption to ≈0.5–0.6× raw node:crypto here; without it blob v1 runs at ≈0.95×). Node's
 * implementation is synchronous; backends built on {@link AeadBackend} (WebCrypto, noble) return promises, so
 * callers `await` the result either way.
 *
 * The runtime's implementation is `platform.frameCipher` (node:crypto in Node, WebCrypto in browsers);
 * {@link frameCipherOver} adapts any {@link AeadBackend}. Nonces are 12 bytes in every framed format; any length of
 * at least 12 bytes works (CiphertextTransport decryption uses it with Symphony's 16-byte IVs).
 *
 * {@link FrameWorkers} seals and opens batches of frames on other threads: `platform.frameWorkers`, a pool of Node
 * `worker_threads` (./frame-workers-node.ts), and absent on the portable platform (docs/architecture.md "Blobs on
 * all cores").
 */
import { GCM_TAG_LENGTH, type AeadBackend, type AeadKey } from './aead.js';

/** The output of sealing one frame: `ciphertext ‖ tag` is the frame on the wire. */
export interface SealedFrame {
  /** Same length as the plaintext. */
  readonly ciphertext: Uint8Array;
  /** The 16-byte GCM tag. */
  readonly tag: Uint8Array;
}

/** AES-256-GCM over one frame, synchronous where the runtime allows it. */
export interface FrameCipher {
  /** Name of the underlying backend (`node`, `webcrypto`, `noble` or a custom backend's). */
  readonly name: string;
  /**
   * Encrypt and authenticate one frame. The implementation reads `plaintext` before it returns (or before its
   * promise settles) and keeps no reference to it afterwards, so the caller may reuse the buffer.
   */
  seal(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): SealedFrame | Promise<SealedFrame>;
  /**
   * Verify and decrypt `ciphertextAndTag`; returns a new array (never a view of the input).
   * @throws DecryptionFailedError (`DECRYPTION_FAILED`) when the tag does not verify; no plaintext is released.
   */
  open(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A {@link FrameCipher} over any {@link AeadBackend} (one combined `ciphertext ‖ tag` array, split by views). */
export function frameCipherOver(backend: AeadBackend): FrameCipher {
  return {
    name: backend.name,
    seal: async (key, nonce, aad, plaintext) => {
      const sealed = await backend.seal(key, nonce, aad, plaintext);
      const split = sealed.length - GCM_TAG_LENGTH;
      return { ciphertext: sealed.subarray(0, split), tag: sealed.subarray(split) };
    },
    open: (key, nonce, aad, ciphertextAndTag) => backend.open(key, nonce, aad, ciphertextAndTag),
  };
}

/**
 * Consecutive frames of one length, for {@link FrameWorkers}. `data` is handed over: its `ArrayBuffer` is detached
 * until the result hands it back (a `data` that does not span its buffer is copied instead).
 */
export interface FrameBatch {
  /** The frames' inputs back to back from offset 0: plaintexts to seal, or `ciphertext ‖ tag` records to open. */
  readonly data: Uint8Array;
  /** Bytes of each frame's input. */
  readonly frameLength: number;
  /** Frames in the batch: `data` holds at least `count · frameLength` bytes. */
  readonly count: number;
  /** The frames' nonces, 12 bytes each, back to back, in the order of `data`; read before the call returns. */
  readonly nonces: Uint8Array;
}

/** What sealing a {@link FrameBatch} gave. */
export interface SealedBatch {
  /** One per frame, in order: views of `data` (each ciphertext where its plaintext was) and of one tag array. */
  readonly frames: SealedFrame[];
  /** The batch's `data`, handed back; the caller copies the outputs out before it reuses it. */
  readonly data: Uint8Array;
}

/** What opening a {@link FrameBatch} gave. */
export interface OpenedBatch {
  /**
   * The plaintexts of the frames before the first whose tag did not verify (all of them when none failed): views of
   * `data`, each at the start of its record.
   */
  readonly plaintexts: Uint8Array[];
  /** Whether a frame's tag did not verify; the frames after it were not opened and nothing of it is released. */
  readonly failed: boolean;
  /** The batch's `data`, handed back; the caller copies the outputs out before it reuses it. */
  readonly data: Uint8Array;
}

/**
 * AES-256-GCM over batches of frames on other threads, a batch per thread at a time: the blob format's parallel
 * path (store/blob-pipeline.ts), in which the calling thread takes a share too. Produces the same bytes as
 * {@link FrameCipher} frame by frame.
 */
export interface FrameWorkers {
  /** Threads of the pool: one per CPU but one (the calling thread's), at least one. */
  readonly threads: number;
  /** CPUs available; with one, the threads cannot make anything faster. */
  readonly cpus: number;
  /**
   * Start the threads if they are not running, without waiting for them.
   * @returns whether at least one thread is ready to take work (false while they start, or if none can).
   */
  warm(): boolean;
  /** Batches handed over and not answered yet, from every caller. */
  readonly inFlight: number;
  /**
   * Take the answers that have arrived now, without waiting for the event loop (their promises settle as usual), so
   * that a caller busy with frames of its own sees at once that threads are free again ({@link inFlight}).
   */
  poll(): void;
  /**
   * Seal every frame of `batch` under `key` and `aad`.
   * @throws UnsupportedOperationError (`UNSUPPORTED_OPERATION`) if no thread can start or a thread stopped.
   */
  seal(key: AeadKey, aad: Uint8Array, batch: FrameBatch): Promise<SealedBatch>;
  /**
   * Verify and decrypt every record of `batch`, stopping at the first whose tag fails (reported, not thrown).
   * @throws UnsupportedOperationError (`UNSUPPORTED_OPERATION`) as {@link seal}.
   */
  open(key: AeadKey, aad: Uint8Array, batch: FrameBatch): Promise<OpenedBatch>;
}
