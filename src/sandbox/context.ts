/**
 * What every route of the sandbox shares: the store (./store/store.ts), the token issuer, the configuration, and the
 * authentication of incoming requests (session token in the `sessionToken` header or `skey` cookie; Key Manager
 * token in `keyManagerToken` or `kmsession`; bearer tokens for Datafeed 2.0 and the Object Store), as Symphony's
 * pod and Key Manager accept them (docs/protocol.md §2, docs/symphony-apis.md §1). A token is accepted only if it
 * verifies, has not expired and has not been revoked by a logout (docs/sandbox.md "Tokens").
 */
import type { ConnectionLimits } from './connections.js';
import { HttpError } from './http-error.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_JSON_LIMITS, type SandboxRequest } from './http.js';
import type { OboPermission } from '../errors.js';
import { checkOboCall } from './obo-permissions.js';
import type { App } from './store/apps.js';
import type { SandboxStore } from './store/store.js';
import type { User } from './store/users.js';
import { TokenIssuer, type TokenClaims, type TokenKind } from './tokens.js';

/** Tunables and limits of a running sandbox (docs/sandbox.md "In process" and "Limits"). */
export interface SandboxConfig extends ConnectionLimits {
  /** Lifetime of session and Key Manager tokens, seconds. Default 3600. */
  sessionTtlSeconds: number;
  /** Longest a datafeed read waits for events, milliseconds. Default 20,000. */
  datafeedWaitMs: number;
  /** A feed not read for this long expires, milliseconds. Default 30 minutes. */
  feedTtlMs: number;
  /** Active feeds per user. Default 20 (docs/symphony-apis.md §3.4). */
  maxFeedsPerUser: number;
  /** Events returned by one datafeed read. Default 100. */
  maxEventsPerRead: number;
  /** Rotate a room's content key when a member is removed. Default false. */
  rotateOnMemberRemoval: boolean;
  /** How long an Object Store feed message is invisible after it is read (unless extended), seconds. Default 30. */
  objectFeedVisibilitySeconds: number;
  /** Deepest nesting of a JSON body (and of a message's `messagepayload`). Default 64. */
  maxJsonDepth: number;
  /** Longest JSON string of a request, in characters, except ciphertext fields. Default 65,536. */
  maxJsonFieldLength: number;
  /** Largest request body of a JSON route, bytes. Default 1 MiB. */
  maxBodyBytes: number;
  /** Largest message submission body, bytes. Default 2 MiB. */
  maxMessageBytes: number;
  /** Largest attachment upload, bytes. Default 25 MiB. */
  maxAttachmentBytes: number;
}

/** The defaults of {@link SandboxConfig}. */
export const DEFAULT_CONFIG: Readonly<SandboxConfig> = {
  sessionTtlSeconds: 3600,
  datafeedWaitMs: 20_000,
  feedTtlMs: 30 * 60 * 1000,
  maxFeedsPerUser: 20,
  maxEventsPerRead: 100,
  rotateOnMemberRemoval: false,
  objectFeedVisibilitySeconds: 30,
  maxJsonDepth: DEFAULT_JSON_LIMITS.maxDepth,
  maxJsonFieldLength: DEFAULT_JSON_LIMITS.maxFieldLength,
  maxBodyBytes: DEFAULT_BODY_LIMIT,
  maxMessageBytes: 2 * 1024 * 1024,
  maxAttachmentBytes: 25 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 4096,
  tlsHandshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 5_000,
  sendTimeoutMs: 30_000,
};

/** The configuration `given` over the defaults; a value out of range is a RangeError naming it. */
export function resolveConfig(given: Partial<SandboxConfig> = {}): SandboxConfig {
  const config: SandboxConfig = { ...DEFAULT_CONFIG, ...given };
  for (const [name, value] of Object.entries(config)) {
    if (name === 'rotateOnMemberRemoval') {
      if (typeof value !== 'boolean') throw new RangeError(`config.${name} must be a boolean, received ${String(value)}.`);
      continue;
    }
    const min = name === 'requestTimeoutMs' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`config.${name} must be an integer of at least ${min}, received ${String(value)}.`);
    }
  }
  return config;
}

/** Base URLs of the sandbox. */
export interface SandboxUrls {
  podUrl: string;
  keyManagerUrl: string;
  sessionAuthUrl: string;
  keyAuthUrl: string;
  objectStoreUrl: string;
  agentUrl: string;
}

/** An authenticated request: its user and the claims of the token that proved it. */
export interface Caller {
  user: User;
  claims: TokenClaims;
}

