/**
 * AES-256-GCM frames sealed and opened on other cores: a pool of Node `worker_threads`, one per available CPU but one
 * (the calling thread takes its share: store/blob-pipeline.ts), behind {@link FrameWorkers} (./frame-cipher.ts). It is the Node platform's `frameWorkers` (src/platform/node.ts); the blob
 * format's parallel path (store/blob-pipeline.ts) hands it batches of frames. docs/architecture.md "Blobs on all
 * cores" describes the design.
 *
 * - A batch's buffer is transferred to the thread and back (no copy); the thread writes each frame's output over its
 *   input, so node:crypto's own output buffers stay in the thread, whose collector frees them while their memory is
 *   warm (docs/performance.md §7). The per-blob key crosses as a `KeyObject` (made once per key, dropped when the
 *   key is wiped), so its bytes are not copied into messages.
 * - Threads start on first use (`warm`, or a first batch), are unreferenced whenever they have no batch (an idle pool
 *   never keeps the process alive) and are terminated after `idleMs` without work.
 * - A thread that cannot start or that stops fails its batches with `UNSUPPORTED_OPERATION`; a tag that does not
 *   verify is a result (`failed`), not an error, so that the caller fails exactly where the single-threaded path does.
 * - The threads run {@link serveFrames}, from its source text (`eval`), so that the same code runs from src/ and dist/.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { UnsupportedOperationError } from '../errors.js';
import type { AeadKey } from './aead.js';
import type { FrameBatch, FrameWorkers, OpenedBatch, SealedBatch } from './frame-cipher.js';

/** A batch as posted to a thread. */
interface Job {
  id: number;
  seal: boolean;
  key: KeyObject;
  aad: Uint8Array;
  nonces: Uint8Array;
  data: ArrayBuffer;
  frameLength: number;
  count: number;
}

/** A thread's answer to a {@link Job}. */
interface Reply {
  id: number;
  /** Frames done: each one's ciphertext (seal) or plaintext (open) is now at the start of its place in `data`. */
  done: number;
  /** The tags, 16 bytes per frame, back to back (seal only). */
  tags: Uint8Array | undefined;
  failed: boolean;
  /** The job's buffer, handed back with the outputs in place. */
  data: ArrayBuffer;
}

/**
 * The program of a thread. It runs from its source text, so it refers to nothing outside itself: node:crypto and the
 * port come in as arguments.
 */
function serveFrames(crypto: typeof import('node:crypto'), port: MessagePort): void {
  const TAG = 16;
  const NONCE = 12;
  port.on('message', (job: Job) => {
    const data = new Uint8Array(job.data);
    const tags = job.seal ? new Uint8Array(TAG * job.count) : undefined;
    let done = 0;
    let failed = false;
    for (; done < job.count; done++) {
      const input = data.subarray(done * job.frameLength, (done + 1) * job.frameLength);
      const nonce = job.nonces.subarray(NONCE * done, NONCE * (done + 1));
      let output: Uint8Array;
      if (tags !== undefined) {
        const cipher = crypto.createCipheriv('aes-256-gcm', job.key, nonce, { authTagLength: TAG });
        cipher.setAAD(job.aad);
        output = cipher.update(input);
        cipher.final();
        tags.set(cipher.getAuthTag(), TAG * done);
      } else {
        const split = input.length - TAG;
        const decipher = crypto.createDecipheriv('aes-256-gcm', job.key, nonce, { authTagLength: TAG });
        decipher.setAAD(job.aad);
        decipher.setAuthTag(input.subarray(split));
        output = decipher.update(input.subarray(0, split));
        try {
          decipher.final();
        } catch {
          output.fill(0);
          failed = true;
          break;
        }
      }
      // In place: node's own buffer stays in this thread, whose collector frees it while its memory is warm.
      input.set(output);
    }
    const reply: Reply = { id: job.id, done, tags, failed, data: job.data };
    port.postMessage(reply, tags === undefined ? [job.data] : [job.data, tags.buffer]);
  });
}

const THREAD_SOURCE = `(${serveFrames.toString()})(require('node:crypto'), require('node:worker_threads').workerData.port);`;
const KEY_HANDLE = 'node-key-object';
const OPERATION = 'AES-GCM on worker threads';

interface Waiter {
  resolve(reply: Reply): void;
  reject(err: unknown): void;
}

/** One worker thread, the port its batches and answers cross, and the batches it has in hand. */
interface Thread {
  readonly worker: Worker;
  readonly port: MessagePort;
  online: boolean;
  readonly pending: Map<number, Waiter>;
}

/** Options of {@link NodeFrameWorkers}. */
export interface FrameWorkersOptions {
  /** Threads (default: the CPUs available, `os.availableParallelism()`, but one; at least one). */
  threads?: number;
  /** Milliseconds without work after which the threads are terminated (default 10,000). */
  idleMs?: number;
}

/** The pool of worker threads: {@link FrameWorkers} for Node. */
export class NodeFrameWorkers implements FrameWorkers {
  readonly threads: number;
  readonly cpus: number = availableParallelism();
  readonly #idleMs: number;
  readonly #pool: Thread[] = [];
  #cannotStart: string | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #nextId = 0;

