/**
 * One HTTP exchange, whatever carries it. {@link Transport} is what a transport implements: undici-transport.ts
 * over an undici connection pool (pool.ts; the default in Node) and fetch-transport.ts over any `fetch` (browsers,
 * or Node's own). {@link sendStream} is the one exchange on top of it, for every request kind of the HTTP client:
 * it checks the request once (method, URL, headers, body, timeouts), guards a streamed body (chunks checked, the
 * caller's errors passed through, its length held to `content-length`, a stalled `next()` given up on abort), and
 * hands back the response head with a body to stream ({@link StreamResponse}) or to collect with a size cap
 * ({@link StreamResponse.bytes}). See docs/architecture.md, "The HTTP layer".
 */
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { settleOrAbort } from '../util/async.js';
import { concatBytes } from '../util/bytes.js';
import { describeValue, requirePositiveInteger, requireString } from '../util/validate.js';
import { tooLarge } from './transport-errors.js';

/** Default cap on a collected response body: 64 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * A way to make HTTP exchanges: a connection pool, or `fetch`. Its {@link exchange} gets a request already checked
 * and guarded by {@link sendStream} (call that, not `exchange`), and must:
 * - send the body as it is given (an async iterable as it yields, with backpressure) and resolve once the response
 *   head has arrived, also when the server answers before the whole body is sent;
 * - neither follow redirects nor judge the status;
 * - bound the wait for the response head (and, while the body is sent, for the server to take more of it) by
 *   `headersTimeoutMs`, and each wait for a chunk of the response body by `bodyTimeoutMs`, with a
 *   {@link TimeoutError}; fail with {@link AbortedError} once `signal` fires or the transport is closed, and map
 *   every other failure through the one table of transport-errors.ts (a {@link NetworkError} with a reason);
 * - let a body iteration that stops early, or `cancel()`, discard the rest of the body.
 */
