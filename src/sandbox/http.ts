/**
 * The sandbox's HTTP layer: a small router over node:https with bounded bodies, lazy JSON parsing, cookies,
 * and one error shape. Symphony answers errors with `{"code": <status>, "message": <text>}` (login-api-public.yaml
 * `Error`); so does the sandbox, for every 4xx and 5xx, including unknown paths (404), wrong methods (405),
 * oversized bodies (413) and malformed JSON (400). A handler that throws anything but an {@link HttpError} gets a
 * 500 with a fixed message; the server keeps running.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** An error that becomes an HTTP response. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
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

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
  bodyLimit: number;
}

/** Default body limit: 1 MiB, far above any Symphony JSON request. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Routes by method and `/literal/:param` pattern. */
export class Router {
  readonly #routes: Route[] = [];

  /** Register `handler` for `method` and `pattern` (segments starting with `:` bind parameters). */
  add(method: string, pattern: string, handler: Handler, options: { bodyLimit?: number } = {}): this {
    this.#routes.push({ method, segments: pattern.split('/').filter(Boolean), handler, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT });
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
export function send(res: ServerResponse, response: SandboxResponse): void {
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

/** The JSON error response for `status`. */
export function errorResponse(status: number, message: string, headers: Record<string, string> = {}): SandboxResponse {
  return { status, json: { code: status, message }, headers };
}

/**
 * Serve one request with `router`. `before` runs first (fault injection) and may answer or drop the request.
 * Never throws: every failure becomes a JSON error response.
 */
export async function dispatch(
  router: Router,
  req: IncomingMessage,
  res: ServerResponse,
  before?: (method: string, path: string, res: ServerResponse) => Promise<'continue' | 'handled'>,
  onError?: (error: unknown) => void,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://sandbox.invalid');
  const method = req.method ?? 'GET';
  try {
    if (before !== undefined && (await before(method, url.pathname, res)) === 'handled') return;
    const found = router.match(method, url.pathname);
    if (!('route' in found)) {
      req.resume();
      if (found.allowed.length > 0) throw new HttpError(405, `Method ${method} not allowed; allowed: ${found.allowed.join(', ')}`, { allow: found.allowed.join(', ') });
      throw new HttpError(404, `No such endpoint: ${method} ${url.pathname}`);
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
    send(res, await found.route.handler(request));
  } catch (err) {
    if (!(err instanceof HttpError)) onError?.(err);
    if (res.headersSent || res.destroyed) return;
    if (err instanceof HttpError) send(res, errorResponse(err.status, err.message, err.headers));
    else send(res, errorResponse(500, 'Internal sandbox error'));
  }
}
