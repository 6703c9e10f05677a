/**
 * `HttpClient`: JSON over HTTPS for the pod, Key Manager and Object Store clients. One logical request =
 * up to `retry.maxAttempts` exchanges over an injected {@link Dispatcher}, with exponential backoff and jitter
 * (retry.ts), Retry-After honoured, one token refresh on 401 through the caller's auth hook, a per-attempt timeout
 * and the caller's AbortSignal obeyed everywhere, waits included.
 *
 * Large bodies stream with constant memory: {@link HttpClient.upload} sends an async iterable (no retries, no 401
 * refresh: a stream cannot be replayed) and {@link HttpClient.download} hands over the response body as it arrives
 * (retries and the 401 refresh apply until the body is handed over).
 *
 * Every logical request carries `User-Agent` and a fresh `X-Trace-Id` (6 base62 characters, kept across its
 * retries) so it can be found in server logs. Errors name the route (`GET /pod/v2/sessioninfo`): never a query
 * string, a header value or a request body; a server message that happens to echo one of the credentials sent is
 * redacted.
 */
import { setMaxListeners } from 'node:events';
import { AbortedError, AllegroError, HttpStatusError, InvalidArgumentError, NetworkError, TimeoutError } from '../errors.js';
import { describeValue, optionsObject, requirePositiveInteger, requireString } from '../util/validate.js';
import { closeDispatcher, routeOf, send, sendStream, type Dispatcher, type SendResponse, type StreamResponse } from './dispatcher.js';
import { delayFor, isRetryable, parseRetryAfter, retryPolicy, type RetryPolicy } from './retry.js';

/** Default time allowed for one attempt (connection, request, whole response), in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default User-Agent. */
export const DEFAULT_USER_AGENT = 'allegro-ts/0.1.0';
/** Longest server message kept in an {@link HttpStatusError}. */
export const MAX_SERVER_MESSAGE = 300;

/** Credentials for one request, supplied by the auth layer. */
export interface AuthHook {
  /** Headers that authenticate the request (e.g. `sessionToken`); called before each attempt. */
  headers(): Promise<Record<string, string>> | Record<string, string>;
  /**
   * Called once per logical request when the server answers 401, with the headers that were refused (as
   * {@link headers} returned them, names unchanged). Resolve true
   * after refreshing the credentials: the request is then repeated once with fresh {@link headers} (even a POST:
   * the server refused it, so nothing happened). Resolve false to give up (the 401 is thrown).
   */
  onUnauthorized?(usedHeaders: Record<string, string>): Promise<boolean>;
}

/** What to do with a 2xx body: parse JSON (default), return the bytes, or ignore it. */
export type Expect = 'json' | 'bytes' | 'none';

/** One logical request. */
export interface HttpRequest {
  method: string;
  /** Absolute URL, query string included. */
  url: string;
  /** Name in errors and logs, e.g. `GET /pod/v2/sessioninfo`; default method + URL path (no query string). */
  route?: string;
  headers?: Record<string, string>;
  /** Body sent as JSON (`Content-Type: application/json`). At most one of json, form, body. */
  json?: unknown;
  /** Body sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** Raw body (`application/octet-stream` unless headers say otherwise). */
  body?: Uint8Array;
  /** Whether repeating the request is harmless; default true for GET, HEAD, PUT, DELETE and OPTIONS. */
  idempotent?: boolean;
  signal?: AbortSignal;
  /** Time allowed for each attempt; default the client's. */
  timeoutMs?: number;
  expect?: Expect;
  auth?: AuthHook;
}

/** A streamed upload for {@link HttpClient.upload}. */
export interface UploadRequest {
  method: string;
  /** Absolute URL, query string included. */
  url: string;
  /** Name in errors and logs; default method + URL path (no query string). */
  route?: string;
  /** Extra headers; `content-type` defaults to `application/octet-stream`. */
  headers?: Record<string, string>;
  /**
   * The body, sent as it is produced with backpressure; iterated once. A chunk must not be modified after it is
   * yielded. An error the iterator throws ends the upload and is rethrown unchanged.
   */
  body: AsyncIterable<Uint8Array>;
  /** Length of the body in bytes, sent as `Content-Length` (a body of another length fails); without it the body is chunked. */
  contentLength?: number;
  /** Only `headers()` is used: there is no refresh-and-retry on 401 (see {@link HttpClient.upload}). */
  auth?: AuthHook;
  signal?: AbortSignal;
  /**
   * Longest wait, in milliseconds, for the server to take more of the body or, once it is sent, for the response;
   * default the client's `timeoutMs`. Not a deadline for the whole upload (use `signal` for that).
   */
  timeoutMs?: number;
}

