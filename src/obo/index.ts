/**
 * `allegro-ts/obo`: on-behalf-of apps (docs/symphony-apis.md §1.7, §1.11, §2). `OboApp` (the app's cached token, one
 * connection pool for every user) and `OboSession` (the OBO-enabled pod operations and the Agent's messages for one
 * user), the app configuration (`app` required, `bot` optional), the partner callback receiver and its tenant
 * registry (SQLite), click-to-chat links, and the permission list. For Node (the registry is a file); the package
 * root never imports it. Re-exports only.
 */
export { OboApp } from './app.js';
export type { OboAppConfig, OboAppStats } from './app.js';
export type { Attachment, BlastResult, OboSession, SendOptions, Signal, SignalDefinition, SignalSubscriber, SignalSubscription, UpdateOptions } from './session.js';
export { loadAppConfig, resolveAppConfig } from '../config.js';
export type {
  AllegroConfig, AllegroConfigInput, AllegroSettings, AppConfig, AppIdentity, BdkRetryConfig, CertificateConfig, ComponentConfig, Credentials,
  FileConfig, IdentityConfig, KeyMaterial, ProxyConfig, ResolvedComponent, ResolvedProxy, RetryConfig, TokenRefresh,
} from '../config.js';
export type { Connection, PodApi, PodUser, Presence, RoomAttributes, RoomInfo, RoomSearch, SearchPage, StreamInfo, Suppression, UserSearch } from '../pod/pod-api.js';
export type { Secret } from '../util/secret.js';
export { createPartnerCallbackHandler, DEFAULT_MAX_CALLBACK_BYTES, parsePartnerEvent } from './partner-callback.js';
export type { PartnerCallbackHandler, PartnerCallbackOptions } from './partner-callback.js';
export { TenantRegistry } from './tenants.js';
export type { PartnerEvent, PartnerEventType, Tenant } from './tenants.js';
export { symphonyUri } from './symphony-uri.js';
export type { SymphonyUriOptions, SymphonyUriTarget } from './symphony-uri.js';
export { isOboPermission, OBO_PERMISSIONS } from './permissions.js';
export type { OboPermission } from '../errors.js';
