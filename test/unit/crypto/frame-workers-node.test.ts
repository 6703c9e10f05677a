// The worker-thread pool of blob frames: the same bytes as node:crypto frame by frame, a failed tag reported where it
// occurs, buffers handed over and back, and the threads' life: started on demand, never keeping the process alive,
// terminated when idle or closed, a failing thread failing its own batches with UNSUPPORTED_OPERATION only.
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { nodeFrameCipher } from '../../../src/crypto/aead-node.js';
import type { AeadKey } from '../../../src/crypto/aead.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import type { FrameBatch } from '../../../src/crypto/frame-cipher.js';
import { NodeFrameWorkers } from '../../../src/crypto/frame-workers-node.js';
import { sameBytes } from '../../helpers/vectors.js';

const FRAME = 4096;
const key = new AesKey(randomFillSync(new Uint8Array(32)));
const aad = randomFillSync(new Uint8Array(32));
const pool = new NodeFrameWorkers({ threads: 2, idleMs: 60_000 });
afterAll(() => pool.close());

function nonces(count: number, first = 0): Uint8Array {
  const out = new Uint8Array(12 * count);
  for (let i = 0; i < count; i++) new DataView(out.buffer).setUint32(12 * i + 4, first + i);
  return out;
}

function batch(frames: readonly Uint8Array[], frameLength: number): FrameBatch {
  const data = new Uint8Array(frames.length * frameLength);
  frames.forEach((f, i) => data.set(f, i * frameLength));
  return { data, frameLength, count: frames.length, nonces: nonces(frames.length) };
}

function records(frames: readonly Uint8Array[]): Uint8Array[] {
  return frames.map((plain, i) => {
    const { ciphertext, tag } = nodeFrameCipher.seal(key, nonces(1, i), aad, plain) as { ciphertext: Uint8Array; tag: Uint8Array };
    return new Uint8Array(Buffer.concat([ciphertext, tag]));
  });
}

/** Active resources of one type that keep the event loop alive. */
const active = (type: string) => process.getActiveResourcesInfo().filter((r) => r === type).length;