export interface Transport {
  /** What it is, for logs: `agent`, `proxy <origin>` (never credentials), `fetch`. */
  readonly description: string;
  /** Default cap of {@link StreamResponse.bytes}. */
  readonly maxResponseBytes: number;
  /** One exchange (see the interface comment). */
  exchange(request: TransportRequest): Promise<TransportResponse>;
  /**
   * New exchanges are refused (AbortedError); in-flight ones finish, then the connections close. With `force`,
   * in-flight exchanges fail at once (AbortedError). Idempotent.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

/** A request as a {@link Transport} receives it: checked, its streamed body guarded. */
export interface TransportRequest {
  method: string;
  url: URL;
  /** `METHOD /path` for errors. */
  route: string;
  headers: Record<string, string>;
  body: string | Uint8Array | AsyncIterable<Uint8Array> | undefined;
  signal: AbortSignal | undefined;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** A response head from a {@link Transport}. */
export interface TransportResponse {
  status: number;
  /** Names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Iterated at most once; failures already mapped to allegro-ts errors; stopping early discards the rest. */
  body: AsyncIterable<Uint8Array>;
  /** Discard the body unread (the connection is closed if any of it remains). Idempotent. */
  cancel(): void;
}

/** One exchange for {@link sendStream}. */
export interface StreamRequest {
  method: string;
  /** Absolute `https:` (or `http:`) URL. */
  url: string;
  /** A `content-length` header fixes the body's length (a body of another length fails); without one a streamed body is sent chunked. */
  headers: Record<string, string>;
  /**
   * The body. An async iterable is sent as it yields, with backpressure (the next chunk is asked for once the
   * transport has taken the previous one); a chunk must not be modified after it is yielded. It is iterated at
   * most once, so the exchange cannot be repeated. An error its iterator throws ends the exchange and is rethrown
   * as is.
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
   * {@link AbortedError}, {@link TimeoutError} or {@link NetworkError}. Leaving the loop early discards the rest
   * (the connection is closed rather than reused).
   */
  body: AsyncIterable<Uint8Array>;
  /**
   * Read the (rest of the) body into one array: at most `maxBytes`, default the transport's `maxResponseBytes`;
   * beyond it (declared by `content-length` or counted), a NetworkError of reason `too-large`.
   */
  bytes(maxBytes?: number): Promise<Uint8Array>;
  /** Discard the body unread; the connection is closed if any of it remains. Idempotent. */
  cancel(): void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What a header value may hold (RFC 9110 field-value without CR, LF, NUL and other controls).
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
export function requireHttpUrl(parameter: string, value: unknown): URL {
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
function checkRequest(request: StreamRequest): { url: URL; route: string } {
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

/** The `content-length` a streamed body must have, if a header says so. */
function declaredLength(headers: Record<string, string>): number | undefined {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-length');
  if (entry === undefined) return undefined;
  const length = /^\d{1,15}$/.test(entry[1]) ? Number(entry[1]) : Number.NaN;
  if (!Number.isSafeInteger(length)) throw new InvalidArgumentError(`request.headers.${entry[0]}`, 'a non-negative integer', describeValue(entry[1]));
  return length;
}

/**
 * Make one HTTP exchange with a streamed request body and/or a streamed response body: resolves once the response
 * head has arrived, leaving the body to the caller ({@link StreamResponse}). Memory stays constant however large the
 * bodies. Does not retry and does not judge the status: a 500 is a response like any other. A server that answers
 * before the whole body is sent (say 413 or 403) gets that answer returned; the rest of the body is not sent.
 * Throws {@link AbortedError}, {@link TimeoutError}, {@link NetworkError} (transport-errors.ts),
 * {@link InvalidArgumentError} for a malformed request or a body whose length is not its `content-length`, or what
 * the body's iterator threw.
 */
export async function sendStream(transport: Transport, request: StreamRequest): Promise<StreamResponse> {
  if (typeof transport !== 'object' || transport === null || typeof (transport as Partial<Transport>).exchange !== 'function') {
    throw new InvalidArgumentError('transport', 'a Transport (createDispatcher, createFetchTransport)', describeValue(transport));
  }
  const { method, headers, body, signal } = request;
  const { url, route } = checkRequest(request);
  const streamed = body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array);
  if (streamed && (typeof body !== 'object' || body === null || typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('request.body', 'a string, a Uint8Array or an AsyncIterable of Uint8Array', describeValue(body));
  }
  const headersTimeoutMs = requirePositiveInteger('request.headersTimeoutMs', request.headersTimeoutMs);
  const bodyTimeoutMs = requirePositiveInteger('request.bodyTimeoutMs', request.bodyTimeoutMs);
  const length = streamed ? declaredLength(headers) : undefined;
  if (signal?.aborted === true) throw new AbortedError(route);

  // What the caller's iterator threw, if anything: it is theirs, and is rethrown unchanged.
  let sourceFailure: { error: unknown } | undefined;
  const source = streamed ? guardSource(body, { signal, route, length }, (error) => { sourceFailure ??= { error }; }) : body;
  let response: TransportResponse;
  try {
    response = await transport.exchange({ method, url, route, headers, body: source, signal, headersTimeoutMs, bodyTimeoutMs });
  } catch (err) {
    // (A function call, so that TypeScript does not assume the signal unchanged since the check above.)
    if (sourceFailure !== undefined && !isAborted(signal)) throw sourceFailure.error;
    throw err;
  }
  return streamResponse(response, method === 'HEAD', route, transport.maxResponseBytes);
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** A transport's response with the body iterated at most once and collected under a cap. */
function streamResponse(response: TransportResponse, head: boolean, route: string, defaultLimit: number): StreamResponse {
  let iterated = false;
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      if (iterated) throw new InvalidArgumentError('response.body', 'a body iterated once', 'a second iteration');
      iterated = true;
      return response.body[Symbol.asyncIterator]();
    },
  };
  const cancel = () => {
    iterated = true;
    response.cancel();
  };
  return {
    status: response.status,
    headers: response.headers,
    body,
    async bytes(maxBytes?: number) {
      const limit = maxBytes === undefined ? defaultLimit : requirePositiveInteger('maxBytes', maxBytes);
      // A HEAD answer's content-length is that of the body it does not have.
      const declared = head ? 0 : Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        cancel();
        throw tooLarge(route, limit);
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += chunk.length;
        if (size > limit) throw tooLarge(route, limit); // leaving the loop discards the rest
        chunks.push(chunk);
      }
      return concatBytes(...chunks);
    },
    cancel,
  };
}

/**
 * The caller's body as a transport iterates it: chunks checked, their total held to `length` when a content-length
 * was given, the caller's errors reported, and a pending `next()` given up when `signal` fires (a transport may wait
 * for the iterator's next chunk before noticing an abort).
 */
async function* guardSource(
  source: AsyncIterable<Uint8Array>,
  context: { signal: AbortSignal | undefined; route: string; length: number | undefined },
  onError: (error: unknown) => void,
): AsyncGenerator<Uint8Array> {
  const { signal, route, length } = context;
  const fail = (error: unknown): never => {
    onError(error);
    throw error;
  };
  const wrongLength = () => new InvalidArgumentError('request.body', 'as many bytes as the content-length header says', 'a different number');
  let iterator: AsyncIterator<Uint8Array>;
  try {
    iterator = source[Symbol.asyncIterator]();
  } catch (err) {
    return fail(err);
  }
  let finished = false;
  let sent = 0;
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await settleOrAbort(iterator.next(), signal, route);
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        finished = true; // an iterator that threw is done
        return fail(err);
      }
      if (step.done === true) {
        finished = true;
        if (length !== undefined && sent !== length) fail(wrongLength());
        return;
      }
      const chunk: unknown = step.value;
      if (!(chunk instanceof Uint8Array)) fail(new InvalidArgumentError('request.body', 'an AsyncIterable of Uint8Array', `a chunk that is ${describeValue(chunk)}`));
      sent += (chunk as Uint8Array).length;
      if (length !== undefined && sent > length) fail(wrongLength());
      yield chunk as Uint8Array;
    }
  } finally {
    // Let the caller's generator run its cleanup; not awaited, as a pending next() would hold it up.
    if (!finished) void Promise.resolve().then(() => iterator.return?.()).catch(() => {});
  }
}
