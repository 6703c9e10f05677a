/**
 * The decrypt measurements of `allegro bench browser` (./cases/browser.ts), portable — no `node:` import — so that
 * the same code times them in Node and, bundled, in Chromium: per AEAD backend, CiphertextTransport v3 decrypt of one
 * message as a chat field arrives (base64 + decrypt, docs/wire-formats.md) in ops/s, and blob v1 decrypt of a blob
 * held in memory, fed in 64 KiB chunks as from a socket, in bytes/s. Before timing, every backend must give the
 * plaintext whose SHA-256 the caller names (the corpus is made in Node, so this also proves the runtimes agree).
 * Rounds are interleaved with the first backend as the reference (./harness.ts).
 */
import { platform } from '#platform';
import type { AeadBackendName } from '../crypto/aead.js';
import { AesKey } from '../crypto/aes-key.js';
import { decryptTransport, transportFromBase64 } from '../crypto/transport.js';
import { decryptBlob, type BlobContext } from '../store/blob-format.js';
import { toHex } from '../util/bytes.js';
import { countBytes, interleave, timedContender, workContender, type Standing } from './harness.js';

/** What to decrypt, and what each decryption must give. Plain data, so that it can be handed to a page. */
export interface DecryptCorpus {
  /** The content key. */
  key: Uint8Array;
  /** One CiphertextTransport v3, base64 as in a message. */
  transport: string;
  /** SHA-256 (hex) of its plaintext. */
  transportSha256: string;
  /** A blob v1, whole. */
  blob: Uint8Array;
  /** Its context, the rotation as a decimal string. */
  blobContext: Omit<BlobContext, 'rotationId'> & { rotationId: string };
  /** SHA-256 (hex) of its plaintext. */
  blobSha256: string;
}

/** How to time. */
export interface DecryptTiming {
  /** Backends to measure; the first is the reference of the ratios. */
  backends: readonly AeadBackendName[];
  /** Timed rounds (at most 3 for the blob on the noble backend, which is slow). */
  rounds: number;
  /** Milliseconds per transport round, and of its warm-up. */
  roundMs: number;
}

/** Rates per backend: transport decrypts per second, blob bytes per second. */
export interface DecryptRates {
  transport: Standing[];
  blob: Standing[];
}

const CHUNK = 64 * 1024;

function chunksOf(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) chunks.push(bytes.subarray(at, at + CHUNK));
  return chunks;
}

/** Check, then time, every backend on `corpus`. Throws naming the backend whose plaintext differs. */
export async function measureDecryptRates(corpus: DecryptCorpus, timing: DecryptTiming): Promise<DecryptRates> {
  const key = new AesKey(corpus.key);
  const ctx: BlobContext = { ...corpus.blobContext, rotationId: BigInt(corpus.blobContext.rotationId) };
  const chunks = chunksOf(corpus.blob);
  try {
    const transportOp = (backend: AeadBackendName) => () => decryptTransport(key, transportFromBase64(corpus.transport), { backend });
    // One thread in both runtimes (Node would otherwise open a large blob on all cores: `parallel: 'auto'`).
    const blobRun = (backend: AeadBackendName) => () => countBytes(decryptBlob(key, ctx, chunks, { backend, parallel: false }));
    for (const backend of timing.backends) {
      if (toHex(platform.sha256(await transportOp(backend)())) !== corpus.transportSha256) throw new Error(`browser bench: backend ${backend} does not decrypt the transport to its plaintext`);
      const parts: Uint8Array[] = [];
      for await (const part of decryptBlob(key, ctx, chunks, { backend })) parts.push(part);
      const plaintext = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (plaintext.set(p, at), at + p.length), 0);
      if (toHex(platform.sha256(plaintext)) !== corpus.blobSha256) throw new Error(`browser bench: backend ${backend} does not decrypt the blob to its plaintext`);
    }
    const [reference, ...others] = timing.backends;
    if (reference === undefined) throw new RangeError('browser bench: no backend to measure');
    const timed = (b: AeadBackendName) => timedContender(b, transportOp(b), { roundMs: timing.roundMs });
    const worked = (b: AeadBackendName) => workContender(b, blobRun(b), b === 'noble' ? Math.min(3, timing.rounds) : undefined);
    return {
      transport: await interleave(timed(reference), others.map(timed), timing.rounds),
      blob: await interleave(worked(reference), others.map(worked), timing.rounds),
    };
  } finally {
    key.wipe();
  }
}
