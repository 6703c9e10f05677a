/**
 * Every key a bot needs, fetched from the Key Manager and the pod's keystore and unwrapped in-process, as
 * Allegro does (docs/protocol.md §3.1): the user's RSA key pair (`/relay/keys/me`), the account key (RSA
 * PKCS#1 v1.5 under the user key), content keys per (thread, rotation) wrapped under the account key (a
 * CiphertextTransport whose header names the account-key rotation, or the legacy 48-byte wrap), the current
 * rotation of each thread, and the entity key. Each kind lives in a bounded {@link KeyCache} (max entries, max age,
 * single-flight loading, cooldown after failures, keys wiped on eviction). The current rotation of a thread is
 * re-checked at most `rotationCheckMs` after it was fetched (default 60 s), so a rotation is picked up in bounded
 * time; older rotations stay fetchable for history.
 */
import { AesKey } from '../crypto/aes-key.js';
import { LEGACY_WRAPPED_KEY_LENGTH, unwrapLegacyKey } from '../crypto/legacy-wrap.js';
import { RsaPrivateKey, unwrapKey } from '../crypto/rsa.js';
import { decryptTransport, transportFromBase64 } from '../crypto/transport.js';
import { AllegroError, ContentKeyUnavailableError, HttpStatusError, MalformedResponseError } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { requireBase64Id } from '../util/validate.js';
import { KeyCache, type KeyCacheStats } from './key-cache.js';

/** What the key store needs from the rest of the client. */
export interface KeyStoreOptions {
  /** The HTTP client of each component: the pod (keystore endpoints) and the Key Manager, each with its own proxy settings. */
  http: { pod: HttpClient; keyManager: HttpClient };
  podUrl: string;
  keyManagerUrl: string;
  session: AuthHook;
  keyManager: AuthHook;
  /** The bot's user id (internal id: key endpoints take it). */
  userId: number;
  maxEntries: number;
  maxAgeMs: number;
  rotationCheckMs: number;
  failureCooldownMs: number;
}

/** A (thread, rotation) pair; thread ids in URL-safe base64 without padding. */
export interface ThreadRotation {
  threadId: string;
  rotationId: bigint;
}

/**
 * Canonical form of a thread or stream id: URL-safe base64 without padding; accepts standard base64 too.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`, parameter `threadId`) for anything else.
 */
export function canonicalThreadId(id: string): string {
  return requireBase64Id('threadId', id);
}

/** The keys of one bot. */
export class KeyStore {
  readonly #o: KeyStoreOptions;
  readonly #userKey: KeyCache<'me', RsaPrivateKey>;
  readonly #accountKeys: KeyCache<bigint, AesKey>;
  readonly #contentKeys: KeyCache<ThreadRotation, AesKey>;
  readonly #rotations: KeyCache<string, bigint>;
  readonly #entityKey: KeyCache<'entity', AesKey>;

