// Bad input never crashes or corrupts the sandbox. Every route the server's router registered (`sandbox.routes`, the
// same registration the server serves; blob routes included) gets, with valid credentials: malformed JSON, JSON of every wrong type, valid bodies with one
// field at a time replaced by a wrong type, huge strings, random bodies and bytes (fast-check, time-boxed), wrong
// query values, unknown and malformed ids, missing and forged credentials, and (on 1 MiB routes) a 1.1 MiB body:
// at least 50 requests per route, at least 1,000 with ALLEGRO_SLOW=1 (`npm run test:slow`); plus wrong methods and
// unknown paths. A table of hints per route (how to authenticate, a valid body, ids for its path) makes the cases
// meaningful; a registered route without hints fails the test. Every answer must be a 2xx (random input can be valid) or a 4xx with a JSON
// {code, message} body, in time; afterwards the server still serves, its data is intact, and `onError` saw nothing.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512 } from '../../../src/crypto/rsa.js';
import { encryptText, encryptTransport } from '../../../src/crypto/transport.js';
import type { RouteInfo } from '../../../src/sandbox/http.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { accountKey, call, contentKey, login, multipartBody, type Login } from '../../helpers/sandbox.js';

// ---------------------------------------------------------------------------------------------------------------
// The routes

type Auth = 'none' | 'session' | 'km' | 'datafeed' | 'api' | 'logout' | 'agent' | 'app';
type Ids = Record<string, string>;

interface RouteCase {
  method: string;
  /** The pattern as registered (coverage check). */
  pattern: string;
  /** Concrete path; `{name}` placeholders take ids made in beforeAll. */
  path: string;
  auth: Auth;
  /** Valid query parameters (values may hold placeholders). */
  query?: Record<string, string>;
  /** A valid body: JSON, or for `form` the messagepayload JSON, or for `bytes` the raw bytes, or for `multipart` the fields. */
  valid?: (ids: Ids) => unknown;
  body?: 'json' | 'form' | 'bytes' | 'multipart';
  /** Body limit when not the default 1 MiB. */
  limit?: number;
}

const MESSAGE_LIMIT = 2 * 1024 * 1024;
const ATTACHMENT_LIMIT = 25 * 1024 * 1024;
const AGENT_SEND_LIMIT = MESSAGE_LIMIT + ATTACHMENT_LIMIT;
const BLOB_LIMIT = 4 * 1024 ** 3;
const SLOW = process.env.ALLEGRO_SLOW === '1';
/** Requests each route gets at least; the random phase makes up what the fixed cases leave. */
const CASES_PER_ROUTE = SLOW ? 1000 : 50;
const uid = (ids: Ids, name: string) => Number(ids[name]);

