/**
 * Persistence for the sandbox server's in-memory state: an append-only JSON-lines journal with group commit,
 * compacted into snapshots.
 *
 * Guarantee: a record whose `append()` has resolved was written and fsync'd, and {@link Journal.open} returns it
 * after a restart, a crash (`kill -9`) or a power loss (given a disk that honours flushes), in append order, after
 * the latest snapshot. A record whose append never resolved may or may not come back. Open never guesses: an
 * unterminated last line (an interrupted write) is dropped and truncated away, but any other damage is an error.
 *
 * Files in the directory: `snapshot.json` (`{"generation":g,"snapshot":…}`, absent until the first compaction;
 * a directory without one is generation 0, and each compaction writes the next), `journal-<g>.log` (the records appended after snapshot g, one JSON text per line),
 * `snapshot.json.tmp` while a compaction writes, and `lock` (the owner's pid) while a journal is open.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open as openFile, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/** Where and how a {@link Journal} keeps its files. */
export interface JournalOptions {
  /** Directory of the journal's files; created (with its parents) if missing. */
  dir: string;
  /** {@link Journal.needsCompaction} turns true once the current log exceeds this many bytes. Default 64 MiB. */
  compactBytes?: number;
}

/** What {@link Journal.open} recovers: the open journal, the latest snapshot, and the records appended after it. */
export interface OpenedJournal<R, S> {
  /** The journal, ready for appends; it holds the directory's lock until closed. */
  journal: Journal<R, S>;
  /** The snapshot of the last compaction, or `undefined` if the journal was never compacted. */
  snapshot: S | undefined;
  /** Every record appended after that snapshot, in append order. */
  records: R[];
}

const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;
const SNAPSHOT = 'snapshot.json';
const SNAPSHOT_TMP = 'snapshot.json.tmp';
const LOCK = 'lock';
const LOG_NAME = /^journal-(0|[1-9]\d*)\.log$/;
const NEWLINE = 0x0a;

/** A promise with its settle functions; one per queued operation, shared by every append of a batch. */
interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/** Work for the writer, done strictly in queue order: a batch of serialized lines, a compaction, or the close. */
type Op =
  | { readonly kind: 'append'; readonly lines: string[]; readonly done: Deferred }
  | { readonly kind: 'compact'; readonly snapshot: string; readonly done: Deferred }
  | { readonly kind: 'close'; readonly done: Deferred };

/**
 * An append-only, crash-safe record log with snapshots. One writer per directory (enforced with a lock file).
 * Appends made in the same turn of the event loop, or while a previous write is in flight, share one write and
 * one fsync (group commit); records keep the order of the `append` calls.
 *
 * After any I/O error the journal stops: that batch and every later call reject, and the owner must close it and
 * open the directory again, which recovers exactly the acknowledged state.
 *
 * @typeParam R - a record; must survive `JSON.stringify`/`JSON.parse`.
 * @typeParam S - a snapshot of the owner's state; must survive `JSON.stringify`/`JSON.parse`.
 */
export class Journal<R, S> {
  readonly #dir: string;
  readonly #compactBytes: number;
  #log: FileHandle;
  #generation: number;
  #logBytes: number;
  readonly #queue: Op[] = [];
  #draining = false;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;

  private constructor(dir: string, compactBytes: number, log: FileHandle, generation: number, logBytes: number) {
    this.#dir = dir;
    this.#compactBytes = compactBytes;
    this.#log = log;
    this.#generation = generation;
    this.#logBytes = logBytes;
  }

  /**
   * Lock the directory and recover its state: the latest snapshot and the records of its generation's log. An
   * unterminated last line is truncated away; leftovers of an interrupted compaction are deleted.
   *
   * @throws Error if another live process holds the lock, or if a file is damaged (a corrupt complete line, an
   *   unreadable snapshot, a log newer than the snapshot), rather than dropping acknowledged records.
   */
  static async open<R, S>(options: JournalOptions): Promise<OpenedJournal<R, S>> {
    const compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
    if (!(compactBytes > 0)) throw new RangeError(`compactBytes must be a positive number, received ${compactBytes}.`);
    const dir = resolve(options.dir);
    await makeDirectory(dir);
    await acquireLock(dir);
    let log: FileHandle | undefined;
    try {
      const { generation, snapshot } = await readSnapshot<S>(dir);
      await removeStaleFiles(dir, generation);
      const path = join(dir, logName(generation));
      const { records, validBytes, size } = await readLog<R>(path);
      log = await openFile(path, 'a', 0o600);
      if (size === undefined) {
        await syncDirectory(dir);
      } else if (validBytes < size) {
        await log.truncate(validBytes);
        await log.datasync();
      }
      return { journal: new Journal<R, S>(dir, compactBytes, log, generation, validBytes), snapshot, records };
    } catch (error) {
      // Best effort: the error that made open fail matters more than one from the cleanup.
      await Promise.allSettled([log?.close(), unlink(join(dir, LOCK))]);
      throw error;
    }
  }

