/**
 * Sources of bytes — async iterables, iterables and WHATWG `ReadableStream`s — read one way, and async iterables
 * as `ReadableStream`s: for the byte streams that cross the public API in browsers (blobs: store/blob-format.ts,
 * store/object-store-client.ts) and the fetch transport's request bodies (http/fetch-transport.ts). Portable: the
 * global `ReadableStream` only, and a stream is read through its reader, since not every browser makes
 * `ReadableStream` async-iterable. Both directions pull one chunk at a time (backpressure) and pass a stop on: a
 * consumer that stops early cancels the stream, or returns the iterator.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from './validate.js';

/** A source of bytes: an (async) iterable of chunks, or a web `ReadableStream`. Chunks may have any size. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Whether `value` is a WHATWG `ReadableStream` (of this realm or another: recognised by its `getReader`). */
export function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof value === 'object' && value !== null && typeof (value as ReadableStream).getReader === 'function';
}

/** The chunks of a source, and how to release it when the consumer stops early. */
export interface OpenedSource {
  /** The chunks as the source gives them (unchecked: the consumer checks them). */
  chunks: AsyncIterable<unknown> | Iterable<unknown>;
  /** Cancel a ReadableStream that was not read to its end and release its lock; no-op for iterables. */
  close(): Promise<void>;
}

/**
 * Open a {@link ByteSource} for reading. A `ReadableStream` is locked at once (as `pipeThrough` does) and read through
 * its reader.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`, parameter `source`) for anything else than a ByteSource.
 */
export function openSource(source: ByteSource): OpenedSource {
  if (isReadableStream(source)) {
    const reader = source.getReader();
    let done = false;
    return {
      chunks: {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const next = await reader.read();
            if (next.done) {
              done = true;
              return;
            }
            yield next.value;
          }
        },
      },
      async close() {
        if (!done) {
          done = true;
          await reader.cancel().catch(() => undefined);
        }
        reader.releaseLock();
      },
    };
  }
  if (typeof source === 'object' && source !== null && (Symbol.asyncIterator in source || Symbol.iterator in source) && !(source instanceof Uint8Array)) {
    return { chunks: source, close: async () => undefined };
  }
  throw new InvalidArgumentError('source', 'an AsyncIterable or Iterable of Uint8Array, or a ReadableStream', describeValue(source));
}

/**
 * `source` as a `ReadableStream` that asks for the next chunk only when its reader pulls (high-water mark 0);
 * `onPull` runs on each pull. Cancelling the stream returns the iterator.
 */
export function toReadableStream(source: AsyncIterable<Uint8Array>, onPull?: () => void): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      onPull?.();
      const step = await iterator.next();
      if (step.done === true) controller.close();
      else controller.enqueue(step.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
}
