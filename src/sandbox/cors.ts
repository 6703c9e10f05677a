/**
 * Cross-origin resource sharing for the sandbox (the Fetch standard's CORS protocol), so that a web page — an
 * extension app on its own origin — can call the pod, Key Manager and Object Store routes with `fetch`
 * (docs/sandbox.md "CORS and browsers"). An allowed origin gets, on every answer, `Access-Control-Allow-Origin` (the origin
 * itself, never `*`: answers depend on it, hence `Vary: Origin`) and `Access-Control-Expose-Headers` for the headers
 * the client reads (`content-range`, `retry-after`, `x-trace-id`, …); its preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) is answered 204 with the methods and request headers the client sends
 * (`sessionToken`, `keyManagerToken`, `authorization`, `content-type`, `range`, `x-trace-id`, …). An origin that is
 * not allowed gets no CORS header at all, so the browser withholds the answer; its preflight goes on to the router
 * like any `OPTIONS` (405). No credentials mode: the tokens travel in headers, not cookies.
 *
 * The control API (`/sandbox/…`) never answers CORS: no web page may install faults, rotate keys or create users.
 *
 * Origins are patterns: `*` (any origin), or `scheme://host[:port]` with `:*` for any port (the default one, which
 * an `Origin` header omits, included). The default is the loopback origins, {@link DEFAULT_CORS_ORIGINS}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The origins allowed when none are configured: http and https pages on 127.0.0.1, localhost and [::1], any port. */
export const DEFAULT_CORS_ORIGINS: readonly string[] = Object.freeze(
  ['127.0.0.1', 'localhost', '[::1]'].flatMap((host) => [`http://${host}:*`, `https://${host}:*`]),
);

/** The methods the routes answer. */
export const CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] as const;

/**
 * The request headers the client sends beyond the CORS-safelisted ones (and some that are safelisted only for some
 * values: `content-type`, `range`). `user-agent` is listed for browsers that let a page set it.
 */
export const CORS_ALLOW_HEADERS = ['accept', 'authorization', 'content-type', 'keymanagertoken', 'range', 'sessiontoken', 'user-agent', 'x-trace-id'] as const;

/** The response headers a page may read: the ones the client looks at. */
export const CORS_EXPOSE_HEADERS = ['accept-ranges', 'content-length', 'content-range', 'retry-after', 'x-trace-id'] as const;

/** How long a browser may cache a preflight answer, in seconds. */
export const CORS_MAX_AGE_SECONDS = 600;

/** One allowed-origin pattern, checked. */
interface OriginPattern {
  /** `scheme://host`, lower case. */
  base: string;
  /** The port as the `Origin` header writes it (`''` for the scheme's default), or `*` for any. */
  port: string;
}

/**
 * Check one pattern of `corsOrigins`.
 * @throws TypeError naming the pattern when it is neither `*` nor an origin (`scheme://host[:port|:*]`, no path).
 */
function parsePattern(pattern: unknown): OriginPattern | '*' {
  if (pattern === '*') return '*';
  const bad = (why: string) => new TypeError(`corsOrigins: ${JSON.stringify(pattern)} is not an origin pattern (${why}); expected "*" or scheme://host[:port], with :* for any port`);
  if (typeof pattern !== 'string') throw bad('not a string');
  const anyPort = pattern.endsWith(':*');
  const text = anyPort ? pattern.slice(0, -2) : pattern;
  if (!URL.canParse(text)) throw bad('not a URL');
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('the scheme must be http or https');
  if (text.endsWith('/') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw bad('an origin has no path, query, fragment, user or trailing slash');
  }
  if (anyPort && url.port !== '') throw bad('a port and :* together');
  if (url.hostname.includes('*')) throw bad('only the port may be a wildcard');
  return { base: `${url.protocol}//${url.hostname}`, port: anyPort ? '*' : url.port };
}

/** Which origins may call the sandbox from a web page, and the headers that tell the browser so. */
export interface CorsPolicy {
  /** Whether a page on `origin` (an `Origin` header's value) may read the sandbox's answers. */
  allows(origin: string): boolean;
  /**
   * Add the CORS headers for `req` to `res` (nothing for a disallowed origin or the control API), and answer a
   * preflight of an allowed origin (204): then `handled`, and the request must not be served further.
   */
  handle(req: IncomingMessage, res: ServerResponse): 'handled' | 'continue';
}

/**
 * The policy allowing the origins matched by `patterns` (an empty list allows none: no CORS).
 * @throws TypeError for a pattern that is not `*` or an origin pattern.
 */
export function corsPolicy(patterns: readonly string[] = DEFAULT_CORS_ORIGINS): CorsPolicy {
  if (!Array.isArray(patterns)) throw new TypeError('corsOrigins: expected an array of origin patterns');
  const parsed = patterns.map(parsePattern);
  const any = parsed.includes('*');
  const specific = parsed.filter((p): p is OriginPattern => p !== '*');

  function allows(origin: string): boolean {
    // `null` (a file: page, a sandboxed frame) and anything else that is not a serialized origin: only with `*`.
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    if (url === undefined || url.origin !== origin) return any && origin !== '';
    if (any) return true;
    const base = `${url.protocol}//${url.hostname}`;
    return specific.some((p) => p.base === base && (p.port === '*' || p.port === url.port));
  }

  return {
    allows,
    handle(req, res) {
      const origin = req.headers.origin;
      if (typeof origin !== 'string' || (req.url ?? '').startsWith('/sandbox/') || !allows(origin)) return 'continue';
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (!preflight) {
        res.setHeader('access-control-expose-headers', CORS_EXPOSE_HEADERS.join(', '));
        return 'continue';
      }
      res.setHeader('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      res.setHeader('access-control-allow-methods', CORS_ALLOW_METHODS.join(', '));
      res.setHeader('access-control-allow-headers', CORS_ALLOW_HEADERS.join(', '));
      res.setHeader('access-control-max-age', String(CORS_MAX_AGE_SECONDS));
      // Chromium's Private Network Access asks before a public page reaches a loopback server.
      if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('access-control-allow-private-network', 'true');
      req.resume();
      res.writeHead(204, { 'content-length': 0 });
      res.end();
      return 'handled';
    },
  };
}
