/**
 * `allegro-ts/sandbox`: start a local Symphony pod + Key Manager + Object Store over HTTPS, for development and
 * tests (docs/sandbox.md). Re-exports only; the package root never imports it.
 */
export { startSandbox } from './server.js';
export type { FormSubmission, NewSandboxUser, SandboxAdmin } from './admin.js';
export type { AppFiles, IdentityFiles, RunningSandbox, SandboxOptions } from './server.js';
export type { DeliveryAttempt, DeliveryPolicy, PartnerCallbackBody } from './partner-delivery.js';
export type { OboPermission } from '../errors.js';
export type { SandboxConfig, SandboxUrls } from './context.js';
export type { ConnectionLimits } from './connections.js';
export type { FaultRule, Faults, FeedAction, FeedFault } from './faults.js';
export type { RouteInfo } from './http.js';
export type { Seed, SeedApp, SeedRoom, SeedUser } from './seed.js';
export { DEFAULT_SEED } from './seed.js';
export type { App } from './store/apps.js';
export type { Blob } from './store/blobs.js';
export type { FeedSelection, ObjectFeed } from './store/feeds.js';
export type { Message } from './store/messages.js';
export type { ObjectRecord } from './store/objects.js';
export type { Pod } from './store/pod.js';
export type { Profile } from './store/profiles.js';
export type { SandboxStoreView, StoreCounts } from './store/store.js';
export type { Member, Stream } from './store/streams.js';
export type { User } from './store/users.js';