const ROUTES: RouteCase[] = [
  // auth.ts
  { method: 'POST', pattern: '/login/pubkey/authenticate', path: '/login/pubkey/authenticate', auth: 'none', valid: (ids) => ({ token: ids.jwt }) },
  { method: 'POST', pattern: '/relay/pubkey/authenticate', path: '/relay/pubkey/authenticate', auth: 'none', valid: (ids) => ({ token: ids.jwt }) },
  { method: 'POST', pattern: '/sessionauth/v1/authenticate', path: '/sessionauth/v1/authenticate', auth: 'none' },
  { method: 'POST', pattern: '/keyauth/v1/authenticate', path: '/keyauth/v1/authenticate', auth: 'none' },
  { method: 'POST', pattern: '/sessionauth/v1/logout', path: '/sessionauth/v1/logout', auth: 'logout' },
  { method: 'POST', pattern: '/login/idm/tokens', path: '/login/idm/tokens', auth: 'session' },
  { method: 'GET', pattern: '/settings-web/api/v1/tokens', path: '/settings-web/api/v1/tokens', auth: 'session' },
  // signals.ts
  { method: 'GET', pattern: '/agent/v1/signals/list', path: '/agent/v1/signals/list', auth: 'session', query: { skip: '0', limit: '10' } },
  { method: 'GET', pattern: '/agent/v1/signals/:id/get', path: '/agent/v1/signals/{signal}/get', auth: 'session' },
  { method: 'POST', pattern: '/agent/v1/signals/create', path: '/agent/v1/signals/create', auth: 'session', valid: () => ({ name: 'fuzz', query: 'hashtag:fuzz', companyWide: false }) },
  { method: 'POST', pattern: '/agent/v1/signals/:id/update', path: '/agent/v1/signals/{signal}/update', auth: 'session', valid: () => ({ name: 'fuzz 2', query: 'cashtag:FZZ OR hashtag:f' }) },
  { method: 'POST', pattern: '/agent/v1/signals/:id/delete', path: '/agent/v1/signals/{doomedSignal}/delete', auth: 'session' },
  { method: 'POST', pattern: '/agent/v1/signals/:id/subscribe', path: '/agent/v1/signals/{signal}/subscribe', auth: 'session', query: { pushed: 'true' }, valid: (ids) => [uid(ids, 'alice')] },
  { method: 'POST', pattern: '/agent/v1/signals/:id/unsubscribe', path: '/agent/v1/signals/{signal}/unsubscribe', auth: 'session', valid: (ids) => [uid(ids, 'alice')] },
  { method: 'GET', pattern: '/agent/v1/signals/:id/subscribers', path: '/agent/v1/signals/{signal}/subscribers', auth: 'session', query: { skip: '0', limit: '10' } },
  // obo.ts
  { method: 'POST', pattern: '/login/pubkey/app/authenticate', path: '/login/pubkey/app/authenticate', auth: 'none', valid: (ids) => ({ token: ids.appJwt }) },
  { method: 'POST', pattern: '/sessionauth/v1/app/authenticate', path: '/sessionauth/v1/app/authenticate', auth: 'none' },
  { method: 'POST', pattern: '/login/pubkey/app/user/:uid/authenticate', path: '/login/pubkey/app/user/{alice}/authenticate', auth: 'app' },
  { method: 'POST', pattern: '/login/pubkey/app/username/:username/authenticate', path: '/login/pubkey/app/username/alice/authenticate', auth: 'app' },
  { method: 'POST', pattern: '/sessionauth/v1/app/user/:uid/authenticate', path: '/sessionauth/v1/app/user/{alice}/authenticate', auth: 'app' },
  { method: 'POST', pattern: '/sessionauth/v1/app/username/:username/authenticate', path: '/sessionauth/v1/app/username/bob/authenticate', auth: 'app' },
  // datafeed.ts
  { method: 'POST', pattern: '/datafeed2/api/v1/feeds', path: '/datafeed2/api/v1/feeds', auth: 'datafeed' },
  { method: 'GET', pattern: '/datafeed2/api/v1/feeds', path: '/datafeed2/api/v1/feeds', auth: 'datafeed' },
  { method: 'GET', pattern: '/datafeed2/api/v1/feeds/:feedId', path: '/datafeed2/api/v1/feeds/{feed}', auth: 'datafeed' },
  { method: 'DELETE', pattern: '/datafeed2/api/v1/feeds/:feedId', path: '/datafeed2/api/v1/feeds/{doomedFeed}', auth: 'datafeed' },
  { method: 'POST', pattern: '/datafeed2/api/v1/feeds/:feedId/events', path: '/datafeed2/api/v1/feeds/{feed}/events', auth: 'datafeed', valid: () => ({ ackId: '' }) },
  // keys.ts
  { method: 'GET', pattern: '/relay/keys/me', path: '/relay/keys/me', auth: 'km' },
  { method: 'GET', pattern: '/relay/keys/entityKey', path: '/relay/keys/entityKey', auth: 'km' },
  {
    method: 'GET', pattern: '/webcontroller/keystore/wrappedAccountKeys/one', path: '/webcontroller/keystore/wrappedAccountKeys/one', auth: 'session',
    query: { certId: '0', rotationId: '0', userId: '{bot}' },
  },
  {
    method: 'GET', pattern: '/keystore/wrappedContentKeys/one', path: '/keystore/wrappedContentKeys/one', auth: 'session',
    query: { threadId: '{seedRoom}', rotationId: '0', userId: '{bot}' },
  },
  { method: 'POST', pattern: '/keystore/cryptoRotationInfo/multiple', path: '/keystore/cryptoRotationInfo/multiple', auth: 'session', valid: (ids) => [ids.seedRoom, ids.im] },
  // messages.ts
  {
    method: 'POST', pattern: '/webcontroller/ingestor/v2/MessageService', path: '/webcontroller/ingestor/v2/MessageService', auth: 'session',
    body: 'form', limit: MESSAGE_LIMIT, valid: (ids) => ({ version: 'SOCIALMESSAGE', threadId: ids.room, text: ids.ciphertext, msgFeatures: 3 }),
  },
  {
    method: 'GET', pattern: '/dataquery/api/v3/messages/thread', path: '/dataquery/api/v3/messages/thread', auth: 'session',
    query: { id: '{seedRoom}', from: '0', before: '99999999999999', limit: '10', excludeFields: 'tokenIds' },
  },
  {
    method: 'GET', pattern: '/webcontroller/dataquery/retrieveMessagePayload', path: '/webcontroller/dataquery/retrieveMessagePayload', auth: 'session',
    query: { messageId: '{message}' },
  },
  {
    method: 'POST', pattern: '/webcontroller/ingestor/v1/attachments', path: '/webcontroller/ingestor/v1/attachments', auth: 'session',
    query: { threadId: '{room}' }, body: 'bytes', limit: ATTACHMENT_LIMIT, valid: (ids) => Buffer.from(ids.attachment!, 'base64'),
  },
  { method: 'GET', pattern: '/webcontroller/ingestor/v1/attachments/:fileId', path: '/webcontroller/ingestor/v1/attachments/{file}', auth: 'session' },
  // objects.ts
  { method: 'PUT', pattern: '/object/v1/objects/:hash', path: '/object/v1/objects/{newHash}', auth: 'api', valid: (ids) => storedObject(ids) },
  { method: 'POST', pattern: '/object/v1/objects/transaction', path: '/object/v1/objects/transaction', auth: 'api', valid: (ids) => [{ ...storedObject(ids), absoluteHash: ids.newHash }] },
  { method: 'GET', pattern: '/object/v1/objects/:hash/versions', path: '/object/v1/objects/{object}/versions', auth: 'api', query: { limit: '10', after: '', scanForwards: 'true' } },
  { method: 'GET', pattern: '/object/v1/objects/:hash', path: '/object/v1/objects/{object}', auth: 'api', query: { currentVersion: 'true' } },
  {
    method: 'POST', pattern: '/object/v1/partitions/upsert', path: '/object/v1/partitions/upsert', auth: 'api',
    valid: (ids) => ({ partitionId: { name: 'fuzz', userId: uid(ids, 'bot') }, userPermissions: [{ userId: uid(ids, 'alice'), permissions: ['READ'] }] }),
  },
  {
    method: 'GET', pattern: '/object/v1/partitions/:hash/page', path: '/object/v1/partitions/{partition}/page', auth: 'api',
    query: { limit: '10', sortKeyPrefix: 'k', scanForwards: 'false' },
  },
  { method: 'GET', pattern: '/object/v1/partitions/:hash/users', path: '/object/v1/partitions/{partition}/users', auth: 'api' },
  { method: 'GET', pattern: '/object/v1/partitions/:hash', path: '/object/v1/partitions/{partition}', auth: 'api' },
  { method: 'GET', pattern: '/object/v1/partitions/:hash/:sortKey', path: '/object/v1/partitions/{partition}/key-1', auth: 'api' },
  // feeds.ts
  {
    method: 'POST', pattern: '/object/v1/feeds/upsert', path: '/object/v1/feeds/upsert', auth: 'api',
    valid: (ids) => ({ feedId: { name: 'fuzz-feed', userId: uid(ids, 'bot') }, partitionSelections: [{ partitionHash: ids.partition, sortKeyPrefix: 'k' }], expiryTime: 600_000 }),
  },
  { method: 'DELETE', pattern: '/object/v1/feeds/:hash', path: '/object/v1/feeds/{doomedObjectFeed}', auth: 'api' },
  {
    method: 'POST', pattern: '/object/v1/feeds/:hash/objects', path: '/object/v1/feeds/{objectFeed}/objects', auth: 'api',
    valid: () => ({ maxItems: 1, waitTimeSeconds: 0, delete: [{ receiptHandle: 'x' }], extend: [{ receiptHandle: 'y', visibilityTimeout: 1 }] }),
  },
  // pod.ts
  { method: 'GET', pattern: '/webcontroller/public/podInfo', path: '/webcontroller/public/podInfo', auth: 'none' },
  { method: 'GET', pattern: '/webcontroller/maestro/Account', path: '/webcontroller/maestro/Account', auth: 'session' },
  { method: 'GET', pattern: '/pod/v2/sessioninfo', path: '/pod/v2/sessioninfo', auth: 'session' },
  { method: 'GET', pattern: '/pod/v3/users', path: '/pod/v3/users', auth: 'session', query: { uid: '{alice},{bob}' } },
  { method: 'GET', pattern: '/pod/v2/user', path: '/pod/v2/user', auth: 'session', query: { username: 'alice' } },
  { method: 'POST', pattern: '/pod/v1/im/create', path: '/pod/v1/im/create', auth: 'session', valid: (ids) => [uid(ids, 'alice')] },
  { method: 'POST', pattern: '/pod/v3/room/create', path: '/pod/v3/room/create', auth: 'session', valid: () => ({ name: 'fuzzed', description: 'd', membersCanInvite: true, readOnly: false }) },
  { method: 'GET', pattern: '/pod/v3/room/:id/info', path: '/pod/v3/room/{room}/info', auth: 'session' },
  { method: 'POST', pattern: '/pod/v3/room/:id/update', path: '/pod/v3/room/{room}/update', auth: 'session', valid: () => ({ name: 'fuzz room', description: 'd' }) },
  { method: 'POST', pattern: '/pod/v1/room/:id/setActive', path: '/pod/v1/room/{room}/setActive', auth: 'session', query: { active: 'true' } },
  { method: 'GET', pattern: '/pod/v2/room/:id/membership/list', path: '/pod/v2/room/{room}/membership/list', auth: 'session' },
  ...['add', 'remove', 'promoteOwner', 'demoteOwner'].map((action): RouteCase => ({
    method: 'POST', pattern: `/pod/v1/room/:id/membership/${action}`, path: `/pod/v1/room/{room}/membership/${action}`, auth: 'session', valid: (ids) => ({ id: uid(ids, 'bob') }),
  })),
  {
    method: 'POST', pattern: '/pod/v1/streams/list', path: '/pod/v1/streams/list', auth: 'session', query: { skip: '0', limit: '10' },
    valid: () => ({ streamTypes: [{ type: 'ROOM' }, { type: 'IM' }], includeInactiveStreams: false }),
  },
  { method: 'GET', pattern: '/pod/v2/streams/:sid/info', path: '/pod/v2/streams/{seedRoom}/info', auth: 'session' },
  { method: 'GET', pattern: '/pod/v2/user/presence', path: '/pod/v2/user/presence', auth: 'session' },
  { method: 'POST', pattern: '/pod/v2/user/presence', path: '/pod/v2/user/presence', auth: 'session', valid: () => ({ category: 'BUSY' }) },
  { method: 'GET', pattern: '/pod/v3/user/:uid/presence', path: '/pod/v3/user/{alice}/presence', auth: 'session' },
  { method: 'GET', pattern: '/pod/v1/connection/list', path: '/pod/v1/connection/list', auth: 'session', query: { status: 'ALL' } },
  { method: 'GET', pattern: '/pod/v1/connection/user/:userId/info', path: '/pod/v1/connection/user/{alice}/info', auth: 'session' },
  { method: 'POST', pattern: '/pod/v1/connection/user/:uid/remove', path: '/pod/v1/connection/user/{alice}/remove', auth: 'session' },
  { method: 'POST', pattern: '/pod/v1/user/presence/register', path: '/pod/v1/user/presence/register', auth: 'session', valid: (ids) => [uid(ids, 'alice')] },
  { method: 'GET', pattern: '/pod/v1/files/allowedTypes', path: '/pod/v1/files/allowedTypes', auth: 'session' },
  { method: 'GET', pattern: '/pod/v1/user/:uid/followers', path: '/pod/v1/user/{bob}/followers', auth: 'session' },
  ...['follow', 'unfollow'].map((action): RouteCase => ({
    method: 'POST', pattern: `/pod/v1/user/:uid/${action}`, path: `/pod/v1/user/{bob}/${action}`, auth: 'session', valid: (ids) => ({ followers: [uid(ids, 'alice')] }),
  })),
  { method: 'POST', pattern: '/pod/v3/room/search', path: '/pod/v3/room/search', auth: 'session', query: { skip: '0', limit: '10' }, valid: () => ({ query: 'fuzz', active: true }) },
  { method: 'POST', pattern: '/pod/v1/connection/create', path: '/pod/v1/connection/create', auth: 'session', valid: (ids) => ({ userId: uid(ids, 'bob') }) },
  ...['accept', 'reject'].map((action): RouteCase => ({
    method: 'POST', pattern: `/pod/v1/connection/${action}`, path: `/pod/v1/connection/${action}`, auth: 'session', valid: (ids) => ({ userId: uid(ids, 'alice') }),
  })),
  { method: 'POST', pattern: '/pod/v1/user/search', path: '/pod/v1/user/search', auth: 'session', query: { skip: '0', limit: '5', local: 'true' }, valid: () => ({ query: 'ali', filters: { title: 'Sales Trader', accountTypes: ['NORMAL'] } }) },
  { method: 'POST', pattern: '/pod/v1/admin/messagesuppression/:id/suppress', path: '/pod/v1/admin/messagesuppression/{doomedMessage}/suppress', auth: 'session' },
  // agent.ts, agent-messages.ts, agent-datafeed.ts
  { method: 'GET', pattern: '/agent/v3/health', path: '/agent/v3/health', auth: 'none' },
  { method: 'GET', pattern: '/agent/v3/health/extended', path: '/agent/v3/health/extended', auth: 'none' },
  { method: 'GET', pattern: '/agent/v1/info', path: '/agent/v1/info', auth: 'none' },
  { method: 'POST', pattern: '/agent/v1/util/echo', path: '/agent/v1/util/echo', auth: 'session', valid: () => ({ message: 'echo' }) },
  {
    method: 'POST', pattern: '/agent/v4/stream/:sid/message/create', path: '/agent/v4/stream/{seedRoom}/message/create', auth: 'agent', body: 'multipart',
    limit: AGENT_SEND_LIMIT, valid: () => ({ message: '<messageML>fuzz <b>me</b></messageML>', data: '{}', version: '2.0' }),
  },
  {
    method: 'POST', pattern: '/agent/v4/message/blast', path: '/agent/v4/message/blast', auth: 'agent', body: 'multipart', limit: AGENT_SEND_LIMIT,
    valid: (ids) => ({ sids: ids.seedRoom, message: '<messageML>blast</messageML>' }),
  },
  {
    method: 'POST', pattern: '/agent/v4/stream/:sid/message/:mid/update', path: '/agent/v4/stream/{seedRoom}/message/{message}/update', auth: 'agent',
    body: 'multipart', limit: AGENT_SEND_LIMIT, valid: () => ({ message: '<messageML>updated</messageML>', silent: 'true' }),
  },
  { method: 'GET', pattern: '/agent/v4/stream/:sid/message', path: '/agent/v4/stream/{seedRoom}/message', auth: 'session', query: { since: '0', skip: '0', limit: '10' } },
  { method: 'GET', pattern: '/agent/v1/message/:id', path: '/agent/v1/message/{message}', auth: 'session' },
  { method: 'GET', pattern: '/agent/v1/stream/:sid/attachment', path: '/agent/v1/stream/{seedRoom}/attachment', auth: 'session', query: { fileId: '{agentFile}', messageId: '{agentMessage}' } },
  { method: 'POST', pattern: '/agent/v1/message/search', path: '/agent/v1/message/search', auth: 'session', query: { limit: '5', sortDir: 'ASC' }, valid: (ids) => ({ text: 'known', streamId: ids.seedRoom }) },
  { method: 'GET', pattern: '/agent/v1/message/search', path: '/agent/v1/message/search', auth: 'session', query: { query: 'text:known AND streamId:{seedRoom}' } },
  { method: 'GET', pattern: '/agent/v5/datafeeds', path: '/agent/v5/datafeeds', auth: 'session', query: { tag: 'fuzz' } },
  { method: 'POST', pattern: '/agent/v5/datafeeds', path: '/agent/v5/datafeeds', auth: 'session', valid: () => ({ tag: 'fuzz', includeInvisible: false }) },
  { method: 'DELETE', pattern: '/agent/v5/datafeeds/:id', path: '/agent/v5/datafeeds/{doomedV5}', auth: 'session' },
  { method: 'POST', pattern: '/agent/v5/datafeeds/:id/read', path: '/agent/v5/datafeeds/{v5}/read', auth: 'session', valid: () => ({ ackId: '', updatePresence: false }) },
  { method: 'POST', pattern: '/agent/v5/events/read', path: '/agent/v5/events/read', auth: 'session', valid: () => ({ type: 'datahose', tag: 'fuzz', eventTypes: ['MESSAGESENT'], ackId: '' }) },
  { method: 'POST', pattern: '/agent/v4/datafeed/create', path: '/agent/v4/datafeed/create', auth: 'session' },
  { method: 'GET', pattern: '/agent/v4/datafeed/:id/read', path: '/agent/v4/datafeed/{legacy}/read', auth: 'session' },
  // blobs.ts (streaming routes: the body is read by the handler, bounded by maxBlobBytes)
  {
    method: 'PUT', pattern: '/object/v1/blobs/:blobId', path: '/object/v1/blobs/{newBlob}', auth: 'api', body: 'bytes', limit: BLOB_LIMIT,
    valid: () => Buffer.concat([Buffer.from('ATB1'), randomBytes(100)]),
  },
  { method: 'GET', pattern: '/object/v1/blobs/:blobId', path: '/object/v1/blobs/{blob}', auth: 'api', limit: BLOB_LIMIT },
  { method: 'HEAD', pattern: '/object/v1/blobs/:blobId', path: '/object/v1/blobs/{blob}', auth: 'api', limit: BLOB_LIMIT },
  { method: 'DELETE', pattern: '/object/v1/blobs/:blobId', path: '/object/v1/blobs/{doomedBlob}', auth: 'api' },
];

