/**
 * The bot's tokens and how they are refreshed (docs/symphony-apis.md §1; docs/protocol.md §2): a session token for
 * the pod and a Key Manager token, obtained with an RS512 JWT (`/login/pubkey/authenticate`,
 * `/relay/pubkey/authenticate`), with a client certificate over mutual TLS (`/sessionauth/v1/authenticate`,
 * `/keyauth/v1/authenticate`), or supplied by the caller; plus the two service tokens derived from the session:
 * the Datafeed 2.0 token (`/settings-web/api/v1/tokens`) and the Object Store bearer (`/login/idm/tokens`).
 *
 * Refresh on 401: the request layer calls `onUnauthorized` with the token it used. If the token has changed
 * since, the request is simply retried; otherwise one login runs (single-flight: concurrent 401s share it), at
 * most once per `minRefreshIntervalMs`, and the request is retried once with the new token. Login failures that
 * retrying cannot fix are {@link AuthenticationError}s with a reason (unknown user, bad signature, clock skew,
 * certificate refused). Caller-supplied tokens (Allegro's caller-provided tokens mode, e.g. an extension app in a
 * browser whose backend logs in) are renewed the same way through the caller's `refresh` callback, which gives
 * both tokens at once: one call for every 401 of either kind meanwhile; a callback that fails is reason
 * `refresh-failed`; without a callback the 401 stands. Tokens never appear in errors or logs.
 */
import type { Credentials, TokenRefresh } from '../config.js';
import { MAX_JWT_LIFETIME_SECONDS, RsaPrivateKey, signJwtRs512 } from '../crypto/rsa.js';
import { AuthenticationError, HttpStatusError, InvalidArgumentError, MalformedResponseError, type AuthenticationFailure } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { fromUtf8, tryFromBase64 } from '../util/bytes.js';
import { describeValue } from '../util/validate.js';

/**
 * The HTTP client of each component the session talks to, each with its own proxy settings: the pod (RSA login to
 * the pod, the datafeed and Object Store tokens), the Key Manager (its RSA login), and, for certificate logins,
 * sessionAuth and keyAuth, whose clients present the bot's certificate.
 */
export interface SessionClients {
  pod: HttpClient;
  keyManager: HttpClient;
  sessionAuth?: HttpClient;
  keyAuth?: HttpClient;
}

/** Where the logins go. */
export interface SessionOptions {
  credentials: Credentials;
  http: SessionClients;
  podUrl: string;
  keyManagerUrl: string;
  sessionAuthUrl: string;
  keyAuthUrl: string;
  /** Shortest time between two logins after a 401, in milliseconds; 0 = no minimum. */
  minRefreshIntervalMs: number;
  /** Lifetime of the login JWT, 1 to {@link MAX_JWT_LIFETIME_SECONDS} seconds. */
  jwtLifetimeSeconds: number;
  now?: () => number;
}

/** Which login a token belongs to: `session` (the pod) or `keyManager`. */
export type SessionTarget = 'session' | 'keyManager';

interface ServiceToken {
  token: string;
  expiresAt: number;
}

/** Why a login (of a bot or of an OBO app) was refused, from the pod's answer. */
export function failureFrom(err: HttpStatusError, certificate: boolean): AuthenticationFailure {
  const message = (err.serverMessage ?? '').toLowerCase();
  if (certificate) return 'certificate-refused';
  if (/invalid user|unknown user|no user|not found/.test(message)) return 'unknown-user';
  if (/\bexpired\b|lifetime|ahead|clock/.test(message)) return 'clock-skew';
  if (/signature|public key/.test(message)) return 'bad-signature';
  return 'refused';
}

