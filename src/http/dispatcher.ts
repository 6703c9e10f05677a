/**
 * The one adapter between allegro-ts and undici: a pooled keep-alive connection {@link Dispatcher} (an undici
 * `Agent`, or a `ProxyAgent` tunnelling through an HTTP(S) proxy), {@link send} to make one HTTP exchange over it and
 * read the whole response, {@link sendStream} to stream a request body and/or the response body with constant
 * memory, and {@link closeDispatcher}. No other module imports undici, so swapping the transport
 * means rewriting this file only.
 *
 * Failures come out as allegro-ts errors, never as undici's or Node's:
 * - the caller's AbortSignal fired, or the dispatcher was closed → {@link AbortedError};
 * - undici's connect, headers or body timeout → {@link TimeoutError};
 * - anything else (refused, reset, DNS, TLS, proxy refusal, oversized response) → {@link NetworkError} whose message is
 *   a short cause (`ECONNREFUSED (connection refused)`, `TLS: self-signed certificate in certificate chain`). Messages
 *   carry the route (`METHOD /path`), never a query string, a header value or a body. The low-level error is kept
 *   as the (non-enumerable) `cause` for debugging; neither undici nor Node put request headers in their errors.
 *
 * Trust: `ca` replaces Node's built-in roots (like `node:tls`) unless `includeSystemCa` is set, in which case it is
 * added to them (what the Java BDK does since finos/symphony-bdk-java#548).
 */
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, ProxyAgent, type Dispatcher as UndiciDispatcher } from 'undici';
import { AbortedError, AllegroError, InvalidArgumentError, NetworkError, TimeoutError } from '../errors.js';
import { describeValue, optionsObject, requirePositiveInteger, requireString } from '../util/validate.js';

/** Default cap on a response body: 64 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Default time allowed to open a connection (TCP + TLS handshake), in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default maximum number of connections per origin. */
export const DEFAULT_MAX_CONNECTIONS = 32;

/** A client certificate for mutual TLS: a PKCS#12 bundle and its password, or a PEM certificate (chain) and key. */
export type ClientCertificate = { pfx: Uint8Array; passphrase: string } | { certPem: string; keyPem: string };

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** PEM certificate(s) of the certificate authorities to trust. Default: Node's built-in roots. */
  ca?: string | string[];
  /** With `ca`: trust Node's built-in roots as well. Default false (trust `ca` only). */
  includeSystemCa?: boolean;
  /** Certificate presented for mutual TLS (certificate login). */
  clientCertificate?: ClientCertificate;
  /** Send every request through this HTTP(S) proxy (CONNECT tunnel for https targets). */
  proxy?: { url: string; username?: string; password?: string };
  /** Time allowed to open a connection, TLS included. Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Maximum simultaneous connections per origin; idle ones are kept alive and reused. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Largest response body {@link send} accepts, in bytes. Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
}

declare const dispatcherBrand: unique symbol;

/** An opaque pool of connections made by {@link createDispatcher}. Share one between clients of the same identity. */
export interface Dispatcher {
  readonly [dispatcherBrand]: true;
  /** `agent`, or `proxy <origin>` (never credentials). For logs. */
  readonly description: string;
}

interface Internal {
  undici: UndiciDispatcher;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  closed: boolean;
}

const internals = new WeakMap<Dispatcher, Internal>();

/** One HTTP exchange for {@link send}. */
export interface SendRequest {
  method: string;
  /** Absolute `https:` (or `http:`) URL. */
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Time allowed from sending the request to receiving the whole response head. */
  headersTimeoutMs: number;
  /** Time allowed between two chunks of the response body. */
  bodyTimeoutMs: number;
  /** Cap on the response body; default the dispatcher's. */
  maxResponseBytes?: number;
  /** Name of the request in errors; default `METHOD /path` (no query string). */
  route?: string;
}

