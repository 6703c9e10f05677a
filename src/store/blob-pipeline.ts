/**
 * The parallel path of blob v1 (./blob-format.ts, docs/wire-formats.md "Blob v1"): frames sealed or opened on
 * `platform.frameWorkers` (worker threads in Node), released in order. docs/architecture.md "Blobs on all cores".
 *
 * - Frames are copied into batches of about 1 MiB (at least one frame), whose buffers are handed to the threads
 *   and come back with the results, so they are reused: the buffers in use are bounded by the batches in flight, at
 *   most two per thread. The caller waits for the oldest batch ({@link FramePipeline.next}) whenever that many are
 *   in flight, which keeps its own back-pressure: nothing more is read while its consumer does not pull.
 * - Outputs are released strictly in frame order. A frame whose tag does not verify ends the pipeline with
 *   `DECRYPTION_FAILED` after the frames before it, and nothing of it or after it is released: what the caller
 *   observes is what the single-threaded path gives.
 * - Portable: it only knows the {@link FrameWorkers} interface.
 */
import type { AeadKey } from '../crypto/aead.js';
import type { FrameWorkers, OpenedBatch, SealedBatch } from '../crypto/frame-cipher.js';
import { DecryptionFailedError } from '../errors.js';

/** Bytes per batch (a batch holds at least one frame): 16 frames of 64 KiB, so that a message carries 1 MiB. */
const BATCH_BYTES = 1024 * 1024;
/** Batches in flight per thread: one being worked on and one waiting, so that no thread idles between batches. */
const IN_FLIGHT_PER_THREAD = 2;
const NONCE_LENGTH = 12;

/**
 * When a blob's frames go to the threads: once `after` bytes of it were processed on the calling thread and a
 * thread is ready (`after` > 0: no frame ever waits for threads to start), or from the first frame (`after` = 0).
 */
export interface ThreadPlan {
  readonly workers: FrameWorkers;
  readonly after: number;
}

/** A batch handed to the threads. */
interface Batch {
  settled: boolean;
  readonly wait: Promise<void>;
  sealed?: SealedBatch;
  opened?: OpenedBatch;
  error?: unknown;
}

/** The frames of one blob in flight on the threads of a {@link ThreadPlan}. */
export class FramePipeline {
  readonly #plan: ThreadPlan;
  readonly #seal: boolean;
  readonly #key: AeadKey;
  readonly #aad: Uint8Array;
  readonly #frameLength: number;
  readonly #perBatch: number;
  readonly #maxInFlight: number;
  readonly #queue: Batch[] = [];
  readonly #free: Uint8Array[] = [];
  #filling: Uint8Array | undefined;
  #nonces: Uint8Array | undefined;
  #count = 0;
  #engaged = false;
  #closed = false;

  /**
   * @param direction `seal` (inputs are plaintext frames) or `open` (inputs are `ciphertext ‖ tag` records).
   * @param frameLength bytes of every input.
   */
  constructor(plan: ThreadPlan, direction: 'seal' | 'open', key: AeadKey, aad: Uint8Array, frameLength: number) {
    this.#plan = plan;
    this.#seal = direction === 'seal';
    this.#key = key;
    this.#aad = aad;
    this.#frameLength = frameLength;
    this.#perBatch = Math.max(1, Math.floor(BATCH_BYTES / frameLength));
    this.#maxInFlight = IN_FLIGHT_PER_THREAD * plan.workers.threads;
  }

  /**
   * Whether the next frame goes to the threads, given the bytes the caller processed itself so far; once true, it
   * stays true.
   */
  engage(bytesDone: number): boolean {
    if (!this.#engaged && !this.#closed && bytesDone >= this.#plan.after && (this.#plan.after === 0 || this.#plan.workers.warm())) this.#engaged = true;
    return this.#engaged;
  }

  /** Copy `frame` and its nonce into the current batch, and hand the batch over once full. */
  add(frame: Uint8Array, nonce: Uint8Array): void {
    if (this.#filling === undefined) {
      this.#filling = this.#free.pop() ?? new Uint8Array(this.#perBatch * this.#frameLength);
      this.#nonces = new Uint8Array(this.#perBatch * NONCE_LENGTH);
    }
    this.#filling.set(frame, this.#count * this.#frameLength);
    this.#nonces!.set(nonce, this.#count * NONCE_LENGTH);
    if (++this.#count === this.#perBatch) this.#handOver();
  }

  /** Whether as many batches are in flight as allowed: the caller must take {@link next} before adding more. */
  get full(): boolean {
    return this.#queue.length >= this.#maxInFlight;
  }

  /** The outputs of the oldest batch in flight, once it is done (ciphertext, tag, … or plaintexts). */
  async *next(): AsyncGenerator<Uint8Array> {
    const batch = this.#queue[0];
    if (batch === undefined) return;
    if (!batch.settled) await batch.wait;
    if (this.#queue[0] === batch) yield* this.#release();
  }

  /** The outputs of the batches already done, oldest first, without waiting. */
  *ready(): Generator<Uint8Array> {
    while (this.#queue[0]?.settled === true) yield* this.#release();
  }

  /** Hand over the last, partial batch and release the outputs of every batch, in order. */
  async *finish(): AsyncGenerator<Uint8Array> {
    if (this.#count > 0) this.#handOver();
    while (this.#queue.length > 0) yield* this.next();
  }

  /**
   * Stop: the partial batch is zeroed, batches still in flight are discarded (their plaintexts zeroed) when they
   * come back. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#filling?.fill(0);
    this.#filling = undefined;
    this.#count = 0;
    this.#free.length = 0;
    for (const batch of this.#queue.splice(0)) {
      if (batch.settled) discard(batch);
      else void batch.wait.then(() => discard(batch));
    }
  }

  #handOver(): void {
    const data = this.#filling!;
    const batch = { data, frameLength: this.#frameLength, count: this.#count, nonces: this.#nonces!.subarray(0, this.#count * NONCE_LENGTH) };
    this.#filling = undefined;
    this.#nonces = undefined;
    this.#count = 0;
    const { workers } = this.#plan;
    const entry: Batch = {
      settled: false,
      wait: (this.#seal ? workers.seal(this.#key, this.#aad, batch).then((sealed) => void (entry.sealed = sealed))
        : workers.open(this.#key, this.#aad, batch).then((opened) => void (entry.opened = opened)))
        .then(undefined, (err: unknown) => void (entry.error = err))
        .finally(() => void (entry.settled = true)),
    };
    this.#queue.push(entry);
  }

  /** Release the oldest batch (which is settled). */
  *#release(): Generator<Uint8Array> {
    const batch = this.#queue.shift()!;
    if (batch.error !== undefined) {
      this.close();
      throw batch.error;
    }
    if (batch.sealed !== undefined) {
      this.#free.push(batch.sealed.data);
      for (const frame of batch.sealed.frames) {
        yield frame.ciphertext;
        yield frame.tag;
      }
      return;
    }
    const opened = batch.opened!;
    this.#free.push(opened.data);
    if (opened.failed) {
      const released = opened.plaintexts;
      this.close();
      yield* released;
      throw new DecryptionFailedError();
    }
    yield* opened.plaintexts;
  }
}

/** Forget a batch that will never be released, zeroing its plaintexts. */
function discard(batch: Batch): void {
  for (const plaintext of batch.opened?.plaintexts ?? []) plaintext.fill(0);
}
