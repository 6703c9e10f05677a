/**
 * AllegroClient: a Symphony bot that does its own end-to-end encryption, with no API Agent. It wires the pieces
 * together: configuration (config.ts), pooled HTTPS connections per component proxy (pools.ts; components with the
 * same proxy and TLS needs share a pool), the session with refresh on
 * 401 (auth/session.ts), the key caches (keys/key-store.ts), the pod (pod/pod-client.ts) and the datafeed
 * (pod/datafeed.ts), and the Object Store (store/object-store-client.ts). Start-up follows Allegro's sequence (docs/protocol.md §2.1): authenticate, read pod info
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
import { MalformedResponseError } from './errors.js';
import type { HttpClient } from './http/http-client.js';
import { KeyStore } from './keys/key-store.js';
import { Datafeed, type DatafeedOptions } from './pod/datafeed.js';
import { PodClient } from './pod/pod-client.js';
import { openPools, type Component, type Pools } from './pools.js';
import { ObjectStoreClient } from './store/object-store-client.js';
import { toBase64Url, tryFromBase64 } from './util/bytes.js';
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

  /** Stop datafeeds, wipe keys, close connections. */
  async close(): Promise<void> {
    for (const feed of this.#datafeeds) feed.stop();
    this.keys.close();
    await this.#pools.close();
  }
}