/** The control API (control.ts): run alone, one request at a time, with fault rules cleared after each answer. */
const CONTROL_ROUTES: RouteCase[] = [
  { method: 'GET', pattern: '/sandbox/v1/faults', path: '/sandbox/v1/faults', auth: 'none' },
  {
    method: 'POST', pattern: '/sandbox/v1/faults', path: '/sandbox/v1/faults', auth: 'none',
    valid: () => ({ path: '/nothing/matches/*/this', method: 'GET', latencyMs: 1, status: 503, retryAfterSeconds: 1, drop: false, times: 1 }),
  },
  { method: 'DELETE', pattern: '/sandbox/v1/faults', path: '/sandbox/v1/faults', auth: 'none' },
  { method: 'POST', pattern: '/sandbox/v1/streams/:id/rotate', path: '/sandbox/v1/streams/{room}/rotate', auth: 'none' },
  { method: 'PUT', pattern: '/sandbox/v1/entitlements', path: '/sandbox/v1/entitlements', auth: 'none', valid: () => ({ objectStore: true }) },
  { method: 'POST', pattern: '/sandbox/v1/users', path: '/sandbox/v1/users', auth: 'none', valid: () => ({ username: 'fuzz-user', displayName: 'Fuzz User', type: 'NORMAL', profile: { title: 'Tester' } }) },
  {
    method: 'POST', pattern: '/sandbox/v1/streams/:id/forms', path: '/sandbox/v1/streams/{seedRoom}/forms', auth: 'none',
    valid: (ids) => ({ userId: uid(ids, 'alice'), formMessageId: ids.message, formId: 'f', formValues: { choice: 'a' } }),
  },
  { method: 'PUT', pattern: '/sandbox/v1/policies', path: '/sandbox/v1/policies', auth: 'none', valid: () => ({ imRequiresConnection: false }) },
  { method: 'PUT', pattern: '/sandbox/v1/users/:uid/entitlements', path: '/sandbox/v1/users/{bob}/entitlements', auth: 'none', valid: () => ({ canSendFiles: true }) },
  { method: 'POST', pattern: '/sandbox/v1/apps/:appId/disable', path: '/sandbox/v1/apps/sandbox-crm/disable', auth: 'none' },
  { method: 'POST', pattern: '/sandbox/v1/apps/:appId/enable', path: '/sandbox/v1/apps/sandbox-crm/enable', auth: 'none' },
  {
    method: 'PUT', pattern: '/sandbox/v1/apps/:appId/permissions', path: '/sandbox/v1/apps/sandbox-crm/permissions', auth: 'none',
    valid: () => ({ permissions: ['SEND_MESSAGES', 'GET_PRESENCE'] }),
  },
  { method: 'PUT', pattern: '/sandbox/v1/apps/:appId/callback', path: '/sandbox/v1/apps/sandbox-crm/callback', auth: 'none', valid: () => ({ url: 'http://127.0.0.1:9/cb', apiKey: 'k' }) },
  { method: 'DELETE', pattern: '/sandbox/v1/apps/:appId/callback', path: '/sandbox/v1/apps/sandbox-crm/callback', auth: 'none' },
  { method: 'POST', pattern: '/sandbox/v1/apps/:appId/uninstall', path: '/sandbox/v1/apps/sandbox-crm/uninstall', auth: 'none', valid: (ids) => ({ userIds: [uid(ids, 'bob')] }) },
  { method: 'POST', pattern: '/sandbox/v1/apps/:appId/install', path: '/sandbox/v1/apps/sandbox-crm/install', auth: 'none', valid: (ids) => ({ userIds: [uid(ids, 'bob')] }) },
  { method: 'POST', pattern: '/sandbox/v1/agent/register', path: '/sandbox/v1/agent/register', auth: 'none', valid: () => ({ url: 'https://agent.example/agent' }) },
  { method: 'GET', pattern: '/sandbox/v1/callbacks', path: '/sandbox/v1/callbacks', auth: 'none' },
];

