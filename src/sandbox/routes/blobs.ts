/**
 * Blobs: the Object Store's large-payload side (sandbox-specific paths under `/object/v1/blobs`). An object's
 * payload too large for `encryptedPayload` is uploaded as a blob and referenced by id; the sandbox keeps only the
 * ciphertext, so a blob must start with the 4-byte magic `ATB1` of the allegro-ts blob format.
 *
 * | method, path | auth | answer | errors |
 * |---|---|---|---|
 * | `PUT /object/v1/blobs/{blobId}` | api or session | 201 `{"blobId","size"}` once durable | 400 bad id / no magic / interrupted, 401, 409 id taken, 413 over `maxBlobBytes` |
 * | `GET /object/v1/blobs/{blobId}` | any user of the pod | 200 the bytes; 206 with one `Range: bytes=a-b`, `a-` or `-n` | 401, 404, 416 (with `Content-Range` naming the size) |
 * | `HEAD /object/v1/blobs/{blobId}` | any user of the pod | 200, `Content-Length` = size | 401, 404 |
 * | `DELETE /object/v1/blobs/{blobId}` | the owner | 204 | 401, 403, 404 |
 *
 * Reading: any authenticated user of the pod may read any blob (as the attachments of a stream are shared): blobs are
 * ciphertext whose key travels in the Object Store object that references them, and whoever can read that object is
 * meant to read the blob; the sandbox does not link blobs to partitions. Ids are the client's, 16 to 128 characters
 * of `A-Z a-z 0-9 _ -`, so a random id of ≥ 96 bits is not guessable. Deleting is the owner's only.
 *
 * Durability: an upload streams to `<files>/blobs/<id>.part` (constant memory), which is fsync'd, renamed to
 * `<id>.blob`, and the directory fsync'd before the blob's row is committed and the 201 sent; a failed or
 * interrupted upload removes its `.part` and commits nothing. A delete commits the removal of its row, then removes
 * the file. At start, {@link openBlobStore} removes `.part` files and `.blob` files no committed row names (an upload
 * that crashed before its commit, a delete that crashed before its unlink). Entitlement: every `/object/` path is refused
 * with 403 when the pod lacks the Object Store entitlement (server.ts, before routing).
 */
import { chmod, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest, SandboxResponse, StreamingRequest } from '../http.js';
import type { SandboxStore } from '../store/store.js';
import type { User } from '../store/users.js';

/** The magic that starts every allegro-ts blob (format version 1). */
export const BLOB_MAGIC = Buffer.from('ATB1', 'latin1');
/** Default largest blob: 4 GiB. */
export const DEFAULT_MAX_BLOB_BYTES = 4 * 1024 ** 3;

const BLOB_ID = /^[A-Za-z0-9_-]{16,128}$/;

/** Where blob files live; made by {@link openBlobStore}. */
export interface BlobStore {
  /** The directory of the `.blob` and `.part` files. */
  readonly dir: string;
  /** Largest accepted blob, in bytes. */
  readonly maxBytes: number;
  /** Ids with an upload or delete in progress (a second one gets 409). */
  readonly busy: Set<string>;
}

/**
 * Create the blob directory if needed and clean it: remove `.part` files (uploads that never finished) and `.blob`
 * files of no committed blob. Call it after the store is open and before serving.
 */
export async function openBlobStore(dir: string, store: SandboxStore, maxBytes = DEFAULT_MAX_BLOB_BYTES): Promise<BlobStore> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < BLOB_MAGIC.length) throw new RangeError(`maxBlobBytes must be an integer of at least ${BLOB_MAGIC.length}, received ${maxBytes}.`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const committed = store.blobs.ids();
  let removed = false;
  for (const name of await readdir(dir)) {
    const stray = name.endsWith('.part') || (name.endsWith('.blob') && !committed.has(name.slice(0, -'.blob'.length)));
    if (stray) {
      await unlink(join(dir, name)).catch(ignoreMissing);
      removed = true;
    }
  }
  if (removed) await syncDirectory(dir);
  return { dir, maxBytes, busy: new Set() };
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
}

/** The authentication helpers read only headers and cookies; give them a request without a body. */
function head(req: StreamingRequest): SandboxRequest {
  return { ...req, body: Buffer.alloc(0), json: () => undefined, parseJson: () => undefined };
}

function blobIdOf(params: Record<string, string>): string {
  const id = params.blobId ?? '';
  if (!BLOB_ID.test(id)) throw new HttpError(400, '"blobId" must be 16 to 128 characters of A-Z a-z 0-9 _ -');
  return id;
}

