/**
 * AllegroClient: a Symphony bot that does its own end-to-end encryption, with no API Agent. It wires the pieces
 * together: configuration (config.ts), pooled HTTPS connections per component proxy (pools.ts; components with the
 * same proxy and TLS needs share a pool), the session with refresh on
 * 401 (auth/session.ts), the key caches (keys/key-store.ts), the pod (pod/pod-client.ts) and the datafeed
 * (pod/datafeed.ts), the Object Store (store/object-store-client.ts) and encrypted records for the bot's own database
 * (store/record.ts). Start-up follows Allegro's sequence (docs/protocol.md §2.1): authenticate, read pod info
 * and the account (user id and wall thread), then fetch keys lazily on first use.
 *
 * @example
 * ```ts
 * const bot = await AllegroClient.create('config.yaml');
 * const stream = (await bot.pod.streams({ types: ['ROOM'] }))[0]!.id;
 * await bot.pod.send(stream, '<messageML>Hello <b>encrypted</b> world</messageML>');
 * await bot.close();
 * ```
 */
import { loadConfig, resolveConfig, type AllegroConfig, type AllegroConfigInput } from './config.js';
import { Session } from './auth/session.js';
import { InvalidArgumentError, MalformedResponseError } from './errors.js';
import type { HttpClient } from './http/http-client.js';
import { KeyStore } from './keys/key-store.js';
import { Datafeed, type DatafeedOptions } from './pod/datafeed.js';
import { PodClient } from './pod/pod-client.js';
import { openPools, type Component, type Pools } from './pools.js';
import { ObjectStoreClient, payloadBytes } from './store/object-store-client.js';
import { openRecord, readRecord, sealRecord, type DecryptedRecord, type EncryptedRecord, type RecordInput } from './store/record.js';
import { toBase64Url, tryFromBase64 } from './util/bytes.js';
import { describeValue } from './util/validate.js';
import { VERSION } from './version.js';

/** The client type reported to the pod (Account `clienttype`, message `clientVersionInfo`). */
const CLIENT_VERSION = `allegro-ts-${VERSION}`;

/** The components the bot sends requests to (not the Agent: it encrypts itself). */
const BOT_COMPONENTS: readonly Component[] = ['pod', 'keyManager', 'sessionAuth', 'keyAuth', 'objectStore'];

/** A connected bot. */
export class AllegroClient {
  /** The resolved configuration. */
  readonly config: AllegroConfig;
  /** Tokens and their refresh. */
  readonly session: Session;
  /** Keys, with `stats()`. */
  readonly keys: KeyStore;
  /** Pod operations: users, streams, messages, presence, connections. */
  readonly pod: PodClient;
  /** The Object Store: encrypted objects, versions, partitions, transactions. */
  readonly objects: ObjectStoreClient;
  /** The pod's id (from pod info). */
  readonly podId: number;
  /** The bot's user id. */
  readonly userId: number;
  /** The bot's username. */
  readonly username: string;
  readonly #http: HttpClient;
  readonly #pools: Pools;
  readonly #datafeeds = new Set<Datafeed>();

  private constructor(parts: {
    config: AllegroConfig; session: Session; keys: KeyStore; pod: PodClient; objects: ObjectStoreClient; podId: number; userId: number; username: string;
    http: HttpClient; pools: Pools;
  }) {
    this.config = parts.config;
    this.session = parts.session;
    this.keys = parts.keys;
    this.pod = parts.pod;
    this.objects = parts.objects;
    this.podId = parts.podId;
    this.userId = parts.userId;
    this.username = parts.username;
    this.#http = parts.http;
    this.#pools = parts.pools;
  }

