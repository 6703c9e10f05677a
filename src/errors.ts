/**
 * Error model of allegro-ts: one base class, {@link AllegroError}, with a stable machine-readable `code` drawn
 * from the closed union {@link ErrorCode}. Callers match on `code` (or use `instanceof` on the subclasses);
 * messages are for humans and may change.
 *
 * Security rules (docs/threat-model.md, docs/errors.md):
 * - Cryptographic failures are all one code, `DECRYPTION_FAILED`, with one fixed message, so that an error
 *   never tells an attacker which check failed (tag, padding, key unwrap, length of a recovered key).
 * - No message or property of an error ever carries key bytes, tokens or plaintext. Invalid-argument messages
 *   describe what was received by type and length only, never by content.
 *
 * `instanceof` survives duplicate installs of this package: every class is branded with a `Symbol.for` key
 * and overrides `Symbol.hasInstance`.
 */

/** Every error code allegro-ts can raise. Closed: adding one is a documented change (docs/errors.md). */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DECRYPTION_FAILED'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_MODE'
  | 'MALFORMED_CIPHERTEXT'
  | 'KEY_ID_MISMATCH'
  | 'INVALID_TOKEN'
  | 'INVALID_CONFIG'
  | 'AUTHENTICATION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'GONE'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'NETWORK_ERROR'
  | 'MALFORMED_RESPONSE'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CONTENT_KEY_UNAVAILABLE'
  | 'ENTITLEMENT_DISABLED'
  | 'UNSUPPORTED_OPERATION'
  | 'OBO_PERMISSION_DENIED'
  | 'APP_NOT_INSTALLED';

const BRAND = Symbol.for('allegro-ts.error');

/**
 * When repeating a failed operation may succeed: `never` (it would fail the same way), `idempotent` (only when
 * repeating is harmless: the server may already have acted), or `always` (nothing was done: a 429, a refused
 * connection). The one classification of every error, from {@link RETRY_TABLE}; `retryable` and the HTTP client's
 * retry policy (`src/http/retry.ts`) are both read from it (docs/errors.md, "Retries").
 */
export type RetryWhen = 'never' | 'idempotent' | 'always';

/** Why a request got no usable HTTP answer; see {@link NetworkError}. */
export type NetworkFailureReason =
  /** The connection was refused: nothing was sent. */
  | 'refused'
  /** The connection was reset or closed mid-exchange: the server may have acted. */
  | 'lost'
  /** The host name could not be resolved. */
  | 'dns'
  /** No route to the host, or the connection attempt timed out at the TCP level. */
  | 'unreachable'
  /** TLS verification or handshake failed (untrusted or mismatched certificate): it fails the same way every time. */
  | 'tls'
  /** The proxy refused to open the tunnel. */
  | 'proxy'
  /** The response (head or body) is larger than the client accepts: it would be just as large again. */
  | 'too-large'
  /** Any other transport failure. */
  | 'other';

/** Why a content key could not be had. */
export type ContentKeyUnavailableReason = 'not-a-member' | 'unknown-rotation' | 'key-manager-unavailable' | 'cooling-down';

const NETWORK_RETRY: { readonly [R in NetworkFailureReason]: RetryWhen } = Object.freeze({
  refused: 'always', lost: 'idempotent', dns: 'idempotent', unreachable: 'idempotent', tls: 'never', proxy: 'idempotent', 'too-large': 'never', other: 'idempotent',
});

const CONTENT_KEY_RETRY: { readonly [R in ContentKeyUnavailableReason]: RetryWhen } = Object.freeze({
  'not-a-member': 'never', 'unknown-rotation': 'never', 'key-manager-unavailable': 'idempotent', 'cooling-down': 'always',
});

/**
 * The classification table: for every code, when repeating the operation may succeed, per `reason` for the codes
 * whose reasons differ. The only place that decides it; a code missing here does not compile.
 */
export const RETRY_TABLE: { readonly [C in ErrorCode]: RetryWhen | { readonly [reason: string]: RetryWhen } } = Object.freeze({
  INVALID_ARGUMENT: 'never',
  DECRYPTION_FAILED: 'never',
  UNSUPPORTED_VERSION: 'never',
  UNSUPPORTED_MODE: 'never',
  MALFORMED_CIPHERTEXT: 'never',
  KEY_ID_MISMATCH: 'never',
  INVALID_TOKEN: 'never',
  INVALID_CONFIG: 'never',
  AUTHENTICATION_FAILED: 'never',
  UNAUTHORIZED: 'never',
  FORBIDDEN: 'never',
  NOT_FOUND: 'never',
  GONE: 'never',
  CONFLICT: 'never',
  BAD_REQUEST: 'never',
  RATE_LIMITED: 'always',
  SERVER_ERROR: 'idempotent',
  NETWORK_ERROR: NETWORK_RETRY,
  MALFORMED_RESPONSE: 'never',
  TIMEOUT: 'idempotent',
  ABORTED: 'never',
  CONTENT_KEY_UNAVAILABLE: CONTENT_KEY_RETRY,
  ENTITLEMENT_DISABLED: 'never',
  UNSUPPORTED_OPERATION: 'never',
  OBO_PERMISSION_DENIED: 'never',
  APP_NOT_INSTALLED: 'never',
});