/** The shared context of the routes. */
export class SandboxContext {
  readonly store: SandboxStore;
  readonly config: SandboxConfig;
  readonly urls: SandboxUrls;
  readonly tokens: TokenIssuer;
  /** The pod's secret of Datafeed 2.0 `ackId`s (../routes/datafeed.ts). */
  readonly feedSecret: Uint8Array;

  constructor(store: SandboxStore, config: SandboxConfig, urls: SandboxUrls) {
    this.store = store;
    this.config = config;
    this.urls = urls;
    const pod = store.pod.require();
    this.tokens = new TokenIssuer(pod.tokenSecret);
    this.feedSecret = pod.feedSecret;
  }

  /** The oldest last-read time of a feed still live at `now`. */
  liveSince(now = Date.now()): number {
    return now - this.config.feedTtlMs;
  }

  /**
   * The caller of a request's session token (`sessionToken` header, `skey` cookie or a Bearer header); 401 otherwise.
   * A session an OBO app opened for the user (docs/sandbox.md "OBO apps") counts only while the app is enabled and
   * installed for the user (401 otherwise), and only on the OBO-enabled endpoints, with the app's permissions
   * (./obo-permissions.ts: 403 otherwise).
   */
  session(req: SandboxRequest): Caller {
    return this.#onBehalf(req, this.#caller(headerOrCookie(req, 'sessiontoken', 'skey') ?? bearer(req), ['session'], 'session'));
  }

  /** `caller`, if it is not an OBO session or its app may make this call (see {@link session}). */
  #onBehalf(req: SandboxRequest, caller: Caller): Caller {
    const appId = caller.claims.app;
    if (appId === undefined) return caller;
    const app = this.store.apps.get(appId);
    if (app === undefined || !app.enabled || !this.store.apps.isInstalled(appId, caller.user.id)) {
      throw new HttpError(401, 'Invalid or expired session token: the app of this on-behalf-of session is no longer enabled or installed for the user');
    }
    checkOboCall(req.method, req.path, appId, new Set<OboPermission>(['ACT_AS_USER', ...app.permissions]));
    return caller;
  }

  /** The OBO app of a request's app session token (`sessionToken` header); 401 when there is none, or the app is disabled. */
  appCaller(req: SandboxRequest): { app: App; claims: TokenClaims } {
    const token = req.headers.sessiontoken;
    const claims = this.tokens.verify(typeof token === 'string' ? token : undefined, ['app']);
    const app = claims?.app === undefined || this.store.revocations.isRevoked(`session:${claims.sid}`, claims.iat) ? undefined : this.store.apps.get(claims.app);
    if (app === undefined || !app.enabled) throw new HttpError(401, 'Invalid or expired app session token');
    return { app, claims: claims! };
  }

  /** The user of a request's session token; 401 otherwise. */
  sessionUser(req: SandboxRequest): User {
    return this.session(req).user;
  }

  /** The user of a request's Key Manager token (`keyManagerToken` header or `kmsession` cookie); 401 otherwise. */
  kmUser(req: SandboxRequest): User {
    return this.#caller(headerOrCookie(req, 'keymanagertoken', 'kmsession'), ['km'], 'Key Manager').user;
  }

  /** The user of a bearer token of one of `kinds`; 401 otherwise (an OBO session as {@link session} says). */
  bearerUser(req: SandboxRequest, kinds: readonly TokenKind[]): User {
    return this.#onBehalf(req, this.#caller(bearer(req) ?? headerOrCookie(req, 'sessiontoken', 'skey'), kinds, 'bearer')).user;
  }

  #caller(token: string | undefined, kinds: readonly TokenKind[], what: string): Caller {
    if (token === undefined) throw new HttpError(401, `Missing ${what} token`);
    const claims = this.tokens.verify(token, kinds);
    const revoked = claims !== undefined && (this.store.revocations.isRevoked(`session:${claims.sid}`, claims.iat) ||
      (claims.kind === 'km' && this.store.revocations.isRevoked(`km:${claims.sub}`, claims.iat)));
    const user = claims === undefined || revoked ? undefined : this.store.users.get(claims.sub);
    if (user === undefined) throw new HttpError(401, `Invalid or expired ${what} token`);
    return { user, claims: claims! };
  }
}

function headerOrCookie(req: SandboxRequest, header: string, cookie: string): string | undefined {
  const value = req.headers[header];
  if (typeof value === 'string' && value.length > 0) return value;
  return req.cookies.get(cookie);
}

function bearer(req: SandboxRequest): string | undefined {
  const value = req.headers.authorization;
  return typeof value === 'string' && /^Bearer /i.test(value) ? value.slice(7).trim() : undefined;
}
