/**
 * The one table of transport failures: what each Node or undici error code means as an allegro-ts error, with the
 * short message it gets. Both transports (undici-transport.ts, fetch-transport.ts: Node's fetch reports the same
 * codes in its `cause`) turn their failures into allegro-ts errors through {@link transportError}, and nothing else
 * keeps a list of codes: whether a failure is repeated follows from the `reason` of the {@link NetworkError} it
 * becomes, in the classification table of src/errors.ts (`RETRY_TABLE`) that the retry policy (retry.ts) reads.
 *
 * - the caller's signal fired, or the transport was closed under the request → {@link AbortedError};
 * - a connect, headers or body timeout → {@link TimeoutError};
 * - anything else → {@link NetworkError} with a `reason` and a short cause (`ECONNREFUSED (connection refused)`,
 *   `TLS: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)`). Messages carry the route
 *   (`METHOD /path`), never a query string, a header value or a body; the low-level error is kept as the
 *   (non-enumerable) `cause`. Neither undici nor Node put request headers in their errors.
 */
import { AbortedError, AllegroError, InvalidArgumentError, NetworkError, TimeoutError, type NetworkFailureReason } from '../errors.js';

/** What a transport error code stands for. */
export type TransportOutcome =
  | { readonly error: 'network'; readonly reason: NetworkFailureReason; readonly meaning?: string }
  | { readonly error: 'timeout'; readonly phase: 'connect' | 'headers' | 'body' }
  | { readonly error: 'aborted' }
  | { readonly error: 'invalid'; readonly parameter: string; readonly expected: string; readonly received: string };

const network = (reason: NetworkFailureReason, meaning?: string): TransportOutcome => (meaning === undefined ? { error: 'network', reason } : { error: 'network', reason, meaning });
const tls = network('tls');

/**
 * Node and undici error codes, and what they become. TLS codes beyond these (`ERR_TLS_*`, `ERR_SSL_*`) are TLS
 * failures too ({@link outcomeOf}); an unknown code is a NetworkError of reason `other` named by its code.
 */
export const TRANSPORT_CODES: Readonly<Record<string, TransportOutcome>> = Object.freeze({
  ECONNREFUSED: network('refused', 'connection refused'),
  ECONNRESET: network('lost', 'connection reset by peer'),
  EPIPE: network('lost', 'connection closed while sending'),
  UND_ERR_SOCKET: network('lost', 'connection closed before the response was complete'),
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: network('lost', 'response body shorter or longer than its Content-Length'),
  ENOTFOUND: network('dns', 'host not found'),
  EAI_AGAIN: network('dns', 'DNS lookup failed, try again'),
  ETIMEDOUT: network('unreachable', 'connection timed out'),
  EHOSTUNREACH: network('unreachable', 'host unreachable'),
  ENETUNREACH: network('unreachable', 'network unreachable'),
  EADDRNOTAVAIL: network('unreachable', 'address not available'),
  UND_ERR_HEADERS_OVERFLOW: network('too-large', 'response headers too large'),
  UND_ERR_RES_EXCEEDED_MAX_SIZE: network('too-large', 'response body too large'),
  // Certificate verification (Node's OpenSSL codes) and undici's "TLS to the proxy failed".
  SELF_SIGNED_CERT_IN_CHAIN: tls,
  DEPTH_ZERO_SELF_SIGNED_CERT: tls,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: tls,
  UNABLE_TO_GET_ISSUER_CERT: tls,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: tls,
  CERT_HAS_EXPIRED: tls,
  CERT_NOT_YET_VALID: tls,
  CERT_REVOKED: tls,
  CERT_UNTRUSTED: tls,
  CERT_REJECTED: tls,
  CERT_SIGNATURE_FAILURE: tls,
  INVALID_CA: tls,
  HOSTNAME_MISMATCH: tls,
  ERR_TLS_CERT_ALTNAME_INVALID: tls,
  UND_ERR_PRX_TLS: tls,
  // undici reports a proxy that refuses the CONNECT tunnel (e.g. 407) as an abort; nobody aborted (see transportError).
  UND_ERR_ABORTED: network('other'),
  UND_ERR_HEADERS_TIMEOUT: { error: 'timeout', phase: 'headers' },
  UND_ERR_BODY_TIMEOUT: { error: 'timeout', phase: 'body' },
  UND_ERR_CONNECT_TIMEOUT: { error: 'timeout', phase: 'connect' },
  // The transport was closed under the request (close with force).
  UND_ERR_CLOSED: { error: 'aborted' },
  UND_ERR_DESTROYED: { error: 'aborted' },
  UND_ERR_INVALID_ARG: { error: 'invalid', parameter: 'request', expected: 'a request the HTTP client accepts', received: 'one it refused (header or option)' },
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: { error: 'invalid', parameter: 'request.body', expected: 'as many bytes as the content-length header says', received: 'a different number' },
});