/** A whole HTTP response. Header names are lower case; repeated headers are joined with `, `. */
export interface SendResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Build a connection pool. Throws {@link InvalidArgumentError} on bad options (described by type, never content). */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  const o = optionsObject('options', options) as DispatcherOptions;
  const connectTimeoutMs = o.connectTimeoutMs === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : requirePositiveInteger('options.connectTimeoutMs', o.connectTimeoutMs);
  const maxConnections = o.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : requirePositiveInteger('options.maxConnections', o.maxConnections);
  const maxResponseBytes = o.maxResponseBytes === undefined ? DEFAULT_MAX_RESPONSE_BYTES : requirePositiveInteger('options.maxResponseBytes', o.maxResponseBytes);

  const tls: Record<string, unknown> = {};
  if (o.ca !== undefined) {
    const list = typeof o.ca === 'string' ? [o.ca] : o.ca;
    if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string' && c.includes('-----BEGIN CERTIFICATE-----'))) {
      throw new InvalidArgumentError('options.ca', 'a PEM certificate or a non-empty array of them', describeValue(o.ca));
    }
    tls.ca = o.includeSystemCa === true ? [...rootCertificates, ...list] : list;
  }
  const cc = o.clientCertificate;
  if (cc !== undefined) {
    if (typeof cc === 'object' && cc !== null && 'pfx' in cc) {
      if (!(cc.pfx instanceof Uint8Array) || cc.pfx.length === 0) throw new InvalidArgumentError('options.clientCertificate.pfx', 'a non-empty Uint8Array (PKCS#12)', describeValue(cc.pfx));
      requireString('options.clientCertificate.passphrase', cc.passphrase);
      tls.pfx = Buffer.from(cc.pfx.buffer, cc.pfx.byteOffset, cc.pfx.byteLength);
      tls.passphrase = cc.passphrase;
    } else if (typeof cc === 'object' && cc !== null && 'certPem' in cc) {
      requireString('options.clientCertificate.certPem', cc.certPem);
      requireString('options.clientCertificate.keyPem', cc.keyPem);
      tls.cert = cc.certPem;
      tls.key = cc.keyPem;
    } else {
      throw new InvalidArgumentError('options.clientCertificate', '{ pfx, passphrase } or { certPem, keyPem }', describeValue(cc));
    }
  }

  // Fail now, not on the first request, when Node's TLS cannot use the material (wrong PKCS#12 password, key that
  // does not match, unreadable PEM). The error says which option, never why in OpenSSL's words (it may quote input).
  for (const [parameter, material] of [
    ['options.ca', tls.ca === undefined ? undefined : { ca: tls.ca }],
    ['options.clientCertificate', tls.pfx === undefined && tls.cert === undefined ? undefined : { pfx: tls.pfx, passphrase: tls.passphrase, cert: tls.cert, key: tls.key }],
  ] as const) {
    if (material === undefined) continue;
    try {
      createSecureContext(material as Parameters<typeof createSecureContext>[0]);
    } catch {
      throw new InvalidArgumentError(parameter, parameter === 'options.ca' ? 'PEM certificates Node can read' : 'a certificate and matching private key Node can read (check the PKCS#12 password)', 'material it refused');
    }
  }

  const common = { connections: maxConnections, pipelining: 1, connectTimeout: connectTimeoutMs };
  let undici: UndiciDispatcher;
  let description = 'agent';
  if (o.proxy !== undefined) {
    const p = optionsObject('options.proxy', o.proxy) as NonNullable<DispatcherOptions['proxy']>;
    const proxyUrl = requireHttpUrl('options.proxy.url', p.url);
    // Credentials travel in the token, never in the URL (which undici might echo in errors).
    let username = p.username;
    let password = p.password;
    if (proxyUrl.username !== '' || proxyUrl.password !== '') {
      username ??= decodeURIComponent(proxyUrl.username);
      password ??= decodeURIComponent(proxyUrl.password);
      proxyUrl.username = '';
      proxyUrl.password = '';
    }
    if (username !== undefined) requireString('options.proxy.username', username);
    if (password !== undefined) requireString('options.proxy.password', password);
    const token = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    undici = new ProxyAgent({
      ...common,
      uri: proxyUrl.origin,
      ...(token === undefined ? {} : { token }),
      // The tunnel replaces the Agent's connector, so the connect timeout must be given to both legs.
      proxyTls: { timeout: connectTimeoutMs, ...(proxyUrl.protocol === 'https:' && tls.ca !== undefined ? { ca: tls.ca as string[] } : {}) },
      requestTls: { timeout: connectTimeoutMs, ...tls },
    });
    description = `proxy ${proxyUrl.origin}`;
  } else {
    undici = new Agent({ ...common, connect: { ...tls } });
  }
  const handle = Object.freeze({ description }) as unknown as Dispatcher;
  internals.set(handle, { undici, connectTimeoutMs, maxResponseBytes, closed: false });
  return handle;
}

function internalOf(dispatcher: Dispatcher): Internal {
  const internal = internals.get(dispatcher);
  if (internal === undefined) throw new InvalidArgumentError('dispatcher', 'a Dispatcher made by createDispatcher', describeValue(dispatcher));
  return internal;
}

/**
 * Close a dispatcher: new requests are refused (AbortedError); in-flight ones finish, then the connections close.
 * With `force`, in-flight requests fail at once (AbortedError). Idempotent.
 */
