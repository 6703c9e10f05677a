/**
 * The sandbox's HTTP layer: a router over node:https with bounded bodies, bounded JSON (./json.ts), cookies, and one
 * error shape. Symphony answers errors with `{"code": <status>, "message": <text>}` (login-api-public.yaml
 * `Error`); so does the sandbox, for every 4xx and 5xx, including unknown paths (404), wrong methods (405),
 * oversized bodies (413), malformed JSON (400) and the parser-level answers of ./connections.ts. A handler that
 * throws anything but an {@link HttpError} gets a 500 with a fixed message; the server keeps running. A client that
 * goes away before its request is read or its answer sent is not an error.
 *
 * Answers are JSON, bytes, no content, or a stream (a Node Readable, or a sync or async iterable of chunks) written
 * with backpressure, so large answers (history pages, listings, attachments, blobs) are never built whole.
 * Streaming routes (`router.add(method, pattern, handler, { stream: true })`, the blob routes) also get their
 * request body unread, as an async iterable with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { HttpError } from './http-error.js';
import { parseJson, type JsonLimits } from './json.js';

/** A request as handlers see it. */
export interface SandboxRequest {
  method: string;
  /** Path without the query string, percent-decoding left to handlers. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  cookies: Map<string, string>;
  /** Path parameters bound by the route pattern (`:name`), percent-decoded. */
  params: Record<string, string>;
  /** The raw body (already bounded by the route's limit). */
  body: Buffer;
  /** The TLS socket, for the client certificate of mutual-TLS routes. */
  socket: TLSSocket;
  /** The body parsed as JSON within the server's JSON limits; throws HttpError 400 if it is not. */
  json(): unknown;
  /** Parse other JSON text of the request (a form field) within the same limits; `what` names it in errors. */
  parseJson(text: string, what: string): unknown;
  /** Aborted when the client disconnects before the response is complete. */
  signal: AbortSignal;
}

/** A chunked answer body: a Node Readable, or chunks produced as the connection takes them. */
export type BodyStream = Readable | Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>;

/** What a handler returns: JSON (default status 200), raw bytes, no content, or a streamed body. */
export type SandboxResponse =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; bytes: Uint8Array; contentType?: string; headers?: Record<string, string> }
  | { status: 204; headers?: Record<string, string> }
  | {
    status?: number;
    /** The body; `null` sends the head only (HEAD). */
    stream: BodyStream | null;
    /** Sent as Content-Length; without it the body is chunked. */
    contentLength?: number;
    /** Default `application/octet-stream`. */
    contentType?: string;
    headers?: Record<string, string>;
  };

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

/**
 * A request of a streaming route (`{ stream: true }`): what {@link SandboxRequest} has, but the body is not read
 * in advance. It has no `json()`.
 */
export interface StreamingRequest extends Omit<SandboxRequest, 'body' | 'json' | 'parseJson'> {
  /**
   * The request body as it arrives, in chunks. Backpressure: the next chunk is read from the connection only when
   * the loop asks for it, so memory stays constant. Leaving the loop early (break, throw) does not reset the
   * connection: after the response the unread rest is discarded, and the connection closed if the client is still
   * sending after {@link STREAM_LINGER_MS}. Iterating throws if the client disconnects mid-body. Iterate it once.
   */
  body: AsyncIterable<Buffer>;
  /** True once the whole body has been received. */
  readonly complete: boolean;
}

export type StreamingHandler = (req: StreamingRequest) => SandboxResponse | Promise<SandboxResponse>;

/** Options of a route. */
export interface RouteOptions {
  /** Largest body, in bytes (413 beyond). Default: the router's. */
  bodyLimit?: number;
  /** JSON fields whose string values only the body limit bounds (ciphertext), not the field length limit. */
  largeFields?: readonly string[];
}

/** A registered route, as {@link Router.routes} lists it. */
export interface RouteInfo {
  method: string;
  /** The pattern as registered (`/pod/v3/room/:id/info`). */
  pattern: string;
  /** Streaming route: the body is not read in advance, and the body limit is the handler's. */
  stream: boolean;
  /** Body limit of a non-streaming route, in bytes. */
  bodyLimit?: number;
}

/** A registered route: what {@link RouteInfo} lists, its handler and its pattern's segments. */
type Route = RouteInfo & { segments: string[] } & (
  | { stream: false; handler: Handler; bodyLimit: number; largeFields: ReadonlySet<string> }
  | { stream: true; handler: StreamingHandler });

/**
 * How long a streaming route's connection is kept after its response while the client is still sending a body the
 * handler did not read (an early 4xx): the rest is discarded meanwhile, so that the client can read the answer; a
 * body that ends in time leaves the connection usable, one that does not gets it closed.
 */
export const STREAM_LINGER_MS = 2000;

