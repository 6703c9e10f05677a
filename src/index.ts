/**
 * allegro-ts: end-to-end encryption for Symphony bots and extension apps, in-process, without an API Agent.
 * The package root re-exports the client (`AllegroClient`), its configuration (reading and writing BDK
 * `config.yaml`), the types of everything the client hands out (session, keys, pod, datafeed, Object Store), the
 * MessageML reader and the SocialMessage codec (what the native path posts and reads), the crypto core (`allegro-ts/crypto`) and the error model (`allegro-ts/errors`). Re-exports only; test/package/public-types.test.ts checks that every type a public member
 * refers to is exported here.
 */
export { AllegroClient } from './client.js';
export type { Session, SessionTarget } from './auth/session.js';
export type {
  AllegroConfig, AllegroConfigInput, AllegroSettings, AppIdentity, BdkRetryConfig, CertificateConfig, ComponentConfig, Credentials, FileConfig,
  IdentityConfig, KeyMaterial, ProxyConfig, ResolvedComponent, ResolvedProxy, RetryConfig, TokenRefresh,
} from './config.js';
export { loadConfig, resolveConfig } from './config.js';
export type { ConfigApp, ConfigEndpoints, ConfigIdentity } from './config-file.js';
export { clientConfigFor, toConfigYaml } from './config-file.js';
export type { KeyCacheStats } from './keys/key-cache.js';
export type { KeyStore } from './keys/key-store.js';
export { Secret } from './util/secret.js';
export type { Datafeed, DatafeedEvent, DatafeedOptions } from './pod/datafeed.js';
export type { DecodedMessage, EncodeContext, HistoryMessage } from './pod/message-codec.js';
export { decodeMessage, encodeMessage } from './pod/message-codec.js';
export type { MentionedUser, MessageEntity, ParseMessageMlOptions, RenderedMessage } from './pod/messageml.js';
export { InvalidMessageMlError, isMessageMlDocument, MAX_MESSAGEML_DEPTH, MAX_MESSAGEML_LENGTH, parseMessageMl } from './pod/messageml.js';
export type { PodClient } from './pod/pod-client.js';
export type { Connection, PodApi, PodUser, Presence, RoomAttributes, RoomInfo, RoomSearch, SearchPage, StreamInfo, Suppression, UserSearch } from './pod/pod-api.js';
export type {
  BlobContent, BlobRef, FeedChange, ObjectDeletion, ObjectFeed, ObjectRef, ObjectStoreClient, PartitionInfo, PayloadFormat, Permission, PutObject, StoredObject,
  TransactionOp, UpsertFeed, UserPermissions,
} from './store/object-store-client.js';
export type { Feed, FeedErrorInfo, FeedInfo, FeedItem, FeedOptions, FeedPartition, FeedStats } from './store/feed.js';
export type { DecryptedRecord, EncryptedRecord, JsonValue, RecordHeader, RecordInput } from './store/record.js';
export type { ByteSource } from './util/web-streams.js';
export * from './crypto/index.js';
export * from './errors.js';