describe('NodeFrameWorkers', () => {
  it('seals and opens a batch into the bytes node:crypto gives frame by frame, handing the buffer over and back', async () => {
    const frames = Array.from({ length: 5 }, () => randomFillSync(new Uint8Array(FRAME)));
    const sealing = batch(frames, FRAME);
    const sealed = await pool.seal(key, aad, sealing);
    expect(sealing.data.byteLength).toBe(0); // transferred, not copied
    const expected = records(frames);
    expect(sealed.frames.map((f) => new Uint8Array(Buffer.concat([f.ciphertext, f.tag])))).toEqual(expected);
    // Handed back with each ciphertext where its plaintext was, and the outputs are views of it.
    expect(sameBytes(sealed.data, new Uint8Array(Buffer.concat(expected.map((r) => r.subarray(0, FRAME)))))).toBe(true);
    expect(sealed.frames.every((f, i) => f.ciphertext.buffer === sealed.data.buffer && f.ciphertext.byteOffset === i * FRAME)).toBe(true);

    const opening = batch(expected, FRAME + 16);
    const opened = await pool.open(key, aad, opening);
    expect(opened.failed).toBe(false);
    expect(opened.plaintexts.every((p, i) => sameBytes(p, frames[i]!))).toBe(true);
    expect(opened.data.byteLength).toBe(5 * (FRAME + 16));
    expect(opening.data.byteLength).toBe(0);
    // Each plaintext at the start of its record.
    expect(opened.plaintexts.every((p, i) => p.buffer === opened.data.buffer && p.byteOffset === i * (FRAME + 16))).toBe(true);
  });

  it('stops at the first record whose tag fails, releasing only the frames before it', async () => {
    const frames = Array.from({ length: 4 }, () => randomFillSync(new Uint8Array(FRAME)));
    const sealed = records(frames);
    sealed[2]![100]! ^= 1;
    const opened = await pool.open(key, aad, batch(sealed, FRAME + 16));
    expect(opened.failed).toBe(true);
    expect(opened.plaintexts).toHaveLength(2);
    expect(opened.plaintexts.every((p, i) => sameBytes(p, frames[i]!))).toBe(true);
    const wrongAad = await pool.open(key, new Uint8Array(32), batch(records(frames), FRAME + 16));
    expect(wrongAad).toMatchObject({ failed: true, plaintexts: [] });
  });

  it('uses only `count` frames of the buffer, and copies a batch that does not span its buffer', async () => {
    const frames = Array.from({ length: 3 }, () => randomFillSync(new Uint8Array(FRAME)));
    const roomy = new Uint8Array(8 * FRAME);
    frames.forEach((f, i) => roomy.set(f, i * FRAME));
    const sealed = await pool.seal(key, aad, { data: roomy, frameLength: FRAME, count: 3, nonces: nonces(3) });
    expect(sealed.frames).toHaveLength(3);
    expect(sealed.data).toHaveLength(8 * FRAME);
    const outer = new Uint8Array(4 * FRAME + 7);
    frames.forEach((f, i) => outer.set(f, 7 + i * FRAME));
    const view = outer.subarray(7);
    const copied = await pool.seal(key, aad, { data: view, frameLength: FRAME, count: 3, nonces: nonces(3) });
    expect(view.byteLength).toBe(4 * FRAME); // not detached
    expect(sameBytes(view.subarray(0, FRAME), frames[0]!)).toBe(true); // nor written
    expect(copied.frames.map((f) => f.ciphertext.slice())).toEqual(sealed.frames.map((f) => f.ciphertext.slice()));
  });

  it('poll() takes an answer that has arrived without the event loop, and inFlight counts the batches out', async () => {
    await vi.waitFor(() => expect(pool.warm()).toBe(true), { timeout: 30_000, interval: 20 });
    const pending = pool.seal(key, aad, batch([randomFillSync(new Uint8Array(FRAME))], FRAME));
    expect(pool.inFlight).toBe(1);
    // Block this thread (no event loop turn) until poll() has taken the answer.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; pool.inFlight > 0 && waited < 30_000; waited += 5) {
      Atomics.wait(pause, 0, 0, 5);
      pool.poll();
    }
    expect(pool.inFlight).toBe(0);
    expect((await pending).frames).toHaveLength(1);
  });

  it('starts its threads on warm() without waiting, and says when one is ready', async () => {
    const fresh = new NodeFrameWorkers({ threads: 2, idleMs: 60_000 });
    try {
      expect(fresh.running).toBe(0);
      expect(fresh.warm()).toBe(false); // a thread cannot be online before the event loop turns
      expect(fresh.running).toBe(2);
      await vi.waitFor(() => expect(fresh.warm()).toBe(true), { timeout: 30_000, interval: 20 });
      expect(fresh.running).toBe(2);
    } finally {
      await fresh.close();
    }
    expect(fresh.running).toBe(0);
  });

  it('keeps the process alive only while it has batches in hand, and terminates idle threads after idleMs', async () => {
    const idle = new NodeFrameWorkers({ threads: 2, idleMs: 50 });
    const before = active('MessagePort');
    const frames = Array.from({ length: 64 }, () => randomFillSync(new Uint8Array(FRAME)));
    const pending = idle.seal(key, aad, batch(frames, FRAME));
    expect(active('MessagePort')).toBe(before + 1); // the thread with the batch, not the idle one
    await pending;
    expect(idle.running).toBe(2);
    expect(active('MessagePort')).toBe(before);
    await vi.waitFor(() => expect(idle.running).toBe(0), { timeout: 30_000, interval: 20 });
    // Used again, it starts again.
    expect((await idle.seal(key, aad, batch(frames.slice(0, 1), FRAME))).frames).toHaveLength(1);
    await idle.close();
  });

  it('close() terminates every thread and fails the batches in hand with UNSUPPORTED_OPERATION', async () => {
    const closing = new NodeFrameWorkers({ threads: 2, idleMs: 60_000 });
    const frames = Array.from({ length: 16 }, () => randomFillSync(new Uint8Array(64 * 1024)));
    const outcomes = [closing.seal(key, aad, batch(frames, 64 * 1024)), closing.seal(key, aad, batch(frames, 64 * 1024))]
      .map((p) => p.then(() => 'sealed', (err: unknown) => err));
    await closing.close();
    expect(closing.running).toBe(0);
    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome).toMatchObject({ code: 'UNSUPPORTED_OPERATION', operation: 'AES-GCM on worker threads', platform: 'node' });
    }
  });

  it('a thread that fails fails its own batches with UNSUPPORTED_OPERATION; the pool goes on', async () => {
    const failing = new NodeFrameWorkers({ threads: 1, idleMs: 60_000 });
    try {
      // A key whose node:crypto form is not a key: createCipheriv throws inside the thread.
      const broken: AeadKey = { bytes: new Uint8Array(32), handle: <T>() => 'not a key' as T };
      await expect(failing.seal(broken, aad, batch([new Uint8Array(FRAME)], FRAME))).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
      await vi.waitFor(() => expect(failing.running).toBe(0), { timeout: 30_000, interval: 20 });
      expect((await failing.seal(key, aad, batch([new Uint8Array(FRAME)], FRAME))).frames).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });
});

describe('a process using the pool', () => {
  const blobFormat = resolve(import.meta.dirname, '../../../dist/store/blob-format.js');
  const aesKey = resolve(import.meta.dirname, '../../../dist/crypto/aes-key.js');

  it('ends by itself once its blobs are done, without waiting for the idle timeout (needs dist/)', async () => {
    expect(existsSync(blobFormat), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const program = `
      const { encryptBlob, decryptBlob } = await import(${JSON.stringify(blobFormat)});
      const { AesKey } = await import(${JSON.stringify(aesKey)});
      const key = new AesKey(new Uint8Array(32).fill(1));
      const ctx = { podId: 1, threadId: 'thread', rotationId: 1n, blobId: 'b' };
      const data = new Uint8Array(3 * 1024 * 1024).fill(7);
      const sealed = [];
      for await (const c of encryptBlob(key, ctx, [data], { parallel: true })) sealed.push(c);
      let n = 0;
      for await (const c of decryptBlob(key, ctx, sealed, { parallel: true })) n += c.length;
      const done = performance.now();
      process.on('exit', () => console.log(JSON.stringify({ n, exitAfterMs: performance.now() - done })));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { n: number; exitAfterMs: number };
    expect(report.n).toBe(3 * 1024 * 1024);
    // The pool's idle timeout is 10 s: a thread that kept the process alive would hold it at least that long.
    expect(report.exitAfterMs).toBeLessThan(10_000);
  }, 120_000);
});