  /**
   * Durably append a record. Resolves only once the record is written and fsync'd. The record is serialized now,
   * so later changes to the object do not reach the journal.
   *
   * @throws TypeError (as a rejection) if the record has no JSON form; Error after {@link close} or an I/O failure.
   */
  append(record: R): Promise<void> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    let line: string;
    try {
      line = `${toJson(record, 'record')}\n`;
    } catch (error) {
      return Promise.reject(error);
    }
    const last = this.#queue.at(-1);
    if (last?.kind === 'append') {
      last.lines.push(line);
      return last.done.promise;
    }
    return this.#enqueue({ kind: 'append', lines: [line], done: deferred() });
  }

  /**
   * Replace the log with a snapshot: `snapshot` must be the owner's full state including every record appended so
   * far (even those whose append has not resolved yet). It is serialized now; appends made after this call go to
   * the new log. Crash-safe at every step: a crash leaves either the old snapshot and log or the new ones.
   *
   * @throws TypeError (as a rejection) if the snapshot has no JSON form; Error after {@link close} or an I/O failure.
   */
  compact(snapshot: S): Promise<void> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    let text: string;
    try {
      text = toJson(snapshot, 'snapshot');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue({ kind: 'compact', snapshot: text, done: deferred() });
  }

  /** True once the current log has grown past `compactBytes`; the owner then calls {@link compact} with its state. */
  get needsCompaction(): boolean {
    return this.#logBytes > this.#compactBytes;
  }

  /**
   * Finish every queued append and compaction, close the log and release the lock. Idempotent: every call returns
   * the same promise. Appends and compactions requested after the first call reject.
   */
  close(): Promise<void> {
    this.#closed ??= this.#enqueue({ kind: 'close', done: deferred() });
    return this.#closed;
  }

  /** Why a new append or compaction is refused, if it is. */
  #refusal(): Error | undefined {
    if (this.#closed) return new Error(`Journal in ${this.#dir} is closed.`);
    return this.#failure;
  }

  #enqueue(op: Op): Promise<void> {
    this.#queue.push(op);
    if (!this.#draining) {
      this.#draining = true;
      void this.#drain();
    }
    return op.done.promise;
  }

  /** The single writer: runs queued operations one at a time, in order, until the queue is empty. */
  async #drain(): Promise<void> {
    for (;;) {
      // Wait one turn of the event loop so that every append issued meanwhile (in particular by the callers the
      // previous batch just woke up) joins the next batch: this is what makes the commit a group commit.
      await nextTurn();
      const op = this.#queue.shift();
      if (op === undefined) break;
      await this.#run(op);
    }
    this.#draining = false;
  }

  /** Run one operation and settle its promise; never throws. */
  async #run(op: Op): Promise<void> {
    if (op.kind === 'close') {
      try {
        try {
          await this.#log.close();
        } finally {
          await unlink(join(this.#dir, LOCK));
        }
        op.done.resolve();
      } catch (error) {
        op.done.reject(error);
      }
      return;
    }
    if (this.#failure) {
      op.done.reject(this.#failure);
      return;
    }
    try {
      if (op.kind === 'append') await this.#write(op.lines);
      else await this.#compact(op.snapshot);
      op.done.resolve();
    } catch (error) {
      this.#failure = new Error(
        `Journal in ${this.#dir} failed (${describeError(error)}); it accepts no more work. Close it and open the ` +
          'directory again to recover every acknowledged record.',
        { cause: error },
      );
      op.done.reject(this.#failure);
    }
  }

  async #write(lines: string[]): Promise<void> {
    const data = Buffer.from(lines.join(''), 'utf8');
    for (let offset = 0; offset < data.length; ) {
      const { bytesWritten } = await this.#log.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
    // fdatasync: persists the data and the new file size, which is all a reader needs; skips the mtime update.
    await this.#log.datasync();
    this.#logBytes += data.length;
  }

  /**
   * Snapshot, then switch logs. Until the rename is durable, open() sees the old snapshot and the old log (which
   * holds every acknowledged record); after it, the new snapshot (which includes them) and a new log that is
   * missing or holds only records appended after this compaction was requested. A new log is created only after
   * the rename is durable, so a log never outlives its snapshot's rename.
   */
  async #compact(snapshot: string): Promise<void> {
    const generation = this.#generation + 1;
    const tmp = join(this.#dir, SNAPSHOT_TMP);
    const file = await openFile(tmp, 'w', 0o600);
    try {
      await file.writeFile(`{"generation":${generation},"snapshot":${snapshot}}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, join(this.#dir, SNAPSHOT));
    await syncDirectory(this.#dir);
    const log = await openFile(join(this.#dir, logName(generation)), 'a', 0o600);
    const old = this.#log;
    this.#log = log;
    this.#generation = generation;
    this.#logBytes = 0;
    try {
      await syncDirectory(this.#dir);
    } finally {
      await old.close();
    }
    await unlink(join(this.#dir, logName(generation - 1)));
  }
}

function logName(generation: number): string {
  return `journal-${generation}.log`;
}

function deferred(): Deferred {
  let resolvePromise!: () => void;
  let rejectPromise!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolvePromise = res;
    rejectPromise = rej;
  });
  return { promise, resolve: resolvePromise, reject: rejectPromise };
}

function toJson(value: unknown, what: string): string {
  const text: unknown = JSON.stringify(value);
  if (typeof text !== 'string') throw new TypeError(`The journal ${what} has no JSON form (received ${typeof value}).`);
  return text;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** fsync a directory, making the creation, rename or deletion of its entries durable. */
async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory as a file; NTFS journals its metadata changes itself.
  if (process.platform === 'win32') return;
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then make every directory it created durable in its parent. */
async function makeDirectory(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await syncDirectory(dirname(created));
    if (created === first || created === dirname(created)) return;
  }
}

/**
 * Create `lock` exclusively with our pid. A lock left by a dead process is taken over: it is first renamed to a
 * name of our own and checked, so that two processes taking over the same stale lock cannot both win.
 */
async function acquireLock(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await openFile(path, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const holder = await readLockHolder(path);
    if (holder === undefined) continue;
    if (holder.pid !== undefined && isAlive(holder.pid)) {
      const who = holder.pid === process.pid ? 'this process' : `process ${holder.pid}`;
      throw new Error(`Journal directory ${dir} is locked by ${who}, which is still running; only one writer may open it.`);
    }
    const moved = join(dir, `${LOCK}.stale-${process.pid}`);
    try {
      await rename(path, moved);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue;
      throw error;
    }
    const content = await readFile(moved, 'utf8');
    if (content === holder.content) await unlink(moved);
    else await rename(moved, path); // a live owner locked it meanwhile: give it back
  }
  throw new Error(`Could not take the lock of journal directory ${dir}: other processes keep competing for it.`);
}

/**
 * Read the lock: its text, and the pid in it. A lock without a pid either belongs to a process between its
 * create and its write, or to one that died there; it is judged only if still empty after a pause.
 */
async function readLockHolder(path: string): Promise<{ content: string; pid: number | undefined } | undefined> {
  for (let look = 0; ; look++) {
    let content: string;
    try {
      content = await readFile(path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    const pid = /^[1-9]\d*\n?$/.test(content) ? Number(content.trim()) : undefined;
    if (pid !== undefined || look > 0) return { content, pid };
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

async function readSnapshot<S>(dir: string): Promise<{ generation: number; snapshot: S | undefined }> {
  const path = join(dir, SNAPSHOT);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { generation: 0, snapshot: undefined };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${describeError(error)}); refusing to open.`, { cause: error });
  }
  if (
    typeof parsed !== 'object' || parsed === null || !('snapshot' in parsed) || !('generation' in parsed) ||
    !Number.isSafeInteger(parsed.generation) || (parsed.generation as number) < 1
  ) {
    throw new Error(`${path} lacks a positive integer "generation" and a "snapshot"; refusing to open.`);
  }
  return { generation: parsed.generation as number, snapshot: parsed.snapshot as S };
}

/**
 * Delete what an interrupted compaction leaves: the temporary snapshot and logs of older generations (the
 * snapshot includes their records). A log of a newer generation cannot come from a crash, since a log is
 * created only after its snapshot is durable; it means the snapshot was lost or replaced, which is an error.
 */
async function removeStaleFiles(dir: string, generation: number): Promise<void> {
  const names = await readdir(dir);
  const logs = names.flatMap((name) => {
    const match = LOG_NAME.exec(name);
    return match?.[1] === undefined ? [] : [{ name, generation: Number(match[1]) }];
  });
  const newer = logs.find((log) => log.generation > generation);
  if (newer) {
    throw new Error(
      `${join(dir, newer.name)} is newer than the snapshot (generation ${generation}): ${SNAPSHOT} was lost or ` +
        'replaced; refusing to open.',
    );
  }
  const stale = logs.filter((log) => log.generation < generation).map((log) => log.name);
  if (names.includes(SNAPSHOT_TMP)) stale.push(SNAPSHOT_TMP);
  for (const name of stale) await unlink(join(dir, name));
}

/**
 * Parse a log. Every line ending in a newline must be valid UTF-8 JSON; bytes after the last newline are an
 * interrupted write (never acknowledged, since an append resolves only after its whole batch is synced) and are
 * left out of `validBytes`. `size` is undefined when the log does not exist.
 */
async function readLog<R>(path: string): Promise<{ records: R[]; validBytes: number; size: number | undefined }> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { records: [], validBytes: 0, size: undefined };
    throw error;
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const records: R[] = [];
  let start = 0;
  for (let end = data.indexOf(NEWLINE, start); end !== -1; end = data.indexOf(NEWLINE, start)) {
    try {
      records.push(JSON.parse(decoder.decode(data.subarray(start, end))) as R);
    } catch (error) {
      throw new Error(
        `${path}: line ${records.length + 1} (bytes ${start}-${end}) is corrupt (${describeError(error)}). Only an ` +
          'unterminated last line can come from an interrupted write; refusing to open rather than drop ' +
          'acknowledged records.',
        { cause: error },
      );
    }
    start = end + 1;
  }
  return { records, validBytes: start, size: data.length };
}
