/**
 * `HttpClient`: JSON over HTTPS for the pod, Key Manager and Object Store clients. One logical request =
 * up to `retry.maxAttempts` exchanges over an injected {@link Dispatcher}, with exponential backoff and jitter
 * (retry.ts), Retry-After honoured, one token refresh on 401 through the caller's auth hook, a per-attempt timeout
 * and the caller's AbortSignal obeyed everywhere, waits included.
 *
 * Every logical request carries `User-Agent` and a fresh `X-Trace-Id` (6 base62 characters, kept across its
 * retries) so it can be found in server logs. Errors name the route (`GET /pod/v2/sessioninfo`): never a query
 * string, a header value or a request body; a server message that happens to echo one of the credentials sent is
 * redacted.
 */
import { AbortedError, AllegroError, HttpStatusError, InvalidArgumentError, NetworkError, TimeoutError } from '../errors.js';
import { describe, optionsObject, requirePositiveInteger, requireString } from '../util/validate.js';
import { closeDispatcher, routeOf, send, type Dispatcher, type SendResponse } from './dispatcher.js';
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
    if (typeof o.dispatcher !== 'object' || o.dispatcher === null) throw new InvalidArgumentError('options.dispatcher', 'a Dispatcher made by createDispatcher', describe(o.dispatcher));
    this.#dispatcher = o.dispatcher;
    this.#policy = retryPolicy(o.retry);
    this.#timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : requirePositiveInteger('options.timeoutMs', o.timeoutMs);
    if (o.userAgent !== undefined) requireString('options.userAgent', o.userAgent);
    this.#userAgent = o.userAgent ?? DEFAULT_USER_AGENT;
    if (o.onRetry !== undefined && typeof o.onRetry !== 'function') throw new InvalidArgumentError('options.onRetry', 'a function', describe(o.onRetry));
    this.#onRetry = o.onRetry;
    this.#ownsDispatcher = o.ownsDispatcher === true;
    this.#random = o.random ?? Math.random;
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
    if (expect !== 'json' && expect !== 'bytes' && expect !== 'none') throw new InvalidArgumentError('request.expect', "'json', 'bytes' or 'none'", describe(expect));
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
    if (text === undefined) throw new InvalidArgumentError('request.json', 'a JSON-serialisable value', describe(r.json));
    return { body: text, contentType: 'application/json' };
  }
  if (r.form !== undefined) {
    optionsObject('request.form', r.form);
    for (const [key, value] of Object.entries(r.form)) {
      if (typeof value !== 'string') throw new InvalidArgumentError(`request.form.${key}`, 'a string', describe(value));
    }
    return { body: new URLSearchParams(r.form).toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  if (r.body !== undefined) {
    if (!(r.body instanceof Uint8Array)) throw new InvalidArgumentError('request.body', 'a Uint8Array', describe(r.body));
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
    throw new NetworkError(route, `the HTTP ${response.status} response body is not valid JSON`);
  }
}
