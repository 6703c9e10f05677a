/**
 * allegro-ts: end-to-end encryption for Symphony bots and extension apps, in-process, without an API Agent.
 * The package root re-exports the client (`AllegroClient`), its configuration, the crypto core
 * (`allegro-ts/crypto`) and the error model (`allegro-ts/errors`).
 */
export { AllegroClient } from './client.js';
export type { AllegroConfig, AllegroConfigInput, ComponentConfig, Credentials, ProxyConfig, ResolvedComponent, ResolvedProxy, RetryConfig } from './config.js';
export { loadConfig, resolveConfig } from './config.js';
export type { KeyCacheStats } from './keys/key-cache.js';
export { Secret } from './util/secret.js';
export type { Datafeed, DatafeedEvent } from './pod/datafeed.js';
export type { DecodedMessage, HistoryMessage } from './pod/message-codec.js';
export type { Connection, PodUser, StreamInfo } from './pod/pod-client.js';
export * from './crypto/index.js';
export * from './errors.js';
