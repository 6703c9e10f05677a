/**
 * The sandbox's HTTP layer: a small router over node:https with bounded bodies, lazy JSON parsing, cookies,
 * and one error shape. Symphony answers errors with `{"code": <status>, "message": <text>}` (login-api-public.yaml
 * `Error`); so does the sandbox, for every 4xx and 5xx, including unknown paths (404), wrong methods (405),
 * oversized bodies (413) and malformed JSON (400); an error that carries structured facts adds them as `details`
 * (agent-api-public.yaml `V2Error`: the position of a MessageML error). A handler that throws anything but an
 * {@link HttpError} gets a 500 with a fixed message; the server keeps running.
 *
 * Streaming routes (`router.add(method, pattern, handler, { stream: true })`, used by the blob routes) get the body
 * unread, as an async iterable with backpressure, and may answer with a body streamed from a Readable or an async
 * iterable, so memory stays constant for bodies of any size; errors raised before anything was sent are the same
 * `{code, message}` answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';

/** An error that becomes an HTTP response. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Structured facts about the error, answered as `details` (the Agent API's `V2Error`), e.g. a position. */
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, message: string, headers: Record<string, string> = {}, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.details = details;
  }
}

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
  /** The body parsed as JSON; throws HttpError 400 if it is not. */
  json(): unknown;
}

/** What a handler returns: JSON (default status 200), raw bytes, or no content. */
export type SandboxResponse =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; bytes: Uint8Array; contentType?: string; headers?: Record<string, string> }
  | { status: 204; headers?: Record<string, string> };

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

/**
 * A request of a streaming route (`{ stream: true }`): what {@link SandboxRequest} has, but the body is not read
 * in advance. It has no `json()`.
 */
export interface StreamingRequest extends Omit<SandboxRequest, 'body' | 'json'> {
  /**
   * The request body as it arrives, in chunks. Backpressure: the next chunk is read from the connection only when
   * the loop asks for it, so memory stays constant. Leaving the loop early (break, throw) does not reset the
   * connection: after the response the unread rest is discarded, and the connection closed if the client is still
   * sending after {@link STREAM_LINGER_MS}. Iterating throws if the client disconnects mid-body. Iterate it once.
   */
  body: AsyncIterable<Buffer>;
  /** True once the whole body has been received. */
  readonly complete: boolean;
  /** Aborted when the client disconnects before the response is complete. */
  signal: AbortSignal;
}

/**
 * What a streaming handler returns: any {@link SandboxResponse}, or a head and a body streamed from a Node Readable
 * or an async iterable (`stream: null` sends the head only, e.g. for HEAD).
 */
export type StreamingResponse =
  | SandboxResponse
  | {
    status?: number;
    stream: Readable | AsyncIterable<Uint8Array> | null;
    /** Sent as Content-Length; without it the body is chunked. */
    contentLength?: number;
    /** Default `application/octet-stream`. */
    contentType?: string;
    headers?: Record<string, string>;
  };

export type StreamingHandler = (req: StreamingRequest) => StreamingResponse | Promise<StreamingResponse>;

type Route =
  | { method: string; segments: string[]; stream: false; handler: Handler; bodyLimit: number }
  | { method: string; segments: string[]; stream: true; handler: StreamingHandler };

/** Default body limit: 1 MiB, far above any Symphony JSON request. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * How long a streaming route's connection is kept after its response while the client is still sending a body the
 * handler did not read (an early 4xx): the rest is discarded meanwhile, so that the client can read the answer; a
 * body that ends in time leaves the connection usable, one that does not gets it closed.
 */
export const STREAM_LINGER_MS = 2000;

/** Routes by method and `/literal/:param` pattern. */
export class Router {
  readonly #routes: Route[] = [];

