/**
 * `allegro-ts/sandbox`: start a local Symphony pod + Key Manager + Object Store over HTTPS, for development and
 * tests (docs/sandbox.md). Re-exports only; the package root never imports it.
 */
export { startSandbox } from './server.js';
export type { NewSandboxUser, SandboxAdmin } from './admin.js';
export type { IdentityFiles, RunningSandbox, SandboxOptions } from './server.js';
export type { SandboxConfig, SandboxUrls } from './context.js';
export type { FaultRule, Faults, FeedAction, FeedFault } from './faults.js';
export type { FeedMessageState, FeedSelection, ObjectFeedRecord, ObjectFeedSnapshot, ObjectFeedState, ObjectFeedStore } from './object-feeds.js';
export type { Seed, SeedUser } from './seed.js';
export { DEFAULT_SEED } from './seed.js';
export type {
  BlobState,
  ConnectionState,
  EventState,
  FeedState,
  MemberState,
  MessageState,
  ObjectRecord,
  ObjectWrite,
  PartitionState,
  SandboxState,
  StateRecord,
  StateSnapshot,
  StreamState,
  UserState,
} from './state.js';