function storedObject(ids: Ids): Record<string, unknown> {
  return { partitionHash: ids.partition, sortKey: 'key-2', threadId: ids.seedRoom, rotationId: 0, header: { kind: 'state' }, encryptedPayload: ids.payload };
}

/** Every field name a route reads: keys of the generated objects. */
const FIELDS = [
  'token', 'name', 'description', 'membersCanInvite', 'discoverable', 'public', 'readOnly', 'copyProtected', 'crossPod', 'viewHistory',
  'multiLateralRoom', 'id', 'userId', 'streamTypes', 'type', 'includeInactiveStreams', 'category', 'ackId', 'path', 'method', 'latencyMs',
  'status', 'retryAfterSeconds', 'drop', 'times', 'objectStore', 'username', 'displayName', 'publicKeyPem', 'version', 'threadId', 'text',
  'presentationML', 'entityJSON', 'msgFeatures', 'absoluteHash', 'partitionHash', 'baseHash', 'prevHash', 'sortKey', 'rotationId',
  'encryptedPayload', 'header', '_type', 'deletionType', 'partitionId', 'userPermissions', 'permissions', 'message', 'data', 'sids', 'silent',
  'attachment', 'preview', 'query', 'filters', 'tag', 'eventTypes', 'updatePresence', 'includeInvisible', 'streamId', 'hashtag', 'author',
  'formMessageId', 'formId', 'formValues', 'profile', 'url', 'apiKey', 'userIds', 'imRequiresConnection', 'canSendFiles', 'active', 'visibleOnProfile',
  'companyWide', 'followers', '__proto__', 'constructor',
];

/** JSON values of every type, for whole bodies and single fields. */
const WRONG_VALUES: unknown[] = [
  null, 0, -1, 1.5, 1e308, -0, 2 ** 53 + 2, true, false, '', 'x', '0', '-1', 'null', '\u0000', '\ud800', [], [null], [1, 'a', {}], {}, { a: { b: [] } },
];
const LEAF_WRONG: unknown[] = [null, 0, -1.5, 1e300, true, '', 'x', [], [[]], {}, { nested: { deeper: 1 } }];
const MALFORMED_JSON = [
  '{', '}', '[', '{"a":', '{"a" 1}', "{'a': 1}", '{"a":1}}', '[1,2', '[1,]', '{"a":1,}', 'nul', 'tru', 'NaN', 'Infinity', '-', '1e', '"abc',
  '"\\u12"', '\u0000', '\ufeff{}', '/* comment */ {}', '{"a":1} {"b":2}', '{"__proto__": {"polluted": true}}', `{"a":"${'\\'.repeat(5)}`,
  '\xff\xfe{\x00}', '1e999999', '-1e999999', '0x10', '{"token": undefined}',
];
const BAD_QUERY = ['', 'abc', '-1', '1.5', '1e400', '99999999999999999999999', '%00', '%E0%A4%A', '\u00e9', '[]', 'x'.repeat(4000)];
const BAD_IDS = [
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', randomBytes(24).toString('base64url'), '!!!', 'x'.repeat(300), '%00', '..', '-1',
  '99999999999999999999', '%C3%A9', '%E0%A4%A', 'a%2Fb',
];
const FORGED_TOKENS = ['', ' ', 'x', 'a.b.c', 'Bearer', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.', 'x'.repeat(3000)];

// ---------------------------------------------------------------------------------------------------------------
// Requests

interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer }
interface Send { method: string; path: string; body?: Buffer | string; contentType?: string; headers?: Record<string, string>; timeoutMs?: number }

