#!/usr/bin/env node
/**
 * Encrypt-only throughput, in one process, of:
 * - the AWS Encryption SDK for JavaScript (@aws-crypto/client-node, pinned in ./package.json), streaming
 *   (`encryptStream`), raw AES keyring with an AES-256 wrapping key, frame length 64 KiB, commitment policy
 *   REQUIRE_ENCRYPT_REQUIRE_DECRYPT and its default algorithm suite
 *   (ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384: key commitment and an ECDSA P-384 signature
 *   over the message); also, for reference, the same without the signature (…_COMMIT_KEY);
 * - allegro-ts blob v1 (`encryptBlob` from ../dist/store/blob-format.js: 64 KiB frames, key commitment, no
 *   signature);
 * - raw node:crypto framed AES-256-GCM (a GCM message per 64 KiB frame; none of the formats' work).
 *
 * The source is one 64 KiB random buffer yielded repeatedly (default 256 MiB: constant memory); the sink counts
 * bytes. Each round runs every implementation once; MB/s (10^6 bytes) is the median round, the ratio the median of
 * the per-round ratios to raw node:crypto. Each implementation is first checked to round-trip a small message.
 *
 * Run from the repository root: npm run build && cd bench && npm ci && node aws-compare.mjs [--mib N] [--rounds N] [--json]
 */
import { createCipheriv, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';

let blobFormat;
let aesKeyModule;
try {
  blobFormat = await import('../dist/store/blob-format.js');
  aesKeyModule = await import('../dist/crypto/aes-key.js');
} catch (err) {
  console.error(`cannot load allegro-ts from ../dist (${err.message}); run \`npm run build\` in the repository root first`);
  process.exit(1);
}
const { encryptBlob, decryptBlob } = blobFormat;
const { AesKey } = aesKeyModule;

const { values } = parseArgs({ options: { mib: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } } });
const MiB = 1024 * 1024;
const FRAME = 64 * 1024;
const totalMiB = Number(values.mib ?? 256);
const rounds = Number(values.rounds ?? 3);
if (!(Number.isInteger(totalMiB) && totalMiB > 0 && totalMiB <= 4096)) throw new Error('--mib must be an integer from 1 to 4096');
if (!(Number.isInteger(rounds) && rounds > 0 && rounds <= 20)) throw new Error('--rounds must be an integer from 1 to 20');
const frames = (totalMiB * MiB) / FRAME;
const plainBytes = frames * FRAME;
const sdkVersion = JSON.parse(readFileSync(new URL('./node_modules/@aws-crypto/client-node/package.json', import.meta.url), 'utf8')).version;