/** Largest body of a route that names no limit, unless the router is given another: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Limits of JSON bodies unless {@link ServeOptions} name others (docs/sandbox.md "Limits"). */
export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = { maxDepth: 64, maxFieldLength: 64 * 1024 };

/** Routes by method and `/literal/:param` pattern. */
export class Router {
  readonly #routes: Route[] = [];
  readonly #bodyLimit: number;

  /** A router whose routes take bodies of at most `bodyLimit` bytes unless they say otherwise. */
  constructor(bodyLimit = DEFAULT_BODY_LIMIT) {
    this.#bodyLimit = bodyLimit;
  }

  /**
   * Register `handler` for `method` and `pattern` (segments starting with `:` bind parameters). The body is read
   * (up to the body limit) before the handler runs; with `{ stream: true }` the handler gets it unread instead
   * ({@link StreamingRequest}).
   */
  add(method: string, pattern: string, handler: Handler, options?: RouteOptions): this;
  add(method: string, pattern: string, handler: StreamingHandler, options: { stream: true }): this;
  add(method: string, pattern: string, handler: Handler | StreamingHandler, options: RouteOptions & { stream?: true } = {}): this {
    const segments = pattern.split('/').filter(Boolean);
    if (options.stream === true) {
      this.#routes.push({ method, pattern, segments, stream: true, handler: handler as StreamingHandler });
    } else {
      const bodyLimit = options.bodyLimit ?? this.#bodyLimit;
      this.#routes.push({ method, pattern, segments, stream: false, handler: handler as Handler, bodyLimit, largeFields: new Set(options.largeFields ?? []) });
    }
    return this;
  }

  /** Every registered route, in registration order (the fuzz test covers exactly these). */
  routes(): RouteInfo[] {
    return this.#routes.map((r): RouteInfo => (r.stream ? { method: r.method, pattern: r.pattern, stream: true } : { method: r.method, pattern: r.pattern, stream: false, bodyLimit: r.bodyLimit }));
  }