let sandbox: RunningSandbox;
let agent: Agent;
let bot: Login;
let alice: Login;
const ids: Ids = {};
const errors: unknown[] = [];
/** 2xx answers by `METHOD pattern`, to account for what valid random input created. */
const successes = new Map<string, number>();
let requests = 0;

function send(s: Send): Promise<Answer> {
  const body = typeof s.body === 'string' ? Buffer.from(s.body, 'utf8') : s.body;
  const headers: Record<string, string> = { ...s.headers };
  if (s.contentType !== undefined) headers['content-type'] = s.contentType;
  if (body !== undefined) headers['content-length'] = String(body.length);
  requests++;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${sandbox.podUrl}${s.path}`, { method: s.method, agent, headers, timeout: s.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${s.timeoutMs ?? 10_000} ms: ${s.method} ${s.path.slice(0, 200)}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Throw unless the answer is a 2xx, or a 4xx with exactly {code: status, message}. */
function check(route: RouteCase | undefined, s: Send, a: Answer): void {
  const what = `${s.method} ${s.path.slice(0, 150)} with ${describeBody(s.body)}`;
  const text = a.body.toString('utf8');
  if (a.status >= 200 && a.status < 300) {
    if (route !== undefined) successes.set(`${route.method} ${route.pattern}`, (successes.get(`${route.method} ${route.pattern}`) ?? 0) + 1);
    if (a.status === 204) return;
    if (String(a.headers['content-type']).startsWith('application/json')) JSON.parse(text);
    return;
  }
  if (a.status < 400 || a.status >= 500) throw new Error(`${what}: status ${a.status}: ${text.slice(0, 300)}`);
  // A HEAD answer has no body (RFC 9110 §9.3.2): its head is all there is to check.
  if (s.method === 'HEAD') {
    if (a.body.length > 0) throw new Error(`${what}: a HEAD answer with a body`);
    return;
  }
  if (!String(a.headers['content-type']).startsWith('application/json')) throw new Error(`${what}: ${a.status} without a JSON body`);
  const json = JSON.parse(text) as Record<string, unknown>;
  // The Agent's V2Error may add details (the position of a MessageML error).
  const extra = Object.keys(json).filter((k) => k !== 'code' && k !== 'message');
  const detailsOk = extra.length === 0 || (extra.length === 1 && extra[0] === 'details' && typeof json.details === 'object' && json.details !== null);
  if (json.code !== a.status || typeof json.message !== 'string' || json.message.length === 0 || !detailsOk) {
    throw new Error(`${what}: ${a.status} body is not {code, message}: ${text.slice(0, 300)}`);
  }
}

function describeBody(body: Buffer | string | undefined): string {
  if (body === undefined) return 'no body';
  const text = body.toString();
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : JSON.stringify(text);
}

/** Requests sent per `METHOD pattern`. */
const sentTo = new Map<string, number>();

async function sendChecked(route: RouteCase | undefined, s: Send): Promise<Answer> {
  if (route !== undefined) sentTo.set(`${route.method} ${route.pattern}`, (sentTo.get(`${route.method} ${route.pattern}`) ?? 0) + 1);
  const a = await send(s);
  if (route !== undefined && CONTROL_ROUTES.includes(route)) sandbox.faults.clear();
  check(route, s, a);
  return a;
}

const fill = (template: string) => template.replace(/\{(\w+)\}/g, (_, name: string) => {
  const value = ids[name];
  if (value === undefined) throw new Error(`no id ${name}`);
  return value;
});

function url(route: RouteCase, overrides: { path?: string; query?: Record<string, string>; rawQuery?: string } = {}): string {
  const path = overrides.path ?? fill(route.path);
  const query = Object.entries(overrides.query ?? route.query ?? {}).map(([k, v]) => `${k}=${encodeURIComponent(fill(v))}`);
  if (overrides.rawQuery !== undefined) query.push(overrides.rawQuery);
  return query.length === 0 ? path : `${path}?${query.join('&')}`;
}

function authHeaders(route: RouteCase): Record<string, string> {
  switch (route.auth) {
    case 'none': return {};
    case 'session': return bot.headers;
    case 'km': return bot.kmHeaders;
    case 'datafeed': return { authorization: `Bearer ${ids.datafeedToken}` };
    case 'api': return { authorization: `Bearer ${ids.apiToken}` };
    case 'logout': return { sessionToken: ids.logoutSession! };
    case 'agent': return { ...bot.headers, ...bot.kmHeaders };
    case 'app': return { sessionToken: ids.appToken! };
  }
}

/** A body for the route from a value: JSON, or the messagepayload form field, or raw bytes. */
function encode(route: RouteCase, value: unknown): { body: Buffer; contentType: string } {
  if (route.body === 'form') return { body: Buffer.from(new URLSearchParams({ messagepayload: JSON.stringify(value) }).toString()), contentType: 'application/x-www-form-urlencoded' };
  if (route.body === 'bytes' && Buffer.isBuffer(value)) return { body: value, contentType: 'application/octet-stream' };
  if (route.body === 'multipart' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    // Each key a field: strings as they are, other values as JSON.
    const fields = Object.entries(value).map(([name, v]) => ({ name, value: typeof v === 'string' ? v : JSON.stringify(v) ?? 'null' }));
    return { body: multipartBody(fields, 'fuzz-boundary'), contentType: 'multipart/form-data; boundary=fuzz-boundary' };
  }
  return { body: Buffer.from(JSON.stringify(value) ?? 'null'), contentType: 'application/json' };
}

/** The valid body, encoded, or nothing for routes without one. */
function validBody(route: RouteCase): { body?: Buffer; contentType?: string } {
  return route.valid === undefined ? {} : encode(route, route.valid(ids));
}

/** Paths of the leaves of a JSON value. */
function leaves(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.length === 0 ? [at] : [at, ...value.flatMap((v, i) => leaves(v, [...at, i]))];
  if (typeof value === 'object' && value !== null) return [at, ...Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]))];
  return [at];
}

function replaceAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy: Record<string | number, unknown> = Array.isArray(value) ? [...value] as never : { ...(value as Record<string, unknown>) };
  copy[head!] = replaceAt(copy[head!], rest, replacement);
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------

function bodyArbitrary(route: RouteCase): fc.Arbitrary<{ body: Buffer; contentType?: string }> {
  const json = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
    fc.array(fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(ids.seedRoom), fc.constant(uid(ids, 'alice'))), { maxLength: 6 }),
  );
  const mutated = route.valid === undefined ? json : fc.tuple(fc.constant(route.valid(ids)), fc.array(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 3 }))
    .map(([valid, changes]) => {
      const paths = leaves(valid);
      return changes.reduce((v, [i, replacement]) => replaceAt(v, paths[i % paths.length]!, replacement), valid);
    });
  const contentType = fc.constantFrom('application/json', 'application/octet-stream', 'application/x-www-form-urlencoded', 'text/plain; charset=utf-16', undefined);
  return fc.oneof(
    fc.oneof(json, mutated).map((v) => encode(route, v)),
    fc.tuple(fc.uint8Array({ maxLength: 4096 }), contentType).map(([b, t]) => ({ body: Buffer.from(b), ...(t === undefined ? {} : { contentType: t }) })),
    fc.tuple(fc.string({ unit: 'binary', maxLength: 400 }), contentType).map(([s, t]) => ({ body: Buffer.from(s), ...(t === undefined ? {} : { contentType: t }) })),
    fc.dictionary(fc.constantFrom('messagepayload', 'token', 'threadId', 'x'), fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v) ?? '')))
      .map((form) => ({ body: Buffer.from(new URLSearchParams(form).toString()), contentType: 'application/x-www-form-urlencoded' })),
  );
}

/** Everything but the control-specific and method checks, for one route. */
async function fuzzRoute(route: RouteCase): Promise<void> {
  const headers = authHeaders(route);
  const path = url(route);
  const go = (s: Partial<Send>) => sendChecked(route, { method: route.method, path, headers, ...s });

  // Routes that read no body get a sample of the body cases (they must ignore it); the others get all of them.
  const reads = route.valid !== undefined;
  // Malformed JSON.
  for (const raw of reads ? MALFORMED_JSON : MALFORMED_JSON.slice(0, 4)) {
    await go({ body: raw, contentType: 'application/json' });
    if (route.body === 'form') await go({ ...encode(route, 0), body: `messagepayload=${encodeURIComponent(raw)}` });
  }
  // JSON of every type as the whole body; objects with every field of one wrong type, flat and nested; then valid
  // bodies with one leaf (or subtree) at a time replaced by a wrong type.
  for (const value of reads ? WRONG_VALUES : WRONG_VALUES.slice(0, 4)) await go(encode(route, value));
  if (reads) {
    for (const value of WRONG_VALUES) await go(encode(route, Object.fromEntries(FIELDS.map((f) => [f, value]))));
    for (const value of LEAF_WRONG) await go(encode(route, Object.fromEntries(FIELDS.map((f) => [f, { [f]: value, nested: [value] }]))));
    const valid = route.valid!(ids);
    if (!Buffer.isBuffer(valid)) {
      for (const at of leaves(valid).filter((p) => p.length > 0)) {
        for (const value of LEAF_WRONG) await go(encode(route, replaceAt(valid, at, value)));
        await go(encode(route, replaceAt(valid, at, 'x'.repeat(100_000))));
      }
    }
  }
  // Huge strings and deep nesting, under the 1 MiB limit.
  if (reads) {
    await go(encode(route, Object.fromEntries(FIELDS.map((f) => [f, 'é'.repeat(5000)]))));
    await go(encode(route, 'x'.repeat(900_000)));
    await go({ body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, contentType: 'application/json' });
    await go({ body: `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, contentType: 'application/json' });
  }
  // Random bodies and bytes: enough to make up CASES_PER_ROUTE with the cases after them (about 30).
  const sofar = sentTo.get(`${route.method} ${route.pattern}`) ?? 0;
  await fc.assert(fc.asyncProperty(bodyArbitrary(route), async (b) => { await go(b); }), { numRuns: Math.max(15, CASES_PER_ROUTE - sofar) });
  // Wrong query values, one parameter at a time (raw, not encoded), and unknown or repeated parameters.
  const valid = validBody(route);
  for (const name of Object.keys(route.query ?? {})) {
    const others = Object.fromEntries(Object.entries(route.query!).filter(([k]) => k !== name));
    for (const bad of BAD_QUERY) await go({ ...valid, path: url(route, { query: others, rawQuery: `${name}=${bad}` }) });
    await go({ ...valid, path: url(route, { rawQuery: `${name}=1&${name}=abc` }) });
  }
  await go({ ...valid, path: url(route, { rawQuery: 'unknown=%ZZ&=&&a' }) });
  // Unknown and malformed ids in each path parameter.
  const segments = route.path.split('/');
  for (const [i, segment] of segments.entries()) {
    if (!/^\{\w+\}$/.test(segment) && !(route.pattern.split('/')[i] ?? '').startsWith(':')) continue;
    for (const bad of BAD_IDS) {
      const badPath = segments.map((s, j) => (j === i ? bad : s)).join('/');
      await go({ ...valid, path: url(route, { path: fill(badPath) }) });
    }
  }
  // Missing and forged credentials: 401.
  if (route.auth !== 'none') {
    const refused = async (h: Record<string, string>) => {
      const a = await go({ ...valid, headers: h });
      if (a.status !== 401) throw new Error(`${route.method} ${route.pattern} with ${JSON.stringify(h).slice(0, 100)}: ${a.status}, expected 401`);
    };
    await refused({});
    for (const token of FORGED_TOKENS) {
      await refused({ sessionToken: token, keyManagerToken: token, authorization: `Bearer ${token}` });
    }
    await refused({ cookie: 'skey; kmsession=; =x; skey==' });
    // A token of another kind does not open the route.
    const wrongKind: Record<Auth, Record<string, string>> = {
      none: {}, logout: bot.kmHeaders, session: { sessionToken: bot.km }, km: { keyManagerToken: bot.session },
      datafeed: { authorization: `Bearer ${bot.km}` }, api: { authorization: `Bearer ${ids.datafeedToken}` },
      agent: { sessionToken: bot.km, keyManagerToken: bot.session },
      app: { sessionToken: bot.session },
    };
    await refused(wrongKind[route.auth]);
  }
  // A body over the 1 MiB default limit.
  if (route.limit === undefined) {
    if (route.method === 'HEAD' || route.method === 'GET') await go({ body: Buffer.alloc(16), contentType: 'application/json' });
    const a = await go({ body: Buffer.alloc(Math.round(1.1 * 1024 * 1024), 0x7b), contentType: 'application/json' });
    if (a.status !== 413) throw new Error(`${route.method} ${route.pattern}: ${a.status} for 1.1 MiB, expected 413`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface Counts { users: number; streams: number; messages: number; feeds: number; attachments: number }
let before: Counts;
let knownMessage: unknown;
let seedRoomInfo: unknown;
let knownBlob: Buffer;
let knownObject: unknown;
const counts = (): Counts => ({
  users: sandbox.store.counts().users, streams: sandbox.store.counts().streams, messages: sandbox.store.counts().messages,
  feeds: sandbox.store.counts().feeds, attachments: sandbox.store.counts().attachments,
});
const ok = (key: string) => successes.get(key) ?? 0;

// Started while the tests are collected: the routes to fuzz are the ones its router registered.
sandbox = await startSandbox({
  control: true,
  config: { datafeedWaitMs: 20, maxFeedsPerUser: 50 },
  onError: (error) => errors.push(error),
});

beforeAll(async () => {
  // The server closes a keep-alive connection idle for 5 s (idleTimeoutMs); the client drops its idle sockets after
  // 2 s, so that no request is written into a connection the server is closing at that moment (ECONNRESET).
  agent = new Agent({ ca: readFileSync(sandbox.caCertPath, 'utf8'), keepAlive: true, maxSockets: 16, timeout: 2_000 });
  [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
  const bob = sandbox.identities.get('bob')!;
  Object.assign(ids, { bot: String(bot.userId), alice: String(alice.userId), bob: String(bob.userId) });
  ids.jwt = await signJwtRs512(new RsaPrivateKey(readFileSync(sandbox.identities.get('alice')!.privateKeyPath!, 'utf8')), { sub: 'alice' });
  ids.logoutSession = (await login(sandbox, 'bob')).session;
  ids.appJwt = await signJwtRs512(new RsaPrivateKey(readFileSync(sandbox.apps.get('sandbox-crm')!.privateKeyPath!, 'utf8')), { sub: 'sandbox-crm' });
  ids.appToken = (await call(sandbox, 'POST', '/login/pubkey/app/authenticate', { json: { token: ids.appJwt } })).json.token;

  const streams = await call(sandbox, 'POST', '/pod/v1/streams/list', { headers: bot.headers, json: {} });
  ids.seedRoom = streams.json.find((s: { streamType: { type: string } }) => s.streamType.type === 'ROOM').id;
  ids.im = streams.json.find((s: { streamType: { type: string } }) => s.streamType.type === 'IM').id;
  const room = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'fuzz room' } });
  ids.room = room.json.roomSystemInfo.id;
  await call(sandbox, 'POST', `/pod/v1/room/${ids.room}/membership/add`, { headers: bot.headers, json: { id: alice.userId } });

  ids.signal = (await call(sandbox, 'POST', '/agent/v1/signals/create', { headers: bot.headers, json: { name: 'fuzz', query: 'hashtag:fuzz' } })).json.id;
  ids.doomedSignal = (await call(sandbox, 'POST', '/agent/v1/signals/create', { headers: bot.headers, json: { name: 'doomed', query: 'hashtag:doomed' } })).json.id;
  const tokens = await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: bot.headers });
  ids.datafeedToken = tokens.json.find((t: { service: string }) => t.service === 'datafeed2').token;
  ids.apiToken = (await call(sandbox, 'POST', '/login/idm/tokens', { headers: bot.headers })).json.access_token;
  const feedHeaders = { authorization: `Bearer ${ids.datafeedToken}` };
  ids.feed = (await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json.id;
  ids.doomedFeed = (await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: feedHeaders })).json.id;

  // A message and an attachment in the seeded room, encrypted with its content key.
  const { accountKey: ak } = await accountKey(sandbox, bot);
  const ck = await contentKey(sandbox, bot, ak, ids.seedRoom!, 0) as AesKey;
  ids.ciphertext = await encryptText(ck, 'a known message', { rotationId: 0 });
  const sent = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', {
    headers: bot.headers, form: { messagepayload: JSON.stringify({ threadId: ids.seedRoom, text: ids.ciphertext }) },
  });
  ids.message = sent.json.messageId;
  ids.attachment = Buffer.from(await encryptTransport(ck, new Uint8Array(64).fill(1), { rotationId: 0 })).toString('base64');
  ids.file = (await call(sandbox, 'POST', `/webcontroller/ingestor/v1/attachments?threadId=${ids.seedRoom}`, { headers: bot.headers, bytes: Buffer.from(ids.attachment, 'base64') })).json.fileId;

  // The Agent: a message with an attachment, a message to suppress, v5 feeds to read and delete, a legacy feed.
  const agentHeaders = { ...bot.headers, ...bot.kmHeaders };
  const agentSent = await call(sandbox, 'POST', `/agent/v4/stream/${ids.seedRoom}/message/create`, {
    headers: agentHeaders, multipart: [{ name: 'message', value: '<messageML>known agent message</messageML>' }, { name: 'attachment', value: Buffer.from('file'), filename: 'f.txt' }],
  });
  ids.agentMessage = agentSent.json.messageId;
  ids.agentFile = agentSent.json.attachments[0].id;
  ids.doomedMessage = (await call(sandbox, 'POST', `/agent/v4/stream/${ids.seedRoom}/message/create`, { headers: agentHeaders, multipart: [{ name: 'message', value: '<messageML>doomed</messageML>' }] })).json.messageId;
  ids.v5 = (await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bot.headers, json: {} })).json.id;
  ids.doomedV5 = (await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bot.headers, json: {} })).json.id;
  ids.legacy = (await call(sandbox, 'POST', '/agent/v4/datafeed/create', { headers: bot.headers })).json.id;

  // Object Store: a partition and an object in it.
  const api = { authorization: `Bearer ${ids.apiToken}` };
  ids.partition = (await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: api, json: { partitionId: { name: 'fuzz', userId: bot.userId } } })).json.hash;
  ids.payload = randomBytes(64).toString('base64');
  ids.object = randomBytes(34).toString('base64url');
  ids.newHash = randomBytes(34).toString('base64url');
  const put = await call(sandbox, 'PUT', `/object/v1/objects/${ids.object}`, { headers: api, json: { ...storedObject(ids), sortKey: 'key-1' } });
  expect(put.status).toBe(200);
  // Blobs: one to read (its bytes checked afterwards), one to delete, and an id to upload to.
  ids.blob = randomBytes(18).toString('base64url');
  ids.doomedBlob = randomBytes(18).toString('base64url');
  ids.newBlob = randomBytes(18).toString('base64url');
  knownBlob = Buffer.concat([Buffer.from('ATB1'), randomBytes(5000)]);
  expect((await call(sandbox, 'PUT', `/object/v1/blobs/${ids.blob}`, { headers: api, bytes: knownBlob })).status).toBe(201);
  expect((await call(sandbox, 'PUT', `/object/v1/blobs/${ids.doomedBlob}`, { headers: api, bytes: knownBlob })).status).toBe(201);
  knownObject = (await call(sandbox, 'GET', `/object/v1/objects/${ids.object}`, { headers: api })).json;
  // Object Store feeds on that partition: one to read, one to delete.
  const feedOf = async (name: string) => (await call(sandbox, 'POST', '/object/v1/feeds/upsert', { headers: api, json: { feedId: { name }, partitionSelections: [{ partitionHash: ids.partition }] } })).json.hash;
  ids.objectFeed = await feedOf('fuzz-read');
  ids.doomedObjectFeed = await feedOf('fuzz-doomed');

  before = counts();
  knownMessage = (await call(sandbox, 'GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${encodeURIComponent(ids.message!)}`, { headers: alice.headers })).json;
  seedRoomInfo = (await call(sandbox, 'GET', `/pod/v3/room/${ids.seedRoom}/info`, { headers: alice.headers })).json;
  expect(knownMessage).toMatchObject({ text: ids.ciphertext });
});
afterAll(async () => {
  agent?.destroy();
  await sandbox?.close();
});