/** The classification of `code` (with `reason` for the codes whose reasons differ) in {@link RETRY_TABLE}. */
export function retryWhenOf(code: ErrorCode, reason?: string): RetryWhen {
  const entry = RETRY_TABLE[code];
  if (typeof entry === 'string') return entry;
  return (reason === undefined ? undefined : entry[reason]) ?? 'never';
}

/**
 * Base class of every error allegro-ts throws on purpose.
 *
 * @example
 * ```ts
 * try { await decryptTransport(key, bytes); }
 * catch (err) { if (err instanceof AllegroError && err.code === 'DECRYPTION_FAILED') { ... } }
 * ```
 */
export class AllegroError extends Error {
  /** Stable identifier of the failure; see docs/errors.md. */
  readonly code: ErrorCode;
  /** When repeating the operation may succeed, from {@link RETRY_TABLE}; the HTTP client's retry policy reads it too. */
  readonly retryWhen: RetryWhen;
  /** Whether repeating the same operation later may succeed: `retryWhen` is not `never`. */
  readonly retryable: boolean;

  /**
   * @param options.reason for the codes whose classification depends on it (`NETWORK_ERROR`,
   *   `CONTENT_KEY_UNAVAILABLE`): the reason looked up in {@link RETRY_TABLE}.
   */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryWhen = retryWhenOf(code, options?.reason);
    this.retryable = this.retryWhen !== 'never';
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    // A copy of this class from a duplicate install is recognised by its brand and its name.
    return this === AllegroError || Function.prototype[Symbol.hasInstance].call(this, value) ||
      (value as unknown as Error).name === this.name;
  }
}

/** A caller passed a value of the wrong type, size or range. The message names the parameter. */
export class InvalidArgumentError extends AllegroError {
  declare readonly code: 'INVALID_ARGUMENT';
  /** Name of the offending parameter, e.g. `key` or `options.rotationId`. */
  readonly parameter: string;
  constructor(parameter: string, expected: string, received: string) {
    super('INVALID_ARGUMENT', `Invalid ${parameter}: expected ${expected}, received ${received}.`);
    this.parameter = parameter;
  }
}

/**
 * Authenticated decryption failed, or a wrapped key could not be recovered. Deliberately says nothing else:
 * wrong key, tampered bytes, bad tag and bad padding are indistinguishable.
 */
export class DecryptionFailedError extends AllegroError {
  declare readonly code: 'DECRYPTION_FAILED';
  constructor() {
    super('DECRYPTION_FAILED', 'Decryption failed.');
  }
}

/** The input is a well-formed container of a version this library does not read (or does not write). */
export class UnsupportedVersionError extends AllegroError {
  declare readonly code: 'UNSUPPORTED_VERSION';
  /** The version byte found in the input. */
  readonly version: number;
  constructor(what: string, version: number, supported: readonly number[]) {
    super('UNSUPPORTED_VERSION', `Unsupported ${what} version ${version}; supported: ${supported.join(', ')}.`);
    this.version = version;
  }
}

/** The ciphertext names an encryption mode that is unknown, or that the caller has not opted in to. */
export class UnsupportedModeError extends AllegroError {
  declare readonly code: 'UNSUPPORTED_MODE';
  /** The mode byte found in the input. */
  readonly mode: number;
  constructor(mode: number, hint: string) {
    super('UNSUPPORTED_MODE', `Unsupported encryption mode ${mode}: ${hint}`);
    this.mode = mode;
  }
}

/** The input cannot be a ciphertext of the claimed format: wrong length, bad framing or bad encoding. */
export class MalformedCiphertextError extends AllegroError {
  declare readonly code: 'MALFORMED_CIPHERTEXT';
  constructor(what: string, problem: string) {
    super('MALFORMED_CIPHERTEXT', `Malformed ${what}: ${problem}.`);
  }
}

/**
 * The ciphertext's key id (HMAC-SHA256(key, "KeyFingerprint")) is not the one of the key supplied: the caller
 * picked the wrong key (for example the wrong thread or rotation). Raised before any decryption is attempted.
 */
