/**
 * The public API, pinned: the values each entry point exports (checked when vitest runs this file) and the types
 * and signatures a consumer compiles against (checked by `npm run typecheck`, which compiles test/ too: an
 * `expectTypeOf` that does not hold, or a `@ts-expect-error` that sees no error, fails the type check). A change
 * here is a change of the public API: docs/errors.md, README "Entry points" and the changelog follow it.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as crypto from '../../src/crypto/index.js';
import * as errors from '../../src/errors.js';
import * as root from '../../src/index.js';
import * as obo from '../../src/obo/index.js';
import * as sandbox from '../../src/sandbox/index.js';
import type {
  AbortedError,
  AnyAllegroError,
  AppNotInstalledError,
  AuthenticationError,
  ContentKeyUnavailableError,
  DecryptionFailedError,
  EntitlementError,
  ErrorCode,
  HttpStatusError,
  HttpStatusErrorCode,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidTokenError,
  KeyIdMismatchError,
  MalformedCiphertextError,
  MalformedResponseError,
  NetworkError,
  PermissionDeniedError,
  TimeoutError,
  UnsupportedModeError,
  UnsupportedOperationError,
  UnsupportedVersionError,
} from '../../src/errors.js';

const ERROR_CLASSES = [
  'AbortedError', 'AllegroError', 'AppNotInstalledError', 'AuthenticationError', 'ContentKeyUnavailableError', 'DecryptionFailedError',
  'EntitlementError', 'HttpStatusError', 'InvalidArgumentError', 'InvalidConfigError', 'InvalidTokenError',
  'KeyIdMismatchError', 'MalformedCiphertextError', 'MalformedResponseError', 'NetworkError', 'PermissionDeniedError', 'TimeoutError',
  'UnsupportedModeError', 'UnsupportedOperationError', 'UnsupportedVersionError',
];
const ERROR_VALUES = ['OBJECT_STORE_DISABLED_MESSAGE', 'RETRY_TABLE', 'retryWhenOf'];
const CRYPTO_VALUES = [
  'AES_KEY_LENGTH', 'AesKey', 'DEFAULT_JWT_LIFETIME_SECONDS', 'DEFAULT_MAX_TRANSPORT_LENGTH', 'ENTITY_V1_PREFIX',
  'ENTITY_V2_PREFIX', 'EncryptionMode', 'GCM_TAG_LENGTH', 'LEGACY_WRAPPED_KEY_LENGTH', 'MAX_JWT_LIFETIME_SECONDS',
  'READABLE_TRANSPORT_VERSIONS', 'RsaPrivateKey', 'RsaPublicKey', 'TYPEAHEAD_PREFIX_LENGTHS', 'TransportSizes',
  'aeadBackendNames', 'decryptEntity', 'decryptText', 'decryptTransport', 'encryptEntityV1', 'encryptEntityV2',
  'encryptText', 'encryptTransport', 'entityTypeaheadPrefix', 'generateRsaKeyPair', 'getAeadBackend', 'hashedTokens',
  'hashedTokensWithSalt', 'parseTransport', 'plainTokens', 'serializeTransport', 'signJwtRs512', 'tokenize',
  'transportFromBase64', 'unwrapKey', 'unwrapLegacyKey', 'verifyJwtRs512', 'wrapLegacyKey',
];

const sorted = (names: readonly string[]) => [...names].sort();

describe('entry point values', () => {
  it('allegro-ts/errors: the error classes, the classification table and the Object Store message', () => {
    expect(sorted(Object.keys(errors))).toEqual(sorted([...ERROR_CLASSES, ...ERROR_VALUES]));
  });

  it('allegro-ts/crypto: the crypto core', () => {
    expect(sorted(Object.keys(crypto))).toEqual(sorted(CRYPTO_VALUES));
  });

  it('allegro-ts: the client, its configuration, Secret, MessageML, the SocialMessage codec, the crypto core and the errors', () => {
    const messageMl = ['InvalidMessageMlError', 'isMessageMlDocument', 'MAX_MESSAGEML_DEPTH', 'MAX_MESSAGEML_LENGTH', 'parseMessageMl'];
    const codec = ['encodeMessage', 'decodeMessage'];
    expect(sorted(Object.keys(root))).toEqual(sorted(['AllegroClient', 'loadConfig', 'resolveConfig', 'clientConfigFor', 'toConfigYaml', 'Secret', ...messageMl, ...codec, ...CRYPTO_VALUES, ...ERROR_CLASSES, ...ERROR_VALUES]));
  });

  it('allegro-ts/obo: the app, its configuration, the partner callback and its registry, click-to-chat links, the permissions', () => {
    expect(sorted(Object.keys(obo))).toEqual(sorted([
      'OboApp', 'loadAppConfig', 'resolveAppConfig', 'createPartnerCallbackHandler', 'DEFAULT_MAX_CALLBACK_BYTES', 'parsePartnerEvent',
      'TenantRegistry', 'symphonyUri', 'OBO_PERMISSIONS', 'isOboPermission',
    ]));
  });

  it('allegro-ts/sandbox: startSandbox and the default seed', () => {
    expect(sorted(Object.keys(sandbox))).toEqual(['DEFAULT_SEED', 'startSandbox']);
  });
});

describe('AnyAllegroError', () => {
  it('covers every error code, and each class has exactly its own codes', () => {
    expectTypeOf<AnyAllegroError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<InvalidArgumentError['code']>().toEqualTypeOf<'INVALID_ARGUMENT'>();
    expectTypeOf<DecryptionFailedError['code']>().toEqualTypeOf<'DECRYPTION_FAILED'>();
    expectTypeOf<UnsupportedVersionError['code']>().toEqualTypeOf<'UNSUPPORTED_VERSION'>();
    expectTypeOf<UnsupportedModeError['code']>().toEqualTypeOf<'UNSUPPORTED_MODE'>();
    expectTypeOf<MalformedCiphertextError['code']>().toEqualTypeOf<'MALFORMED_CIPHERTEXT'>();
    expectTypeOf<KeyIdMismatchError['code']>().toEqualTypeOf<'KEY_ID_MISMATCH'>();
    expectTypeOf<InvalidTokenError['code']>().toEqualTypeOf<'INVALID_TOKEN'>();
    expectTypeOf<InvalidConfigError['code']>().toEqualTypeOf<'INVALID_CONFIG'>();
    expectTypeOf<AuthenticationError['code']>().toEqualTypeOf<'AUTHENTICATION_FAILED'>();
    expectTypeOf<HttpStatusError['code']>().toEqualTypeOf<HttpStatusErrorCode>();
    expectTypeOf<NetworkError['code']>().toEqualTypeOf<'NETWORK_ERROR'>();
    expectTypeOf<MalformedResponseError['code']>().toEqualTypeOf<'MALFORMED_RESPONSE'>();
    expectTypeOf<TimeoutError['code']>().toEqualTypeOf<'TIMEOUT'>();
    expectTypeOf<AbortedError['code']>().toEqualTypeOf<'ABORTED'>();
    expectTypeOf<ContentKeyUnavailableError['code']>().toEqualTypeOf<'CONTENT_KEY_UNAVAILABLE'>();
    expectTypeOf<EntitlementError['code']>().toEqualTypeOf<'ENTITLEMENT_DISABLED'>();
    expectTypeOf<UnsupportedOperationError['code']>().toEqualTypeOf<'UNSUPPORTED_OPERATION'>();
    expectTypeOf<PermissionDeniedError['code']>().toEqualTypeOf<'OBO_PERMISSION_DENIED'>();
    expectTypeOf<AppNotInstalledError['code']>().toEqualTypeOf<'APP_NOT_INSTALLED'>();
  });

  it('narrows on code to the subclass and its fields', () => {
    const fields = (err: AnyAllegroError): unknown => {
      switch (err.code) {
        case 'INVALID_ARGUMENT':
          expectTypeOf(err).toEqualTypeOf<InvalidArgumentError>();
          return err.parameter;
        case 'NOT_FOUND':
        case 'RATE_LIMITED':
          expectTypeOf(err).toEqualTypeOf<HttpStatusError>();
          return [err.status, err.retryAfterMs];
        case 'INVALID_TOKEN':
          expectTypeOf(err.reason).toEqualTypeOf<errors.InvalidTokenReason>();
          return err.reason;
        case 'CONTENT_KEY_UNAVAILABLE':
          expectTypeOf(err).toEqualTypeOf<ContentKeyUnavailableError>();
          return [err.threadId, err.rotationId, err.reason];
        case 'UNSUPPORTED_OPERATION':
          expectTypeOf(err.platform).toEqualTypeOf<'node' | 'portable'>();
          return err.operation;
        case 'OBO_PERMISSION_DENIED':
          expectTypeOf(err.permission).toEqualTypeOf<errors.OboPermission>();
          return err.permission;
        case 'APP_NOT_INSTALLED':
          expectTypeOf(err.user).toEqualTypeOf<number | string>();
          return [err.appId, err.user];
        case 'DECRYPTION_FAILED':
          // @ts-expect-error DecryptionFailedError says nothing more than its code.
          return err.parameter;
        default:
          return err.message;
      }
    };
    expect(fields(new errors.InvalidArgumentError('key', 'a key', 'nothing'))).toBe('key');
    expect(fields(new errors.HttpStatusError(404, 'GET /x'))).toEqual([404, undefined]);
    expect(fields(new errors.UnsupportedOperationError('reading a file', 'portable', 'give the content'))).toBe('reading a file');
    expect(fields(new errors.PermissionDeniedError('GET_PRESENCE', 'GET /pod/v2/user/presence'))).toBe('GET_PRESENCE');
    expect(fields(new errors.AppNotInstalledError('crm', 'bob', 'POST /x'))).toEqual(['crm', 'bob']);
  });
});

describe('signatures', () => {
  it('of the crypto core', () => {
    expectTypeOf(crypto.encryptTransport).toEqualTypeOf<(key: crypto.AesKey, plaintext: Uint8Array, options: crypto.EncryptOptions) => Promise<Uint8Array>>();
    expectTypeOf(crypto.decryptTransport).toEqualTypeOf<(key: crypto.TransportKey, transport: Uint8Array, options?: crypto.DecryptOptions) => Promise<Uint8Array>>();
    expectTypeOf(crypto.decryptText).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf(crypto.unwrapKey).toEqualTypeOf<(privateKey: crypto.RsaPrivateKey, wrapped: Uint8Array, padding: crypto.RsaPadding, expectedLength?: number) => Promise<Uint8Array>>();
    expectTypeOf(crypto.signJwtRs512).toEqualTypeOf<(privateKey: crypto.RsaPrivateKey, claims: crypto.JwtSignClaims, now?: number) => Promise<string>>();
    expectTypeOf(crypto.verifyJwtRs512).toEqualTypeOf<(publicKey: crypto.RsaPublicKey, token: string, options?: crypto.JwtVerifyOptions) => Promise<crypto.JwtClaims>>();
    expectTypeOf<crypto.RsaPublicKey['wrap']>().toEqualTypeOf<(key: Uint8Array, padding: crypto.RsaPadding) => Promise<Uint8Array>>();
    expectTypeOf(crypto.generateRsaKeyPair).returns.toEqualTypeOf<Promise<crypto.RsaKeyPairPem>>();
    expectTypeOf<crypto.RsaPadding>().toEqualTypeOf<'oaep-sha1' | 'oaep-sha256' | 'pkcs1-v1_5'>();
    // An AesKey is what every AEAD backend works with.
    expectTypeOf<crypto.AesKey>().toMatchTypeOf<crypto.AeadKey>();
    expectTypeOf<crypto.AeadBackend['seal']>().parameter(0).toEqualTypeOf<crypto.AeadKey>();
  });

  it('of the client and what it hands out', () => {
    expectTypeOf(root.AllegroClient.create).toEqualTypeOf<(config: string | root.AllegroConfigInput | root.AllegroConfig) => Promise<root.AllegroClient>>();
    expectTypeOf<root.AllegroClient['session']>().toEqualTypeOf<root.Session>();
    expectTypeOf<root.AllegroClient['keys']>().toEqualTypeOf<root.KeyStore>();
    expectTypeOf<root.AllegroClient['pod']>().toEqualTypeOf<root.PodClient>();
    expectTypeOf<root.AllegroClient['objects']>().toEqualTypeOf<root.ObjectStoreClient>();
    expectTypeOf<root.AllegroClient['datafeed']>().toEqualTypeOf<(options?: root.DatafeedOptions) => root.Datafeed>();
    expectTypeOf<root.Session['token']>().parameter(0).toEqualTypeOf<root.SessionTarget>();
    expectTypeOf<root.ObjectStoreClient['get']>().returns.resolves.toEqualTypeOf<root.StoredObject>();
    expectTypeOf<root.StoredObject>().toMatchTypeOf<root.ObjectRef>();
    expectTypeOf(root.resolveConfig).toEqualTypeOf<(input: root.AllegroConfigInput, baseDir?: string) => Promise<root.AllegroConfig>>();
    expectTypeOf(root.loadConfig).toEqualTypeOf<(path: string, env?: Record<string, string | undefined>) => Promise<root.AllegroConfig>>();
    expectTypeOf(root.clientConfigFor).toEqualTypeOf<(endpoints: root.ConfigEndpoints, identity?: root.ConfigIdentity, options?: { trustStorePath?: string; app?: root.ConfigApp }) => root.AllegroConfigInput>();
    expectTypeOf(root.toConfigYaml).toEqualTypeOf<(config: root.AllegroConfigInput) => string>();
    expectTypeOf<root.AllegroConfig['app']>().toEqualTypeOf<root.AppIdentity | undefined>();
    expectTypeOf(root.encodeMessage).toEqualTypeOf<(messageMl: string, ctx: root.EncodeContext) => Promise<Record<string, unknown>>>();
    expectTypeOf(root.decodeMessage).toEqualTypeOf<(payload: Record<string, unknown>, key: root.TransportKey) => Promise<root.DecodedMessage>>();
    expectTypeOf<root.EncodeContext['resolveMention']>().toEqualTypeOf<root.ParseMessageMlOptions['resolveMention']>();
  });

  it('for browsers: caller-supplied tokens with a refresh callback, blobs from and to web streams', () => {
    expectTypeOf<root.TokenRefresh>().toEqualTypeOf<() => Promise<{ session: string; keyManager: string }>>();
    expectTypeOf<NonNullable<root.AllegroConfigInput['tokens']>>().toEqualTypeOf<{ session?: string; keyManager?: string; refresh?: root.TokenRefresh }>();
    expectTypeOf<root.ByteSource>().toEqualTypeOf<AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>>();
    expectTypeOf<root.ObjectStoreClient['putBlob']>().parameter(0).toEqualTypeOf<root.ByteSource | Blob>();
    expectTypeOf<root.ObjectStoreClient['getBlob']>().returns.resolves.toEqualTypeOf<root.BlobContent>();
    expectTypeOf<root.BlobContent>().toEqualTypeOf<{ size: number; content: AsyncIterable<Uint8Array>; stream(): ReadableStream<Uint8Array> }>();
    expectTypeOf<errors.AuthenticationFailure>().toEqualTypeOf<'unknown-user' | 'bad-signature' | 'clock-skew' | 'certificate-refused' | 'refused' | 'refresh-failed'>();
  });

  it('of OBO apps: configurations, the app and its sessions with the bot\'s shapes, the callback, links', () => {
    expectTypeOf(obo.OboApp.create).toEqualTypeOf<(config: obo.OboAppConfig) => Promise<obo.OboApp>>();
    expectTypeOf(obo.OboApp.forTenant).toEqualTypeOf<(companyId: string, options: { tenants: obo.TenantRegistry; config: obo.OboAppConfig }) => Promise<obo.OboApp>>();
    expectTypeOf<obo.OboApp['user']>().toEqualTypeOf<(user: number | string) => Promise<obo.OboSession>>();
    expectTypeOf<obo.OboApp['stats']>().toEqualTypeOf<obo.OboAppStats>();
    expectTypeOf(obo.resolveAppConfig).toEqualTypeOf<(input: root.AllegroConfigInput, baseDir?: string) => Promise<obo.AppConfig>>();
    expectTypeOf<obo.AppConfig['app']>().toEqualTypeOf<root.AppIdentity>();
    expectTypeOf<obo.AppConfig['credentials']>().toEqualTypeOf<root.Credentials | undefined>();
    // The operations both have, with one shape: PodApi's.
    expectTypeOf<obo.OboSession>().toMatchTypeOf<root.PodApi>();
    expectTypeOf<root.PodClient>().toMatchTypeOf<root.PodApi>();
    expectTypeOf<obo.OboSession['createIm']>().toEqualTypeOf<root.PodClient['createIm']>();
    expectTypeOf<obo.OboSession['connections']>().toEqualTypeOf<root.PodClient['connections']>();
    expectTypeOf<obo.OboSession['send']>().toEqualTypeOf<(streamId: string, message: string, options?: obo.SendOptions) => Promise<string>>();
    expectTypeOf<obo.OboSession['blast']>().returns.resolves.toEqualTypeOf<obo.BlastResult>();
    expectTypeOf(obo.createPartnerCallbackHandler).toEqualTypeOf<(options: obo.PartnerCallbackOptions) => obo.PartnerCallbackHandler>();
    expectTypeOf<obo.PartnerCallbackHandler['fetch']>().toEqualTypeOf<(request: Request) => Promise<Response>>();
    expectTypeOf(obo.TenantRegistry.open).toEqualTypeOf<(path: string) => Promise<obo.TenantRegistry>>();
    expectTypeOf(obo.symphonyUri).toEqualTypeOf<(target: obo.SymphonyUriTarget, options?: obo.SymphonyUriOptions) => string>();
    expectTypeOf<(typeof obo.OBO_PERMISSIONS)[number]>().toEqualTypeOf<obo.OboPermission>();
    expectTypeOf<errors.AuthenticationTarget>().toEqualTypeOf<'session' | 'keyManager' | 'app'>();
    // @ts-expect-error OboSession is made by OboApp.user().
    expect(obo.OboSession).toBeUndefined();
  });

  it('of encrypted records for the bot\'s own database', () => {
    expectTypeOf<root.AllegroClient['encryptRecord']>().toEqualTypeOf<(input: root.RecordInput, options?: { signal?: AbortSignal }) => Promise<root.EncryptedRecord>>();
    expectTypeOf<root.AllegroClient['decryptRecord']>().toEqualTypeOf<(record: root.EncryptedRecord | string, options?: { associatedData?: string; signal?: AbortSignal }) => Promise<root.DecryptedRecord>>();
    expectTypeOf<root.EncryptedRecord>().toEqualTypeOf<{
      format: 'allegro-ts.record'; version: 1; threadId: string; rotationId: string; recordType: string; header: root.RecordHeader; encryptedPayload: string;
    }>();
    expectTypeOf<root.RecordInput>().toEqualTypeOf<{ threadId: string; payload: unknown; header?: root.RecordHeader; recordType?: string; associatedData?: string }>();
    expectTypeOf<root.DecryptedRecord['rotationId']>().toEqualTypeOf<bigint>();
    expectTypeOf<root.DecryptedRecord['payload']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<root.RecordHeader>().toEqualTypeOf<{ [name: string]: root.JsonValue }>();
    // @ts-expect-error A header value must be JSON.
    const notJson: root.RecordHeader = { at: new Date() };
    expect(notJson).toBeDefined();
  });

  it('of Object Store feeds and partition permissions', () => {
    expectTypeOf<root.ObjectStoreClient['upsertFeed']>().toEqualTypeOf<(spec: root.UpsertFeed) => Promise<root.ObjectFeed>>();
    expectTypeOf<root.ObjectStoreClient['deleteFeed']>().toEqualTypeOf<(feed: root.ObjectFeed | string) => Promise<void>>();
    expectTypeOf<root.ObjectFeed>().toEqualTypeOf<root.Feed<root.FeedChange>>();
    expectTypeOf<root.UpsertFeed>().toEqualTypeOf<{ name: string; partitions: ReadonlyArray<string | root.FeedPartition>; expirySeconds?: number }>();
    expectTypeOf<root.FeedPartition>().toEqualTypeOf<{ partition: string; sortKeyPrefix?: string }>();
    expectTypeOf<root.ObjectFeed['listen']>().toEqualTypeOf<(handler: (item: root.FeedItem<root.FeedChange>) => void | Promise<void>, options?: root.FeedOptions) => Promise<void>>();
    expectTypeOf<root.ObjectFeed['items']>().returns.toEqualTypeOf<AsyncGenerator<root.FeedItem<root.FeedChange>, void, undefined>>();
    expectTypeOf<root.ObjectFeed['stop']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<root.FeedItem<root.FeedChange>['ack']>().toEqualTypeOf<() => void>();
    expectTypeOf<root.FeedItem<root.FeedChange>['retry']>().toEqualTypeOf<(delaySeconds?: number) => void>();
    const describe = (item: root.FeedItem<root.FeedChange>): string => {
      switch (item.change) {
        case 'put':
          expectTypeOf(item.ref).toEqualTypeOf<root.ObjectRef>();
          expectTypeOf(item.object).toEqualTypeOf<root.StoredObject | undefined>();
          return item.ref.sortKey;
        case 'delete':
          expectTypeOf(item.deletion).toEqualTypeOf<root.ObjectDeletion>();
          return item.deletion.deletionType;
      }
    };
    expect(describe).toBeTypeOf('function');
    expectTypeOf<root.ObjectStoreClient['getPartition']>().toEqualTypeOf<(hash: string) => Promise<root.PartitionInfo>>();
    expectTypeOf<root.ObjectStoreClient['partitionUsers']>().returns.toEqualTypeOf<AsyncGenerator<root.UserPermissions>>();
    expectTypeOf<root.ObjectStoreClient['grant']>().toEqualTypeOf<(partition: string, userId: number, permissions: root.Permission | readonly root.Permission[]) => Promise<void>>();
    expectTypeOf<root.ObjectStoreClient['revoke']>().toEqualTypeOf<(partition: string, userId: number, permissions?: root.Permission | readonly root.Permission[]) => Promise<void>>();
    expectTypeOf<root.Permission>().toEqualTypeOf<'READ' | 'WRITE'>();
  });

  it('keeps the wiring private: objects the client makes cannot be constructed or exported as values', () => {
    // @ts-expect-error Session is exported as a type only.
    expect(root.Session).toBeUndefined();
    // @ts-expect-error ObjectStoreClient is exported as a type only.
    expect(root.ObjectStoreClient).toBeUndefined();
    // @ts-expect-error Feed is exported as a type only: feeds come from objects.upsertFeed().
    expect(root.Feed).toBeUndefined();
    // @ts-expect-error AllegroClient is made by AllegroClient.create().
    expect(() => new root.AllegroClient()).toThrow();
  });
});
