/**
 * The parallel path of blob v1 (./blob-format.ts, docs/wire-formats.md "Blob v1"): frames sealed or opened on all
 * cores — on `platform.frameWorkers` (worker threads in Node) and on the calling thread — and released in order.
 * docs/architecture.md "Blobs on all cores".
 *
 * - Frames go in groups of about 256 KiB (at least one frame). A group goes to the threads while fewer than two
 *   groups per thread are in flight there (counting every caller's, and taking the answers that have arrived first:
 *   `FrameWorkers.poll`): its frames are copied into a batch whose buffer is handed over and comes back with the
 *   outputs in place, which are copied out as they are released, and is reused. Otherwise the calling thread processes the group itself, from the caller's
 *   bytes, as the single-threaded path does: so every core works, and the calling thread never waits while it could.
 * - At most 2 × threads + 2 groups are queued; when that many are, the caller releases the oldest
 *   ({@link FramePipeline.next}) before it reads on, which keeps its own back-pressure: nothing more is read while
 *   its consumer does not pull. Memory is bounded by the groups queued.
 * - Outputs are released strictly in frame order. A frame that fails (a tag that does not verify, on a thread or on
 *   the calling thread) ends the pipeline after the outputs of the frames before it, with the error the calling
 *   thread would have raised, and nothing of it or after it is released: the single-threaded path's behaviour.
 * - Portable: it only knows the {@link FrameWorkers} interface.
 */
import type { AeadKey } from '../crypto/aead.js';
import type { FrameWorkers, OpenedBatch, SealedBatch } from '../crypto/frame-cipher.js';
import { DecryptionFailedError } from '../errors.js';

/**
 * Bytes per group (a group holds at least one frame): 4 frames of 64 KiB. Larger groups cost fewer messages but keep
 * more outputs waiting, which V8 then promotes and frees only in full collections (docs/performance.md §7).
 */
const GROUP_BYTES = 256 * 1024;
/** Groups in flight per thread: one being worked on and one waiting, so that no thread idles between groups. */
const IN_FLIGHT_PER_THREAD = 2;
/** Groups the calling thread may have done ahead of the oldest group in flight. */
const HERE_AHEAD = 2;
const NONCE_LENGTH = 12;

/**
 * When a blob's frames go to all cores: once `after` bytes of it were processed on the calling thread and a thread
 * is ready (`after` > 0: no frame ever waits for threads to start), or from the first frame (`after` = 0).
 */
export interface ThreadPlan {
  readonly workers: FrameWorkers;
  readonly after: number;
}

/** Seal or open one frame on the calling thread (the single-threaded path's function). */
export type FrameHere = (input: Uint8Array, nonce: Uint8Array) => Promise<Uint8Array[]>;

/** A group of consecutive frames. */
interface Group {
  /** Whether its frames went to the threads. */
  readonly threads: boolean;
  /** Whether its outputs are known (always, for a group done here). */
  settled: boolean;
  /** Settles when the threads answer. */
  wait?: Promise<void>;
  /** Outputs of a group done here not yet released. */
  parts: Uint8Array[];
  /** The threads' answer: outputs in its batch, copied out as they are released. */
  sealed?: SealedBatch;
  opened?: OpenedBatch;
  /** Raised after the outputs. */
  error?: unknown;
}

/** The frames of one blob on all cores. */
export class FramePipeline {
  readonly #plan: ThreadPlan;
  readonly #seal: boolean;
  readonly #key: AeadKey;
  readonly #aad: Uint8Array;
  readonly #frameLength: number;
  readonly #here: FrameHere;
  readonly #perGroup: number;
  readonly #maxOnThreads: number;
  readonly #maxQueued: number;
  readonly #queue: Group[] = [];
  readonly #free: Uint8Array[] = [];
  /** The group being filled, its batch (if it goes to the threads) and its frame count. */
  #group: Group | undefined;
  #batch: Uint8Array | undefined;
  #nonces: Uint8Array | undefined;
  #count = 0;
  #failed = false;
  #engaged = false;
  #closed = false;

  /**
   * @param direction `seal` (inputs are plaintext frames) or `open` (inputs are `ciphertext ‖ tag` records).
   * @param frameLength bytes of every input.
   * @param here processes a frame on the calling thread.
   */
  constructor(plan: ThreadPlan, direction: 'seal' | 'open', key: AeadKey, aad: Uint8Array, frameLength: number, here: FrameHere) {
    this.#plan = plan;
    this.#seal = direction === 'seal';
    this.#key = key;
    this.#aad = aad;
    this.#frameLength = frameLength;
    this.#here = here;
    this.#perGroup = Math.max(1, Math.floor(GROUP_BYTES / frameLength));
    this.#maxOnThreads = IN_FLIGHT_PER_THREAD * plan.workers.threads;
    this.#maxQueued = this.#maxOnThreads + HERE_AHEAD;
  }