/** A streamed download for {@link HttpClient.download}. */
export interface DownloadRequest {
  /** Default `GET`. */
  method?: string;
  /** Absolute URL, query string included. */
  url: string;
  /** Name in errors and logs; default method + URL path (no query string). */
  route?: string;
  /** Extra headers, e.g. `Range: bytes=1000-`. */
  headers?: Record<string, string>;
  auth?: AuthHook;
  signal?: AbortSignal;
  /**
   * Longest wait, in milliseconds, for the response head and then between two chunks of the body (time the reader
   * spends not asking for more does not count); default the client's `timeoutMs`. Not a deadline for the whole download.
   */
  timeoutMs?: number;
}

/** A 2xx response whose body is read as it arrives. */
export interface DownloadResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /**
   * The body; iterate it once, to its end or until you stop (leaving the loop early closes the connection). Fails
   * with {@link AbortedError} (the signal fired or the client closed), {@link TimeoutError} or {@link NetworkError};
   * nothing is retried once the body is handed over (resume with a `Range` request).
   */
  body: AsyncIterable<Uint8Array>;
  /** Give up the body without reading it (or the rest of it). Idempotent. */
  cancel(): void;
}

/** Reported before each retry. */
export interface RetryInfo {
  route: string;
  /** The attempt that failed, 1-based. */
  attempt: number;
  /** Wait before the next attempt, in milliseconds. */
  delayMs: number;
  /** Why it failed (safe to log: no tokens, no query strings). */
  error: AllegroError;
  /** The X-Trace-Id of the logical request. */
  traceId: string;
}

/** Options of {@link HttpClient}. */
export interface HttpClientOptions {
  dispatcher: Dispatcher;
  retry?: Partial<RetryPolicy>;
  /** Time allowed for each attempt, in milliseconds. Default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  userAgent?: string;
  onRetry?: (info: RetryInfo) => void;
  /** Close the dispatcher in {@link HttpClient.close}. Default false: dispatchers are usually shared. */
  ownsDispatcher?: boolean;
  /** Source of randomness for jitter, in [0, 1). Default Math.random. For tests. */
  random?: () => number;
}

/** Largest error body read for its server message, in bytes. */
const MAX_ERROR_BODY = 64 * 1024;

/** A request after validation, as the attempt loop uses it. */
interface Prepared {
  method: string;
  route: string;
  expect: Expect;
  timeoutMs: number;
  idempotent: boolean;
  /** Headers of every attempt, names in lower case; auth headers are added per attempt. */
  base: Record<string, string>;
  body: string | Uint8Array | undefined;
  traceId: string;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Request headers whose values are not secrets; every other sent value is redacted from server messages. */
const PUBLIC_HEADERS = new Set(['accept', 'content-type', 'user-agent', 'x-trace-id', 'content-length']);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A fresh trace id: 6 characters from [0-9A-Za-z], uniformly (rejection sampling). */
export function newTraceId(): string {
  let id = '';
  const bytes = new Uint8Array(16);
  while (id.length < 6) {
    globalThis.crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < 248 && id.length < 6) id += BASE62[b % 62];
    }
  }
  return id;
}

function sleep(ms: number, signal: AbortSignal, route: string): Promise<void> {
  if (signal.aborted) return Promise.reject(new AbortedError(route));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(route));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** The `message` of a Symphony error body `{"code": …, "message": "…"}`, truncated; undefined otherwise. */
function serverMessageOf(response: SendResponse, secrets: readonly string[]): string | undefined {
  if (response.body.length === 0 || response.body.length > 1024 * 1024) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(response.body));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const message = (parsed as { message?: unknown }).message;
  if (typeof message !== 'string' || message.length === 0) return undefined;
  const clean = redact(message, secrets);
  return clean.length > MAX_SERVER_MESSAGE ? `${clean.slice(0, MAX_SERVER_MESSAGE - 1)}…` : clean;
}

/**
 * JSON over HTTPS with retries, timeouts, cancellation and a token-refresh hook.
 * @example
 * ```ts
 * const http = new HttpClient({ dispatcher: createDispatcher({ ca }) });
 * const info = await http.request<{ podId: number }>({ method: 'GET', url: `${podUrl}/webcontroller/public/podInfo` });
 * ```
 */