/**
 * One `bytes=` range of a blob of `size` bytes, inclusive; undefined when the header is absent or not a single byte
 * range (then the whole blob is sent, as RFC 9110 §14.2 allows); 416 when it cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = () => new HttpError(416, `Range not satisfiable: the blob has ${size} bytes`, { 'content-range': `bytes */${size}` });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined; // not a valid range: ignored
  if (start >= size) throw unsatisfiable();
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

/** Register the blob routes (streaming). */
export function blobRoutes(router: Router, ctx: SandboxContext, store: BlobStore): void {
  const { store: db } = ctx;
  const user = (req: SandboxRequest): User => ctx.bearerUser(req, ['api', 'session']);
  const fileOf = (id: string) => join(store.dir, `${id}.blob`);

  const upload = async (req: StreamingRequest): Promise<SandboxResponse> => {
    const owner = user(head(req));
    const id = blobIdOf(req.params);
    if (db.blobs.get(id) !== undefined || store.busy.has(id)) throw new HttpError(409, 'A blob with this id exists');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > store.maxBytes) throw new HttpError(413, `Blob larger than ${store.maxBytes} bytes`);
    store.busy.add(id);
    const part = join(store.dir, `${id}.part`);
    let handle: FileHandle | undefined;
    let kept = false;
    try {
      let size = 0;
      let first = Buffer.alloc(0);
      for await (const chunk of req.body) {
        size += chunk.length;
        if (size > store.maxBytes) throw new HttpError(413, `Blob larger than ${store.maxBytes} bytes`);
        if (handle !== undefined) {
          await writeAll(handle, chunk);
          continue;
        }
        // Nothing is written before the magic is seen.
        first = Buffer.concat([first, chunk]);
        if (first.length < BLOB_MAGIC.length) continue;
        if (!first.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC)) throw notABlob();
        handle = await open(part, 'w', 0o600);
        await handle.chmod(0o600);
        await writeAll(handle, first);
        first = Buffer.alloc(0);
      }
      if (!req.complete) throw new HttpError(400, 'The upload was interrupted');
      if (handle === undefined) throw notABlob();
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(part, fileOf(id));
      kept = true;
      await syncDirectory(store.dir);
      await db.write((tx) => db.blobs.insert(tx, { id, owner: owner.id, size, createdAt: Date.now() }));
      return { status: 201, json: { blobId: id, size } };
    } catch (err) {
      // Not committed: the bytes go (a .blob whose commit failed is also removed at the next start).
      await handle?.close().catch(() => {});
      await unlink(kept ? fileOf(id) : part).catch(() => {});
      throw err;
    } finally {
      store.busy.delete(id);
    }
  };

  const read = async (req: StreamingRequest): Promise<SandboxResponse> => {
    user(head(req));
    const id = blobIdOf(req.params);
    const blob = db.blobs.get(id);
    if (blob === undefined) throw new HttpError(404, 'No blob has that id');
    const common = { 'accept-ranges': 'bytes' };
    if (req.method === 'HEAD') return { stream: null, contentLength: blob.size, headers: common };
    const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, blob.size);
    // Open before answering, so that a blob deleted meanwhile is a 404 rather than a truncated 200.
    let handle: FileHandle;
    try {
      handle = await open(fileOf(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError(404, 'No blob has that id');
      throw err;
    }
    if (range === undefined) return { stream: handle.createReadStream(), contentLength: blob.size, headers: common };
    return {
      status: 206,
      stream: handle.createReadStream({ start: range.start, end: range.end }),
      contentLength: range.end - range.start + 1,
      headers: { ...common, 'content-range': `bytes ${range.start}-${range.end}/${blob.size}` },
    };
  };

  router
    .add('PUT', '/object/v1/blobs/:blobId', upload, { stream: true })
    .add('GET', '/object/v1/blobs/:blobId', read, { stream: true })
    .add('HEAD', '/object/v1/blobs/:blobId', read, { stream: true })
    .add('DELETE', '/object/v1/blobs/:blobId', async (req) => {
      const caller = user(req);
      const id = blobIdOf(req.params);
      const blob = db.blobs.get(id);
      if (blob === undefined) throw new HttpError(404, 'No blob has that id');
      if (blob.owner !== caller.id) throw new HttpError(403, 'Only the owner of a blob may delete it');
      if (store.busy.has(id)) throw new HttpError(409, 'This blob is being deleted');
      store.busy.add(id);
      try {
        await db.write((tx) => db.blobs.delete(tx, id));
        await unlink(fileOf(id)).catch(ignoreMissing);
      } finally {
        store.busy.delete(id);
      }
      return { status: 204 };
    });
}

function notABlob(): HttpError {
  return new HttpError(400, 'The body is not an allegro-ts blob (it must start with "ATB1"): the Object Store holds only ciphertext');
}
