/**
 * `OboApp`: an on-behalf-of app (docs/symphony-apis.md §1.7). It reads the same configuration as a bot (the BDK's
 * `app` section: `appId` and a private key or a certificate; `bot` may be absent), opens one connection pool per
 * component (pools.ts) shared by every user it acts for, authenticates itself once and caches that token
 * (auth/app-session.ts), and hands out an {@link OboSession} per user. {@link OboApp.forTenant} builds the app for a
 * customer pod the partner callback registered (obo/tenants.ts).
 *
 * @example
 * ```ts
 * const app = await OboApp.create('config.yaml');
 * const alice = await app.user('alice');
 * const im = await alice.createIm([bobId]);
 * await alice.send(im, '<messageML>Hello from the CRM</messageML>');
 * await app.close();
 * ```
 */
import { AppSession, nameOf, oboUser } from '../auth/app-session.js';
import { loadAppConfig, resolveAppConfig, type AllegroConfig, type AllegroConfigInput, type AppConfig } from '../config.js';
import { InvalidArgumentError, InvalidConfigError } from '../errors.js';
import type { HttpClient } from '../http/http-client.js';
import { openPools, type Component, type Pools } from '../pools.js';
import { describeValue } from '../util/validate.js';
import { OboSession } from './session.js';
import type { Tenant, TenantRegistry } from './tenants.js';

/** The components an OBO app talks to: the pod (RSA logins, the pod API), the Agent (messages), sessionAuth (certificates). */
const OBO_COMPONENTS: readonly Component[] = ['pod', 'agent', 'sessionAuth'];

/** How many authentications an app has performed. */
export interface OboAppStats {
  /** Of the app itself (its token is cached: one, plus one per renewal after a 401). */
  appLogins: number;
  /** Of users, all sessions together. */
  userLogins: number;
}

/** A configuration as {@link OboApp.create} takes it. */
export type OboAppConfig = string | AllegroConfigInput | AppConfig | AllegroConfig;

/** The configuration resolved, with `app` required. */
async function appConfigOf(config: OboAppConfig): Promise<AppConfig> {
  if (typeof config === 'string') return loadAppConfig(config);
  if (typeof config === 'object' && config !== null && 'ignoredKeys' in config) {
    const resolved = config as AppConfig | AllegroConfig;
    if (resolved.app === undefined) throw new InvalidConfigError('app', 'required for OBO: give app.appId and its privateKey or certificate');
    return resolved as AppConfig;
  }
  return resolveAppConfig(config as AllegroConfigInput);
}

/**
 * `url` with its component's own path: the configuration's URLs end with it (`/sessionauth`, `/agent`), and a tenant's
 * may or may not.
 */
function withPath(url: string, path: string): string {
  return url.endsWith(path) ? url : `${url}${path}`;
}

/** The configuration for a tenant: its pod, session-auth and Agent URLs in place of the configured ones. */
function forTenantConfig(config: AppConfig, tenant: Tenant): AppConfig {
  // The pod's URL in the callback ends with /pod; the client appends /pod and /login itself (docs/symphony-apis.md §1.11: base = podUrl without /pod).
  const base = tenant.baseUrl ?? tenant.podUrl.replace(/\/pod$/, '');
  return {
    ...config,
    pod: { ...config.pod, url: base },
    sessionAuth: { ...config.sessionAuth, url: withPath(tenant.sessionAuthUrl, '/sessionauth') },
    agent: { ...config.agent, url: tenant.agentUrl === undefined ? withPath(base, '/agent') : withPath(tenant.agentUrl, '/agent') },
  };
}

/** An OBO app: one app token, many users, one connection pool per component. */
export class OboApp {
  /** The resolved configuration. */
  readonly config: AppConfig;
  /** The app's id. */
  readonly appId: string;
  readonly #session: AppSession;
  readonly #pools: Pools;

  private constructor(config: AppConfig) {
    this.config = config;
    this.appId = config.app.appId;
    this.#pools = openPools(config, OBO_COMPONENTS, config.app.key);
    const sessionAuth = this.#pools.httpOf('sessionAuth');
    this.#session = new AppSession({
      app: config.app, http: { pod: this.#http('pod'), ...(sessionAuth === undefined ? {} : { sessionAuth }) },
      podUrl: config.pod.url, sessionAuthUrl: config.sessionAuth.url,
      minRefreshIntervalMs: config.auth.minRefreshIntervalMs, jwtLifetimeSeconds: config.auth.jwtLifetimeSeconds,
    });
  }

  /**
   * An OBO app from a configuration: the path of a config file (BDK `config.yaml`, docs/config.md), a configuration
   * object, or a resolved one. Makes no request: the app authenticates on its first user (or {@link authenticate}).
   * @throws InvalidConfigError (`INVALID_CONFIG`) for a configuration without `app`, or a bad one.
   */
  static async create(config: OboAppConfig): Promise<OboApp> {
    return new OboApp(await appConfigOf(config));
  }

  /**
   * The app for the customer pod of `companyId`, from the partner callback's record in `tenants`: the configuration's
   * identity and settings, with the tenant's pod, session-auth and Agent URLs.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`, parameter `companyId`) for a company the registry does not
   *   know, or one registered for another app id; InvalidConfigError as {@link create}.
   */
  static async forTenant(companyId: string, options: { tenants: TenantRegistry; config: OboAppConfig }): Promise<OboApp> {
    const config = await appConfigOf(options.config);
    const tenant = typeof companyId === 'string' && companyId.length > 0 ? options.tenants.get(companyId) : undefined;
    if (tenant === undefined) throw new InvalidArgumentError('companyId', 'a company the partner callback registered', describeValue(companyId));
    if (tenant.appId !== config.app.appId) throw new InvalidArgumentError('companyId', `a company registered for the app ${config.app.appId}`, `one registered for another app`);
    return new OboApp(forTenantConfig(config, tenant));
  }

  /** Authentications performed so far. */
  get stats(): OboAppStats {
    return { appLogins: this.#session.appLogins, userLogins: this.#session.userLogins };
  }

  /**
   * Authenticate the app now (otherwise its first user does), to find a refused credential at start-up.
   * @throws AuthenticationError (`AUTHENTICATION_FAILED`, `target: 'app'`) when the pod refuses the app: unknown,
   *   disabled, or its key or certificate not the registered one.
   */
  async authenticate(): Promise<void> {
    await this.#session.token();
  }

  /**
   * A session acting for `user` (a user id, or a username), authenticated now with the cached app token.
   * @throws InvalidArgumentError for a value that is neither; AppNotInstalledError (`APP_NOT_INSTALLED`) when the app
   *   is not installed for that user (or there is no such user); AuthenticationError (`target: 'app'`) when the app's
   *   own authentication is refused.
   */
  async user(user: number | string): Promise<OboSession> {
    const who = oboUser('user', user);
    const token = this.#session.userToken(who);
    await token.token();
    return new OboSession({
      appId: this.appId, user: nameOf(who), token,
      pod: this.#http('pod'), podUrl: this.config.pod.url, agent: this.#http('agent'), agentUrl: this.config.agent.url,
    });
  }

  /** Close the connections the app and every session it made share; their calls fail with `ABORTED` afterwards. */
  async close(): Promise<void> {
    await this.#pools.close();
  }

  #http(component: Component): HttpClient {
    return this.#pools.httpOf(component)!;
  }
}