  /** The route for a method and path, the methods the path allows otherwise. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = bind(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method) return { route, params };
      if (!allowed.includes(route.method)) allowed.push(route.method);
    }
    return { allowed };
  }
}

function bind(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const p = parts[i]!;
    if (s.startsWith(':')) {
      try {
        params[s.slice(1)] = decodeURIComponent(p);
      } catch {
        return undefined;
      }
    } else if (s !== p) return undefined;
  }
  return params;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) cookies.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return cookies;
}

/** The client went away before its request was read: nothing to answer, nothing to report. */
class ClientGone extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new HttpError(413, `Request body larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Answer, then close the connection (rather than destroying it now, which would lose the answer).
        reject(new HttpError(413, `Request body larger than ${limit} bytes`, { connection: 'close' }));
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', () => reject(new ClientGone()));
    req.on('close', () => {
      if (!req.complete) reject(new ClientGone());
    });
  });
}

/** Write a JSON, bytes or no-content response at once; errors use Symphony's `{code, message}` shape. */
export function writeResponse(res: ServerResponse, response: Exclude<SandboxResponse, { stream: unknown }>): void {
  const headers = { ...(response.headers ?? {}) };
  if ('json' in response) {
    const body = Buffer.from(JSON.stringify(response.json));
    res.writeHead(response.status ?? 200, { ...headers, 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  } else if ('bytes' in response) {
    res.writeHead(response.status ?? 200, { ...headers, 'content-type': response.contentType ?? 'application/octet-stream', 'content-length': response.bytes.length });
    res.end(response.bytes);
  } else {
    res.writeHead(204, headers);
    res.end();
  }
}

/** Send any response: streamed bodies with backpressure (a stalled reader is dropped by ./connections.ts). */
async function sendResponse(res: ServerResponse, response: SandboxResponse): Promise<void> {
  if (!('stream' in response)) {
    writeResponse(res, response);
    return;
  }
  const headers: Record<string, string | number> = { ...(response.headers ?? {}), 'content-type': response.contentType ?? 'application/octet-stream' };
  if (response.contentLength !== undefined) headers['content-length'] = response.contentLength;
  const { stream } = response;
  if (stream === null) {
    res.writeHead(response.status ?? 200, headers);
    res.end();
    return;
  }
  const source = stream instanceof Readable ? stream : Readable.from(inPieces(stream), { objectMode: false });
  try {
    res.writeHead(response.status ?? 200, headers);
    await pipeline(source, res);
  } finally {
    // A source that pipeline did not get to close (writeHead threw) must not leak its file descriptor.
    if (!source.destroyed) source.destroy();
  }
}

/** A JSON array streamed item by item (`[`, each item's JSON, `]`), for {@link SandboxResponse} `stream`. */
export function* jsonArray<T>(items: Iterable<T>, toJson: (item: T) => unknown): Generator<string> {
  let separator = '[';
  for (const item of items) {
    yield `${separator}${JSON.stringify(toJson(item))}`;
    separator = ',';
  }
  yield separator === '[' ? '[]' : ']';
}

/** Largest piece written at once: each write completes quickly, so that progress is visible to the send timeout. */
const WRITE_PIECE_BYTES = 64 * 1024;

/** The chunks of `stream` as buffers of at most {@link WRITE_PIECE_BYTES}. */
async function* inPieces(stream: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let at = 0; at < bytes.length; at += WRITE_PIECE_BYTES) yield bytes.subarray(at, at + WRITE_PIECE_BYTES);
  }
}

/** The JSON error response for `status`: `{code, message}`, with `details` when given. */
export function errorResponse(status: number, message: string, headers: Record<string, string> = {}, details?: Record<string, unknown>): SandboxResponse & { json: unknown } {
  return { status, json: details === undefined ? { code: status, message } : { code: status, message, details }, headers };
}

/** How {@link handleRequest} serves. */
export interface ServeOptions {
  /** Limits of every JSON body; default {@link DEFAULT_JSON_LIMITS}. */
  json?: JsonLimits;
  /** Runs first (fault injection, entitlement); may answer or drop the request. */
  before?: (method: string, path: string, res: ServerResponse) => Promise<'continue' | 'handled'>;
  /** Unexpected handler errors (not HttpErrors, not clients going away). */
  onError?: (error: unknown) => void;
  /** The message of the 500 answering an unexpected error; default `Internal sandbox error`. */
  internalErrorMessage?: string;
}

/** Serve one request with `router`. Never throws: every failure becomes a JSON error response. */
export async function handleRequest(router: Router, req: IncomingMessage, res: ServerResponse, options: ServeOptions = {}): Promise<void> {
  const method = req.method ?? 'GET';
  // The request's signal is made only when a handler asks for it (most never do: docs/performance.md §8).
  let left = false;
  let gone: AbortController | undefined;
  res.on('close', () => {
    if (res.writableFinished) return;
    left = true;
    gone?.abort();
  });
  const signal = (): AbortSignal => {
    if (gone === undefined) {
      gone = new AbortController();
      if (left) gone.abort();
    }
    return gone.signal;
  };
  const clientGone = () => left || req.socket.destroyed;
  let streaming = false;
  try {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://sandbox.invalid');
    } catch {
      throw new HttpError(400, 'The request target is not a valid URL');
    }
    if (options.before !== undefined && (await options.before(method, url.pathname, res)) === 'handled') return;
    // A client that went away while the hook delayed it (or the server closed meanwhile) is not served.
    if (clientGone()) return;
    const found = router.match(method, url.pathname);
    if (!('route' in found)) {
      req.resume();
      if (found.allowed.length > 0) throw new HttpError(405, `Method ${method} not allowed; allowed: ${found.allowed.join(', ')}`, { allow: found.allowed.join(', ') });
      throw new HttpError(404, `No such endpoint: ${method} ${url.pathname}`);
    }
    const common = {
      method, path: url.pathname, query: url.searchParams, headers: req.headers, cookies: parseCookies(req.headers.cookie), params: found.params,
      socket: req.socket as TLSSocket,
    };
    const { route } = found;
    if (route.stream) {
      streaming = true;
      // Leaving a `for await` early must not destroy the request (which would reset the socket before the answer).
      const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
      const request: StreamingRequest = { ...common, body, get signal() { return signal(); }, get complete() { return req.complete; } };
      await sendResponse(res, await route.handler(request));
      return;
    }
    const body = await readBody(req, route.bodyLimit);
    let parsed: { value: unknown } | undefined;
    const parse = (text: string, what: string) => parseJson(text, options.json ?? DEFAULT_JSON_LIMITS, what, route.largeFields);
    const request: SandboxRequest = {
      ...common,
      body,
      get signal() {
        return signal();
      },
      json() {
        parsed ??= { value: parse(body.toString('utf8'), 'The request body') };
        return parsed.value;
      },
      parseJson: parse,
    };
    await sendResponse(res, await route.handler(request));
  } catch (err) {
    if (err instanceof ClientGone) return;
    const gone = clientGone();
    // A failure caused by the client going away is not an error of the server; anything else unexpected is.
    if (!(err instanceof HttpError) && !(gone && isDisconnect(err))) options.onError?.(err);
    if (gone || res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) writeResponse(res, errorResponse(err.status, err.message, err.headers, err.details));
    else writeResponse(res, errorResponse(500, options.internalErrorMessage ?? 'Internal sandbox error'));
  } finally {
    if (streaming) linger(req);
  }
}

/** Codes of the errors reading a request or writing a response fails with when the client has gone away. */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ABORT_ERR']);

function isDisconnect(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (typeof code === 'string' && DISCONNECT_CODES.has(code)) || message === 'aborted';
}

/** Discard the unread rest of a request body for a while, so that the client can read the answer; then hang up. */
function linger(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  const timer = setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, STREAM_LINGER_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