const HINTS = [...ROUTES, ...CONTROL_ROUTES];
const hintOf = (r: RouteInfo): RouteCase | undefined => HINTS.find((h) => h.method === r.method && h.pattern === r.pattern);
const isControl = (r: RouteInfo) => r.pattern.startsWith('/sandbox/');

describe('the route list', () => {
  it('is the server\'s own registration, and every route in it has fuzz hints (and no hint names a route that is gone)', () => {
    expect(sandbox.routes.length).toBeGreaterThan(55);
    expect(sandbox.routes.filter((r) => hintOf(r) === undefined).map((r) => `${r.method} ${r.pattern}`)).toEqual([]);
    const registered = new Set(sandbox.routes.map((r) => `${r.method} ${r.pattern}`));
    expect(HINTS.map((h) => `${h.method} ${h.pattern}`).filter((h) => !registered.has(h))).toEqual([]);
    expect(new Set(HINTS.map((h) => `${h.method} ${h.pattern}`)).size).toBe(HINTS.length);
  });
});

describe.concurrent('bad input to each route gets a 4xx {code, message}, never a 5xx or a hang', () => {
  for (const info of sandbox.routes.filter((r) => !isControl(r))) {
    it(`${info.method} ${info.pattern}`, async () => {
      const route = hintOf(info);
      if (route === undefined) throw new Error(`no fuzz hints for ${info.method} ${info.pattern}: add them to ROUTES`);
      await fuzzRoute(route);
      expect(sentTo.get(`${info.method} ${info.pattern}`)).toBeGreaterThanOrEqual(CASES_PER_ROUTE);
    }, SLOW ? 600_000 : 120_000);
  }
});

