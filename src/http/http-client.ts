/**
 * `HttpClient`: JSON over HTTPS for the pod, Key Manager and Object Store clients. One logical request =
 * up to `retry.maxAttempts` exchanges over an injected {@link Transport} (transport.ts), with exponential backoff
 * and jitter (retry.ts), Retry-After honoured, one token refresh on 401 through the caller's auth hook, a per-attempt
 * timeout and the caller's AbortSignal obeyed everywhere, waits included. Every request kind — {@link HttpClient.request},
 * {@link HttpClient.download} and {@link HttpClient.upload} — goes through the same attempt loop and the same
 * exchange (`sendStream`); they differ only in what is done with a 2xx response and in whether the body can be
 * sent again.
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
import { AbortedError, AllegroError, HttpStatusError, InvalidArgumentError, MalformedResponseError, TimeoutError } from '../errors.js';
import { AbortGroup, linkSignals, sleepOrAbort, timerDelay } from '../util/async.js';
import { describeValue, optionsObject, requirePositiveInteger, requireString } from '../util/validate.js';
import { VERSION } from '../version.js';
import { delayFor, isRetryable, parseRetryAfter, retryPolicy, type RetryPolicy } from './retry.js';
import { routeOf, sendStream, type StreamResponse, type Transport } from './transport.js';

/** Default time allowed for one attempt (connection, request, whole response), in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default User-Agent: `allegro-ts/<version>`. */
export const DEFAULT_USER_AGENT = `allegro-ts/${VERSION}`;
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
  /** Called before each retry of this request (after the client's own `onRetry`), e.g. to know that it was repeated. */
  onRetry?: (info: RetryInfo) => void;
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
  /** How exchanges are made: a connection pool (`createDispatcher`) or `fetch` (`createFetchTransport`). */
  transport: Transport;
  retry?: Partial<RetryPolicy>;
  /** Time allowed for each attempt, in milliseconds. Default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Default {@link DEFAULT_USER_AGENT}. */
  userAgent?: string;
  onRetry?: (info: RetryInfo) => void;
  /** Close the transport in {@link HttpClient.close}. Default false: transports are usually shared. */
  ownsTransport?: boolean;
  /** Source of randomness for jitter, in [0, 1). Default Math.random. For tests. */
  random?: () => number;
}

/** Largest error body read for its server message, in bytes. */
const MAX_ERROR_BODY = 64 * 1024;

/** One logical request after validation, as the attempt loop runs it. */
interface Plan {
  method: string;
  url: string;
  route: string;
  traceId: string;
  timeoutMs: number;
  /** Headers of every attempt, names in lower case; auth headers are added per attempt. */
  base: Record<string, string>;
  body: string | Uint8Array | AsyncIterable<Uint8Array> | undefined;
  auth: AuthHook | undefined;
  /** The request's own retry listener, if any. */
  onRetry: ((info: RetryInfo) => void) | undefined;
  idempotent: boolean;
  /** Whether the exchange may be made again (retries, the 401 refresh): not with a streamed body, which is sent once. */
  replayable: boolean;
  /**
   * Whether `timeoutMs` bounds the whole attempt, reading the 2xx body included (requests). Otherwise (streams) it
   * bounds each wait: for the response head, and between two chunks of the body.
   */
  deadline: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Request headers whose values are not secrets; every other sent value is redacted from server messages. */
const PUBLIC_HEADERS = new Set(['accept', 'content-type', 'user-agent', 'x-trace-id', 'content-length']);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random bytes for trace ids, filled 256 at a time: a `getRandomValues` call per request cost more than the rest of its headers. */
const traceBytes = new Uint8Array(256);
let traceBytesAt = traceBytes.length;

/** A fresh trace id: 6 characters from [0-9A-Za-z], uniformly (rejection sampling); each random byte is used once. */
export function newTraceId(): string {
  let id = '';
  while (id.length < 6) {
    if (traceBytesAt === traceBytes.length) {
      globalThis.crypto.getRandomValues(traceBytes);
      traceBytesAt = 0;
    }
    const b = traceBytes[traceBytesAt++]!;
    if (b < 248) id += BASE62[b % 62];
  }
  return id;
}

/**
 * JSON over HTTPS with retries, timeouts, cancellation and a token-refresh hook.
 * @example
 * ```ts
 * const http = new HttpClient({ transport: createDispatcher({ ca }) });
 * const info = await http.request<{ podId: number }>({ method: 'GET', url: `${podUrl}/webcontroller/public/podInfo` });
 * ```
 */
export class HttpClient {
  readonly #transport: Transport;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #ownsTransport: boolean;
  readonly #random: () => number;
  /** Every logical request in flight, each with a signal of its own; aborted by close(). */
  readonly #requests = new AbortGroup();

