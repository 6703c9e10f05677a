/**
 * The {@link Platform} for runtimes without node:crypto, such as browsers (package.json `imports`: `#platform` under
 * the `default` condition): WebCrypto for AES-GCM, randomness and RSA; @noble/hashes for the synchronous SHA-256 and
 * HMAC that Symphony's deterministic formats need; @noble/ciphers for unpadded AES-CBC; node-forge for the two RSA
 * operations WebCrypto lacks (src/crypto/rsa-portable.ts). There is no file system: a configuration gives its keys
 * and certificates as content. HTTP goes through `fetch`, so trust, proxies and client certificates are the
 * runtime's: a configuration that sets one is refused, not silently ignored; in a browser, streamed request bodies
 * (blob uploads) are collected before they are sent.
 */
import { nobleCbc } from '../crypto/aead-noble.js';
import { webCryptoAead } from '../crypto/aead-webcrypto.js';
import { frameCipherOver } from '../crypto/frame-cipher.js';
import { hmacSha256, sha256 } from '../crypto/hash-noble.js';
import { portableRsa } from '../crypto/rsa-portable.js';
import { getRandomValuesChunked } from '../crypto/webcrypto-random.js';
import { UnsupportedOperationError } from '../errors.js';
import { createFetchTransport } from '../http/fetch-transport.js';
import type { DispatcherOptions } from '../http/pool.js';
import type { Platform } from './platform.js';

const noFileSystem = (operation: string): never => {
  throw new UnsupportedOperationError(operation, 'portable', 'there is no file system; give the content instead of a path');
};

/** A fetch transport, refusing the pool options only Node's undici can honour. */
function fetchTransport(options: DispatcherOptions) {
  for (const [option, what] of [['ca', 'trusting extra CA certificates'], ['clientCertificate', 'a TLS client certificate'], ['proxy', 'an HTTP proxy']] as const) {
    if (options[option] !== undefined) {
      throw new UnsupportedOperationError(what, 'portable', `HTTP goes through fetch, where ${what === 'an HTTP proxy' ? 'proxies are' : 'TLS is'} the runtime's to configure`);
    }
  }
  return createFetchTransport({ streamRequestBodies: !inBrowser() });
}

/**
 * Whether this is a browser page or worker, whose fetch cannot stream a request body over HTTP/1.1 (Chromium needs
 * HTTP/2; Firefox and Safari never stream one): blob uploads are then collected first (src/http/fetch-transport.ts).
 */
function inBrowser(): boolean {
  const scope = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return scope.document !== undefined || scope.WorkerGlobalScope !== undefined;
}

/** The portable platform. */
export const platform: Platform = {
  name: 'portable',
  defaultAead: webCryptoAead,
  frameCipher: frameCipherOver(webCryptoAead),
  frameWorkers: undefined,
  sha256,
  hmacSha256,
  randomFill: getRandomValuesChunked,
  aesCbcDecryptNoPadding: (key, iv, data) => nobleCbc('decrypt', key, iv, data),
  aesCbcEncryptNoPadding: (key, iv, data) => nobleCbc('encrypt', key, iv, data),
  rsa: portableRsa,
  readFile: async () => noFileSystem('reading a file'),
  directoryOf: () => noFileSystem('resolving a file path'),
  createTransport: fetchTransport,
};
