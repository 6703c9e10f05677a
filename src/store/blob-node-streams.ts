/**
 * Node `stream.Transform` adapters for allegro-ts blob v1 (./blob-format.ts), kept apart so that the format
 * module imports nothing from Node. Same format, checks and errors as `encryptBlob` / `decryptBlob`; an error is
 * emitted as the stream's `error` (use `stream/promises.pipeline`). Backpressure applies between input chunks.
 *
 * @example
 * ```ts
 * await pipeline(createReadStream(path), createEncryptStream(key, ctx), createWriteStream(`${path}.atb`));
 * ```
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { AesKey } from '../crypto/aes-key.js';
import { blobInternals, type BlobContext, type DecryptBlobOptions, type EncryptBlobOptions } from './blob-format.js';

const { prepareEncrypt, prepareDecrypt, requireChunk } = blobInternals;

function settle(work: Promise<void>, callback: TransformCallback, onError: () => void): void {
  work.then(() => callback(), (err: unknown) => {
    onError();
    callback(err as Error);
  });
}

/**
 * A Transform that encrypts its input into an allegro-ts blob v1.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) at once for a bad key, context or option.
 */
export function createEncryptStream(key: AesKey, ctx: BlobContext, options?: EncryptBlobOptions): Transform {
  const sealer = prepareEncrypt(key, ctx, options)();
  let started = false;
  const wipe = () => sealer.wipe();
  return new Transform({
    transform(chunk: unknown, _encoding, callback) {
      settle((async () => {
        if (!started) {
          started = true;
          this.push(sealer.header);
        }
        for (const frame of sealer.frames(requireChunk(chunk))) for (const part of await sealer.seal(frame, false)) this.push(part);
      })(), callback, wipe);
    },
    flush(callback) {
      settle((async () => {
        if (!started) {
          started = true;
          this.push(sealer.header);
        }
        for (const part of await sealer.sealFinal()) this.push(part);
        sealer.wipe();
      })(), callback, wipe);
    },
    destroy(err, callback) {
      sealer.wipe();
      callback(err);
    },
  });
}

/**
 * A Transform that decrypts an allegro-ts blob v1; each frame's plaintext is pushed once its tag verified.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) at once for a bad key, context or option.
 */
export function createDecryptStream(key: AesKey, ctx: BlobContext, options?: DecryptBlobOptions): Transform {
  const opener = prepareDecrypt(key, ctx, options)();
  const wipe = () => opener.wipe();
  return new Transform({
    transform(chunk: unknown, _encoding, callback) {
      settle((async () => {
        for (const record of opener.records(requireChunk(chunk))) this.push(await opener.open(record));
      })(), callback, wipe);
    },
    flush(callback) {
      settle((async () => {
        const last = await opener.openFinal();
        if (last.length > 0) this.push(last);
        opener.wipe();
      })(), callback, wipe);
    },
    destroy(err, callback) {
      opener.wipe();
      callback(err);
    },
  });
}