describe('bad input to the control API (one request at a time, faults cleared after each)', () => {
  for (const info of sandbox.routes.filter(isControl)) {
    it(`${info.method} ${info.pattern}`, async () => {
      const route = hintOf(info);
      if (route === undefined) throw new Error(`no fuzz hints for ${info.method} ${info.pattern}: add them to CONTROL_ROUTES`);
      await fuzzRoute(route);
      sandbox.faults.clear();
      expect(sentTo.get(`${info.method} ${info.pattern}`)).toBeGreaterThanOrEqual(CASES_PER_ROUTE);
    }, SLOW ? 600_000 : 120_000);
  }
  it('leaves the Object Store entitlement as it was', async () => {
    await sandbox.admin.setObjectStoreEntitlement(true);
    expect(sandbox.faults.list()).toEqual([]);
  });
});

describe('wrong methods and unknown paths', () => {
  it('answers 405 with an Allow header for every method a path does not serve', async () => {
    const all = [...ROUTES, ...CONTROL_ROUTES];
    // The methods served at a concrete path: every route whose pattern matches it (`/objects/transaction` is also
    // an `/objects/:hash`, so GET there is a 404 from the object route, not a 405).
    const served = (path: string) => new Set(all.filter((r) => {
      const want = r.pattern.split('/');
      const got = path.split('/');
      return want.length === got.length && want.every((w, i) => w.startsWith(':') || w === got[i]);
    }).map((r) => r.method));
    const checks: Array<Promise<void>> = [];
    for (const route of all) {
      const path = fill(route.path);
      const methods = served(path);
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']) {
        if (methods.has(method)) continue;
        checks.push((async () => {
          const a = await sendChecked(undefined, { method, path: url(route), headers: authHeaders(route), ...validBody(route) });
          expect(a.status, `${method} ${route.pattern}`).toBe(405);
          expect(String(a.headers.allow).split(', ').sort()).toEqual([...new Set(methods)].sort());
        })());
      }
    }
    expect(checks.length).toBeGreaterThan(250);
    await Promise.all(checks);
  });

  it('answers 404 for unknown paths, whatever the method and body', async () => {
    const paths = [
      '/', '/pod', '/pod/', '/pod/v9/sessioninfo', '/pod/v2/sessioninfo/extra', '/POD/v2/sessioninfo', '/pod/v3/room/%E0%A4%A/info',
      '/pod/v3/room//info', '/%', '/..', '/pod/../etc/passwd', `/pod/${'x'.repeat(8000)}`, '/sandbox/v1', '/datafeed2/api/v1/feeds/a/b/c',
      '/object/v1/partitions/a/b/c', '/relay/keys', '/agent/v6/datafeeds', '/agent/v5/datafeeds/a/b/c',
    ];
    for (const path of paths) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const a = await sendChecked(undefined, { method, path, headers: bot.headers, body: '{"a":1}', contentType: 'application/json' });
        expect(a.status, `${method} ${path}`).toBe(404);
      }
    }
  });

  it('answers an over-long request line with 431 and a JSON body, and keeps serving', async () => {
    const a = await send({ method: 'GET', path: `/pod/v3/users?uid=${'1'.repeat(20_000)}`, headers: bot.headers });
    expect(a.status).toBe(431);
    expect(JSON.parse(a.body.toString('utf8'))).toEqual({ code: 431, message: expect.any(String) });
    const after = await send({ method: 'GET', path: '/pod/v2/sessioninfo', headers: bot.headers });
    expect(after.status).toBe(200);
  });

  it('answers 413 to an oversized body sent without Content-Length (chunked), and keeps serving', async () => {
    const a = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${sandbox.podUrl}/pod/v3/room/create`, { method: 'POST', agent, headers: { ...bot.headers, 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('no answer')));
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 20; i++) req.write(chunk);
      req.end();
    });
    expect(a).toBe(413);
    expect((await send({ method: 'GET', path: '/pod/v2/sessioninfo', headers: bot.headers })).status).toBe(200);
  });
});

describe('afterwards', () => {
  it('still serves, with its data intact, and reported no internal error', async () => {
    expect(errors).toEqual([]);
    expect(requests).toBeGreaterThan(3000);
    // Still serving: login, session, datafeed, keys.
    const again = await login(sandbox, 'alice');
    expect((await call(sandbox, 'GET', '/pod/v2/sessioninfo', { headers: again.headers })).json.username).toBe('alice');
    const read = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${ids.feed}/events`, { headers: { authorization: `Bearer ${ids.datafeedToken}` }, json: {} });
    expect(read.status).toBe(200);
    const { accountKey: ak } = await accountKey(sandbox, again);
    expect(await contentKey(sandbox, again, ak, ids.seedRoom!, 0)).toBeInstanceOf(AesKey);

    // The known message and the seeded room are unchanged.
    expect((await call(sandbox, 'GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${encodeURIComponent(ids.message!)}`, { headers: again.headers })).json).toEqual(knownMessage);
    expect((await call(sandbox, 'GET', `/pod/v3/room/${ids.seedRoom}/info`, { headers: again.headers })).json).toEqual(seedRoomInfo);
    // So are the Object Store object and the blob stored before.
    const api = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: again.headers })).json.access_token}` };
    expect((await call(sandbox, 'GET', `/object/v1/objects/${ids.object}`, { headers: api })).json).toEqual(knownObject);
    expect((await call(sandbox, 'GET', `/object/v1/blobs/${ids.blob}`, { headers: api })).body.equals(knownBlob)).toBe(true);

    // Counts changed only by what valid random input created.
    const after = counts();
    const createdUsers = ok('POST /sandbox/v1/users');
    expect(after.users).toBe(before.users + createdUsers);
    // Messages: native posts, Agent creates and updates one each, a blast at most one (its only valid stream is the room).
    const sent = ok('POST /webcontroller/ingestor/v2/MessageService') + ok('POST /agent/v4/stream/:sid/message/create') + ok('POST /agent/v4/stream/:sid/message/:mid/update');
    expect(after.messages).toBeGreaterThanOrEqual(before.messages + sent);
    expect(after.messages).toBeLessThanOrEqual(before.messages + sent + ok('POST /agent/v4/message/blast'));
    expect(after.attachments).toBe(before.attachments + ok('POST /webcontroller/ingestor/v1/attachments'));
    // Feeds: a v5 create with a live feed's tag and a datahose read of a live feed create none.
    const deleted = ok('DELETE /datafeed2/api/v1/feeds/:feedId') + ok('DELETE /agent/v5/datafeeds/:id');
    const created = ok('POST /datafeed2/api/v1/feeds') + ok('POST /agent/v4/datafeed/create');
    expect(after.feeds).toBeGreaterThanOrEqual(before.feeds + created - deleted);
    expect(after.feeds).toBeLessThanOrEqual(before.feeds + created - deleted + ok('POST /agent/v5/datafeeds') + ok('POST /agent/v5/events/read'));
    expect(ok('DELETE /datafeed2/api/v1/feeds/:feedId')).toBeLessThanOrEqual(1);
    expect(ok('DELETE /agent/v5/datafeeds/:id')).toBeLessThanOrEqual(1);
    // The known Agent message still reads, decrypted.
    expect((await call(sandbox, 'GET', `/agent/v1/message/${ids.agentMessage}`, { headers: again.headers })).json.message).toContain('known agent message');
    expect(after.streams).toBeGreaterThanOrEqual(before.streams + createdUsers + ok('POST /pod/v3/room/create'));
    expect(after.streams).toBeLessThanOrEqual(before.streams + createdUsers + ok('POST /pod/v3/room/create') + ok('POST /pod/v1/im/create'));

    // The database is consistent: SQLite's integrity check passes and no row names a missing one (members, messages,
    // feeds, events, objects).
    expect(sandbox.store.check()).toEqual([]);
  });
});