  /**
   * Register `handler` for `method` and `pattern` (segments starting with `:` bind parameters). The body is read
   * (up to `bodyLimit`) before the handler runs; with `{ stream: true }` the handler gets it unread instead
   * ({@link StreamingRequest}) and may stream its answer ({@link StreamingResponse}).
   */
  add(method: string, pattern: string, handler: Handler, options?: { bodyLimit?: number }): this;
  add(method: string, pattern: string, handler: StreamingHandler, options: { stream: true }): this;
  add(method: string, pattern: string, handler: Handler | StreamingHandler, options: { bodyLimit?: number; stream?: true } = {}): this {
    const segments = pattern.split('/').filter(Boolean);
    if (options.stream === true) this.#routes.push({ method, segments, stream: true, handler: handler as StreamingHandler });
    else this.#routes.push({ method, segments, stream: false, handler: handler as Handler, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT });
    return this;
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
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Write a response; errors use Symphony's `{code, message}` shape. */
export function writeResponse(res: ServerResponse, response: SandboxResponse): void {
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

/** The JSON error response for `status`: `{code, message}`, with `details` when given. */
export function errorResponse(status: number, message: string, headers: Record<string, string> = {}, details?: Record<string, unknown>): SandboxResponse {
  return { status, json: details === undefined ? { code: status, message } : { code: status, message, details }, headers };
}

/**
 * Serve one request with `router`. `before` runs first (fault injection) and may answer or drop the request.
 * Never throws: every failure becomes a JSON error response.
 */
export async function handleRequest(
  router: Router,
  req: IncomingMessage,
  res: ServerResponse,
  before?: (method: string, path: string, res: ServerResponse) => Promise<'continue' | 'handled'>,
  onError?: (error: unknown) => void,
): Promise<void> {
  const method = req.method ?? 'GET';
  try {
    if (!URL.canParse(req.url ?? '/', 'https://sandbox.invalid')) throw new HttpError(400, 'The request target is not a valid URL');
    const url = new URL(req.url ?? '/', 'https://sandbox.invalid');
    if (before !== undefined && (await before(method, url.pathname, res)) === 'handled') return;
    const found = router.match(method, url.pathname);
    if (!('route' in found)) {
      req.resume();
      if (found.allowed.length > 0) throw new HttpError(405, `Method ${method} not allowed; allowed: ${found.allowed.join(', ')}`, { allow: found.allowed.join(', ') });
      throw new HttpError(404, `No such endpoint: ${method} ${url.pathname}`);
    }
    if (found.route.stream) {
      await serveStreaming(found.route.handler, req, res, { method, url, params: found.params }, onError);
      return;
    }
    const body = await readBody(req, found.route.bodyLimit);
    let parsed: { value: unknown } | undefined;
    const request: SandboxRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      cookies: parseCookies(req.headers.cookie),
      params: found.params,
      body,
      socket: req.socket as TLSSocket,
      json() {
        if (parsed === undefined) {
          try {
            parsed = { value: JSON.parse(body.toString('utf8')) };
          } catch {
            throw new HttpError(400, 'The request body is not valid JSON');
          }
        }
        return parsed.value;
      },
    };
    writeResponse(res, await found.route.handler(request));
  } catch (err) {
    if (!(err instanceof HttpError)) onError?.(err);
    if (res.headersSent || res.destroyed) return;
    if (err instanceof HttpError) writeResponse(res, errorResponse(err.status, err.message, err.headers, err.details));
    else writeResponse(res, errorResponse(500, 'Internal sandbox error'));
  }
}

/**
 * Serve a streaming route. Never throws. Errors before anything was sent become the usual `{code, message}`
 * answers; after the head was sent the connection is destroyed (the client sees a truncated body). Failures caused
 * by the client going away (disconnect mid-upload or mid-download) are expected and not reported to `onError`.
 */
async function serveStreaming(
  handler: StreamingHandler,
  req: IncomingMessage,
  res: ServerResponse,
  head: { method: string; url: URL; params: Record<string, string> },
  onError: ((error: unknown) => void) | undefined,
): Promise<void> {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const clientGone = () => gone.signal.aborted || req.socket.destroyed;
  // Leaving a `for await` early must not destroy the request (which would reset the socket before the answer).
  const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  const request: StreamingRequest = {
    method: head.method,
    path: head.url.pathname,
    query: head.url.searchParams,
    headers: req.headers,
    cookies: parseCookies(req.headers.cookie),
    params: head.params,
    body,
    get complete() {
      return req.complete;
    },
    socket: req.socket as TLSSocket,
    signal: gone.signal,
  };
  try {
    await sendStreaming(res, await handler(request));
  } catch (err) {
    if (clientGone()) return;
    if (!(err instanceof HttpError)) onError?.(err);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) writeResponse(res, errorResponse(err.status, err.message, err.headers, err.details));
    else writeResponse(res, errorResponse(500, 'Internal sandbox error'));
  } finally {
    linger(req);
  }
}

async function sendStreaming(res: ServerResponse, response: StreamingResponse): Promise<void> {
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
  try {
    res.writeHead(response.status ?? 200, headers);
    await pipeline(stream, res);
  } finally {
    // A source that pipeline did not get to close (writeHead threw) must not leak its file descriptor.
    if ('destroy' in stream && typeof stream.destroy === 'function' && !stream.destroyed) stream.destroy();
  }
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
