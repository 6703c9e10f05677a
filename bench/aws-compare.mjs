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
 * and OpenSSL's own AES-256-GCM speed at 64 KiB (the limit, as in `allegro bench blob`).
 *
 * The source is one 64 KiB random buffer yielded repeatedly (default 256 MiB: constant memory); the sink counts
 * bytes. Each implementation is first checked to round-trip a small message, then warmed up; each round runs raw
 * node:crypto and then every implementation once (the harness of src/bench/harness.ts); MB/s (10^6 bytes) is the
 * median round, the ratio the median of the per-round ratios to raw node:crypto. The report is the one of
 * `allegro bench` (docs/cli.md "The report"), printed as Markdown or JSON, and as an HTML page with --html.
 *
 * Run from the repository root:
 *   npm run build && cd bench && npm ci && node aws-compare.mjs [--mib N] [--rounds N] [--json] [--html FILE] [--no-limit]
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';

let allegro;
try {
  allegro = await Promise.all(['store/blob-format', 'crypto/aes-key', 'bench/harness', 'bench/cases/blob', 'bench/report', 'bench/html', 'bench/throughput']
    .map((m) => import(`../dist/${m}.js`)));
} catch (err) {
  console.error(`cannot load allegro-ts from ../dist (${err.message}); run \`npm run build\` in the repository root first`);
  process.exit(1);
}
const [
  { encryptBlob, decryptBlob }, { AesKey }, { countBytes, interleave, repeatChunk, unitsPerSecond }, { rawFramedEncrypt },
  { makeReport, toJson, toMarkdown }, { toHtml }, { limitNotes, takeLimit, throughputChart, throughputColumns, throughputRows },
] = allegro;

const { values } = parseArgs({
  options: { mib: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' }, html: { type: 'string' }, 'no-limit': { type: 'boolean' } },
});
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
    Readable.from(repeatChunk(frame, count)),
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
// One thread, as the SDK (a large blob would otherwise go to all cores: `parallel: 'auto'`).
const allegroEncrypt = async (count) => (await countBytes(encryptBlob(contentKey, ctx, repeatChunk(frame, count), { frameSize: FRAME, parallel: false })), count * FRAME);

// --- raw node:crypto framed GCM (src/bench/cases/blob.ts) -----------------------------------------------------------
const rawKey = randomFillSync(new Uint8Array(32));
const rawAad = randomFillSync(new Uint8Array(32));
const rawEncrypt = async (count) => (await countBytes(rawFramedEncrypt(rawKey, rawAad, repeatChunk(frame, count))), count * FRAME);

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
const limit = await takeLimit([{ direction: 'encrypt', bytes: FRAME }], { limit: values['no-limit'] !== true });
const sdk = `@aws-crypto/client-node ${sdkVersion}`;
const cases = [
  { id: 'raw', label: 'raw node:crypto', format: 'framed AES-256-GCM, no header, no KDF', run: rawEncrypt },
  { id: 'allegro-ts', label: 'allegro-ts blob v1', format: 'blob v1 (HKDF-SHA256, key commitment)', run: allegroEncrypt },
  { id: '0x0578', label: `${sdk}, suite 0x0578`, format: 'default suite 0x0578 (HKDF-SHA512, key commitment, ECDSA P-384 signature)', run: (count) => awsEncrypt(count, undefined, DEFAULT_SUITE) },
  { id: '0x0478', label: `${sdk}, suite 0x0478`, format: 'suite 0x0478 (HKDF-SHA512, key commitment, no signature)', run: (count) => awsEncrypt(count, UNSIGNED_SUITE, UNSIGNED_SUITE) },
];
const warmFrames = Math.min(frames, 256);
const contender = (c) => ({
  id: c.id,
  warmUp: () => c.run(warmFrames),
  round: () => unitsPerSecond(async () => {
    const bytes = await c.run(frames);
    if (bytes !== plainBytes) throw new Error(`${c.label} encrypted ${bytes} bytes, expected ${plainBytes}`);
    return bytes;
  }),
});
const started = performance.now();
const standings = await interleave(contender(cases[0]), cases.slice(1).map(contender), rounds);
contentKey.wipe();

const report = makeReport({
  name: 'aws-compare',
  title: `encrypt ${totalMiB} MiB, allegro-ts blob v1 and the AWS Encryption SDK (${sdk})`,
  method: `Encrypt only, ${totalMiB} MiB streamed in 64 KiB chunks, frame length 64 KiB, one process. Every implementation first ` +
    `round-trips a 3-frame-plus-17-byte message and is warmed up with ${warmFrames} frames; then ${rounds} rounds run raw node:crypto ` +
    'and every implementation once each; MB/s is the median round, × raw the median of the per-round ratios. MB = 10^6 bytes.',
  openssl: limit.version,
  tables: [{
    title: 'encrypt throughput, 64 KiB frames',
    columns: throughputColumns([], limit, false),
    rows: throughputRows({}, standings, new Map(cases.map((c) => [c.id, c.label])), limit, { direction: 'encrypt', bytes: FRAME }),
    chart: throughputChart(),
  }],
  notes: [...cases.map((c) => `${c.label}: ${c.format}`), ...limitNotes(limit), `run: ${((performance.now() - started) / 1000).toFixed(1)} s`],
});
console.log(values.json === true ? toJson(report, 2) : toMarkdown(report));
if (values.html !== undefined) writeFileSync(values.html, toHtml([report]));
