/**
 * The tokens of an OBO (on-behalf-of) app (docs/symphony-apis.md §1.7): the app's own session token and, with it,
 * one session token per user the app acts for.
 *
 * - App authentication: RSA, `POST /login/pubkey/app/authenticate` with an RS512 JWT whose `sub` is the app id; or
 *   certificate, `POST /sessionauth/v1/app/authenticate` over mutual TLS with the app's certificate (no body). Both
 *   answer `Token {token}` (login-api-public.yaml, authenticator-api-public-deprecated.yaml).
 * - User authentication with the app token in the `sessionToken` header and no body:
 *   `POST /login/pubkey/app/user/{userId}/authenticate` or `…/username/{username}/authenticate` → `Token {token}`;
 *   with a certificate `POST /sessionauth/v1/app/user/{uid}/authenticate` or `…/username/{username}/authenticate` →
 *   `OboAuthResponse {sessionToken}` (the other field name).
 *
 * The app token is cached and shared by every user (both BDKs authenticate the app again for each user): it is
 * renewed only when the pod refuses it, once however many users were refused meanwhile (auth/renewable-token.ts).
 * A user token is renewed the same way, by a user authentication that reuses the cached app token. A 401 on a user
 * authentication that survives the app token's renewal is {@link AppNotInstalledError}; a refused app credential is
 * an {@link AuthenticationError} with `target: 'app'`. Tokens never appear in errors or logs.
 */
import type { AppIdentity } from '../config.js';
import { RsaPrivateKey, signJwtRs512 } from '../crypto/rsa.js';
import { AppNotInstalledError, AuthenticationError, HttpStatusError, InvalidArgumentError, MalformedResponseError } from '../errors.js';
import type { AuthHook, HttpClient } from '../http/http-client.js';
import { describeValue } from '../util/validate.js';
import { RenewableToken } from './renewable-token.js';
import { failureFrom } from './session.js';

/** The user an OBO session acts for: by user id or by username. */
export type OboUser = { userId: number } | { username: string };

/** What the app's tokens need. */
export interface AppSessionOptions {
  app: AppIdentity;
  /** The pod's client (RSA logins), and for a certificate the sessionAuth client presenting the app's certificate. */
  http: { pod: HttpClient; sessionAuth?: HttpClient };
  podUrl: string;
  sessionAuthUrl: string;
  /** Shortest time between two logins of one token after a 401, in milliseconds; 0 = no minimum. */
  minRefreshIntervalMs: number;
  /** Lifetime of the app's login JWT, in seconds. */
  jwtLifetimeSeconds: number;
  now?: () => number;
}

/** An OBO user as given, checked: a positive user id or a non-empty username. */
export function oboUser(parameter: string, user: number | string): OboUser {
  if (typeof user === 'number' && Number.isSafeInteger(user) && user > 0) return { userId: user };
  if (typeof user === 'string' && user.length > 0 && user.length <= 256 && !/[\u0000-\u001f]/.test(user)) return { username: user };
  throw new InvalidArgumentError(parameter, 'a user id (a positive integer) or a username (1 to 256 characters)', describeValue(user));
}

/** The user as the caller named it: the id or the username. */
export function nameOf(user: OboUser): number | string {
  return 'userId' in user ? user.userId : user.username;
}

/** The app token, and the user authentications made with it. */
export class AppSession {
  /** The app's id (`sub` of its JWT, CN of its certificate). */
  readonly appId: string;
  readonly #o: AppSessionOptions;
  readonly #rsaKey: RsaPrivateKey | undefined;
  readonly #app: RenewableToken;
  /** User authentications performed (successful ones), all users together. */
  userLogins = 0;

  /** @internal Made by OboApp. */
  constructor(options: AppSessionOptions) {
    this.#o = options;
    this.appId = options.app.appId;
    this.#rsaKey = options.app.key.kind === 'rsa' ? new RsaPrivateKey(options.app.key.privateKeyPem.reveal()) : undefined;
    this.#app = new RenewableToken({ login: () => this.#appLogin(), minRefreshIntervalMs: options.minRefreshIntervalMs, ...(options.now === undefined ? {} : { now: options.now }) });
  }