  constructor(options: HttpClientOptions) {
    const o = optionsObject('options', options) as HttpClientOptions;
    if (typeof o.transport !== 'object' || o.transport === null || typeof o.transport.exchange !== 'function') {
      throw new InvalidArgumentError('options.transport', 'a Transport (createDispatcher, createFetchTransport)', describeValue(o.transport));
    }
    this.#transport = o.transport;
    this.#policy = retryPolicy(o.retry);
    this.#timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : requirePositiveInteger('options.timeoutMs', o.timeoutMs);
    if (o.userAgent !== undefined) requireString('options.userAgent', o.userAgent);
    this.#userAgent = o.userAgent ?? DEFAULT_USER_AGENT;
    if (o.onRetry !== undefined && typeof o.onRetry !== 'function') throw new InvalidArgumentError('options.onRetry', 'a function', describeValue(o.onRetry));
    this.#onRetry = o.onRetry;
    this.#ownsTransport = o.ownsTransport === true;
    this.#random = o.random ?? Math.random;
  }

  /** The retry policy in force (defaults merged with the options). */
  get retryPolicy(): Readonly<RetryPolicy> {
    return { ...this.#policy };
  }

  /**
   * Make a request. Resolves with the parsed JSON body (`expect: 'json'`, the default; undefined for 204 or an
   * empty body), the bytes (`'bytes'`) or undefined (`'none'`). Throws {@link HttpStatusError} for a non-2xx answer,
   * {@link MalformedResponseError} for a 2xx JSON answer that is not JSON, {@link NetworkError},
   * {@link TimeoutError} or {@link AbortedError} once retries are exhausted or not allowed, and
   * {@link InvalidArgumentError} for a malformed request.
   */
  request(req: HttpRequest & { expect: 'bytes' }): Promise<Uint8Array>;
  request(req: HttpRequest & { expect: 'none' }): Promise<undefined>;
  request<T = unknown>(req: HttpRequest): Promise<T>;
  async request(req: HttpRequest): Promise<unknown> {
    const r = optionsObject('request', req) as HttpRequest;
    const expect = r.expect ?? 'json';
    if (expect !== 'json' && expect !== 'bytes' && expect !== 'none') throw new InvalidArgumentError('request.expect', "'json', 'bytes' or 'none'", describeValue(expect));
    const { body, contentType } = encodeBody(r);
    const plan = this.#plan(r, r.method, {
      ...(expect === 'json' ? { accept: 'application/json' } : {}),
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
    }, { body, replayable: true, deadline: true, ...(r.idempotent === undefined ? {} : { idempotent: r.idempotent }) });
    return this.#once(plan, r.signal, async (response) => decode(response.status, await response.bytes(), expect, plan.route));
  }