  /** @internal Made by AllegroClient. */
  constructor(options: KeyStoreOptions) {
    this.#o = options;
    const common = { maxEntries: options.maxEntries, maxAgeMs: options.maxAgeMs, failureCooldownMs: options.failureCooldownMs };
    this.#userKey = new KeyCache({ ...common, name: 'user keys', maxEntries: 1, keyOf: () => 'me', load: (_k, signal) => this.#loadUserKey(signal) });
    this.#accountKeys = new KeyCache({
      ...common, name: 'account keys', keyOf: (r) => r.toString(), load: (r, signal) => this.#loadAccountKey(r, signal), dispose: (k) => k.wipe(),
    });
    this.#contentKeys = new KeyCache({
      ...common, name: 'content keys', keyOf: (k) => `${k.threadId}:${k.rotationId}`, load: (k, signal) => this.#loadContentKey(k, signal), dispose: (k) => k.wipe(),
    });
    this.#rotations = new KeyCache({
      ...common, name: 'rotation ids', maxAgeMs: options.rotationCheckMs, keyOf: (t) => t, load: (t, signal) => this.#loadRotation(t, signal),
    });
    this.#entityKey = new KeyCache({ ...common, name: 'entity key', maxEntries: 1, keyOf: () => 'entity', load: (_k, signal) => this.#loadEntityKey(signal), dispose: (k) => k.wipe() });
  }

  /** The content key of `threadId` at `rotationId`. */
  contentKey(threadId: string, rotationId: bigint, signal?: AbortSignal): Promise<AesKey> {
    return this.#contentKeys.get({ threadId: canonicalThreadId(threadId), rotationId }, signal === undefined ? {} : { signal });
  }

  /** The rotation new messages to `threadId` are encrypted with (re-checked every `rotationCheckMs`). */
  currentRotation(threadId: string, signal?: AbortSignal): Promise<bigint> {
    return this.#rotations.get(canonicalThreadId(threadId), signal === undefined ? {} : { signal });
  }

  /** The current content key of a thread and its rotation id. */
  async currentContentKey(threadId: string, signal?: AbortSignal): Promise<{ key: AesKey; rotationId: bigint }> {
    const rotationId = await this.currentRotation(threadId, signal);
    return { key: await this.contentKey(threadId, rotationId, signal), rotationId };
  }

  /** The entity key (hashtag and cashtag encryption). */
  entityKey(signal?: AbortSignal): Promise<AesKey> {
    return this.#entityKey.get('entity', signal === undefined ? {} : { signal });
  }

  /** Statistics of every cache. */
  stats(): Record<'userKeys' | 'accountKeys' | 'contentKeys' | 'rotations' | 'entityKey', KeyCacheStats> {
    return {
      userKeys: this.#userKey.stats(), accountKeys: this.#accountKeys.stats(), contentKeys: this.#contentKeys.stats(),
      rotations: this.#rotations.stats(), entityKey: this.#entityKey.stats(),
    };
  }

  /** Wipe every key and refuse further use. */
  close(): void {
    for (const cache of [this.#userKey, this.#accountKeys, this.#contentKeys, this.#rotations, this.#entityKey]) cache.close();
  }

  async #loadUserKey(signal: AbortSignal): Promise<RsaPrivateKey> {
    const me = await this.#o.http.keyManager.request<{ privateKey?: unknown }>({
      method: 'GET', url: `${this.#o.keyManagerUrl}/keys/me`, route: 'GET /relay/keys/me', auth: this.#o.keyManager, signal,
    });
    if (typeof me.privateKey !== 'string') throw new MalformedResponseError('GET /relay/keys/me', 'no private key');
    return new RsaPrivateKey(me.privateKey);
  }

  async #loadAccountKey(rotationId: bigint, signal: AbortSignal): Promise<AesKey> {
    const userKey = await this.#userKey.get('me', { signal });
    const reply = await this.#o.http.pod.request<{ data?: { wrappedAccountKey?: unknown } }>({
      method: 'GET',
      url: `${this.#o.podUrl}/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=${rotationId}&userId=${this.#o.userId}`,
      route: 'GET /webcontroller/keystore/wrappedAccountKeys/one', auth: this.#o.session, signal,
    });
    const wrapped = reply.data?.wrappedAccountKey;
    if (typeof wrapped !== 'string') throw new MalformedResponseError('GET /webcontroller/keystore/wrappedAccountKeys/one', 'no wrapped account key');
    const bytes = await unwrapKey(userKey, transportFromBase64(wrapped), 'pkcs1-v1_5');
    try {
      return new AesKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  async #unwrapUnderAccountKey(wrapped: Uint8Array, signal: AbortSignal): Promise<AesKey> {
    let bytes: Uint8Array;
    if (wrapped.length === LEGACY_WRAPPED_KEY_LENGTH) {
      bytes = unwrapLegacyKey(await this.#accountKeys.get(0n, { signal }), wrapped);
    } else {
      bytes = await decryptTransport((rotation) => this.#accountKeys.get(rotation, { signal }), wrapped);
    }
    try {
      return new AesKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  async #loadContentKey(k: ThreadRotation, signal: AbortSignal): Promise<AesKey> {
    let reply: { data?: { wrappedContentKey?: unknown } };
    try {
      reply = await this.#o.http.pod.request({
        method: 'GET',
        url: `${this.#o.podUrl}/keystore/wrappedContentKeys/one?threadId=${k.threadId}&rotationId=${k.rotationId}&userId=${this.#o.userId}`,
        route: 'GET /keystore/wrappedContentKeys/one', auth: this.#o.session, signal,
      });
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 404 || err.status === 403)) {
        // Symphony answers 404 both to non-members and for unknown rotations; the rotation list tells them apart.
        const member = await this.#loadRotation(k.threadId, signal).then(() => true, () => false);
        throw new ContentKeyUnavailableError(k.threadId, k.rotationId, member ? 'unknown-rotation' : 'not-a-member', err);
      }
      if (err instanceof AllegroError && err.retryable) throw new ContentKeyUnavailableError(k.threadId, k.rotationId, 'key-manager-unavailable', err);
      throw err;
    }
    const wrapped = reply.data?.wrappedContentKey;
    if (typeof wrapped !== 'string') throw new ContentKeyUnavailableError(k.threadId, k.rotationId, 'key-manager-unavailable', new MalformedResponseError('GET /keystore/wrappedContentKeys/one', 'no wrapped content key'));
    return this.#unwrapUnderAccountKey(transportFromBase64(wrapped), signal);
  }

  async #loadRotation(threadId: string, signal: AbortSignal): Promise<bigint> {
    const reply = await this.#o.http.pod.request<{ data?: Array<{ cryptoRotationInfo?: { acceptedRotationId?: unknown } }> }>({
      method: 'POST', url: `${this.#o.podUrl}/keystore/cryptoRotationInfo/multiple`, route: 'POST /keystore/cryptoRotationInfo/multiple',
      json: [threadId], idempotent: true, auth: this.#o.session, signal,
    });
    const accepted = reply.data?.[0]?.cryptoRotationInfo?.acceptedRotationId;
    if (typeof accepted !== 'number' || !Number.isSafeInteger(accepted)) throw new ContentKeyUnavailableError(threadId, undefined, 'not-a-member');
    return BigInt(accepted);
  }

  async #loadEntityKey(signal: AbortSignal): Promise<AesKey> {
    const reply = await this.#o.http.keyManager.request<{ entityKey?: unknown }>({
      method: 'GET', url: `${this.#o.keyManagerUrl}/keys/entityKey`, route: 'GET /relay/keys/entityKey', auth: this.#o.keyManager, signal,
    });
    if (typeof reply.entityKey !== 'string') throw new MalformedResponseError('GET /relay/keys/entityKey', 'no entity key');
    return this.#unwrapUnderAccountKey(transportFromBase64(reply.entityKey), signal);
  }
}