  /** App authentications performed (successful ones). */
  get appLogins(): number {
    return this.#app.logins;
  }

  /** The app token, authenticating the app if there is none. */
  token(): Promise<string> {
    return this.#app.token();
  }

  /** @internal Auth hook of the calls made with the app token (`sessionToken` header): the user authentications. */
  get hook(): AuthHook {
    return this.#app.hook('sessionToken');
  }

  /** @internal The renewable token of one user: each renewal is a user authentication with the cached app token. */
  userToken(user: OboUser): RenewableToken {
    return new RenewableToken({
      login: () => this.authenticateUser(user), minRefreshIntervalMs: this.#o.minRefreshIntervalMs,
      ...(this.#o.now === undefined ? {} : { now: this.#o.now }),
    });
  }

  /**
   * A new session token for `user`, obtained with the app token (renewed once if the pod refuses it).
   * @throws AppNotInstalledError (`APP_NOT_INSTALLED`) when the pod refuses the user (the app is not installed for
   *   them, or no such user); AuthenticationError (`target: 'app'`) when the app's own authentication is refused.
   */
  async authenticateUser(user: OboUser, signal?: AbortSignal): Promise<string> {
    const certificate = this.#o.app.key.kind === 'certificate';
    const segment = 'userId' in user ? `user/${user.userId}` : `username/${encodeURIComponent(user.username)}`;
    const template = 'userId' in user ? (certificate ? 'user/{uid}' : 'user/{userId}') : 'username/{username}';
    const route = certificate ? `POST /sessionauth/v1/app/${template}/authenticate` : `POST /login/pubkey/app/${template}/authenticate`;
    const url = certificate ? `${this.#o.sessionAuthUrl}/v1/app/${segment}/authenticate` : `${this.#o.podUrl}/login/pubkey/app/${segment}/authenticate`;
    let reply: { token?: unknown; sessionToken?: unknown };
    try {
      reply = await this.#client(certificate).request({ method: 'POST', url, route, idempotent: true, auth: this.hook, ...(signal === undefined ? {} : { signal }) });
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 401) throw new AppNotInstalledError(this.appId, nameOf(user), route, err);
      throw err;
    }
    const field = certificate ? 'sessionToken' : 'token';
    const token = reply[field];
    if (typeof token !== 'string' || token.length === 0) throw new MalformedResponseError(route, `no ${field}`);
    this.userLogins++;
    return token;
  }

  #client(certificate: boolean): HttpClient {
    const http = certificate ? this.#o.http.sessionAuth : this.#o.http.pod;
    if (http === undefined) throw new AuthenticationError('app', 'certificate-refused', 'no client certificate is configured');
    return http;
  }

  /** Authenticate the app: its RS512 JWT to the pod, or its certificate to sessionAuth. */
  async #appLogin(): Promise<string> {
    const certificate = this.#rsaKey === undefined;
    const route = certificate ? 'POST /sessionauth/v1/app/authenticate' : 'POST /login/pubkey/app/authenticate';
    try {
      const reply = await this.#client(certificate).request<{ token?: unknown }>(certificate
        ? { method: 'POST', url: `${this.#o.sessionAuthUrl}/v1/app/authenticate`, route, idempotent: true }
        : {
          method: 'POST', url: `${this.#o.podUrl}/login/pubkey/app/authenticate`, route, idempotent: true,
          json: { token: await signJwtRs512(this.#rsaKey!, { sub: this.appId, lifetimeSeconds: this.#o.jwtLifetimeSeconds }) },
        });
      if (typeof reply.token !== 'string' || reply.token.length === 0) throw new MalformedResponseError(route, 'no token');
      return reply.token;
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 401 || err.status === 403)) {
        throw new AuthenticationError('app', failureFrom(err, certificate), err.serverMessage ?? `HTTP ${err.status}`, err);
      }
      throw err;
    }
  }
}