export class KeyIdMismatchError extends AllegroError {
  declare readonly code: 'KEY_ID_MISMATCH';
  constructor() {
    super('KEY_ID_MISMATCH', 'The ciphertext was made with a different key than the one supplied (key id mismatch).');
  }
}

/** Why a login JWT was refused. */
export type InvalidTokenReason = 'malformed' | 'unsupported-header' | 'bad-signature' | 'bad-claims' | 'expired' | 'lifetime-too-long';

/**
 * A login JWT was refused: malformed, not signed by the expected key, expired, or expiring further ahead than
 * allowed. `reason` says which; the message never quotes the token.
 */
export class InvalidTokenError extends AllegroError {
  declare readonly code: 'INVALID_TOKEN';
  /** Which check failed. */
  readonly reason: InvalidTokenReason;
  constructor(reason: InvalidTokenReason, detail: string) {
    super('INVALID_TOKEN', `Invalid token (${reason}): ${detail}.`);
    this.reason = reason;
  }
}

/** A configuration file or object is missing a value or has one of the wrong form; the message names the key. */
export class InvalidConfigError extends AllegroError {
  declare readonly code: 'INVALID_CONFIG';
  /** Dotted path of the offending key, e.g. `bot.privateKey.path`. */
  readonly key: string;
  constructor(key: string, problem: string) {
    super('INVALID_CONFIG', `Invalid configuration ${key}: ${problem}.`);
    this.key = key;
  }
}

/** Why an authentication was refused. */
export type AuthenticationFailure = 'unknown-user' | 'bad-signature' | 'clock-skew' | 'certificate-refused' | 'refused' | 'refresh-failed';

/** Which login an {@link AuthenticationError} is about: the pod `session`, the `keyManager`, or an OBO `app`. */
export type AuthenticationTarget = 'session' | 'keyManager' | 'app';

const TARGET_NAMES: { readonly [T in AuthenticationTarget]: string } = Object.freeze({ session: 'Pod', keyManager: 'Key Manager', app: 'App' });

/**
 * Logging in to the pod or the Key Manager, or an OBO app's own authentication, failed for a reason that retrying
 * will not fix: the user or app is unknown or disabled, the key does not match, the clocks disagree, or the
 * certificate was refused. Never carries a token.
 */
export class AuthenticationError extends AllegroError {
  declare readonly code: 'AUTHENTICATION_FAILED';
  readonly reason: AuthenticationFailure;
  /** Which login: `session` (pod), `keyManager`, or `app` (an OBO app authenticating itself). */
  readonly target: AuthenticationTarget;
  constructor(target: AuthenticationTarget, reason: AuthenticationFailure, detail: string, cause?: unknown) {
    super('AUTHENTICATION_FAILED', `${TARGET_NAMES[target]} authentication failed (${reason}): ${detail}`, { cause });
    this.target = target;
    this.reason = reason;
  }
}

/** The codes of {@link HttpStatusError}, one per class of HTTP status. */
export type HttpStatusErrorCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'GONE' | 'CONFLICT' | 'BAD_REQUEST' | 'RATE_LIMITED' | 'SERVER_ERROR';

/** HTTP statuses mapped to error codes. */
function codeForStatus(status: number): HttpStatusErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 410) return 'GONE';
  if (status === 409 || status === 412) return 'CONFLICT';
  if (status === 429) return 'RATE_LIMITED';
  if (status >= 500) return 'SERVER_ERROR';
  return 'BAD_REQUEST';
}

/**
 * A server answered with an error status. Carries the status, the route (method and path template, never a
 * query string or token), the server's trace id when it sent one, its message, and for 429/503 the delay it asked
 * for. Retryable for 429 and 5xx.
 */
