/**
 * `allegro bench crypto`: CiphertextTransport v3 (docs/wire-formats.md) encrypt and decrypt, each including base64
 * as a chat field is sent, for every AEAD backend, against raw node:crypto AES-256-GCM doing the same work in the
 * same process (fresh 16-byte IV and AAD, base64 of IV‖AAD‖ciphertext‖tag), and against OpenSSL's own speed at
 * the same sizes (the limit, ../openssl.ts). Method: docs/cli.md "Benchmarks".
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import type { AeadBackendName } from '../../crypto/aead.js';
import { AesKey } from '../../crypto/aes-key.js';
import { aeadBackendNames, getAeadBackend } from '../../crypto/backends.js';
import { decryptTransport, encryptTransport, transportFromBase64 } from '../../crypto/transport.js';
import { constantTimeEqual, toBase64 } from '../../util/bytes.js';
import { interleave, timedContender } from '../harness.js';
import type { LimitPoint } from '../openssl.js';
import { formatSize, makeReport, type BenchReport, type BenchTable } from '../report.js';
import { limitNotes, takeLimit, throughputChart, throughputColumns, throughputRows, type LimitChoice } from '../throughput.js';

/** Options of {@link runCryptoBench}. */
export interface CryptoBenchOptions extends LimitChoice {
  /** Plaintext sizes in bytes (default {@link CRYPTO_SIZES}). */
  sizes?: readonly number[];
  /** Backends to measure (default: all this runtime has). */
  backends?: readonly AeadBackendName[];
  /** Timed rounds per case (default 9). */
  rounds?: number;
  /** Milliseconds per round, and of the warm-up (default 150). */
  roundMs?: number;
}

/** Default plaintext sizes. */
export const CRYPTO_SIZES: readonly number[] = [64, 1024, 16 * 1024, 1024 * 1024];

/** Sizes from which backends other than the default get one round only (they are 10–100 times slower there). */
const LARGE = 1024 * 1024;

type Op = () => unknown;

/** Raw node:crypto doing a v3 message's work: encrypt + base64, and base64 + decrypt of one sample. */
function rawNodeOps(key: Uint8Array, plaintext: Uint8Array): { encrypt: Op; decrypt: Op } {
  const ivAndAad = new Uint8Array(32);
  const encrypt = () => {
    randomFillSync(ivAndAad);
    const cipher = createCipheriv('aes-256-gcm', key, ivAndAad.subarray(0, 16));
    cipher.setAAD(ivAndAad.subarray(16));
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([ivAndAad, body, cipher.getAuthTag()]).toString('base64');
  };
  const sample = encrypt();
  const decrypt = () => {
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

/**
 * Check before timing that the implementations compared do the same thing: every backend seals to exactly the bytes
 * node:crypto produces for a fixed IV and AAD, every backend's transport decrypts on every backend, and the raw
 * baseline decrypts what it encrypted.
 */
async function crossValidate(keyBytes: Uint8Array, key: AesKey, plaintext: Uint8Array, backends: readonly AeadBackendName[], raw: { decrypt: Op }): Promise<void> {
  const iv = new Uint8Array(16).fill(7);
  const aad = new Uint8Array(16).fill(9);
  const cipher = createCipheriv('aes-256-gcm', keyBytes, iv);
  cipher.setAAD(aad);
  const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const size = formatSize(plaintext.length);
  for (const backend of backends) {
    const sealed = await getAeadBackend(backend).seal(key, iv, aad, plaintext);
    if (!constantTimeEqual(sealed, expected)) throw new Error(`crypto bench: backend ${backend} does not seal ${size} as node:crypto does`);
    const transport = await encryptTransport(key, plaintext, { rotationId: 1, backend });
    for (const reader of backends) {
      if (!constantTimeEqual(await decryptTransport(key, transport, { backend: reader }), plaintext)) {
        throw new Error(`crypto bench: backend ${reader} does not decrypt the ${size} transport of backend ${backend}`);
      }
    }
  }
  if (!constantTimeEqual(raw.decrypt() as Uint8Array, plaintext)) throw new Error(`crypto bench: the raw baseline does not round-trip ${size}`);
}

/** Run the crypto benchmark (about a minute with the defaults, plus 2 s per size and direction for the limit). */
export async function runCryptoBench(options: CryptoBenchOptions = {}): Promise<BenchReport> {
  const sizes = options.sizes ?? CRYPTO_SIZES;
  const backends = options.backends ?? aeadBackendNames();
  const rounds = options.rounds ?? 9;
  const roundMs = options.roundMs ?? 150;
  const defaultBackend = aeadBackendNames()[0];
  const keyBytes = randomFillSync(new Uint8Array(32));
  const key = new AesKey(keyBytes);
  const points: LimitPoint[] = sizes.flatMap((bytes) => [{ direction: 'encrypt', bytes }, { direction: 'decrypt', bytes }]);
  const limit = await takeLimit(points, options);
  const labels = new Map<string, string>([['raw', 'raw node:crypto'], ...backends.map((b) => [b, `allegro-ts ${b}`] as [string, string])]);
  const table = (title: string): BenchTable => ({
    title, columns: throughputColumns([{ key: 'size', label: 'size', format: 'bytes' }], limit, true), rows: [], chart: throughputChart('size'),
  });
  const tables = { encrypt: table('encrypt + base64'), decrypt: table('base64 + decrypt') };
  try {
    for (const size of sizes) {
      const plaintext = randomFillSync(new Uint8Array(size));
      const raw = rawNodeOps(keyBytes, plaintext);
      await crossValidate(keyBytes, key, plaintext, backends, raw);
      const sample = toBase64(await encryptTransport(key, plaintext, { rotationId: 1 }));
      for (const direction of ['encrypt', 'decrypt'] as const) {
        // The default backend is measured as applications call it: without a `backend` option.
        const contenders = backends.map((name) => ({ name, backend: name === defaultBackend ? undefined : name })).map(({ name, backend }) => timedContender(name, direction === 'encrypt'
          ? async () => toBase64(await encryptTransport(key, plaintext, { rotationId: 1, ...(backend ? { backend } : {}) }))
          : () => decryptTransport(key, transportFromBase64(sample), backend ? { backend } : {}),
        { roundMs, ...(backend !== undefined && size >= LARGE ? { rounds: 1 } : {}) }));
        const standings = await interleave(timedContender('raw', raw[direction], { roundMs }), contenders, rounds);
        tables[direction].rows.push(...throughputRows({ size }, standings, labels, limit, { direction, bytes: size }, size));
        options.progress?.(`measured ${direction} ${formatSize(size)}: raw, ${backends.join(', ')}`);
      }
    }
  } finally {
    key.wipe();
  }
  return makeReport({
    name: 'crypto',
    title: 'CiphertextTransport v3 throughput per AEAD backend',
    method: 'Each case first checks that every backend seals to the bytes node:crypto produces for a fixed IV and AAD and ' +
      'decrypts every other backend\'s transports. Then the raw node:crypto baseline and every backend are warmed up for ' +
      `${roundMs} ms each, and ${rounds} rounds of ${roundMs} ms alternate the baseline and each backend (backends other ` +
      `than the default take one round from ${formatSize(LARGE)}; the default is called as applications call it, without a backend option). ops/s is the median round; × raw is the median of the ` +
      'per-round ratios to the baseline of the same round; × limit is MB/s over OpenSSL\'s at the same size and direction. ' +
      'MB = 10^6 bytes of plaintext.',
    openssl: limit.version,
    tables: [tables.encrypt, tables.decrypt],
    notes: limitNotes(limit),
  });
}
