/**
 * The runtime boundary of allegro-ts: every primitive the library takes from its runtime, behind one interface.
 * Hashing, randomness, AES (the default AEAD backend, the frame cipher and its worker threads, unpadded CBC for legacy
 * formats), RSA (key parsing, OAEP, the raw private-key operation under the constant-time PKCS#1 v1.5 unwrap, RS512,
 * key generation) and reading files (configuration only).
 *
 * No other module imports a runtime built-in or a backend library for these. Modules take the running platform
 * from the package import `#platform` (docs/architecture.md, "Platform"): package.json's `imports` resolves it to
 * ./node.ts under the `node` condition and to ./portable.ts everywhere else (browsers, bundlers without `node`).
 * Both implementations produce identical bytes; test/cross proves it.
 */
import type { DispatcherOptions } from '../http/pool.js';
import type { Transport } from '../http/transport.js';
import type { AeadBackend } from '../crypto/aead.js';
import type { FrameCipher, FrameWorkers } from '../crypto/frame-cipher.js';

/** Name of a platform implementation. */
export type PlatformName = 'node' | 'portable';

/** Hash of an RSA-OAEP encryption (the MGF1 hash is the same). */
export type OaepHash = 'SHA-1' | 'SHA-256';

/**
 * An RSA public key as the platform holds it. Never leaves src/crypto/rsa.ts, which keeps it in a module-private
 * WeakMap behind its `RsaPublicKey`.
 */
export interface PlatformRsaPublicKey {
  /** Length of the modulus in bits. */
  readonly modulusBits: number;
  /** RSAES-OAEP encryption (RFC 8017 §7.1.1), empty label. */
  encryptOaep(hash: OaepHash, message: Uint8Array): Promise<Uint8Array>;
  /** RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1); for tests and the sandbox only. */
  encryptPkcs1(message: Uint8Array): Promise<Uint8Array>;
  /** Verify an RSASSA-PKCS1-v1_5 signature with SHA-512 (RS512) over `data`. */
  verifyRs512(data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** An RSA private key as the platform holds it; like {@link PlatformRsaPublicKey}, never handed to a caller. */
export interface PlatformRsaPrivateKey {
  /** Length of the modulus in bits. */
  readonly modulusBits: number;
  /** The private exponent d, big-endian (used only to derive the implicit-rejection secret). */
  privateExponent(): Uint8Array;
  /** The public half. */
  publicKey(): PlatformRsaPublicKey;
  /**
   * The raw RSA private-key operation c^d mod n (RSADP, RFC 8017 §5.1.2), blinded, as exactly k bytes (k = modulus
   * length): no padding is checked. Rejects when `ciphertext` is not k bytes long or not below n.
   */
  decryptRaw(ciphertext: Uint8Array): Promise<Uint8Array>;
  /** RSAES-OAEP decryption; rejects (with any error) when the ciphertext does not decrypt. */
  decryptOaep(hash: OaepHash, ciphertext: Uint8Array): Promise<Uint8Array>;
  /** RSASSA-PKCS1-v1_5 signature with SHA-512 (RS512) over `data`. */
  signRs512(data: Uint8Array): Promise<Uint8Array>;
}

/** PEM encodings of a generated RSA key pair. */
export interface RsaKeyPairPem {
  /** Unencrypted PKCS#8 (`BEGIN PRIVATE KEY`). */
  privateKeyPem: string;
  /** SPKI (`BEGIN PUBLIC KEY`). */
  publicKeyPem: string;
}

/** RSA on this platform. */
export interface RsaPlatform {
  /** Whether `value` is a key object native to the runtime (a Node `KeyObject`); always false where there is none. */
  isNativeKey(value: unknown): boolean;
  /**
   * Parse an RSA private key: a PEM string (PKCS#1 or unencrypted PKCS#8) or a native private key object.
   * @returns `undefined` for anything else (other key types, encrypted or damaged PEM, public keys).
   */
  privateKey(key: unknown): PlatformRsaPrivateKey | undefined;
  /**
   * Parse an RSA public key: a PEM string (SPKI or PKCS#1) or a native public key object.
   * @returns `undefined` for anything else.
   */
  publicKey(key: unknown): PlatformRsaPublicKey | undefined;
  /** Generate an RSA key pair with public exponent 65537. */
  generateKeyPair(modulusBits: number): Promise<RsaKeyPairPem>;
}

/** Everything allegro-ts takes from its runtime. */
export interface Platform {
  /** Which implementation this is. */
  readonly name: PlatformName;
  /** The AEAD backend used when the caller does not choose one. */
  readonly defaultAead: AeadBackend;
  /** AES-256-GCM for one frame of a streaming format (store/blob-format.ts): node:crypto in Node, else WebCrypto. */
  readonly frameCipher: FrameCipher;
  /**
   * AES-256-GCM for batches of frames on other threads, the parallel path of blobs: a pool of `worker_threads` in
   * Node; undefined where the runtime has no threads (portable).
   */
  readonly frameWorkers: FrameWorkers | undefined;
  /** SHA-256 of the concatenation of `parts`, synchronously. */
  sha256(...parts: readonly Uint8Array[]): Uint8Array;
  /** HMAC-SHA256 of the concatenation of `parts` under `key`, synchronously. */
  hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array;
  /** Fill `target` with cryptographically secure random bytes and return it. */
  randomFill<T extends Uint8Array>(target: T): T;
  /** AES-256-CBC decryption without padding; `data.length` must be a multiple of 16. */
  aesCbcDecryptNoPadding(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** AES-256-CBC encryption without padding; `data.length` must be a multiple of 16. */
  aesCbcEncryptNoPadding(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** RSA keys and operations. */
  readonly rsa: RsaPlatform;
  /**
   * Read a whole file (configuration files and the keys and certificates they name). A relative `path` is taken
   * relative to `baseDir`, or to the working directory when `baseDir` is undefined.
   * @throws UnsupportedOperationError (`UNSUPPORTED_OPERATION`) where the runtime has no file system (portable).
   */
  readFile(path: string, baseDir?: string): Promise<Uint8Array>;
  /**
   * The absolute directory that holds `path` (relative paths are taken from the working directory).
   * @throws UnsupportedOperationError (`UNSUPPORTED_OPERATION`) where the runtime has no file system (portable).
   */
  directoryOf(path: string): string;
  /**
   * The HTTP transport of a client's connection pool (docs/architecture.md, "The HTTP layer"): undici's pooled
   * keep-alive connections in Node; `fetch` elsewhere, where the runtime owns connections, trust, proxies and
   * client certificates.
   * @throws UnsupportedOperationError (`UNSUPPORTED_OPERATION`) for an option the runtime cannot honour (portable:
   *   a CA, a client certificate or a proxy), rather than ignoring it.
   */
  createTransport(options: DispatcherOptions): Transport;
}