  /**
   * Connect a bot: from the path of a config file (BDK `config.yaml`, YAML or JSON: docs/config.md), or a configuration
   * object.
   * @throws InvalidConfigError, AuthenticationError, HttpStatusError, NetworkError; MalformedResponseError
   *   (`MALFORMED_RESPONSE`) when the pod's account answer names no wall thread (`myCurrentThreadId`).
   */
  static async create(config: string | AllegroConfigInput | AllegroConfig): Promise<AllegroClient> {
    const resolved = typeof config === 'string' ? await loadConfig(config) : 'credentials' in config ? config : await resolveConfig(config);
    const creds = resolved.credentials;
    const pools = openPools(resolved, BOT_COMPONENTS, creds.kind === 'tokens' ? undefined : creds);
    try {
      const httpOf = (component: Component): HttpClient => pools.httpOf(component)!;
      const http = httpOf('pod');
      const sessionAuth = pools.httpOf('sessionAuth');
      const keyAuth = pools.httpOf('keyAuth');
      const session = new Session({
        credentials: creds,
        http: {
          pod: http, keyManager: httpOf('keyManager'),
          ...(sessionAuth === undefined ? {} : { sessionAuth }),
          ...(keyAuth === undefined ? {} : { keyAuth }),
        },
        podUrl: resolved.pod.url, keyManagerUrl: resolved.keyManager.url, sessionAuthUrl: resolved.sessionAuth.url, keyAuthUrl: resolved.keyAuth.url,
        minRefreshIntervalMs: resolved.auth.minRefreshIntervalMs, jwtLifetimeSeconds: resolved.auth.jwtLifetimeSeconds,
      });
      const podInfo = await http.request<{ data?: { podId?: number } }>({ method: 'GET', url: `${resolved.pod.url}/webcontroller/public/podInfo`, route: 'GET /webcontroller/public/podInfo' });
      const podId = podInfo.data?.podId ?? 0;
      const me = await http.request<{ id: number; username: string }>({ method: 'GET', url: `${resolved.pod.url}/pod/v2/sessioninfo`, route: 'GET /pod/v2/sessioninfo', auth: session.pod });
      const accountRoute = 'GET /webcontroller/maestro/Account';
      const account = await http.request<{ myCurrentThreadId?: unknown }>({
        method: 'GET', url: `${resolved.pod.url}/webcontroller/maestro/Account?clienttype=${CLIENT_VERSION}`, route: accountRoute, auth: session.pod,
      });
      // The wall thread's key salts the hashtag search tokens of every message (docs/wire-formats.md, `tokenIds`).
      const wall = typeof account.myCurrentThreadId === 'string' ? tryFromBase64(account.myCurrentThreadId) : undefined;
      if (wall === undefined || wall.length === 0) throw new MalformedResponseError(accountRoute, "no wall thread: myCurrentThreadId is missing or not a base64 id");
      const keys = new KeyStore({
        http: { pod: http, keyManager: httpOf('keyManager') }, podUrl: resolved.pod.url, keyManagerUrl: resolved.keyManager.url, session: session.pod, keyManager: session.keyManager, userId: me.id,
        maxEntries: resolved.keys.maxEntries, maxAgeMs: resolved.keys.maxAgeMs, rotationCheckMs: resolved.keys.rotationCheckMs, failureCooldownMs: resolved.keys.failureCooldownMs,
      });
      const pod = new PodClient({
        http, podUrl: resolved.pod.url, auth: session.pod, keys, userId: me.id,
        wallThreadId: toBase64Url(wall), clientVersion: CLIENT_VERSION,
      });
      const objects = new ObjectStoreClient({ http: httpOf('objectStore'), baseUrl: resolved.objectStore.url, auth: session.objectStore, keys, podId, userId: me.id });
      return new AllegroClient({ config: resolved, session, keys, pod, objects, podId, userId: me.id, username: me.username, http, pools });
    } catch (err) {
      await pools.close({ force: true });
      throw err;
    }
  }

  /**
   * A new datafeed reader (pod Datafeed 2.0), decrypting events with this bot's keys. Use `listen(handler)` or
   * `for await (const event of feed)`; `stop()` ends it, and the client forgets it. `close()` stops every datafeed of
   * the client that is still running.
   */
  datafeed(options: DatafeedOptions = {}): Datafeed {
    const feed = new Datafeed({
      http: this.#http, podUrl: this.config.pod.url, auth: this.session.datafeed,
      decrypt: (payload, signal) => this.pod.decrypt(payload, signal),
      maxBackoffMs: options.maxBackoffMs ?? this.config.datafeed.maxBackoffMs,
      dedupEntries: options.dedupEntries ?? this.config.datafeed.dedupEntries,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      onStop: () => this.#datafeeds.delete(feed),
    });
    this.#datafeeds.add(feed);
    return feed;
  }

  /**
   * Encrypt a record for the bot's own database (docs/wire-formats.md "Encrypted record v1"): the payload under the
   * current content key of `threadId`, so every member of that thread can decrypt it; the header stays readable (and
   * indexable) but is bound to the ciphertext.
   *
   * @example
   * ```ts
   * const record = await bot.encryptRecord({ threadId: room, header: { customer: 42 }, payload: { notes: 'VIP' }, associatedData: 'orders/17' });
   * db.prepare('INSERT INTO orders (id, record) VALUES (?, ?)').run(17, JSON.stringify(record));
   * ```
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the field; ContentKeyUnavailableError
   *   (`CONTENT_KEY_UNAVAILABLE`) when the bot is not a member of the thread.
   */
  async encryptRecord(input: RecordInput, options: { signal?: AbortSignal } = {}): Promise<EncryptedRecord> {
    if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('input', 'a RecordInput', describeValue(input));
    const { key, rotationId } = await this.keys.currentContentKey(input.threadId, options.signal);
    return sealRecord(key, { podId: this.podId, threadId: input.threadId, rotationId }, {
      plaintext: payloadBytes(input.payload),
      ...(input.header === undefined ? {} : { header: input.header }),
      ...(input.recordType === undefined ? {} : { recordType: input.recordType }),
      ...(input.associatedData === undefined ? {} : { associatedData: input.associatedData }),
    });
  }

  /**
   * Decrypt a record made by {@link encryptRecord} (the object, or its JSON text), with the content key of the
   * record's thread and rotation.
   * @param options.associatedData the string the record was encrypted with, if any.
   * @throws DecryptionFailedError (`DECRYPTION_FAILED`) for any change to the record or other associated data;
   *   MalformedCiphertextError (`MALFORMED_CIPHERTEXT`) for something that is not a record;
   *   UnsupportedVersionError (`UNSUPPORTED_VERSION`); ContentKeyUnavailableError (`CONTENT_KEY_UNAVAILABLE`) when
   *   the bot is not a member of the thread or the rotation does not exist.
   */
  async decryptRecord(record: EncryptedRecord | string, options: { associatedData?: string; signal?: AbortSignal } = {}): Promise<DecryptedRecord> {
    const parsed = readRecord(record);
    const key = await this.keys.contentKey(parsed.threadId, parsed.rotationId, options.signal);
    return openRecord(key, this.podId, parsed, options.associatedData);
  }

  /**
   * Stop datafeeds and Object Store feed consumers (waiting for their running handlers and last acknowledgements),
   * wipe keys, close connections.
   */
  async close(): Promise<void> {
    for (const feed of this.#datafeeds) feed.stop();
    await this.objects.stopFeeds();
    this.keys.close();
    await this.#pools.close();
  }
}
