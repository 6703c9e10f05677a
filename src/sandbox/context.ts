/**
 * What every route of the sandbox shares: the state, the persistence that makes a change durable before it is
 * acknowledged, the token issuer, the configuration, and the authentication of incoming requests (session
 * token in the `sessionToken` header or `skey` cookie; Key Manager token in `keyManagerToken` or `kmsession`;
 * bearer tokens for Datafeed 2.0 and the Object Store), as Symphony's pod and Key Manager accept them
 * (docs/protocol.md §2, docs/symphony-apis.md §1).
 */
import { HttpError, type SandboxRequest } from './http.js';
import type { SandboxState, StateRecord, StateSnapshot, UserState } from './state.js';
import { TokenIssuer, type TokenKind } from './tokens.js';

/** Durable storage of records (journal.ts), or none (in-memory sandbox). */
export interface Persistence {
  append(record: StateRecord): Promise<void>;
  readonly needsCompaction: boolean;
  compact(snapshot: StateSnapshot): Promise<void>;
  close(): Promise<void>;
}

/** Tunables of a running sandbox. */
export interface SandboxConfig {
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

/** The shared context of the routes. */
export class SandboxContext {
  readonly state: SandboxState;
  readonly config: SandboxConfig;
  readonly urls: SandboxUrls;
  readonly #persistence: Persistence;
  readonly #listeners = new Set<() => void>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #compacting: Promise<void> | undefined;
  #tokens: { secret: string; issuer: TokenIssuer } | undefined;
  /** Sequence number of the newest event whose record is durable. */
  durableSeq: number;

  constructor(state: SandboxState, config: SandboxConfig, urls: SandboxUrls, persistence: Persistence) {
    this.state = state;
    this.config = config;
    this.urls = urls;
    this.#persistence = persistence;
    this.durableSeq = state.lastSeq;
  }

  /** The token issuer, keyed by the pod's token secret (journaled with the pod, so tokens survive a restart). */
  get tokens(): TokenIssuer {
    if (this.#tokens?.secret !== this.state.tokenSecret) {
      this.#tokens = { secret: this.state.tokenSecret, issuer: new TokenIssuer(Buffer.from(this.state.tokenSecret, 'base64')) };
    }
    return this.#tokens.issuer;
  }

  /**
   * Apply a change and make it durable; resolves once it may be acknowledged. Changes are applied at once (so
   * concurrent requests see them and validation cannot race) and journaled in order.
   */
  async commit(...records: StateRecord[]): Promise<void> {
    for (const r of records) this.state.apply(r);
    const seq = this.state.lastSeq;
    const durable = Promise.all(records.map((r) => this.#persistence.append(r))).then(() => {
      // Datafeeds deliver only events whose records are on disk, so a crash never takes back a delivered event.
      this.durableSeq = Math.max(this.durableSeq, seq);
    });
    this.#inFlight.add(durable);
    try {
      await durable;
    } finally {
      this.#inFlight.delete(durable);
    }
    for (const listener of this.#listeners) listener();
    if (this.#persistence.needsCompaction && this.#compacting === undefined) {
      this.#compacting = this.#persistence.compact(this.state.toSnapshot()).finally(() => { this.#compacting = undefined; });
    }
  }

  /** Call `listener` after every commit (datafeed long-polls); returns the unsubscribe function. */
  onCommit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Wait for in-flight writes and a compaction in progress, then close the persistence. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    await this.#compacting;
    await this.#persistence.close();
  }

  /** The user of a request's session token (`sessionToken` header or `skey` cookie); 401 otherwise. */
  sessionUser(req: SandboxRequest): UserState {
    return this.#user(req, headerOrCookie(req, 'sessiontoken', 'skey') ?? bearer(req), ['session'], 'session');
  }

  /** The user of a request's Key Manager token (`keyManagerToken` header or `kmsession` cookie); 401 otherwise. */
  kmUser(req: SandboxRequest): UserState {
    return this.#user(req, headerOrCookie(req, 'keymanagertoken', 'kmsession'), ['km'], 'Key Manager');
  }

  /** The user of a bearer token of one of `kinds`; 401 otherwise. */
  bearerUser(req: SandboxRequest, kinds: readonly TokenKind[]): UserState {
    return this.#user(req, bearer(req) ?? headerOrCookie(req, 'sessiontoken', 'skey'), kinds, 'bearer');
  }

  #user(_req: SandboxRequest, token: string | undefined, kinds: readonly TokenKind[], what: string): UserState {
    if (token === undefined) throw new HttpError(401, `Missing ${what} token`);
    const claims = this.tokens.verify(token, kinds);
    const user = claims === undefined ? undefined : this.state.users.get(claims.sub);
    if (user === undefined) throw new HttpError(401, `Invalid or expired ${what} token`);
    return user;
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
