// Byte sources and web streams: openSource reads every kind of source one way (a ReadableStream through its
// reader, locked at once, cancelled when the consumer stops early), refuses what is none; toReadableStream pulls
// one chunk per read (backpressure) and returns the iterator when cancelled.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { isReadableStream, openSource, toReadableStream } from '../../../src/util/web-streams.js';

const bytes = (...values: number[]) => new Uint8Array(values);

async function drain(iterable: AsyncIterable<unknown> | Iterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

describe('openSource', () => {
  it('reads async iterables, iterables and ReadableStreams, as they give their chunks', async () => {
    async function* generated() {
      yield bytes(1);
      yield bytes(2, 3);
    }
    const stream = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(bytes(4)); c.enqueue(bytes(5, 6)); c.close(); } });
    for (const [source, expected] of [[generated(), [bytes(1), bytes(2, 3)]], [[bytes(7)], [bytes(7)]], [stream, [bytes(4), bytes(5, 6)]]] as const) {
      const opened = openSource(source);
      expect(await drain(opened.chunks)).toEqual(expected);
      await opened.close();
    }
    expect(stream.locked).toBe(false);
  });

  it('locks a ReadableStream at once, and close() cancels one that was not read to its end', async () => {
    let cancelled: unknown = 'no';
    const stream = new ReadableStream<Uint8Array>({ pull(c) { c.enqueue(bytes(1)); }, cancel(reason) { cancelled = reason; } });
    const opened = openSource(stream);
    expect(stream.locked).toBe(true);
    for await (const _chunk of opened.chunks) break;
    await opened.close();
    expect(cancelled).toBeUndefined();
    expect(stream.locked).toBe(false);
  });

  it('refuses what is not a byte source with INVALID_ARGUMENT naming `source`', () => {
    for (const value of [undefined, null, 42, 'text', bytes(1), {}]) {
      expect(() => openSource(value as never)).toThrow(InvalidArgumentError);
      expect(() => openSource(value as never)).toThrow(/source/);
    }
  });
});

describe('toReadableStream', () => {
  it('pulls one chunk per read, not ahead (high-water mark 0), with onPull on each pull', async () => {
    let produced = 0;
    let pulls = 0;
    async function* counting() {
      for (let i = 0; i < 5; i++) {
        produced++;
        yield bytes(i);
      }
    }
    const stream = toReadableStream(counting(), () => { pulls++; });
    expect(isReadableStream(stream)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(produced).toBe(0);
    const reader = stream.getReader();
    expect((await reader.read()).value).toEqual(bytes(0));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(produced).toBe(1);
    const rest: Uint8Array[] = [];
    for (let step = await reader.read(); !step.done; step = await reader.read()) rest.push(step.value);
    expect(rest).toEqual([bytes(1), bytes(2), bytes(3), bytes(4)]);
    expect(pulls).toBe(6);
  });

  it('returns the iterator when the stream is cancelled (its finally runs)', async () => {
    let finished = false;
    async function* endless() {
      try {
        for (;;) yield bytes(1);
      } finally {
        finished = true;
      }
    }
    const reader = toReadableStream(endless()).getReader();
    await reader.read();
    await reader.cancel();
    expect(finished).toBe(true);
  });

  it('errors the stream with the iterator\'s own error', async () => {
    const boom = new Error('source failed');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield bytes(1);
      throw boom;
    }
    const reader = toReadableStream(failing()).getReader();
    await reader.read();
    await expect(reader.read()).rejects.toBe(boom);
  });
});

describe('isReadableStream', () => {
  it('recognises a ReadableStream by its reader, and nothing else', () => {
    expect(isReadableStream(new ReadableStream())).toBe(true);
    expect(isReadableStream(new Blob([]).stream())).toBe(true);
    for (const value of [null, undefined, {}, [], bytes(1), (async function* () {})()]) expect(isReadableStream(value)).toBe(false);
  });
});