/** What `code` stands for: its row of {@link TRANSPORT_CODES}, a TLS failure for the other TLS codes, else `other`. */
export function outcomeOf(code: string): TransportOutcome {
  const known = TRANSPORT_CODES[code];
  if (known !== undefined) return known;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return tls;
  return network('other');
}

/**
 * The error that carries a Node/undici code, searched from `error` down its `cause` chain (an AggregateError from
 * Happy Eyeballs is read through its first error; an allegro-ts error is looked through, its `code` is not a
 * transport code). Node's fetch puts the code on the cause of its `TypeError: fetch failed`.
 */
export function codedError(error: unknown): { code: string; error: unknown } | undefined {
  let current: unknown = error instanceof AllegroError ? error.cause : error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return { code, error: current };
    current = current instanceof AggregateError ? current.errors[0] : (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What {@link transportError} needs to know about the exchange that failed. */
export interface FailureContext {
  /** `METHOD /path`, for the message. */
  route: string;
  /** The caller's signal: once it has fired, every failure is an {@link AbortedError}. */
  signal: AbortSignal | undefined;
  /** The limits in force, for the TimeoutError's message. */
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
}

/** The allegro-ts error for a transport failure `err` (an allegro-ts error passes through unchanged). */
export function transportError(err: unknown, context: FailureContext): AllegroError {
  const { route } = context;
  if (context.signal?.aborted === true) return new AbortedError(route);
  if (err instanceof AllegroError) return err;
  const coded = codedError(err);
  if (coded === undefined) return new NetworkError(route, 'other', err instanceof Error ? `unexpected ${err.name}` : 'unexpected failure', err);
  const { code } = coded;
  const message = coded.error instanceof Error ? coded.error.message : '';
  const outcome = outcomeOf(code);
  switch (outcome.error) {
    case 'timeout':
      return new TimeoutError(route, outcome.phase === 'connect' ? context.timeouts.connectMs : outcome.phase === 'headers' ? context.timeouts.headersMs : context.timeouts.bodyMs);
    case 'aborted':
      return new AbortedError(route);
    case 'invalid':
      return new InvalidArgumentError(outcome.parameter, outcome.expected, outcome.received);
    case 'network':
      break;
  }
  if (code === 'UND_ERR_ABORTED') {
    const proxy = /Proxy response \((\d{3})\)/.exec(message);
    return proxy === null ? new NetworkError(route, 'other', 'request aborted by the transport', err) : new NetworkError(route, 'proxy', `proxy refused the tunnel (HTTP ${proxy[1]})`, err);
  }
  if (outcome.reason === 'tls') {
    const cause = code === 'UND_ERR_PRX_TLS' && coded.error instanceof Error && coded.error.cause instanceof Error ? coded.error.cause.message : message;
    // Node's TLS messages name the problem and at most a host name; keep the first line only, to stay short.
    return new NetworkError(route, 'tls', `TLS: ${(cause.split('\n')[0] ?? '').slice(0, 200)} (${code})`, err);
  }
  return new NetworkError(route, outcome.reason, outcome.meaning === undefined ? code : `${code} (${outcome.meaning})`, err);
}

/** The error for a response body larger than the caller accepts (`too-large`: it would be just as large again). */
export function tooLarge(route: string, maxResponseBytes: number): NetworkError {
  return new NetworkError(route, 'too-large', `response body larger than ${maxResponseBytes} bytes`);
}