  /**
   * Upload a streamed body (e.g. a blob) and resolve with the parsed JSON answer (undefined for 204 or an empty body).
   * Memory stays constant whatever the size. There is **no retry** of any kind, since the body cannot be replayed, and
   * a 401 is **not** refreshed and retried either (`auth.onUnauthorized` is not called): make sure the token is fresh
   * first, e.g. with a cheap authenticated `request()` just before (which refreshes it if needed). An answer the
   * server gives before the whole body is sent (403, 413…) ends the upload and is thrown.
   *
   * Throws {@link HttpStatusError} for a non-2xx answer (with the server's message, trace id and Retry-After),
   * {@link MalformedResponseError} for a 2xx answer that is not JSON, {@link NetworkError}, {@link TimeoutError},
   * {@link AbortedError} (signal, or {@link close}), {@link InvalidArgumentError} for a malformed request or a body
   * whose length is not `contentLength`, and whatever the body's iterator throws, unchanged.
   */
  async upload(req: UploadRequest): Promise<unknown> {
    const r = optionsObject('request', req) as UploadRequest;
    if (typeof r.body !== 'object' || r.body === null || typeof (r.body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function') {
      throw new InvalidArgumentError('request.body', 'an AsyncIterable of Uint8Array', describeValue(r.body));
    }
    if (r.contentLength !== undefined && !(Number.isSafeInteger(r.contentLength) && r.contentLength >= 0)) {
      throw new InvalidArgumentError('request.contentLength', 'a non-negative integer', describeValue(r.contentLength));
    }
    const plan = this.#plan(r, r.method, {
      accept: 'application/json', 'content-type': 'application/octet-stream',
      ...(r.contentLength === undefined ? {} : { 'content-length': String(r.contentLength) }),
    }, { body: r.body, replayable: false, deadline: false });
    return this.#once(plan, r.signal, async (response) => decode(response.status, await response.bytes(), 'json', plan.route));
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
    const plan = this.#plan(r, r.method ?? 'GET', {}, { body: undefined, replayable: true, deadline: false });
    // The request's signal outlives the loop: it keeps applying while the body is read.
    const member = this.#requests.join(r.signal);
    let response: StreamResponse;
    try {
      response = await this.#run(plan, member.signal, async (head) => head);
    } catch (err) {
      member.dispose();
      throw err;
    }
    const release = () => {
      response.cancel();
      member.dispose();
    };
    const source = response.body;
    const { route } = plan;
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
              if (member.signal.aborted && err instanceof AllegroError) throw new AbortedError(route);
              throw err;
            } finally {
              release();
            }
          })();
        },
      },
      cancel() {
        iterated = true;
        release();
      },
    };
  }

  /**
   * Abort every in-flight request and wait (AbortedError) and refuse new ones; closes the transport too when the
   * client owns it. Idempotent.
   */
  async close(): Promise<void> {
    this.#requests.abort();
    if (this.#ownsTransport) await this.#transport.close();
  }

  /** Check what every request kind has in common and build its plan; `defaults` are headers the caller may override. */
  #plan(
    r: { url: string; route?: string; headers?: Record<string, string>; auth?: AuthHook; timeoutMs?: number; onRetry?: (info: RetryInfo) => void },
    method: string,
    defaults: Record<string, string>,
    kind: Pick<Plan, 'body' | 'replayable' | 'deadline'> & { idempotent?: boolean },
  ): Plan {
    requireString('request.method', method);
    requireString('request.url', r.url);
    const upper = method.toUpperCase();
    const timeoutMs = r.timeoutMs === undefined ? this.#timeoutMs : requirePositiveInteger('request.timeoutMs', r.timeoutMs);
    const traceId = newTraceId();
    if (r.headers !== undefined) optionsObject('request.headers', r.headers);
    if (r.onRetry !== undefined && typeof r.onRetry !== 'function') throw new InvalidArgumentError('request.onRetry', 'a function', describeValue(r.onRetry));
    return {
      method: upper, url: r.url, route: r.route ?? routeOf(upper, r.url), traceId, timeoutMs,
      base: { 'user-agent': this.#userAgent, 'x-trace-id': traceId, ...defaults, ...lowerCase(r.headers ?? {}) },
      auth: r.auth, onRetry: r.onRetry, idempotent: kind.idempotent ?? IDEMPOTENT.has(upper), ...kind,
    };
  }

  /** Run a plan under a signal of its own (the caller's, or close()) that ends with it. */
  #once<T>(plan: Plan, callerSignal: AbortSignal | undefined, take: (response: StreamResponse) => Promise<T>): Promise<T> {
    return this.#requests.run((signal) => this.#run(plan, signal, take), callerSignal);
  }

  /**
   * The attempt loop of every request kind: an attempt per exchange until one gets a 2xx answer, which `take` turns
   * into the result; a 401 refreshed once through the auth hook; other failures repeated as the retry policy says
   * (and the plan allows), after a delay during which `signal` still applies.
   */
  async #run<T>(p: Plan, signal: AbortSignal, take: (response: StreamResponse) => Promise<T>): Promise<T> {
    let attempt = 0;
    let refreshed = false;
    for (;;) {
      attempt++;
      if (signal.aborted) throw new AbortedError(p.route);
      const authHeaders = p.auth === undefined ? {} : await p.auth.headers();
      if (signal.aborted) throw new AbortedError(p.route);
      let failure: AllegroError;
      try {
        return await this.#attempt(p, { ...p.base, ...lowerCase(authHeaders) }, signal, take);
      } catch (err) {
        if (!(err instanceof AllegroError)) throw err; // e.g. what an upload's body iterator threw
        failure = err;
      }
      if (failure instanceof HttpStatusError && failure.status === 401 && p.replayable && p.auth?.onUnauthorized !== undefined && !refreshed) {
        refreshed = true;
        if (await p.auth.onUnauthorized(authHeaders)) {
          attempt--; // the retry after a refresh does not count against the policy
          continue;
        }
      }
      if (failure instanceof AbortedError || signal.aborted) throw signal.aborted ? new AbortedError(p.route) : failure;
      if (!p.replayable || attempt >= this.#policy.maxAttempts || !isRetryable(failure, p.idempotent)) throw failure;
      const delayMs = delayFor(attempt, failure, this.#policy, this.#random);
      const info = { route: p.route, attempt, delayMs, error: failure, traceId: p.traceId };
      this.#onRetry?.(info);
      p.onRetry?.(info);
      await sleepOrAbort(delayMs, signal, p.route);
    }
  }

  /**
   * One attempt: one exchange, an {@link HttpStatusError} for a non-2xx answer (its small body read for the server's
   * message), `take` of a 2xx one. With a deadline, the whole of it must end within `timeoutMs` (TimeoutError).
   */
  async #attempt<T>(p: Plan, headers: Record<string, string>, signal: AbortSignal, take: (response: StreamResponse) => Promise<T>): Promise<T> {
    // With a deadline, one signal of the attempt's own, fired by `signal` or by the timer (one controller per
    // attempt rather than a timer's and a linked one: docs/performance.md §8).
    const linked = p.deadline ? linkSignals(signal) : undefined;
    let timedOut = false;
    const timer = linked === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      linked.abort();
    }, timerDelay(p.timeoutMs));
    try {
      const response = await sendStream(this.#transport, {
        method: p.method, url: p.url, route: p.route, headers, signal: linked?.signal ?? signal,
        headersTimeoutMs: timerDelay(p.timeoutMs), bodyTimeoutMs: timerDelay(p.timeoutMs), ...(p.body === undefined ? {} : { body: p.body }),
      });
      if (response.status < 200 || response.status >= 300) throw await statusError(response, p, headers);
      return await take(response);
    } catch (err) {
      if (err instanceof AbortedError && timedOut && !signal.aborted) throw new TimeoutError(p.route, p.timeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
      linked?.dispose();
    }
  }
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** The `message` of a Symphony error body `{"code": …, "message": "…"}`, truncated and redacted; undefined otherwise. */
function serverMessageOf(body: Uint8Array, secrets: readonly string[]): string | undefined {
  if (body.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const message = (parsed as { message?: unknown }).message;
  if (typeof message !== 'string' || message.length === 0) return undefined;
  const clean = redact(message, secrets);
  return clean.length > MAX_SERVER_MESSAGE ? `${clean.slice(0, MAX_SERVER_MESSAGE - 1)}…` : clean;
}

/** The HttpStatusError of a non-2xx response, after reading its (small) body for the server's message. */
async function statusError(response: StreamResponse, p: Plan, headers: Record<string, string>): Promise<HttpStatusError> {
  let body: Uint8Array;
  try {
    body = await response.bytes(MAX_ERROR_BODY);
  } catch {
    body = new Uint8Array(0); // too large or cut short: no message, the status says enough
  }
  // The values of the non-public headers sent are redacted from the server's message.
  const secrets = Object.entries(headers).filter(([n]) => !PUBLIC_HEADERS.has(n)).map(([, v]) => v);
  return new HttpStatusError(response.status, p.route, {
    traceId: response.headers['x-trace-id'] ?? p.traceId,
    serverMessage: serverMessageOf(body, secrets),
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

/** The result of a 2xx answer as `expect` asks; a JSON answer that is not JSON is a {@link MalformedResponseError}. */
function decode(status: number, body: Uint8Array, expect: Expect, route: string): unknown {
  if (expect === 'none' || status === 204) return undefined;
  if (expect === 'bytes') return body;
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    // Not retried (MALFORMED_RESPONSE is never retryable): the server answered, just not with JSON.
    throw new MalformedResponseError(route, `the HTTP ${status} body is not valid JSON`);
  }
}