export async function closeDispatcher(dispatcher: Dispatcher, options: { force?: boolean } = {}): Promise<void> {
  const internal = internalOf(dispatcher);
  const wasClosed = internal.closed;
  internal.closed = true;
  if (options.force === true) {
    await internal.undici.destroy();
    return;
  }
  if (!wasClosed) await internal.undici.close();
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What undici accepts in a header value (RFC 9110 field-value without CR, LF, NUL and other controls).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** `METHOD /path`: the route of a URL for errors, without query string or fragment. */
export function routeOf(method: string, url: string): string {
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return `${method} (invalid URL)`;
  }
}

/** Require an absolute http: or https: URL. */
function requireHttpUrl(parameter: string, value: unknown): URL {
  requireString(parameter, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(parameter, 'an absolute http: or https: URL', describeValue(value));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(parameter, 'an http: or https: URL', `a ${url.protocol} URL`);
  return url;
}

/** Check the method, URL and headers of a request; returns the parsed URL and the route used in errors. */
function checkRequest(request: { method: unknown; url: unknown; headers: unknown; route?: string | undefined }): { url: URL; route: string } {
  const { method, headers } = request;
  if (typeof method !== 'string' || !TOKEN.test(method)) throw new InvalidArgumentError('request.method', 'an HTTP method', describeValue(method));
  const url = requireHttpUrl('request.url', request.url);
  if (typeof headers !== 'object' || headers === null) throw new InvalidArgumentError('request.headers', 'an object', describeValue(headers));
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new InvalidArgumentError('request.headers', 'header names that are HTTP tokens', `a name of ${name.length} characters that is not`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) throw new InvalidArgumentError(`request.headers.${name}`, 'a string without control characters', describeValue(value));
  }
  return { url, route: request.route ?? `${method} ${url.pathname}` };
}

/**
 * Make one HTTP exchange and read the whole response body. Does not retry and does not judge the status: a 500 is a
 * response like any other. Throws {@link AbortedError}, {@link TimeoutError}, {@link NetworkError} (see the module
 * comment) or {@link InvalidArgumentError} for a malformed request.
 */
export async function send(dispatcher: Dispatcher, request: SendRequest): Promise<SendResponse> {
  const internal = internalOf(dispatcher);
  const { method, headers, body, signal } = request;
  const { url, route } = checkRequest(request);
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) throw new InvalidArgumentError('request.body', 'a string or a Uint8Array', describeValue(body));
  const headersTimeoutMs = requirePositiveInteger('request.headersTimeoutMs', request.headersTimeoutMs);
  const bodyTimeoutMs = requirePositiveInteger('request.bodyTimeoutMs', request.bodyTimeoutMs);
  const maxResponseBytes = request.maxResponseBytes === undefined ? internal.maxResponseBytes : requirePositiveInteger('request.maxResponseBytes', request.maxResponseBytes);
  if (signal?.aborted === true || internal.closed) throw new AbortedError(route);

  const context = { route, signal, headersTimeoutMs, bodyTimeoutMs, connectTimeoutMs: internal.connectTimeoutMs };
  let response: UndiciDispatcher.ResponseData;
  try {
    response = await internal.undici.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: method as UndiciDispatcher.HttpMethod,
      headers,
      body: body ?? null,
      signal: signal ?? null,
      headersTimeout: headersTimeoutMs,
      bodyTimeout: bodyTimeoutMs,
    });
  } catch (err) {
    throw mapError(err, context);
  }

  const responseHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) responseHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const declared = method === 'HEAD' ? 0 : Number(responseHeaders['content-length']);
  if (Number.isFinite(declared) && declared > maxResponseBytes) {
    discard(response.body);
    throw tooLarge(route, maxResponseBytes);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      const bytes = chunk as Uint8Array;
      size += bytes.length;
      if (size > maxResponseBytes) {
        discard(response.body);
        throw tooLarge(route, maxResponseBytes);
      }
      chunks.push(bytes);
    }
  } catch (err) {
    throw mapError(err, context);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return { status: response.statusCode, headers: responseHeaders, body: out };
}

/** The response-size error; its cause carries undici's code for the condition so the retry policy can tell it apart. */
function tooLarge(route: string, maxResponseBytes: number): NetworkError {
  const cause = Object.assign(new Error(`response body larger than ${maxResponseBytes} bytes`), { code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' });
  return new NetworkError(route, cause.message, cause);
}

/** Give up on a response body: undici then closes the connection, and reports the destruction as an error we ignore. */
function discard(body: UndiciDispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UND_ERR_PRX_TLS',
]);

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed, try again',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_SOCKET: 'connection closed before the response was complete',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'response body shorter or longer than its Content-Length',
  UND_ERR_HEADERS_OVERFLOW: 'response headers too large',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response body too large',
};

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy Eyeballs (autoSelectFamily) reports an AggregateError of the per-address failures.
  if (err instanceof AggregateError) return codeOf(err.errors[0]);
  return undefined;
}