const frame = randomFillSync(new Uint8Array(FRAME));
async function* repeat(chunk, count) {
  for (let i = 0; i < count; i++) yield chunk;
}
async function drain(source) {
  let n = 0;
  for await (const c of source) n += c.length;
  return n;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const equalBytes = (a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;

// --- AWS Encryption SDK ------------------------------------------------------------------------------------------
const { encrypt, encryptStream, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const keyring = new RawAesKeyringNode({
  keyNamespace: 'allegro-ts-bench',
  keyName: 'aes-256-wrapping-key',
  unencryptedMasterKey: randomFillSync(new Uint8Array(32)),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
});
const encryptionContext = { purpose: 'allegro-ts benchmark' };
const DEFAULT_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
const UNSIGNED_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

/** Stream `count` frames through encryptStream; returns plaintext bytes and checks the suite used. */
async function awsEncrypt(count, suiteId, expectSuite) {
  let seen;
  let out = 0;
  const stream = encryptStream(keyring, {
    encryptionContext, frameLength: FRAME, plaintextLength: count * FRAME, ...(suiteId === undefined ? {} : { suiteId }),
  });
  stream.once('MessageHeader', (h) => { seen = h.suiteId; });
  await pipeline(
    Readable.from(repeat(frame, count)),
    stream,
    new Writable({ write(chunk, _enc, cb) { out += chunk.length; cb(); } }),
  );
  if (seen !== expectSuite) throw new Error(`AWS SDK used suite 0x${seen?.toString(16)}, expected 0x${expectSuite.toString(16)}`);
  if (out <= count * FRAME) throw new Error('AWS SDK output shorter than its input');
  return count * FRAME;
}

// --- allegro-ts blob v1 ------------------------------------------------------------------------------------------
const contentKey = new AesKey(randomFillSync(new Uint8Array(32)));
const ctx = { podId: 1, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: 1n, blobId: 'bench' };
const allegroEncrypt = async (count) => (await drain(encryptBlob(contentKey, ctx, repeat(frame, count), { frameSize: FRAME })), count * FRAME);

// --- raw node:crypto framed GCM (as in src/cli/commands/bench-blob.ts) ---------------------------------------------
const rawKey = randomFillSync(new Uint8Array(32));
const rawAad = randomFillSync(new Uint8Array(32));
function nonce(index, last) {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setUint32(4, index);
  view.setUint32(8, last ? 1 : 0);
  return n;
}
async function* rawFramed(source) {
  let index = 0;
  const seal = (f, last) => {
    const cipher = createCipheriv('aes-256-gcm', rawKey, nonce(index++, last));
    cipher.setAAD(rawAad);
    const body = cipher.update(f);
    cipher.final();
    return [body, cipher.getAuthTag()];
  };
  for await (const f of source) yield* seal(f, false);
  yield* seal(new Uint8Array(0), true);
}
const rawEncrypt = async (count) => (await drain(rawFramed(repeat(frame, count))), count * FRAME);

// --- checks: each format round-trips a message that is not a whole number of frames -------------------------------
const sample = randomFillSync(new Uint8Array(3 * FRAME + 17));
for (const suiteId of [DEFAULT_SUITE, UNSIGNED_SUITE]) {
  const { result, messageHeader } = await encrypt(keyring, sample, { encryptionContext, frameLength: FRAME, suiteId });
  if (messageHeader.suiteId !== suiteId) throw new Error('AWS SDK ignored suiteId');
  const { plaintext } = await decrypt(keyring, result);
  if (!equalBytes(plaintext, sample)) throw new Error(`AWS SDK round trip failed (suite 0x${suiteId.toString(16)})`);
}
{
  const sealed = [];
  for await (const c of encryptBlob(contentKey, ctx, [sample], { frameSize: FRAME })) sealed.push(c);
  const parts = [];
  for await (const c of decryptBlob(contentKey, ctx, sealed)) parts.push(c);
  const opened = Buffer.concat(parts);
  if (!equalBytes(opened, sample)) throw new Error('allegro-ts blob round trip failed');
}

// --- measure --------------------------------------------------------------------------------------------------------
const cases = [
  { implementation: 'raw node:crypto', format: 'framed AES-256-GCM, no header, no KDF', run: rawEncrypt },
  { implementation: 'allegro-ts', format: 'blob v1 (HKDF-SHA256, key commitment)', run: allegroEncrypt },
  {
    implementation: `@aws-crypto/client-node ${sdkVersion}`,
    format: 'default suite 0x0578 (HKDF-SHA512, key commitment, ECDSA P-384 signature)',
    run: (count) => awsEncrypt(count, undefined, DEFAULT_SUITE),
  },
  {
    implementation: `@aws-crypto/client-node ${sdkVersion}`,
    format: 'suite 0x0478 (HKDF-SHA512, key commitment, no signature)',
    run: (count) => awsEncrypt(count, UNSIGNED_SUITE, UNSIGNED_SUITE),
  },
];
const warmFrames = Math.min(frames, 256);
for (const c of cases) await c.run(warmFrames);

const rates = cases.map(() => []);
const ratios = cases.map(() => []);
const started = performance.now();
for (let round = 0; round < rounds; round++) {
  const roundRates = [];
  for (const c of cases) {
    const t = performance.now();
    const bytes = await c.run(frames);
    if (bytes !== plainBytes) throw new Error(`${c.implementation} encrypted ${bytes} bytes, expected ${plainBytes}`);
    roundRates.push(bytes / 1e6 / ((performance.now() - t) / 1000));
  }
  roundRates.forEach((r, i) => {
    rates[i].push(r);
    ratios[i].push(r / roundRates[0]);
  });
}
contentKey.wipe();

const results = cases.map((c, i) => ({ implementation: c.implementation, format: c.format, mbPerSec: median(rates[i]), ratioToRaw: median(ratios[i]) }));
const environment = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', awsEncryptionSdk: sdkVersion };
if (values.json === true) {
  console.log(JSON.stringify({ environment, totalMiB, frameSize: FRAME, rounds, results }, null, 2));
} else {
  console.log([
    `Encrypt ${totalMiB} MiB streamed in 64 KiB chunks, frame length 64 KiB, one process; ${environment.node}, ${environment.cpus} × ${environment.cpu}; ` +
      `median of ${rounds} rounds (MB = 10^6 bytes), ${((performance.now() - started) / 1000).toFixed(1)} s`,
    '',
    '| implementation | format | MB/s | ratio to raw node:crypto |',
    '|---|---|---:|---:|',
    ...results.map((r) => `| ${r.implementation} | ${r.format} | ${r.mbPerSec.toFixed(0)} | ${r.ratioToRaw.toFixed(2)} |`),
  ].join('\n'));
}