  /**
   * Whether the next frame goes to the pipeline, given the bytes the caller processed itself so far; once true, it
   * stays true.
   */
  engage(bytesDone: number): boolean {
    if (!this.#engaged && !this.#closed && bytesDone >= this.#plan.after && (this.#plan.after === 0 || this.#plan.workers.warm())) this.#engaged = true;
    return this.#engaged;
  }

  /** Take the next frame (read at once: the caller may reuse `frame` and `nonce` afterwards). */
  async add(frame: Uint8Array, nonce: Uint8Array): Promise<void> {
    if (this.#group === undefined) this.#startGroup();
    const group = this.#group!;
    if (group.threads) {
      this.#batch!.set(frame, this.#count * this.#frameLength);
      this.#nonces!.set(nonce, this.#count * NONCE_LENGTH);
      if (++this.#count === this.#perGroup) this.#handOver();
      return;
    }
    try {
      for (const part of await this.#here(frame, nonce)) group.parts.push(part);
    } catch (err) {
      group.error = err;
      this.#failed = true;
      this.#group = undefined;
      return;
    }
    if (++this.#count === this.#perGroup) this.#group = undefined;
  }

  /** Whether the caller must take {@link next} before adding more: as many groups queued as allowed, or a failure. */
  get full(): boolean {
    return this.#failed || this.#queue.length >= this.#maxQueued;
  }

  /**
   * The outputs of the oldest group, once known (ciphertext, tag, … or plaintexts); after a failure, of every group
   * up to it, then its error.
   */
  async *next(): AsyncGenerator<Uint8Array> {
    do {
      const group = this.#queue[0];
      if (group === undefined) return;
      if (group === this.#group && group.threads) this.#handOver();
      if (!group.settled) await group.wait;
      if (this.#queue[0] !== group) return; // closed meanwhile
      yield* this.#release();
    } while (this.#failed);
  }

  /** The outputs known now, oldest first, without waiting. */
  *ready(): Generator<Uint8Array> {
    for (let group = this.#queue[0]; group?.settled === true; group = this.#queue[0]) {
      if (group === this.#group && group.parts.length === 0) return;
      yield* this.#release();
    }
  }

  /** Hand over the last group and release the outputs of every group, in order. */
  async *finish(): AsyncGenerator<Uint8Array> {
    if (this.#group?.threads === true) this.#handOver();
    this.#group = undefined;
    while (this.#queue.length > 0) yield* this.next();
  }

  /**
   * Stop: the batch being filled is zeroed, outputs not released are dropped, and groups still on the threads are
   * discarded (their plaintexts zeroed) when they come back. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#batch?.fill(0);
    this.#batch = undefined;
    this.#group = undefined;
    for (const buffer of this.#free.splice(0)) buffer.fill(0);
    for (const group of this.#queue.splice(0)) {
      if (group.settled) this.#discard(group);
      else void group.wait?.then(() => this.#discard(group));
    }
  }

  #startGroup(): void {
    const { workers } = this.#plan;
    if (workers.inFlight >= this.#maxOnThreads) workers.poll();
    const threads = workers.inFlight < this.#maxOnThreads;
    const group: Group = { threads, settled: !threads, parts: [] };
    if (threads) {
      this.#batch = this.#free.pop() ?? new Uint8Array(this.#perGroup * this.#frameLength);
      this.#nonces = new Uint8Array(this.#perGroup * NONCE_LENGTH);
    }
    this.#queue.push(group);
    this.#group = group;
    this.#count = 0;
  }

  /** Hand the group being filled to the threads. */
  #handOver(): void {
    const group = this.#group!;
    const batch = { data: this.#batch!, frameLength: this.#frameLength, count: this.#count, nonces: this.#nonces!.subarray(0, this.#count * NONCE_LENGTH) };
    this.#group = undefined;
    this.#batch = undefined;
    this.#nonces = undefined;
    const { workers } = this.#plan;
    group.wait = (this.#seal
      ? workers.seal(this.#key, this.#aad, batch).then((sealed) => void (group.sealed = sealed))
      : workers.open(this.#key, this.#aad, batch).then((opened) => {
        group.opened = opened;
        if (opened.failed) group.error = new DecryptionFailedError();
      }))
      .then(undefined, (err: unknown) => void (group.error = err))
      .finally(() => {
        group.settled = true;
        if (group.error !== undefined) this.#failed = true;
      });
  }

  /**
   * Release the outputs of the oldest group (which is settled), and its error after them. The threads' outputs are
   * copied out of their batch one by one as they are released, so that each is fresh when its consumer takes it (and
   * dies young), and the batch is reused.
   */
  *#release(): Generator<Uint8Array> {
    const group = this.#queue[0]!;
    if (group !== this.#group) this.#queue.shift();
    const parts = group.parts;
    group.parts = [];
    if (group.error !== undefined) this.close();
    yield* parts;
    const { sealed, opened } = group;
    if (sealed !== undefined) {
      for (const { ciphertext, tag } of sealed.frames) {
        const frame = new Uint8Array(ciphertext.length + tag.length);
        frame.set(ciphertext);
        frame.set(tag, ciphertext.length);
        yield frame;
      }
      this.#recycle(sealed.data);
    } else if (opened !== undefined) {
      for (const plaintext of opened.plaintexts) yield plaintext.slice();
      this.#recycle(opened.data);
    }
    if (group.error !== undefined) throw group.error;
  }

  #recycle(data: Uint8Array): void {
    if (this.#closed) data.fill(0);
    else this.#free.push(data);
  }

  /** Forget a group that will never be released, zeroing the plaintexts it holds. */
  #discard(group: Group): void {
    for (const part of group.parts) if (!this.#seal) part.fill(0);
    group.parts = [];
    (group.sealed ?? group.opened)?.data.fill(0);
  }
}