function mapError(err: unknown, context: { route: string; signal: AbortSignal | undefined; headersTimeoutMs: number; bodyTimeoutMs: number; connectTimeoutMs: number }): AllegroError {
  const { route } = context;
  if (context.signal?.aborted === true) return new AbortedError(route);
  if (err instanceof AllegroError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : '';
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT': return new TimeoutError(route, context.headersTimeoutMs);
    case 'UND_ERR_BODY_TIMEOUT': return new TimeoutError(route, context.bodyTimeoutMs);
    case 'UND_ERR_CONNECT_TIMEOUT': return new TimeoutError(route, context.connectTimeoutMs);
    case 'UND_ERR_ABORTED': {
      // undici reports a proxy that refuses the CONNECT tunnel (e.g. 407) as an *abort*; nobody aborted.
      const proxy = /Proxy response \((\d{3})\)/.exec(message);
      return new NetworkError(route, proxy === null ? 'request aborted by the transport' : `proxy refused the tunnel (HTTP ${proxy[1]})`, err);
    }
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      // The dispatcher was closed under the request (closeDispatcher with force).
      return new AbortedError(route);
    case 'UND_ERR_INVALID_ARG':
      return new InvalidArgumentError('request', 'a request the HTTP client accepts', 'one it refused (header or option)');
    default:
      break;
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    const cause = code === 'UND_ERR_PRX_TLS' && err instanceof Error && err.cause instanceof Error ? err.cause.message : message;
    // Node's TLS messages name the problem and at most a host name; strip anything after a newline to stay short.
    return new NetworkError(route, `TLS: ${(cause.split('\n')[0] ?? '').slice(0, 200)} (${code})`, err, { retryable: false });
  }
  if (code !== undefined) {
    const known = NETWORK_CODES[code];
    return new NetworkError(route, known === undefined ? code : `${code} (${known})`, err);
  }
  return new NetworkError(route, err instanceof Error ? `unexpected ${err.name}` : 'unexpected failure', err);
}

/** One exchange for {@link sendStream}: like {@link SendRequest}, but the body may be streamed and the response is not read. */
export interface StreamRequest {
  method: string;
  /** Absolute `https:` (or `http:`) URL. */
  url: string;
  /** A `content-length` header fixes the body's length (a body of another length fails); without one a streamed body is sent chunked. */
  headers: Record<string, string>;
  /**
   * The body. An async iterable is sent as it yields, with backpressure (the next chunk is asked for once the socket
   * has taken the previous one); a chunk must not be modified after it is yielded. It is iterated at most once, so
   * the exchange cannot be repeated. An error its iterator throws ends the exchange and is rethrown as is.
   */
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** Time allowed for the response head once the request is sent, and for the server to take more of the body while it is being sent. */
  headersTimeoutMs: number;
  /** Time allowed between two chunks of the response body (not counted while the reader is not asking for more). */
  bodyTimeoutMs: number;
  /** Name of the request in errors; default `METHOD /path` (no query string). */
  route?: string;
}

/** A response whose body has not been read. Header names are lower case; repeated headers are joined with `, `. */
export interface StreamResponse {
  status: number;
  headers: Record<string, string>;
  /**
   * The body as it arrives; iterate it once. Only a small buffer is read ahead of the loop. Failures are
   * {@link AbortedError}, {@link TimeoutError} or {@link NetworkError}, as for {@link send}. Leaving the loop early
   * discards the rest (the connection is closed rather than reused).
   */
  body: AsyncIterable<Uint8Array>;
  /** Read the (rest of the) body into one array: at most `maxBytes`, default the dispatcher's `maxResponseBytes` (NetworkError beyond). */
  bytes(maxBytes?: number): Promise<Uint8Array>;
  /** Discard the body unread; the connection is closed if any of it remains. Idempotent. */
  cancel(): void;
}

/**
 * Make one HTTP exchange with a streamed request body and/or a streamed response body: resolves once the response
 * head has arrived, leaving the body to the caller ({@link StreamResponse}). Memory stays constant however large the
 * bodies. Does not retry and does not judge the status. A server that answers before the whole body is sent (say 413
 * or 403) gets that answer returned; the rest of the body is not sent. Throws {@link AbortedError},
 * {@link TimeoutError}, {@link NetworkError} (as {@link send}), {@link InvalidArgumentError} for a malformed request
 * or a body whose length is not its `content-length`, or what the body's iterator threw.
 */
