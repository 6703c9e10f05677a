import { createDecipheriv, randomFillSync } from 'node:crypto';
import { AesKey } from './dist/crypto/aes-key.js';
import { encryptTransport, decryptTransport, transportFromBase64, parseTransport } from './dist/crypto/transport.js';
import { toBase64 } from './dist/util/bytes.js';
const kb = randomFillSync(new Uint8Array(32)); const key = new AesKey(kb);
const pt = randomFillSync(new Uint8Array(1024));
const sample = toBase64(await encryptTransport(key, pt, { rotationId: 1 }));
function rawDec() { const bytes = Buffer.from(sample, 'base64'); const d = createDecipheriv('aes-256-gcm', kb, bytes.subarray(13, 29)); d.setAAD(bytes.subarray(29, 45)); d.setAuthTag(bytes.subarray(bytes.length - 49, bytes.length - 33)); const o = d.update(bytes.subarray(45, bytes.length - 49)); d.final(); return o; }
async function bench(name, fn, n = 100000) { for (let i = 0; i < 10000; i++) await fn(); const t = performance.now(); for (let i = 0; i < n; i++) await fn(); console.log(name.padEnd(20), ((performance.now() - t) * 1000 / n).toFixed(2), 'us'); }
for (let r = 0; r < 2; r++) {
  await bench('raw', rawDec);
  await bench('b64 only', () => transportFromBase64(sample));
  await bench('b64+parse', () => parseTransport(transportFromBase64(sample)));
  await bench('ours', () => decryptTransport(key, transportFromBase64(sample)));
}
