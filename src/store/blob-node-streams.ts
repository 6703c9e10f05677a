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

const { prepareEncrypt, prepareDecrypt } = blobInternals;

type FrameStream = ReturnType<ReturnType<typeof prepareEncrypt>>;

/** A Transform over a state machine of ./blob-format.ts: its header first, then its outputs, chunk by chunk. */
function transformOver(machine: FrameStream): Transform {
  let started = false;
  const wipe = () => machine.wipe();
  const emit = (stream: Transform, parts: () => AsyncGenerator<Uint8Array>, callback: TransformCallback, then?: () => void) => {
    (async () => {
      if (!started) {
        started = true;
        if (machine.header !== undefined) stream.push(machine.header);
      }
      for await (const part of parts()) stream.push(part);
      then?.();
    })().then(() => callback(), (err: unknown) => {
      wipe();
      callback(err as Error);
    });
  };
  return new Transform({
    transform(chunk: unknown, _encoding, callback) {
      emit(this, () => machine.write(chunk), callback);
    },
    flush(callback) {
      emit(this, () => machine.end(), callback, wipe);
    },
    destroy(err, callback) {
      wipe();
      callback(err);
    },
  });
}

/**
 * A Transform that encrypts its input into an allegro-ts blob v1 (options as `encryptBlob`, worker threads included).
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) at once for a bad key, context or option.
 */
export function createEncryptStream(key: AesKey, ctx: BlobContext, options?: EncryptBlobOptions): Transform {
  return transformOver(prepareEncrypt(key, ctx, options)());
}

/**
 * A Transform that decrypts an allegro-ts blob v1; each frame's plaintext is pushed once its tag verified, in order.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) at once for a bad key, context or option.
 */
export function createDecryptStream(key: AesKey, ctx: BlobContext, options?: DecryptBlobOptions): Transform {
  return transformOver(prepareDecrypt(key, ctx, options)());
}