export class HttpStatusError extends AllegroError {
  declare readonly code: HttpStatusErrorCode;
  readonly status: number;
  /** `METHOD /path` with ids left in but no query string. */
  readonly route: string;
  readonly traceId: string | undefined;
  /** The server's error message, if it sent one (Symphony: `{"code","message"}`). */
  readonly serverMessage: string | undefined;
  /** Delay the server asked for with Retry-After, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(status: number, route: string, details: { traceId?: string | undefined; serverMessage?: string | undefined; retryAfterMs?: number | undefined } = {}) {
    const code = codeForStatus(status);
    super(code, `${route} failed with HTTP ${status}${details.serverMessage === undefined ? '' : `: ${details.serverMessage}`}`);
    this.status = status;
    this.route = route;
    this.traceId = details.traceId;
    this.serverMessage = details.serverMessage;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * The request never got a usable HTTP answer: connection refused or reset, DNS, TLS, proxy refusal, a response
 * too large. `reason` says which kind; retryable except for `tls` and `too-large`, which fail the same way every
 * time, and a `refused` connection is retried even for requests that are not idempotent ({@link RETRY_TABLE}).
 */
export class NetworkError extends AllegroError {
  declare readonly code: 'NETWORK_ERROR';
  readonly route: string;
  /** What kind of failure it was. */
  readonly reason: NetworkFailureReason;
  constructor(route: string, reason: NetworkFailureReason, detail: string, cause?: unknown) {
    super('NETWORK_ERROR', `${route} failed: ${detail}`, { cause, reason });
    this.route = route;
    this.reason = reason;
  }
}

/**
 * A server answered with a success status, but its answer is not what the protocol says: a body that is not JSON,
 * a field the client needs that is missing or of the wrong type, or more (or fewer) bytes than were asked for. The
 * client never turns this into an invented HTTP status; whichever module reads the answer raises this same error.
 * Not retryable: the same request gets the same answer.
 */
export class MalformedResponseError extends AllegroError {
  declare readonly code: 'MALFORMED_RESPONSE';
  /** `METHOD /path` of the request whose answer was malformed. */
  readonly route: string;
  constructor(route: string, problem: string) {
    super('MALFORMED_RESPONSE', `${route} answered with a malformed response: ${problem}`);
    this.route = route;
  }
}

/** The request took longer than its timeout. Retryable. */
export class TimeoutError extends AllegroError {
  declare readonly code: 'TIMEOUT';
  readonly route: string;
  constructor(route: string, timeoutMs: number) {
    super('TIMEOUT', `${route} timed out after ${timeoutMs} ms`);
    this.route = route;
  }
}

/** The caller aborted the operation (AbortSignal) or closed the client. */
export class AbortedError extends AllegroError {
  declare readonly code: 'ABORTED';
  constructor(what: string) {
    super('ABORTED', `${what} was aborted`);
  }
}

/**
 * The content key of a thread (and rotation) could not be obtained, so its messages cannot be encrypted or
 * decrypted. Says exactly which key is missing and why; never carries key material.
 */
export class ContentKeyUnavailableError extends AllegroError {
  declare readonly code: 'CONTENT_KEY_UNAVAILABLE';
  readonly threadId: string;
  readonly rotationId: string | undefined;
  readonly reason: ContentKeyUnavailableReason;
  constructor(threadId: string, rotationId: bigint | string | undefined, reason: ContentKeyUnavailableReason, cause?: unknown) {
    const rotation = rotationId === undefined ? 'current rotation' : `rotation ${rotationId}`;
    super('CONTENT_KEY_UNAVAILABLE', `No content key for thread ${threadId} (${rotation}): ${reason}`, { cause, reason });
    this.threadId = threadId;
    this.rotationId = rotationId === undefined ? undefined : String(rotationId);
    this.reason = reason;
  }
}

/** The message Symphony answers, with HTTP 403, to every Object Store call of a pod without the entitlement. */
export const OBJECT_STORE_DISABLED_MESSAGE = 'This feature is disabled for your pod.';

/**
 * The pod does not have the Object Store entitlement: every Object Store call is refused (HTTP 403 "This feature is
 * disabled for your pod."). Not retryable; the pod's administrator must enable the feature.
 */
export class EntitlementError extends AllegroError {
  declare readonly code: 'ENTITLEMENT_DISABLED';
  /** The feature that is disabled. */
  readonly feature: 'objectStore';
  /** The call that was refused, e.g. `PUT /object/v1/objects/{hash}`. */
  readonly route: string;
  constructor(route: string, cause?: unknown) {
    super('ENTITLEMENT_DISABLED', `${route} was refused: this pod does not have the Object Store entitlement ("${OBJECT_STORE_DISABLED_MESSAGE}"). Ask the pod administrator to enable it.`, { cause });
    this.feature = 'objectStore';
    this.route = route;
  }
}

/**
 * An operation this runtime cannot perform at all, such as reading a configuration file where there is no file
 * system (the portable platform, docs/architecture.md "Platform"). Names the operation and the platform; not
 * retryable.
 */
export class UnsupportedOperationError extends AllegroError {
  declare readonly code: 'UNSUPPORTED_OPERATION';
  /** What was attempted, e.g. `reading a file`. */
  readonly operation: string;
  /** The platform that cannot do it: `node` or `portable`. */
  readonly platform: 'node' | 'portable';
  constructor(operation: string, platform: 'node' | 'portable', hint: string) {
    super('UNSUPPORTED_OPERATION', `${operation} is not possible on the ${platform} platform: ${hint}.`);
    this.operation = operation;
    this.platform = platform;
  }
}

/**
 * The permissions an OBO app is granted on a pod (docs/symphony-apis.md §2.1): `ACT_AS_USER` (implicit, every app
 * has it) and one per family of OBO-enabled endpoints. `allegro-ts/obo` exports the list as `OBO_PERMISSIONS`.
 */
export type OboPermission =
  | 'ACT_AS_USER'
  | 'SEND_MESSAGES'
  | 'SUPPRESS_MESSAGES'
  | 'GET_USER_CONNECTIONS'
  | 'REQUEST_USER_CONNECTIONS'
  | 'GET_PRESENCE'
  | 'SET_PRESENCE'
  | 'GET_BASIC_USER_INFO'
  | 'GET_BASIC_CONTACT_INFO'
  | 'LIST_USER_STREAMS'
  | 'CREATE_USER_STREAM'
  | 'MANAGE_ROOMS'
  | 'MANAGE_SIGNALS'
  | 'MANAGE_USER_FOLLOWING';

/**
 * An OBO call was refused (HTTP 403) because the app lacks a permission: `permission` names it, as the pod's answer
 * did. Only the pod's administrator can grant it; not retryable. Any other 403 of an OBO call (the user is not a
 * member, not the owner, …) stays an {@link HttpStatusError} `FORBIDDEN`.
 */
export class PermissionDeniedError extends AllegroError {
  declare readonly code: 'OBO_PERMISSION_DENIED';
  /** The permission the app lacks. */
  readonly permission: OboPermission;
  /** Always 403. */
  readonly status: 403;
  /** `METHOD /path` of the refused call. */
  readonly route: string;
  readonly traceId: string | undefined;
  /** The pod's message, which names the permission. */
  readonly serverMessage: string | undefined;
  constructor(permission: OboPermission, route: string, details: { traceId?: string | undefined; serverMessage?: string | undefined } = {}, cause?: unknown) {
    super('OBO_PERMISSION_DENIED', `${route} was refused: the app lacks the OBO permission ${permission}. Ask the pod administrator to grant it.`, { cause });
    this.permission = permission;
    this.status = 403;
    this.route = route;
    this.traceId = details.traceId;
    this.serverMessage = details.serverMessage;
  }
}

/**
 * An OBO app could not authenticate on behalf of a user (HTTP 401 on the user authentication, with an app token the
 * pod had just accepted): the app is not installed for that user, or no such user exists. Distinct from a refused
 * app credential, which is an {@link AuthenticationError} with `target: 'app'`. Not retryable: the user or an
 * administrator must install the app.
 */
export class AppNotInstalledError extends AllegroError {
  declare readonly code: 'APP_NOT_INSTALLED';
  /** The app's id. */
  readonly appId: string;
  /** The user as given: a user id or a username. */
  readonly user: number | string;
  /** `METHOD /path` of the user authentication. */
  readonly route: string;
  constructor(appId: string, user: number | string, route: string, cause?: unknown) {
    super('APP_NOT_INSTALLED', `The app ${appId} is not installed for the user ${typeof user === 'number' ? user : JSON.stringify(user)} (or there is no such user): ${route} was refused.`, { cause });
    this.appId = appId;
    this.user = user;
    this.route = route;
  }
}

/**
 * Every error class allegro-ts throws, as one union discriminated by `code`: `switch (err.code)` narrows to the
 * subclass, with its extra fields. The codes of {@link HttpStatusError} are those of {@link HttpStatusErrorCode}.
 *
 * @example
 * ```ts
 * catch (caught) {
 *   if (!(caught instanceof AllegroError)) throw caught;
 *   const err = caught as AnyAllegroError;
 *   switch (err.code) {
 *     case 'INVALID_ARGUMENT': console.error(err.parameter); break;
 *     case 'NOT_FOUND': console.error(err.status, err.route); break;
 *     case 'CONTENT_KEY_UNAVAILABLE': console.error(err.threadId, err.reason); break;
 *   }
 * }
 * ```
 */
export type AnyAllegroError =
  | InvalidArgumentError
  | DecryptionFailedError
  | UnsupportedVersionError
  | UnsupportedModeError
  | MalformedCiphertextError
  | KeyIdMismatchError
  | InvalidTokenError
  | InvalidConfigError
  | AuthenticationError
  | HttpStatusError
  | NetworkError
  | MalformedResponseError
  | TimeoutError
  | AbortedError
  | ContentKeyUnavailableError
  | EntitlementError
  | UnsupportedOperationError
  | PermissionDeniedError
  | AppNotInstalledError;