export class HttpClient {
  readonly #dispatcher: Dispatcher;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #ownsDispatcher: boolean;
  readonly #random: () => number;
  /** Aborted by close(): ends in-flight requests and retry waits. */
  readonly #closing = new AbortController();

  constructor(options: HttpClientOptions) {
    const o = optionsObject('options', options) as HttpClientOptions;
    if (typeof o.dispatcher !== 'object' || o.dispatcher === null) throw new InvalidArgumentError('options.dispatcher', 'a Dispatcher made by createDispatcher', describeValue(o.dispatcher));
    this.#dispatcher = o.dispatcher;
    this.#policy = retryPolicy(o.retry);
    this.#timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : requirePositiveInteger('options.timeoutMs', o.timeoutMs);
    if (o.userAgent !== undefined) requireString('options.userAgent', o.userAgent);
    this.#userAgent = o.userAgent ?? DEFAULT_USER_AGENT;
    if (o.onRetry !== undefined && typeof o.onRetry !== 'function') throw new InvalidArgumentError('options.onRetry', 'a function', describeValue(o.onRetry));
    this.#onRetry = o.onRetry;
    this.#ownsDispatcher = o.ownsDispatcher === true;
    this.#random = o.random ?? Math.random;
    // Every request in flight listens on this signal; many concurrent requests are not a listener leak.
    setMaxListeners(0, this.#closing.signal);
  }

  /** The retry policy in force (defaults merged with the options). */
  get retryPolicy(): Readonly<RetryPolicy> {
    return { ...this.#policy };
  }

  /**
   * Make a request. Resolves with the parsed JSON body (`expect: 'json'`, the default; undefined for 204 or an
   * empty body), the bytes (`'bytes'`) or undefined (`'none'`). Throws {@link HttpStatusError} for a non-2xx answer,
   * {@link NetworkError}, {@link TimeoutError} or {@link AbortedError} once retries are exhausted or not allowed,
   * and {@link InvalidArgumentError} for a malformed request.
   */
  request(req: HttpRequest & { expect: 'bytes' }): Promise<Uint8Array>;
  request(req: HttpRequest & { expect: 'none' }): Promise<undefined>;
  request<T = unknown>(req: HttpRequest): Promise<T>;
  async request(req: HttpRequest): Promise<unknown> {
    const r = optionsObject('request', req) as HttpRequest;
    requireString('request.method', r.method);
    requireString('request.url', r.url);
    const method = r.method.toUpperCase();
    const route = r.route ?? routeOf(method, r.url);
    const expect = r.expect ?? 'json';
    if (expect !== 'json' && expect !== 'bytes' && expect !== 'none') throw new InvalidArgumentError('request.expect', "'json', 'bytes' or 'none'", describeValue(expect));
    const timeoutMs = r.timeoutMs === undefined ? this.#timeoutMs : requirePositiveInteger('request.timeoutMs', r.timeoutMs);
    const idempotent = r.idempotent ?? IDEMPOTENT.has(method);
    const { body, contentType } = encodeBody(r);
    const traceId = newTraceId();

    const base: Record<string, string> = { 'user-agent': this.#userAgent, 'x-trace-id': traceId };
    if (expect === 'json') base.accept = 'application/json';
    if (contentType !== undefined) base['content-type'] = contentType;
    if (r.headers !== undefined) {
      optionsObject('request.headers', r.headers);
      for (const [name, value] of Object.entries(r.headers)) base[name.toLowerCase()] = value;
    }

    // One signal for the whole logical request: the caller's, or close().
    const linked = linkSignals(this.#closing.signal, r.signal);
    try {
      return await this.#run(r, { method, route, expect, timeoutMs, idempotent, base, body, traceId }, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  /** The attempt loop of one logical request. */
  async #run(r: HttpRequest, p: Prepared, signal: AbortSignal): Promise<unknown> {
    const { method, route, expect, timeoutMs, idempotent, base, body, traceId } = p;
    if (signal.aborted) throw new AbortedError(route);
    let attempt = 0;
    let refreshed = false;
    for (;;) {
      attempt++;
      const authHeaders = r.auth === undefined ? {} : await r.auth.headers();
      if (signal.aborted) throw new AbortedError(route);
      const headers = { ...base, ...lowerCase(authHeaders) };
      const secrets = Object.entries(headers).filter(([n]) => !PUBLIC_HEADERS.has(n)).map(([, v]) => v);
      const outcome = await this.#attempt(method, r.url, route, headers, body, signal, timeoutMs).then(
        (response) => ({ response }),
        (err: unknown) => {
          if (!(err instanceof AllegroError)) throw err;
          return { failure: err };
        },
      );
      let failure: AllegroError;
      if ('failure' in outcome) {
        failure = outcome.failure;
      } else {
        const { response } = outcome;
        // Decoding a 2xx body is outside the retry: the server answered.
        if (response.status >= 200 && response.status < 300) return decode(response, expect, route);
        failure = new HttpStatusError(response.status, route, {
          traceId: response.headers['x-trace-id'] ?? traceId,
          serverMessage: serverMessageOf(response, secrets),
          retryAfterMs: parseRetryAfter(response.headers['retry-after']),
        });
        if (response.status === 401 && r.auth?.onUnauthorized !== undefined && !refreshed) {
          refreshed = true;
          if (await r.auth.onUnauthorized(authHeaders)) {
            attempt--; // the retry after a refresh does not count against the policy
            continue;
          }
        }
      }
      if (failure instanceof AbortedError || signal.aborted) throw signal.aborted ? new AbortedError(route) : failure;
      if (attempt >= this.#policy.maxAttempts || !isRetryable(failure, idempotent)) throw failure;
      const delayMs = delayFor(attempt, failure, this.#policy, this.#random);
      this.#onRetry?.({ route, attempt, delayMs, error: failure, traceId });
      await sleep(delayMs, signal, route);
    }
  }

  /** One exchange with the per-attempt deadline: TimeoutError when it passes, AbortedError when `signal` fires. */
  async #attempt(method: string, url: string, route: string, headers: Record<string, string>, body: string | Uint8Array | undefined, signal: AbortSignal, timeoutMs: number): Promise<SendResponse> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const linked = linkSignals(signal, deadline.signal);
    try {
      return await send(this.#dispatcher, {
        method, url, route, headers, signal: linked.signal,
        headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs,
        ...(body === undefined ? {} : { body }),
      });
    } catch (err) {
      if (err instanceof AbortedError && deadline.signal.aborted && !signal.aborted) throw new TimeoutError(route, timeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
      linked.dispose();
    }
  }

  /**
   * Upload a streamed body (e.g. a blob) and resolve with the parsed JSON answer (undefined for 204 or an empty body).
   * Memory stays constant whatever the size. There is **no retry** of any kind, since the body cannot be replayed, and
   * a 401 is **not** refreshed and retried either (`auth.onUnauthorized` is not called): make sure the token is fresh
   * first, e.g. with a cheap authenticated `request()` just before (which refreshes it if needed). An answer the
   * server gives before the whole body is sent (403, 413…) ends the upload and is thrown.
   *
   * Throws {@link HttpStatusError} for a non-2xx answer (with the server's message, trace id and Retry-After),
   * {@link NetworkError}, {@link TimeoutError}, {@link AbortedError} (signal, or {@link close}),
   * {@link InvalidArgumentError} for a malformed request or a body whose length is not `contentLength`, and whatever
   * the body's iterator throws, unchanged.
   */
  async upload(req: UploadRequest): Promise<unknown> {
    const r = optionsObject('request', req) as UploadRequest;
    requireString('request.method', r.method);
    requireString('request.url', r.url);
    const method = r.method.toUpperCase();
    const route = r.route ?? routeOf(method, r.url);
    if (typeof r.body !== 'object' || r.body === null || typeof (r.body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function') {
      throw new InvalidArgumentError('request.body', 'an AsyncIterable of Uint8Array', describeValue(r.body));
    }
    if (r.contentLength !== undefined && !(Number.isSafeInteger(r.contentLength) && r.contentLength >= 0)) {
      throw new InvalidArgumentError('request.contentLength', 'a non-negative integer', describeValue(r.contentLength));
    }
    const timeoutMs = r.timeoutMs === undefined ? this.#timeoutMs : requirePositiveInteger('request.timeoutMs', r.timeoutMs);
    const traceId = newTraceId();
    const base: Record<string, string> = {
      'user-agent': this.#userAgent, 'x-trace-id': traceId, accept: 'application/json', 'content-type': 'application/octet-stream',
      ...(r.contentLength === undefined ? {} : { 'content-length': String(r.contentLength) }),
      ...this.#extraHeaders(r.headers),
    };
    const linked = linkSignals(this.#closing.signal, r.signal);
    try {
      const { signal } = linked;
      if (signal.aborted) throw new AbortedError(route);
      const authHeaders = r.auth === undefined ? {} : await r.auth.headers();
      if (signal.aborted) throw new AbortedError(route);
      const headers = { ...base, ...lowerCase(authHeaders) };
      const response = await sendStream(this.#dispatcher, { method, url: r.url, route, headers, body: r.body, signal, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
      if (response.status < 200 || response.status >= 300) throw await statusError(response, route, traceId, secretsOf(headers));
      const body = await response.bytes();
      return decode({ status: response.status, headers: response.headers, body }, 'json', route);
    } catch (err) {
      if (err instanceof AbortedError || (linked.signal.aborted && err instanceof AllegroError)) throw new AbortedError(route);
      throw err;
    } finally {
      linked.dispose();
    }
  }

  /**
   * Start a download and resolve once a 2xx response head has arrived, with the body to read as it arrives (constant
   * memory). Until then it behaves like {@link request}: retries under the client's policy (when the method is
   * idempotent, as GET and HEAD are) and one refresh-and-retry on 401 through `auth.onUnauthorized`, since nothing
   * has been consumed. A `Range` header gives a 206 with part of the body.
   *
   * Throws {@link HttpStatusError} for a non-2xx answer (its small body read for the server's message; a 416 for an
   * unsatisfiable range), {@link NetworkError}, {@link TimeoutError}, {@link AbortedError} and
   * {@link InvalidArgumentError}; later failures come out of the body's iteration ({@link DownloadResponse.body}).
   * The signal and {@link close} keep applying while the body is read.
   */
  async download(req: DownloadRequest): Promise<DownloadResponse> {
    const r = optionsObject('request', req) as DownloadRequest;
    if (r.method !== undefined) requireString('request.method', r.method);
    requireString('request.url', r.url);
    const method = (r.method ?? 'GET').toUpperCase();
    const route = r.route ?? routeOf(method, r.url);
    const timeoutMs = r.timeoutMs === undefined ? this.#timeoutMs : requirePositiveInteger('request.timeoutMs', r.timeoutMs);
    const traceId = newTraceId();
    const base: Record<string, string> = { 'user-agent': this.#userAgent, 'x-trace-id': traceId, ...this.#extraHeaders(r.headers) };
    const linked = linkSignals(this.#closing.signal, r.signal);
    let response: StreamResponse;
    try {
      response = await this.#openDownload(r, method, route, base, traceId, timeoutMs, linked.signal);
    } catch (err) {
      linked.dispose();
      throw err;
    }
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        linked.dispose();
      }
    };
    const source = response.body;
    let iterated = false;
    return {
      status: response.status,
      headers: response.headers,
      body: {
        [Symbol.asyncIterator]() {
          if (iterated) throw new InvalidArgumentError('response.body', 'a body iterated once', 'a second iteration');
          iterated = true;
          return (async function* () {
            try {
              yield* source;
            } catch (err) {
              if (linked.signal.aborted && err instanceof AllegroError) throw new AbortedError(route);
              throw err;
            } finally {
              response.cancel();
              release();
            }
          })();
        },
      },
      cancel() {
        iterated = true;
        response.cancel();
        release();
      },
    };
  }

  /** The attempt loop of a download, up to a 2xx response head. */
  async #openDownload(r: DownloadRequest, method: string, route: string, base: Record<string, string>, traceId: string, timeoutMs: number, signal: AbortSignal): Promise<StreamResponse> {
    const idempotent = IDEMPOTENT.has(method);
    let attempt = 0;
    let refreshed = false;
    for (;;) {
      attempt++;
      if (signal.aborted) throw new AbortedError(route);
      const authHeaders = r.auth === undefined ? {} : await r.auth.headers();
      if (signal.aborted) throw new AbortedError(route);
      const headers = { ...base, ...lowerCase(authHeaders) };
      let failure: AllegroError;
      try {
        const response = await sendStream(this.#dispatcher, { method, url: r.url, route, headers, signal, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
        if (response.status >= 200 && response.status < 300) return response;
        failure = await statusError(response, route, traceId, secretsOf(headers));
        if (response.status === 401 && r.auth?.onUnauthorized !== undefined && !refreshed) {
          refreshed = true;
          if (await r.auth.onUnauthorized(authHeaders)) {
            attempt--; // the retry after a refresh does not count against the policy
            continue;
          }
        }
      } catch (err) {
        if (!(err instanceof AllegroError)) throw err;
        failure = err;
      }
      if (failure instanceof AbortedError || signal.aborted) throw signal.aborted ? new AbortedError(route) : failure;
      if (attempt >= this.#policy.maxAttempts || !isRetryable(failure, idempotent)) throw failure;
      const delayMs = delayFor(attempt, failure, this.#policy, this.#random);
      this.#onRetry?.({ route, attempt, delayMs, error: failure, traceId });
      await sleep(delayMs, signal, route);
    }
  }

  /** The caller's extra headers, names in lower case. */
  #extraHeaders(headers: Record<string, string> | undefined): Record<string, string> {
    if (headers === undefined) return {};
    optionsObject('request.headers', headers);
    return lowerCase(headers);
  }

  /**
   * Abort every in-flight request and wait (AbortedError) and refuse new ones; closes the dispatcher too when the
   * client owns it. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closing.signal.aborted) this.#closing.abort();
    if (this.#ownsDispatcher) await closeDispatcher(this.#dispatcher);
  }
}

/**
 * A signal that fires when any source fires, and a dispose() that unhooks it. (Not AbortSignal.any: its dependants
 * of a long-lived source such as the client's close signal are only released by garbage collection.)
 */
function linkSignals(...sources: Array<AbortSignal | undefined>): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const hooked: AbortSignal[] = [];
  const onAbort = () => controller.abort();
  for (const s of sources) {
    if (s === undefined) continue;
    if (s.aborted) {
      controller.abort();
      break;
    }
    s.addEventListener('abort', onAbort, { once: true });
    hooked.push(s);
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const s of hooked) s.removeEventListener('abort', onAbort);
    },
  };
}

/** The values of the non-public headers sent: redacted from server messages. */
function secretsOf(headers: Record<string, string>): string[] {
  return Object.entries(headers).filter(([n]) => !PUBLIC_HEADERS.has(n)).map(([, v]) => v);
}

/** The HttpStatusError of a non-2xx streamed response, after reading its (small) body for the server's message. */
async function statusError(response: StreamResponse, route: string, traceId: string, secrets: readonly string[]): Promise<HttpStatusError> {
  let body: Uint8Array;
  try {
    body = await response.bytes(MAX_ERROR_BODY);
  } catch {
    body = new Uint8Array(0); // too large or cut short: no message, the status says enough
  }
  return new HttpStatusError(response.status, route, {
    traceId: response.headers['x-trace-id'] ?? traceId,
    serverMessage: serverMessageOf({ status: response.status, headers: response.headers, body }, secrets),
    retryAfterMs: parseRetryAfter(response.headers['retry-after']),
  });
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function encodeBody(r: HttpRequest): { body?: string | Uint8Array; contentType?: string } {
  const given = [r.json !== undefined, r.form !== undefined, r.body !== undefined].filter(Boolean).length;
  if (given > 1) throw new InvalidArgumentError('request', 'at most one of json, form and body', `${given} of them`);
  if (r.json !== undefined) {
    let text: string | undefined;
    try {
      text = JSON.stringify(r.json);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw new InvalidArgumentError('request.json', 'a JSON-serialisable value', describeValue(r.json));
    return { body: text, contentType: 'application/json' };
  }
  if (r.form !== undefined) {
    optionsObject('request.form', r.form);
    for (const [key, value] of Object.entries(r.form)) {
      if (typeof value !== 'string') throw new InvalidArgumentError(`request.form.${key}`, 'a string', describeValue(value));
    }
    return { body: new URLSearchParams(r.form).toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  if (r.body !== undefined) {
    if (!(r.body instanceof Uint8Array)) throw new InvalidArgumentError('request.body', 'a Uint8Array', describeValue(r.body));
    return { body: r.body, contentType: 'application/octet-stream' };
  }
  return {};
}

function decode(response: SendResponse, expect: Expect, route: string): unknown {
  if (expect === 'none' || response.status === 204) return undefined;
  if (expect === 'bytes') return response.body;
  if (response.body.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(response.body));
  } catch {
    // Not retried: the server answered, just not with JSON.
    throw new NetworkError(route, `the HTTP ${response.status} response body is not valid JSON`, undefined, { retryable: false });
  }
}
