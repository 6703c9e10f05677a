/**
 * The HTTP layer (docs/architecture.md, "The HTTP layer"): the two transports — {@link createDispatcher}, an undici
 * connection pool with TLS and proxy settings (pool.ts, Node's default), and {@link createFetchTransport}, over any
 * `fetch` (fetch-transport.ts, for runtimes without undici) — behind the one {@link Transport} interface and the one
 * exchange, `sendStream` (transport.ts); and {@link HttpClient}, which adds JSON, retries, timeouts and the 401
 * refresh on top (http-client.ts). Nothing here picks a transport for a platform: callers pass one.
 */
export { createFetchTransport, type FetchTransportOptions } from './fetch-transport.js';
export { HttpClient, type AuthHook, type HttpClientOptions, type RetryInfo } from './http-client.js';
export { createDispatcher, type ClientCertificate, type DispatcherOptions, type ProxyOptions } from './pool.js';
export type { RetryPolicy } from './retry.js';
export type { StreamRequest, StreamResponse, Transport, TransportRequest, TransportResponse } from './transport.js';
