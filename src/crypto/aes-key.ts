/**
 * AesKey: one AES-256 key (a Symphony content, account or entity key) and the values derived from it once.
 *
 * - The 32 key bytes are copied in on construction and owned by this object; `wipe()` zeroes them and drops
 *   every derived handle (imported WebCrypto keys and the like), after which any use throws.
 * - `keyId` is Symphony's key fingerprint, HMAC-SHA256(key, "KeyFingerprint") (docs/protocol.md §3.3),
 *   computed on first use and cached, so encrypting a message never recomputes it.
 * - Neither `toJSON`, `toString` nor `util.inspect` reveal the key.
 */
import { InvalidArgumentError } from '../errors.js';
import { utf8 } from '../util/bytes.js';
import { requireBytes } from '../util/validate.js';
import { platform } from '#platform';

/** Length of every Symphony AES key. */
export const AES_KEY_LENGTH = 32;

const KEY_FINGERPRINT_LABEL = utf8('KeyFingerprint');

/** An AES-256 key owned by this object. */
export class AesKey {
  #bytes: Uint8Array | undefined;
  #keyId: Uint8Array | undefined;
  readonly #handles = new Map<string, unknown>();

  /**
   * @param bytes 32 key bytes; copied, so the caller may wipe its own buffer afterwards.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if `bytes` is not a 32-byte Uint8Array.
   */
  constructor(bytes: Uint8Array) {
    requireBytes('key', bytes, AES_KEY_LENGTH);
    this.#bytes = new Uint8Array(bytes); // a copy; Buffer#slice would be a view of the caller's memory
  }

  /** The raw key. Do not keep references to it: it is zeroed by `wipe()`. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new InvalidArgumentError('key', 'a live key', 'a key that has been wiped');
    return this.#bytes;
  }

  /** Symphony's key id: HMAC-SHA256(key, "KeyFingerprint"), 32 bytes, computed once. */
  get keyId(): Uint8Array {
    this.#keyId ??= platform.hmacSha256(this.bytes, KEY_FINGERPRINT_LABEL);
    return this.#keyId;
  }

  /** True once `wipe()` has been called. */
  get wiped(): boolean {
    return this.#bytes === undefined;
  }

  /**
   * A backend-specific form of this key (for example an imported WebCrypto `CryptoKey`), made once by `make`
   * and dropped on `wipe()`.
   */
  handle<T>(backend: string, make: (bytes: Uint8Array) => T): T {
    const bytes = this.bytes;
    if (this.#handles.has(backend)) return this.#handles.get(backend) as T;
    const made = make(bytes);
    this.#handles.set(backend, made);
    return made;
  }

  /** Zero the key bytes and forget every derived handle. Idempotent. */
  wipe(): void {
    this.#bytes?.fill(0);
    this.#bytes = undefined;
    this.#keyId = undefined;
    this.#handles.clear();
  }

  toJSON(): string {
    return '[AesKey]';
  }

  toString(): string {
    return '[AesKey]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.wiped ? 'AesKey [wiped]' : 'AesKey [32 bytes]';
  }
}