  constructor(options: FrameWorkersOptions = {}) {
    this.threads = options.threads ?? Math.max(1, this.cpus - 1);
    this.#idleMs = options.idleMs ?? 10_000;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Threads running now (started, and neither stopped nor terminated). */
  get running(): number {
    return this.#pool.length;
  }

  warm(): boolean {
    this.#start();
    return this.#pool.some((t) => t.online);
  }

  poll(): void {
    for (const thread of this.#pool) {
      for (let got = receiveMessageOnPort(thread.port); got !== undefined; got = receiveMessageOnPort(thread.port)) this.#settle(thread, got.message as Reply);
    }
  }

  async seal(key: AeadKey, aad: Uint8Array, batch: FrameBatch): Promise<SealedBatch> {
    const reply = await this.#run(true, key, aad, batch);
    const data = new Uint8Array(reply.data);
    const tags = reply.tags!;
    const at = (i: number) => i * batch.frameLength;
    return {
      frames: Array.from({ length: reply.done }, (_, i) => ({ ciphertext: data.subarray(at(i), at(i) + batch.frameLength), tag: tags.subarray(16 * i, 16 * (i + 1)) })),
      data,
    };
  }

  async open(key: AeadKey, aad: Uint8Array, batch: FrameBatch): Promise<OpenedBatch> {
    const reply = await this.#run(false, key, aad, batch);
    const data = new Uint8Array(reply.data);
    const at = (i: number) => i * batch.frameLength;
    return { plaintexts: Array.from({ length: reply.done }, (_, i) => data.subarray(at(i), at(i) + batch.frameLength - 16)), failed: reply.failed, data };
  }

  /** Terminate every thread now; batches in hand fail with `UNSUPPORTED_OPERATION`. Threads start again on demand. */
  async close(): Promise<void> {
    const threads = this.#pool.splice(0);
    for (const thread of threads) {
      this.#fail(thread, 'the thread pool was closed');
      thread.port.close();
    }
    clearTimeout(this.#idleTimer);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #start(): void {
    while (this.#cannotStart === undefined && this.#pool.length < this.threads) {
      let worker: Worker;
      // Batches and answers cross a port of their own, so that poll() can take answers without the event loop.
      const { port1, port2 } = new MessageChannel();
      try {
        worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], name: 'allegro-ts blob frames', workerData: { port: port2 }, transferList: [port2] });
      } catch (err) {
        port1.close();
        // For example Node's permission model without --allow-worker.
        this.#cannotStart = (err as { code?: string }).code ?? (err as Error).name;
        return;
      }
      const thread: Thread = { worker, port: port1, online: false, pending: new Map() };
      worker.on('online', () => {
        thread.online = true;
      });
      port1.on('message', (reply: Reply) => this.#settle(thread, reply));
      const stopped = (why: string) => {
        const at = this.#pool.indexOf(thread);
        if (at < 0) return;
        this.#pool.splice(at, 1);
        this.#fail(thread, why);
        thread.port.close();
      };
      worker.on('error', (err) => stopped(`a thread failed (${(err as { code?: string }).code ?? err.name})`));
      worker.on('messageerror', () => stopped('a thread sent a message that could not be read'));
      worker.on('exit', (code) => stopped(`a thread exited with code ${code}`));
      // After the listeners: adding a 'message' listener references a port again. Only the port, while the thread
      // has batches in hand, keeps the process alive.
      worker.unref();
      port1.unref();
      this.#pool.push(thread);
    }
  }

  #run(seal: boolean, key: AeadKey, aad: Uint8Array, batch: FrameBatch): Promise<Reply> {
    this.#start();
    if (this.#pool.length === 0) {
      return Promise.reject(new UnsupportedOperationError(OPERATION, 'node', `a worker thread cannot start (${this.#cannotStart ?? 'no threads'})`));
    }
    let thread = this.#pool[0]!;
    for (const t of this.#pool) if (t.pending.size < thread.pending.size || (t.pending.size === thread.pending.size && t.online && !thread.online)) thread = t;
    const whole = batch.data.byteOffset === 0 && batch.data.byteLength === batch.data.buffer.byteLength && batch.data.buffer instanceof ArrayBuffer;
    const data = (whole ? batch.data : batch.data.slice()).buffer as ArrayBuffer;
    const job: Job = {
      id: this.#nextId++, seal, key: key.handle(KEY_HANDLE, (bytes) => createSecretKey(bytes)), aad, nonces: batch.nonces, data,
      frameLength: batch.frameLength, count: batch.count,
    };
    return new Promise<Reply>((resolve, reject) => {
      if (thread.pending.size === 0) thread.port.ref();
      thread.pending.set(job.id, { resolve, reject });
      clearTimeout(this.#idleTimer);
      this.#inFlight++;
      thread.port.postMessage(job, [data]);
    });
  }

  #settle(thread: Thread, reply: Reply): void {
    const waiter = thread.pending.get(reply.id);
    if (waiter === undefined) return;
    this.#done(thread, reply.id);
    waiter.resolve(reply);
  }

  #fail(thread: Thread, why: string): void {
    for (const [id, waiter] of [...thread.pending]) {
      this.#done(thread, id);
      waiter.reject(new UnsupportedOperationError(OPERATION, 'node', why));
    }
  }

  #done(thread: Thread, id: number): void {
    thread.pending.delete(id);
    if (thread.pending.size === 0) thread.port.unref();
    if (--this.#inFlight === 0) {
      this.#idleTimer = setTimeout(() => void this.close(), this.#idleMs);
      this.#idleTimer.unref();
    }
  }
}

/** The process's pool (no thread starts until it is used). */
export const nodeFrameWorkers: NodeFrameWorkers = new NodeFrameWorkers();