export async function sendStream(dispatcher: Dispatcher, request: StreamRequest): Promise<StreamResponse> {
  const internal = internalOf(dispatcher);
  const { method, headers, body, signal } = request;
  const { url, route } = checkRequest(request);
  const streamed = body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array);
  if (streamed && (typeof body !== 'object' || body === null || typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('request.body', 'a string, a Uint8Array or an AsyncIterable of Uint8Array', describeValue(body));
  }
  const headersTimeoutMs = requirePositiveInteger('request.headersTimeoutMs', request.headersTimeoutMs);
  const bodyTimeoutMs = requirePositiveInteger('request.bodyTimeoutMs', request.bodyTimeoutMs);
  if (signal?.aborted === true || internal.closed) throw new AbortedError(route);

  const context = { route, signal, headersTimeoutMs, bodyTimeoutMs, connectTimeoutMs: internal.connectTimeoutMs };
  // What the caller's iterator threw, if anything: it is theirs, and is rethrown unchanged.
  let sourceFailure: { error: unknown } | undefined;
  const source = streamed ? guardSource(body, signal, route, (error) => { sourceFailure ??= { error }; }) : body;
  let response: UndiciDispatcher.ResponseData;
  try {
    response = await internal.undici.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: method as UndiciDispatcher.HttpMethod,
      headers,
      // undici sends an async iterable as it yields (its documented body types include AsyncIterable).
      body: (source ?? null) as Exclude<UndiciDispatcher.RequestOptions['body'], undefined>,
      signal: signal ?? null,
      headersTimeout: headersTimeoutMs,
      bodyTimeout: bodyTimeoutMs,
    });
  } catch (err) {
    // (A function call, so that TypeScript does not assume the signal unchanged since the check above.)
    if (sourceFailure !== undefined && !isAborted(signal)) throw sourceFailure.error;
    if (codeOf(err) === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
      throw new InvalidArgumentError('request.body', 'as many bytes as the content-length header says', 'a different number');
    }
    throw mapError(err, context);
  }

  const readable = response.body;
  let iterated = false;
  const iterate = async function* (): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of readable) yield chunk as Uint8Array;
    } catch (err) {
      throw mapError(err, context);
    } finally {
      if (!readable.readableEnded) discard(readable);
    }
  };
  const stream: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      if (iterated) throw new InvalidArgumentError('response.body', 'a body iterated once', 'a second iteration');
      iterated = true;
      return iterate();
    },
  };
  return {
    status: response.statusCode,
    headers: headersOf(response.headers),
    body: stream,
    async bytes(maxBytes?: number) {
      const limit = maxBytes === undefined ? internal.maxResponseBytes : requirePositiveInteger('maxBytes', maxBytes);
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of stream) {
        size += chunk.length;
        if (size > limit) throw tooLarge(route, limit); // leaving the loop discards the rest
        chunks.push(chunk);
      }
      return concat(chunks, size);
    },
    cancel() {
      iterated = true;
      if (!readable.readableEnded) discard(readable);
    },
  };
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function headersOf(raw: UndiciDispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The caller's body as undici iterates it: chunks checked, the caller's errors reported, and a pending `next()`
 * given up when `signal` fires (undici itself waits for the iterator's next chunk before noticing an abort).
 */
async function* guardSource(source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined, route: string, onError: (error: unknown) => void): AsyncGenerator<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array>;
  try {
    iterator = source[Symbol.asyncIterator]();
  } catch (err) {
    onError(err);
    throw err;
  }
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await untilAborted(iterator.next(), signal, route);
      } catch (err) {
        if (!(err instanceof AbortedError)) {
          finished = true; // an iterator that threw is done
          onError(err);
        }
        throw err;
      }
      if (step.done === true) {
        finished = true;
        return;
      }
      const chunk: unknown = step.value;
      if (!(chunk instanceof Uint8Array)) {
        const error = new InvalidArgumentError('request.body', 'an AsyncIterable of Uint8Array', `a chunk that is ${describeValue(chunk)}`);
        onError(error);
        throw error;
      }
      yield chunk;
    }
  } finally {
    // Let the caller's generator run its cleanup; not awaited, as a pending next() would hold it up.
    if (!finished) void Promise.resolve().then(() => iterator.return?.()).catch(() => {});
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, route: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError(route));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(route));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
