/**
 * `allegro bench crypto`: CiphertextTransport v3 encrypt and decrypt (each including base64, as a chat field is
 * sent) at 64 B, 1 KiB, 16 KiB and 1 MiB on every AEAD backend, against raw node:crypto AES-256-GCM doing the
 * same work (fresh 16-byte IV and AAD, base64 of IV‖AAD‖ciphertext‖tag) in the same process.
 *
 * Method: before timing, every backend's output is checked to decrypt to the input. Each case then runs in
 * several rounds that alternate with the raw baseline, each round for a fixed time; ops/s is the median round
 * and the ratio is the median of the per-round ratios, which cancels most of the drift of a shared VM.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { aeadBackendNames } from '../../crypto/backends.js';
import type { AeadBackendName } from '../../crypto/aead.js';
import { AesKey } from '../../crypto/aes-key.js';
import { decryptTransport, encryptTransport, transportFromBase64 } from '../../crypto/transport.js';
import { constantTimeEqual, toBase64 } from '../../util/bytes.js';

/** One measured case, the shape of `--json` output. */
export interface BenchCase {
  name: string;
  backend: string;
  size: number;
  opsPerSec: number;
  mbPerSec: number;
  ratioToRawNode: number;
}

/** Options of {@link runCryptoBench}. */
export interface CryptoBenchOptions {
  sizes?: readonly number[];
  backends?: readonly AeadBackendName[];
  /** Milliseconds per timed round. */
  roundMs?: number;
  rounds?: number;
  /** Called after each case, e.g. to print progress. */
  onCase?: (c: BenchCase) => void;
}

/** Default message sizes. */
export const BENCH_SIZES = [64, 1024, 16 * 1024, 1024 * 1024] as const;

type Op = () => unknown;

async function timeRound(op: Op, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms || ops < 2) {
    await op();
    ops++;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function rawNodeOps(key: Uint8Array, plaintext: Uint8Array, sample: string) {
  const ivAndAad = new Uint8Array(32);
  const encrypt: Op = () => {
    randomFillSync(ivAndAad);
    const cipher = createCipheriv('aes-256-gcm', key, ivAndAad.subarray(0, 16));
    cipher.setAAD(ivAndAad.subarray(16));
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([ivAndAad, body, cipher.getAuthTag()]).toString('base64');
  };
  const decrypt: Op = () => {
    const bytes = Buffer.from(sample, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 16));
    decipher.setAAD(bytes.subarray(16, 32));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const out = decipher.update(bytes.subarray(32, bytes.length - 16));
    decipher.final();
    return out;
  };
  return { encrypt, decrypt };
}

/** Run the crypto benchmark and return every case (raw baseline rows included, ratio 1). */
export async function runCryptoBench(options: CryptoBenchOptions = {}): Promise<BenchCase[]> {
  const sizes = options.sizes ?? BENCH_SIZES;
  const backends = options.backends ?? aeadBackendNames();
  const rounds = options.rounds ?? 9;
  const roundMs = options.roundMs ?? 150;
  const keyBytes = randomFillSync(new Uint8Array(32));
  const key = new AesKey(keyBytes);
  const cases: BenchCase[] = [];
  const record = (c: BenchCase) => {
    cases.push(c);
    options.onCase?.(c);
  };
  for (const size of sizes) {
    const plaintext = randomFillSync(new Uint8Array(size));
    const sample = toBase64(await encryptTransport(key, plaintext, { rotationId: 1 }));
    const rawSample = rawNodeOps(keyBytes, plaintext, '').encrypt() as string;
    const raw = rawNodeOps(keyBytes, plaintext, rawSample);
    for (const direction of ['encrypt', 'decrypt'] as const) {
      const rawOp = raw[direction];
      const rawRates: number[] = [];
      const perBackend = new Map<AeadBackendName, { rates: number[]; ratios: number[] }>();
      for (const backend of backends) {
        // Validate before timing: the backend must read what node wrote and write what node reads.
        const check = await decryptTransport(key, transportFromBase64(toBase64(await encryptTransport(key, plaintext, { rotationId: 1, backend }))));
        const checkBack = await decryptTransport(key, transportFromBase64(sample), { backend });
        if (!constantTimeEqual(check, plaintext) || !constantTimeEqual(checkBack, plaintext)) throw new Error(`backend ${backend} failed validation`);
        perBackend.set(backend, { rates: [], ratios: [] });
      }
      const ops = new Map<AeadBackendName, Op>(backends.map((backend) => [backend, direction === 'encrypt'
        ? async () => toBase64(await encryptTransport(key, plaintext, { rotationId: 1, backend }))
        : () => decryptTransport(key, transportFromBase64(sample), { backend })]));
      const slowest = size >= 1024 * 1024 ? 1 : rounds;
      for (let round = 0; round < rounds; round++) {
        const rawRate = await timeRound(rawOp, roundMs);
        rawRates.push(rawRate);
        for (const backend of backends) {
          // Pure-JS and thread-pool backends are 10-100x slower at 1 MiB; one round keeps the run short.
          if (backend !== 'node' && round >= slowest) continue;
          const rate = await timeRound(ops.get(backend)!, roundMs);
          const entry = perBackend.get(backend)!;
          entry.rates.push(rate);
          entry.ratios.push(rate / rawRate);
        }
      }
      const rawOps = median(rawRates);
      record({ name: `raw-${direction}+base64`, backend: 'raw-node', size, opsPerSec: rawOps, mbPerSec: (rawOps * size) / 1e6, ratioToRawNode: 1 });
      for (const backend of backends) {
        const { rates, ratios } = perBackend.get(backend)!;
        const opsPerSec = median(rates);
        record({ name: `v3-${direction}+base64`, backend, size, opsPerSec, mbPerSec: (opsPerSec * size) / 1e6, ratioToRawNode: median(ratios) });
      }
    }
  }
  key.wipe();
  return cases;
}

function formatSize(size: number): string {
  return size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

/** Render cases as a Markdown table. */
export function formatBenchTable(cases: readonly BenchCase[]): string {
  const lines = ['| case | backend | size | ops/s | MB/s | × raw node |', '|---|---|---:|---:|---:|---:|'];
  for (const c of cases) {
    lines.push(`| ${c.name} | ${c.backend} | ${formatSize(c.size)} | ${formatNumber(c.opsPerSec)} | ${formatNumber(c.mbPerSec)} | ${c.ratioToRawNode.toFixed(2)} |`);
  }
  return lines.join('\n');
}