/** `exp` of a JWT in milliseconds, read without verification (for cache lifetimes only). */
function jwtExpiry(token: string): number | undefined {
  const payload = tryFromBase64(token.split('.')[1] ?? '');
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(fromUtf8(payload)) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Tokens of one bot, with refresh. */
export class Session {
  readonly #o: SessionOptions;
  readonly #now: () => number;
  readonly #rsaKey: RsaPrivateKey | undefined;
  readonly #tokens: Partial<Record<SessionTarget, string>> = {};
  readonly #inFlight: Partial<Record<SessionTarget, Promise<string>>> = {};
  readonly #lastLogin: Partial<Record<SessionTarget, number>> = {};
  #datafeed: ServiceToken | undefined;
  #api: ServiceToken | undefined;
  /** The caller's token refresh in flight (both targets share it), and when the last one started. */
  #supplied: Promise<{ detail: string; cause?: unknown } | undefined> | undefined;
  #lastSupplied: number | undefined;
  /** Number of logins performed, per target, renewals of supplied tokens through `tokens.refresh` included (for tests and stats). */
  readonly logins = { session: 0, keyManager: 0 };

  /**
   * @internal Made by AllegroClient.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a bad `minRefreshIntervalMs` or `jwtLifetimeSeconds`.
   */
  constructor(options: SessionOptions) {
    const { minRefreshIntervalMs: interval, jwtLifetimeSeconds: lifetime } = options;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0) {
      throw new InvalidArgumentError('options.minRefreshIntervalMs', 'a finite non-negative number of milliseconds', describeValue(interval));
    }
    if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_JWT_LIFETIME_SECONDS) {
      throw new InvalidArgumentError('options.jwtLifetimeSeconds', `an integer from 1 to ${MAX_JWT_LIFETIME_SECONDS}`, describeValue(lifetime));
    }
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#rsaKey = options.credentials.kind === 'rsa' ? new RsaPrivateKey(options.credentials.privateKeyPem.reveal()) : undefined;
    if (options.credentials.kind === 'tokens') {
      this.#tokens.session = options.credentials.sessionToken.reveal();
      this.#tokens.keyManager = options.credentials.keyManagerToken.reveal();
    }
  }

  /** The current token for `target`, logging in if there is none. */
  async token(target: SessionTarget): Promise<string> {
    return this.#tokens[target] ?? this.#login(target);
  }

  /** @internal Auth hook for pod requests: `sessionToken` header. */
  get pod(): AuthHook {
    return this.#hook('session', 'sessionToken');
  }

  /** @internal Auth hook for Key Manager requests: `keyManagerToken` header. */
  get keyManager(): AuthHook {
    return this.#hook('keyManager', 'keyManagerToken');
  }

  /** @internal Auth hook for Datafeed 2.0 requests: the `datafeed2` service token as a bearer. */
  get datafeed(): AuthHook {
    return this.#bearerHook(() => this.#datafeedToken(), () => { this.#datafeed = undefined; });
  }

  /** @internal Auth hook for Object Store requests: the `/login/idm/tokens` bearer. */
  get objectStore(): AuthHook {
    return this.#bearerHook(() => this.#apiToken(), () => { this.#api = undefined; });
  }

  /** A bearer hook over a service token derived from the session: on 401, drop it and refresh the session. */
  #bearerHook(token: () => Promise<string>, forget: () => void): AuthHook {
    return {
      headers: async () => ({ authorization: `Bearer ${await token()}` }),
      onUnauthorized: async () => {
        forget();
        await this.refresh('session', await this.token('session'));
        return true;
      },
    };
  }

  /**
   * Refresh after a 401 on `used`. Returns true when a newer token exists (already, or after a login or the caller's
   * refresh); false when a login is not allowed yet (minimum interval) or the credentials are caller-supplied tokens
   * without a `refresh` callback.
   * @throws AuthenticationError (`AUTHENTICATION_FAILED`): a login refused, or (reason `refresh-failed`) the
   *   caller's `refresh` callback rejected or gave no tokens.
   */
  async refresh(target: SessionTarget, used: string | undefined): Promise<boolean> {
    const current = this.#tokens[target];
    if (current !== undefined && current !== used) return true;
    if (this.#inFlight[target] !== undefined) {
      await this.#inFlight[target];
      return true;
    }
    if (this.#o.credentials.kind === 'tokens') {
      const { refresh } = this.#o.credentials;
      return refresh === undefined ? false : this.#refreshSupplied(target, refresh);
    }
    const last = this.#lastLogin[target];
    if (last !== undefined && this.#now() - last < this.#o.minRefreshIntervalMs) return false;
    delete this.#tokens[target];
    await this.#login(target);
    return true;
  }

  /** New supplied tokens from the caller's callback: one call at a time, at most one per `minRefreshIntervalMs`. */
  async #refreshSupplied(target: SessionTarget, refresh: TokenRefresh): Promise<boolean> {
    if (this.#supplied === undefined) {
      const last = this.#lastSupplied;
      if (last !== undefined && this.#now() - last < this.#o.minRefreshIntervalMs) return false;
      this.#lastSupplied = this.#now();
      this.#supplied = this.#callRefresh(refresh).finally(() => {
        this.#supplied = undefined;
      });
    }
    const failure = await this.#supplied;
    if (failure !== undefined) throw new AuthenticationError(target, 'refresh-failed', failure.detail, failure.cause);
    return true;
  }

  /** Call the caller's refresh and keep its tokens; resolves to what went wrong, if anything (each waiter makes its own error). */
  async #callRefresh(refresh: TokenRefresh): Promise<{ detail: string; cause?: unknown } | undefined> {
    let answer: unknown;
    try {
      answer = await refresh();
    } catch (cause) {
      return { detail: 'the tokens.refresh callback rejected', cause };
    }
    const tokens = (typeof answer === 'object' && answer !== null ? answer : {}) as { session?: unknown; keyManager?: unknown };
    const usable = (t: unknown): t is string => typeof t === 'string' && t !== '';
    if (!usable(tokens.session) || !usable(tokens.keyManager)) {
      const missing = [...(usable(tokens.session) ? [] : ['session']), ...(usable(tokens.keyManager) ? [] : ['keyManager'])];
      return { detail: `the tokens.refresh callback gave no ${missing.join(' and no ')} token (expected {session, keyManager}, non-empty strings; received ${describeValue(answer)})` };
    }
    this.#tokens.session = tokens.session;
    this.#tokens.keyManager = tokens.keyManager;
    this.logins.session++;
    this.logins.keyManager++;
    this.#datafeed = undefined;
    this.#api = undefined;
    return undefined;
  }

  #hook(target: SessionTarget, header: string): AuthHook {
    return {
      headers: async () => ({ [header]: await this.token(target) }),
      onUnauthorized: (used) => this.refresh(target, used[header]),
    };
  }

  #login(target: SessionTarget): Promise<string> {
    const running = this.#inFlight[target];
    if (running !== undefined) return running;
    const login = this.#performLogin(target).finally(() => {
      delete this.#inFlight[target];
    });
    this.#inFlight[target] = login;
    return login;
  }

  async #performLogin(target: SessionTarget): Promise<string> {
    const creds = this.#o.credentials;
    if (creds.kind === 'tokens') throw new AuthenticationError(target, 'refused', 'the supplied token was refused and cannot be renewed');
    this.#lastLogin[target] = this.#now();
    const certificate = creds.kind === 'certificate';
    const base = certificate ? (target === 'session' ? this.#o.sessionAuthUrl : this.#o.keyAuthUrl) : (target === 'session' ? this.#o.podUrl : this.#o.keyManagerUrl);
    const path = certificate ? '/v1/authenticate' : '/pubkey/authenticate';
    const route = `POST ${certificate ? (target === 'session' ? '/sessionauth' : '/keyauth') : (target === 'session' ? '/login' : '/relay')}${path}`;
    const http = certificate ? (target === 'session' ? this.#o.http.sessionAuth : this.#o.http.keyAuth) : (target === 'session' ? this.#o.http.pod : this.#o.http.keyManager);
    if (http === undefined) throw new AuthenticationError(target, 'certificate-refused', 'no client certificate is configured');
    const loginPath = certificate ? path : target === 'session' ? '/login/pubkey/authenticate' : '/pubkey/authenticate';
    try {
      const reply = await http.request<{ token?: unknown }>({
        method: 'POST', url: `${base}${loginPath}`, route, idempotent: true,
        ...(certificate ? {} : { json: { token: await signJwtRs512(this.#rsaKey!, { sub: creds.username, lifetimeSeconds: this.#o.jwtLifetimeSeconds }) } }),
      });
      if (typeof reply.token !== 'string' || reply.token.length === 0) throw new MalformedResponseError(route, 'no token');
      this.#tokens[target] = reply.token;
      this.logins[target]++;
      if (target === 'session') {
        this.#datafeed = undefined;
        this.#api = undefined;
      }
      return reply.token;
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 401 || err.status === 403)) {
        throw new AuthenticationError(target, failureFrom(err, certificate), err.serverMessage ?? `HTTP ${err.status}`, err);
      }
      throw err;
    }
  }

  async #datafeedToken(): Promise<string> {
    if (this.#datafeed !== undefined && this.#datafeed.expiresAt > this.#now()) return this.#datafeed.token;
    const list = await this.#o.http.pod.request<Array<{ service?: unknown; token?: unknown }>>({
      method: 'GET', url: `${this.#o.podUrl}/settings-web/api/v1/tokens`, route: 'GET /settings-web/api/v1/tokens', auth: this.pod,
    });
    const entry = Array.isArray(list) ? list.find((t) => t.service === 'datafeed2') : undefined;
    if (typeof entry?.token !== 'string') throw new MalformedResponseError('GET /settings-web/api/v1/tokens', 'no datafeed2 token');
    const exp = jwtExpiry(entry.token) ?? this.#now() + 4 * 60_000;
    this.#datafeed = { token: entry.token, expiresAt: exp - 60_000 };
    return entry.token;
  }

  async #apiToken(): Promise<string> {
    if (this.#api !== undefined && this.#api.expiresAt > this.#now()) return this.#api.token;
    const reply = await this.#o.http.pod.request<{ access_token?: unknown; expires_in?: unknown }>({
      method: 'POST', url: `${this.#o.podUrl}/login/idm/tokens`, route: 'POST /login/idm/tokens', idempotent: true, auth: this.pod,
    });
    if (typeof reply.access_token !== 'string') throw new MalformedResponseError('POST /login/idm/tokens', 'no access token');
    const lifetime = typeof reply.expires_in === 'number' ? reply.expires_in * 1000 : 300_000;
    this.#api = { token: reply.access_token, expiresAt: this.#now() + lifetime - 30_000 };
    return reply.access_token;
  }
}
