// The portable decrypt measurements of `allegro bench browser`: every backend is checked against the plaintext the
// caller names before anything is timed, and a backend that disagrees stops the run naming it. Timing is not asserted.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { measureDecryptRates } from '../../../src/bench/decrypt-rates.js';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptTransport } from '../../../src/crypto/transport.js';
import { encryptBlob } from '../../../src/store/blob-format.js';
import { toBase64 } from '../../../src/util/bytes.js';

describe('measureDecryptRates', () => {
  it('times each backend once its plaintexts match, and refuses to time one whose plaintext is not the one named', async () => {
    const keyBytes = crypto.getRandomValues(new Uint8Array(32));
    const key = new AesKey(keyBytes);
    const message = new TextEncoder().encode('hello');
    const blobContext = { podId: 1, threadId: 'AAAAAAAAAAAAAAAAAAAAAA', rotationId: '1', blobId: 'b' };
    const blob: Uint8Array[] = [];
    for await (const part of encryptBlob(key, { ...blobContext, rotationId: 1n }, [message])) blob.push(part);
    const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    const corpus = {
      key: keyBytes, transport: toBase64(await encryptTransport(key, message, { rotationId: 1 })), transportSha256: sha(message),
      blob: new Uint8Array(Buffer.concat(blob)), blobContext, blobSha256: sha(message),
    };
    const timing = { backends: ['node', 'noble'] as const, rounds: 1, roundMs: 1 };
    expect((await measureDecryptRates(corpus, timing)).blob.map((s) => s.id)).toEqual(['node', 'noble']);
    await expect(measureDecryptRates({ ...corpus, transportSha256: sha(new Uint8Array(1)) }, timing)).rejects.toThrow('backend node does not decrypt the transport to its plaintext');
    await expect(measureDecryptRates({ ...corpus, blobSha256: sha(new Uint8Array(1)) }, timing)).rejects.toThrow('backend node does not decrypt the blob to its plaintext');
  });
});
