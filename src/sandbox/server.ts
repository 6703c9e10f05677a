/**
 * `startSandbox`: a local HTTPS server that behaves like a Symphony pod, Key Manager, Agent and Object Store, for
 * development and tests with no account anywhere (docs/sandbox.md). One port serves every component under
 * Symphony's context paths (`/pod`, `/login`, `/relay`, `/sessionauth`, `/keyauth`, `/webcontroller`, `/keystore`,
 * `/datafeed2`, `/object`, `/agent`); certificate login needs mutual TLS, every other route works without a client
 * certificate. Binds 127.0.0.1 by default on a free port. With `dataDir`, state is a SQLite database
 * (`<dataDir>/sandbox.db`) where every acknowledged change is durable (a wave-1 journal found there is migrated on
 * the first start); without it, state lives in an in-memory database and generated files in a temporary directory.
 * Every file and directory it creates is 0600/0700 whatever the umask.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { generateRsaKeyPair, RsaPublicKey } from '../crypto/index.js';
import { isOboPermission, OBO_PERMISSIONS } from '../obo/index.js';
import { clientConfigFor, toConfigYaml } from '../index.js';
import type { OboPermission } from '../errors.js';
import type { NewSandboxUser, SandboxAdmin } from './admin.js';
import { guardConnections, serverOptions } from './connections.js';
import { resolveConfig, SandboxContext, type SandboxConfig, type SandboxUrls } from './context.js';
import { canonicalId } from './body.js';
import { createStream, memberStream, newContentKey, rotateStream } from './conversations.js';
import { corsPolicy } from './cors.js';
import { Faults, type FaultRule } from './faults.js';
import { HttpError } from './http-error.js';
import { errorResponse, handleRequest, Router, writeResponse, type RouteInfo } from './http.js';
import { newId, standardBase64Id, userIdOf } from './ids.js';
import { SandboxAgent } from './agent/agent.js';
import { agentRoutes } from './routes/agent.js';
import { agentDatafeedRoutes } from './routes/agent-datafeed.js';
import { agentMessageRoutes } from './routes/agent-messages.js';
import { authRoutes } from './routes/auth.js';
import { blobRoutes, openBlobStore } from './routes/blobs.js';
import { controlRoutes } from './routes/control.js';
import { datafeedRoutes } from './routes/datafeed.js';
import { feedRoutes, queueFeedMessages } from './routes/feeds.js';
import { keyRoutes } from './routes/keys.js';
import { messageRoutes } from './routes/messages.js';
import { OBJECT_STORE_DISABLED, objectRoutes } from './routes/objects.js';
import { oboRoutes } from './routes/obo.js';
import { podRoutes } from './routes/pod.js';
import { signalRoutes } from './routes/signals.js';
import { PartnerDelivery, type DeliveryPolicy, type PartnerCallbackBody } from './partner-delivery.js';
import { DEFAULT_SEED, isCallbackUrl, parseSeed, readSeedFile, USERNAME, type Seed, type SeedApp } from './seed.js';
import { migrateJournal } from './store/migrate-journal.js';
import { SandboxStore, type SandboxStoreView } from './store/store.js';
import type { Profile } from './store/profiles.js';
import type { Tx } from './store/transaction.js';
import type { User } from './store/users.js';
import { issueClientCertificate, loadOrCreateTls, toPkcs12, type CertificateAuthority } from './tls.js';

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Directory for the database, TLS material, generated keys, blobs and the config file; absent = in memory. */
  dataDir?: string;
  /** Seed (object or path of a JSON file) used on the first start; default {@link DEFAULT_SEED}. */
  seed?: Seed | string;
  /** Tunables and limits; see {@link SandboxConfig}. */
  config?: Partial<SandboxConfig>;
  /** Fault rules installed from the start. */
  faults?: FaultRule[];
  /** Serve the control API under `/sandbox/v1` (faults, rotation, entitlements, users). Default false. */
  control?: boolean;
  /** Largest blob `PUT /object/v1/blobs/{id}` accepts, in bytes (413 beyond). Default 4 GiB. */
  maxBlobBytes?: number;
  /** Origins whose web pages may call the sandbox (docs/sandbox.md "CORS and browsers"); default the loopback origins; `[]` none. */
  corsOrigins?: readonly string[];
  /** Where to report unexpected server errors; default: ignored. */
  onError?: (error: unknown) => void;
  /** Where to write what the sandbox does in the background (partner callback deliveries); default: nowhere. */
  onLog?: (line: string) => void;
  /** How partner callbacks are retried (docs/sandbox.md "OBO apps"). */
  callbacks?: Partial<DeliveryPolicy>;
}

/** Files the sandbox generated for one OBO app. */
export interface AppFiles {
  appId: string;
  /** PKCS#8 PEM of the key its JWTs are signed with, when the sandbox generated it. */
  privateKeyPath?: string;
  /** Its client certificate (CN = app id) and that certificate's key, PEM, when issued. */
  certificatePath?: string;
  certificateKeyPath?: string;
}

/** Files the sandbox generated for one identity. */
export interface IdentityFiles {
  username: string;
  userId: number;
  /** PKCS#8 PEM of the login key, when the sandbox generated it. */
  privateKeyPath?: string;
  /** Client certificate files, when issued. */
  certificatePath?: string;
  certificateKeyPath?: string;
  pkcs12Path?: string;
  pkcs12Password?: string;
}

/** A running sandbox. */
export interface RunningSandbox extends SandboxUrls {
  /** The port it listens on. */
  port: number;
  /** PEM of the CA that issued the server certificate; trust it to talk to the sandbox. */
  caCertPath: string;
  /** A ready-to-use client configuration for the default bot (format: docs/sandbox.md). */
  configPath: string;
  /** Files of the seeded identities, by username. */
  identities: Map<string, IdentityFiles>;
  /** Files of the seeded OBO apps, by app id. */
  apps: Map<string, AppFiles>;
  /** Installed fault rules. */
  faults: Faults;
  /** What is stored, read-only (tests and tools inspect it). */
  store: SandboxStoreView;
  /** Every route the server serves, as registered (method, pattern, body limit). */
  routes: readonly RouteInfo[];
  /** Administrative actions, the same as the control API. */
  admin: SandboxAdmin;
  /** Stop serving, finish queued writes, close the database. Idempotent. */
  close(): Promise<void>;
}

const PKCS12_PASSWORD = 'changeit';
/** How often expired feeds and events no feed can deliver are swept (more often with a feed TTL under 20 s). */
const SWEEP_INTERVAL_MS = 10_000;
/** When a sweep stopped at its budget, the next one runs after this. */
const SWEEP_AGAIN_MS = 100;

/** Write a file only its owner may read, whatever the umask. */
async function writePrivate(path: string, content: string | Uint8Array): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Create a directory only its owner may enter, whatever the umask. */
async function makePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false;
    throw err;
  });
}

/**
 * Open the store of `dataDir` (in memory without one). A data directory with a wave-1 `journal/` and a database
 * that holds no pod yet is migrated, and its journal renamed to `journal.migrated/`.
 */
async function openStore(dataDir: string | undefined, onError: (error: unknown) => void): Promise<SandboxStore> {
  if (dataDir === undefined) return SandboxStore.open(undefined, onError);
  const store = SandboxStore.open(join(dataDir, 'sandbox.db'), onError);
  try {
    const journal = join(dataDir, 'journal');
    if (await exists(journal)) {
      if (store.pod.get() === undefined) await migrateJournal(store, journal);
      await rename(journal, join(dataDir, 'journal.migrated'));
    }
    return store;
  } catch (err) {
    store.close();
    throw err;
  }
}

/** A new user as stored: generated Key Manager key pair and account key, and a new wall stream id. */
async function newUser(user: { username: string; displayName?: string; email?: string; type?: 'NORMAL' | 'SYSTEM'; loginPublicKeyPem?: string }, id: number): Promise<User> {
  if (user.loginPublicKeyPem !== undefined) {
    try {
      new RsaPublicKey(user.loginPublicKeyPem);
    } catch (err) {
      throw new HttpError(400, `The public key of ${user.username} is not usable: ${(err as Error).message}`);
    }
  }
  const km = await generateRsaKeyPair();
  return {
    id, username: user.username, displayName: user.displayName ?? user.username, email: user.email ?? `${user.username.toLowerCase()}@sandbox.invalid`,
    type: user.type ?? 'NORMAL', kmPublicKeyPem: km.publicKeyPem, kmPrivateKeyPem: km.privateKeyPem, accountKey: randomBytes(32),
    wallStreamId: newId(), presence: { category: 'AVAILABLE', timestamp: Date.now() },
    ...(user.loginPublicKeyPem === undefined ? {} : { loginPublicKeyPem: user.loginPublicKeyPem }),
  };
}

/** Store a user and their wall stream. */
function insertUser(ctx: SandboxContext, tx: Tx, user: User, userNumber: number, profile?: Profile): void {
  ctx.store.users.insert(tx, user);
  if (profile !== undefined) ctx.store.profiles.set(tx, user.id, profile);
  ctx.store.pod.useUserNumber(tx, userNumber);
  createStream(ctx, tx, { id: user.wallStreamId, type: 'POST', by: user.id, at: user.presence.timestamp, attributes: {}, members: [{ userId: user.id, owner: true }] });
}

/** The key and certificate files of a seeded app (generated unless the seed gives its public key). */
async function prepareApp(app: SeedApp, filesDir: string, ca: CertificateAuthority): Promise<{ files: AppFiles; publicKeyPem: string }> {
  const dir = join(filesDir, 'identities', 'apps');
  await makePrivateDir(dir);
  const files: AppFiles = { appId: app.appId };
  let publicKeyPem = app.publicKeyPem;
  if (publicKeyPem === undefined) {
    const pair = await generateRsaKeyPair();
    publicKeyPem = pair.publicKeyPem;
    files.privateKeyPath = join(dir, `${app.appId}.pem`);
    await writePrivate(files.privateKeyPath, pair.privateKeyPem);
  } else {
    try {
      new RsaPublicKey(publicKeyPem);
    } catch (err) {
      throw new HttpError(400, `The public key of the app ${app.appId} is not usable: ${(err as Error).message}`);
    }
  }
  if (app.certificate !== false) {
    const cert = await issueClientCertificate(ca, app.appId);
    files.certificatePath = join(dir, `${app.appId}-cert.pem`);
    files.certificateKeyPath = join(dir, `${app.appId}-cert-key.pem`);
    await writePrivate(files.certificatePath, cert.certPem);
    await writePrivate(files.certificateKeyPath, cert.keyPem);
  }
  return { files, publicKeyPem };
}

/** Seed an empty store (in one transaction); returns the files generated for each identity and each app. */
async function seedStore(store: SandboxStore, ctxOf: () => SandboxContext, seed: Seed, filesDir: string, ca: CertificateAuthority): Promise<{ identities: Map<string, IdentityFiles>; apps: Map<string, AppFiles> }> {
  const podId = seed.pod?.podId ?? 196;
  await makePrivateDir(join(filesDir, 'identities'));
  const prepared = await Promise.all(seed.users.map(async (u, index) => {
    const files: IdentityFiles = { username: u.username, userId: userIdOf(podId, 1000 + index) };
    let loginPublicKeyPem = u.publicKeyPem;
    if (loginPublicKeyPem === undefined) {
      const pair = await generateRsaKeyPair();
      loginPublicKeyPem = pair.publicKeyPem;
      files.privateKeyPath = join(filesDir, 'identities', `${u.username}.pem`);
      await writePrivate(files.privateKeyPath, pair.privateKeyPem);
    }
    if (u.certificate ?? u.type === 'SYSTEM') {
      const cert = await issueClientCertificate(ca, u.username);
      files.certificatePath = join(filesDir, 'identities', `${u.username}-cert.pem`);
      files.certificateKeyPath = join(filesDir, 'identities', `${u.username}-cert-key.pem`);
      files.pkcs12Path = join(filesDir, 'identities', `${u.username}.p12`);
      files.pkcs12Password = PKCS12_PASSWORD;
      await writePrivate(files.certificatePath, cert.certPem);
      await writePrivate(files.certificateKeyPath, cert.keyPem);
      await writePrivate(files.pkcs12Path, toPkcs12(cert.certPem, cert.keyPem, PKCS12_PASSWORD, ca.caCertPem));
    }
    return { files, user: await newUser({ ...u, loginPublicKeyPem }, files.userId), number: 1000 + index, profile: u.profile };
  }));
  const apps = await Promise.all((seed.apps ?? []).map(async (app) => ({ app, ...(await prepareApp(app, filesDir, ca)) })));
  await store.write((tx) => {
    store.pod.create(tx, {
      podId, name: seed.pod?.name ?? 'allegro-ts sandbox', objectStore: seed.entitlements?.objectStore ?? true,
      entityKey: newContentKey(), tokenSecret: randomBytes(32), feedSecret: randomBytes(32), nextUserNumber: 1000,
    });
  });
  const ctx = ctxOf();
  const at = Date.now();
  await store.write((tx) => {
    for (const { user, number, profile } of prepared) insertUser(ctx, tx, user, number, profile);
    const idOf = (name: string) => store.users.byName(name)!.id;
    for (const room of seed.rooms ?? []) {
      const owner = idOf(room.owner);
      const members = [{ userId: owner, owner: true }, ...[...new Set((room.members ?? []).map(idOf))].filter((m) => m !== owner).map((userId) => ({ userId, owner: false }))];
      createStream(ctx, tx, { type: 'ROOM', by: owner, at, members, attributes: { ...room.attributes, name: room.name, ...(room.description === undefined ? {} : { description: room.description }) } });
    }
    for (const im of seed.ims ?? []) {
      const members = [...new Set(im.map(idOf))];
      createStream(ctx, tx, { type: members.length === 2 ? 'IM' : 'MIM', by: members[0]!, at, attributes: {}, members: members.map((userId) => ({ userId, owner: false })) });
    }
    store.policies.setPod(tx, { imRequiresConnection: seed.pod?.imRequiresConnection ?? false });
    for (const u of seed.users) if (u.canSendFiles === false) store.policies.setCanSendFiles(tx, idOf(u.username), false);
    for (const { app, publicKeyPem } of apps) {
      store.apps.insert(tx, {
        appId: app.appId, name: app.name ?? app.appId, publicKeyPem, permissions: app.permissions ?? OBO_GRANTABLE, enabled: app.enabled ?? true,
        ...(app.callback === undefined ? {} : { callback: app.callback }), createdAt: at,
      });
      for (const username of app.installedFor ?? []) store.apps.install(tx, app.appId, idOf(username));
    }
  });
  return { identities: new Map(prepared.map(({ files }) => [files.username, files])), apps: new Map(apps.map(({ files }) => [files.appId, files])) };
}

/** Every permission but the implicit ACT_AS_USER: what a seeded app gets when its seed names none. */
const OBO_GRANTABLE: OboPermission[] = OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER');

/** identities.json holds paths relative to the data directory (so that the directory can move). */
async function saveIdentities(filesDir: string, botName: string | undefined, identities: Map<string, IdentityFiles>, apps: Map<string, AppFiles>): Promise<void> {
  const rel = (p: string | undefined) => (p === undefined ? undefined : relative(filesDir, p));
  const saved = [...identities.values()].map((f) => ({
    ...f, privateKeyPath: rel(f.privateKeyPath), certificatePath: rel(f.certificatePath), certificateKeyPath: rel(f.certificateKeyPath), pkcs12Path: rel(f.pkcs12Path),
  }));
  const savedApps = [...apps.values()].map((f) => ({ ...f, privateKeyPath: rel(f.privateKeyPath), certificatePath: rel(f.certificatePath), certificateKeyPath: rel(f.certificateKeyPath) }));
  await writePrivate(join(filesDir, 'identities.json'), `${JSON.stringify({ bot: botName, identities: saved, apps: savedApps }, null, 2)}\n`);
}

async function readIdentities(filesDir: string): Promise<{ identities: Map<string, IdentityFiles>; apps: Map<string, AppFiles>; botName: string | undefined }> {
  try {
    const saved = JSON.parse(await readFile(join(filesDir, 'identities.json'), 'utf8')) as { bot?: string; identities: IdentityFiles[]; apps?: AppFiles[] };
    const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : join(filesDir, p));
    const apps = (saved.apps ?? []).map((f): AppFiles => {
      const files: AppFiles = { appId: f.appId };
      for (const key of ['privateKeyPath', 'certificatePath', 'certificateKeyPath'] as const) {
        const path = abs(f[key]);
        if (path !== undefined) files[key] = path;
      }
      return files;
    });
    const identities = saved.identities.map((f): IdentityFiles => {
      const files: IdentityFiles = { username: f.username, userId: f.userId };
      for (const key of ['privateKeyPath', 'certificatePath', 'certificateKeyPath', 'pkcs12Path'] as const) {
        const path = abs(f[key]);
        if (path !== undefined) files[key] = path;
      }
      if (f.pkcs12Password !== undefined) files.pkcs12Password = f.pkcs12Password;
      return files;
    });
    return { identities: new Map(identities.map((f) => [f.username, f])), apps: new Map(apps.map((f) => [f.appId, f])), botName: saved.bot };
  } catch {
    return { identities: new Map(), apps: new Map(), botName: undefined };
  }
}

/**
 * Start a sandbox. Resolves once it accepts connections.
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * console.log(sandbox.podUrl, sandbox.configPath);
 * await sandbox.close();
 * ```
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  const config = resolveConfig(options.config);
  const onError = options.onError ?? (() => {});
  const cors = corsPolicy(options.corsOrigins);
  const faults = new Faults();
  for (const rule of options.faults ?? []) faults.add(rule);
  const seed = options.seed === undefined ? DEFAULT_SEED : typeof options.seed === 'string' ? await readSeedFile(options.seed) : parseSeed(options.seed);
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const filesDir = dataDir ?? (await mkdtemp(join(tmpdir(), 'allegro-sandbox-')));
  await makePrivateDir(filesDir);
  const tls = await loadOrCreateTls(filesDir);
  const caCertPath = tls.caCertPath ?? join(filesDir, 'tls', 'ca.pem');
  const store = await openStore(dataDir, onError);
  const urls: SandboxUrls = { podUrl: '', keyManagerUrl: '', sessionAuthUrl: '', keyAuthUrl: '', objectStoreUrl: '', agentUrl: '' };
  let ctx: SandboxContext | undefined;
  const context = () => (ctx ??= new SandboxContext(store, config, urls));
  let identities: Map<string, IdentityFiles>;
  let appFiles: Map<string, AppFiles>;
  let botName: string | undefined;
  let blobStore;
  try {
    if (store.pod.get() === undefined) {
      // The seed applies to a new data directory only; later starts read what is stored.
      botName = seed.bot ?? seed.users.find((u) => u.type === 'SYSTEM')?.username ?? seed.users[0]?.username;
      ({ identities, apps: appFiles } = await seedStore(store, context, seed, filesDir, tls));
      await saveIdentities(filesDir, botName, identities, appFiles);
    } else {
      ({ identities, apps: appFiles, botName } = await readIdentities(filesDir));
      if (await exists(join(filesDir, 'identities'))) await chmod(join(filesDir, 'identities'), 0o700);
    }
    // Blob files live next to the database; uploads that never committed are removed now.
    blobStore = await openBlobStore(join(filesDir, 'blobs'), store, options.maxBlobBytes);
  } catch (err) {
    store.close();
    if (dataDir === undefined) await rm(filesDir, { recursive: true, force: true });
    throw err;
  }
  const sandboxCtx = context();
  const delivery = new PartnerDelivery(options.callbacks, options.onLog);
  /** The app, or 404. */
  const appOf = (appId: string) => {
    const app = store.apps.get(appId);
    if (app === undefined) throw new HttpError(404, `No app ${appId}`);
    return app;
  };
  /** Send the partner callback of `eventType` to `appIds` (those enabled, with a callback). */
  const announce = (eventType: PartnerCallbackBody['eventType'], appIds: readonly string[]) => {
    const pod = store.pod.require();
    const agentUrl = store.policies.pod().agentUrl ?? urls.agentUrl;
    for (const appId of appIds) {
      const app = store.apps.get(appId);
      if (app?.enabled !== true || app.callback === undefined) continue;
      void delivery.send(app.callback.url, app.callback.apiKey, {
        appId, companyId: String(pod.podId), eventType,
        payload: { podUrl: `${urls.podUrl}/pod`, sessionAuthUrl: urls.sessionAuthUrl, agentUrl, baseUrl: urls.podUrl, loginUrl: `${urls.podUrl}/login` },
      });
    }
  };
  /** The users `userIds` name, all known; 400 otherwise. */
  const knownUsers = (userIds: readonly number[]) => {
    const unknown = userIds.find((id) => store.users.get(id) === undefined);
    if (unknown !== undefined) throw new HttpError(400, `User ${unknown} does not exist`);
    return userIds;
  };

  const admin: SandboxAdmin = {
    rotate: (streamId) => store.write((tx) => rotateStream(sandboxCtx, tx, streamId)),
    async setObjectStoreEntitlement(enabled) {
      await store.write((tx) => store.pod.setObjectStore(tx, enabled));
    },
    async createUser(user: NewSandboxUser) {
      if (typeof user.username !== 'string' || !USERNAME.test(user.username)) throw new HttpError(400, 'Field "username" must be 1 to 64 letters, digits or . _ @ -');
      let privateKeyPem: string | undefined;
      let loginPublicKeyPem = user.publicKeyPem;
      if (loginPublicKeyPem === undefined) {
        const pair = await generateRsaKeyPair();
        privateKeyPem = pair.privateKeyPem;
        loginPublicKeyPem = pair.publicKeyPem;
      }
      const prepared = await newUser({ ...user, loginPublicKeyPem }, 0);
      const userId = await store.write((tx) => {
        if (store.users.byName(user.username) !== undefined) throw new HttpError(409, 'A user with that username exists');
        const pod = store.pod.require();
        const id = userIdOf(pod.podId, pod.nextUserNumber);
        insertUser(sandboxCtx, tx, { ...prepared, id }, pod.nextUserNumber, user.profile);
        return id;
      });
      return { userId, ...(privateKeyPem === undefined ? {} : { privateKeyPem }) };
    },
    async enableApp(appId) {
      appOf(appId);
      await store.write((tx) => store.apps.setEnabled(tx, appId, true));
      announce('appEnabled', [appId]);
    },
    async disableApp(appId) {
      appOf(appId);
      await store.write((tx) => store.apps.setEnabled(tx, appId, false));
    },
    async setAppPermissions(appId, permissions) {
      appOf(appId);
      const bad = permissions.find((p) => !isOboPermission(p));
      if (bad !== undefined) throw new HttpError(400, `${JSON.stringify(bad)} is not an OBO permission (${OBO_PERMISSIONS.join(', ')})`);
      await store.write((tx) => store.apps.setPermissions(tx, appId, [...new Set(permissions)]));
    },
    async setAppCallback(appId, callback) {
      appOf(appId);
      if (callback !== undefined && (!isCallbackUrl(callback.url) || typeof callback.apiKey !== 'string' || callback.apiKey === '')) {
        throw new HttpError(400, 'A callback is an http(s) "url" and a non-empty "apiKey"');
      }
      await store.write((tx) => store.apps.setCallback(tx, appId, callback));
    },
    async installApp(appId, userIds) {
      appOf(appId);
      await store.write((tx) => { for (const id of knownUsers(userIds)) store.apps.install(tx, appId, id); });
    },
    async uninstallApp(appId, userIds) {
      appOf(appId);
      await store.write((tx) => { for (const id of knownUsers(userIds)) store.apps.uninstall(tx, appId, id); });
    },
    async registerAgent(url) {
      if (url !== undefined && !isCallbackUrl(url)) throw new HttpError(400, 'The Agent URL must be an http(s) URL');
      const before = store.policies.pod();
      if ((before.agentUrl ?? urls.agentUrl) === (url ?? urls.agentUrl)) return;
      await store.write((tx) => store.policies.setPod(tx, { imRequiresConnection: before.imRequiresConnection, ...(url === undefined ? {} : { agentUrl: url }) }));
      announce('agentRegistered', store.apps.all().map((a) => a.appId));
    },
    callbackAttempts: () => delivery.attempts(),
    callbacksSettled: () => delivery.settled(),
    async setImRequiresConnection(required) {
      const before = store.policies.pod();
      await store.write((tx) => store.policies.setPod(tx, { ...before, imRequiresConnection: required }));
    },
    async setCanSendFiles(userId, allowed) {
      knownUsers([userId]);
      await store.write((tx) => store.policies.setCanSendFiles(tx, userId, allowed));
    },
    async submitForm(action) {
      await store.write((tx) => {
        const user = store.users.get(action.userId);
        if (user === undefined) throw new HttpError(400, `User ${action.userId} does not exist`);
        const stream = memberStream(sandboxCtx, user, action.streamId);
        const form = store.messages.get(canonicalId(action.formMessageId, 'formMessageId'));
        if (form === undefined || form.streamId !== stream.id) throw new HttpError(404, 'No such message in this stream');
        const at = Date.now();
        // The event goes to the form's sender, as Symphony sends a form's answers to the bot that posted it.
        store.events.append(tx, {
          kind: 'ELEMENTS_ACTION', initiator: user.id, timestamp: at, streamId: stream.id,
          payload: { formMessageId: standardBase64Id(form.messageId), formId: action.formId, formValues: action.formValues },
        }, sandboxCtx.liveSince(at), [form.fromUserId]);
      });
    },
  };

  const router = new Router(config.maxBodyBytes);
  authRoutes(router, sandboxCtx);
  keyRoutes(router, sandboxCtx);
  podRoutes(router, sandboxCtx);
  oboRoutes(router, sandboxCtx);
  signalRoutes(router, sandboxCtx);
  messageRoutes(router, sandboxCtx);
  datafeedRoutes(router, sandboxCtx);
  objectRoutes(router, sandboxCtx, queueFeedMessages(sandboxCtx));
  feedRoutes(router, sandboxCtx, faults);
  blobRoutes(router, sandboxCtx, blobStore);
  const agent = new SandboxAgent(sandboxCtx);
  agentRoutes(router, sandboxCtx);
  agentMessageRoutes(router, sandboxCtx, agent);
  agentDatafeedRoutes(router, sandboxCtx, agent);
  if (options.control === true) controlRoutes(router, faults, admin);

  const server: Server = createServer({
    key: tls.serverKeyPem, cert: tls.serverCertPem, ca: tls.caCertPem, requestCert: true, rejectUnauthorized: false, ...serverOptions(config),
  }, (req, res) => {
    if (cors.handle(req, res) === 'handled') return;
    void handleRequest(router, req, res, {
      json: { maxDepth: config.maxJsonDepth, maxFieldLength: config.maxJsonFieldLength },
      onError,
      async before(method, path, response) {
        // The control API is exempt, so that a broad rule can always be removed.
        if (!path.startsWith('/sandbox/') && (await faults.apply(method, path, response)) === 'handled') return 'handled';
        if (path.startsWith('/object/') && !store.pod.require().objectStore) {
          req.resume();
          writeResponse(response, errorResponse(403, OBJECT_STORE_DISABLED));
          return 'handled';
        }
        return 'continue';
      },
    });
  });
  const sockets = new Set<Socket>();
  const stopGuard = guardConnections(server, config, sockets);

  // Expired feeds and events no feed can deliver any more go in the background, a bounded amount at a time.
  const sweepEvery = Math.max(SWEEP_AGAIN_MS, Math.min(SWEEP_INTERVAL_MS, Math.floor(config.feedTtlMs / 2)));
  let sweepTimer: NodeJS.Timeout | undefined;
  const sweep = (delay: number) => {
    sweepTimer = setTimeout(() => {
      store.write((tx) => {
        store.revocations.prune(tx, Date.now());
        return store.events.sweep(tx, sandboxCtx.liveSince());
      }).then((more) => sweep(more ? SWEEP_AGAIN_MS : sweepEvery), (err: unknown) => {
        if (!closed) onError(err);
      });
    }, delay);
    sweepTimer.unref();
  };
  let closed = false;
  sweep(sweepEvery);

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolveListen());
    });
  } catch (err) {
    closed = true;
    clearTimeout(sweepTimer);
    stopGuard();
    store.close(); // release the database lock
    if (dataDir === undefined) await rm(filesDir, { recursive: true, force: true });
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  Object.assign(urls, {
    podUrl: base, keyManagerUrl: `${base}/relay`, sessionAuthUrl: `${base}/sessionauth`, keyAuthUrl: `${base}/keyauth`,
    objectStoreUrl: base, agentUrl: `${base}/agent`,
  });
  const configPath = join(filesDir, 'config.json');
  // The configuration names the first seeded app with a key, so that the same file serves OBO (docs/sandbox.md §2).
  const oboApp = [...appFiles.values()].find((f) => f.privateKeyPath !== undefined);
  const clientConfig = clientConfigFor(urls, botName === undefined ? undefined : identities.get(botName), {
    trustStorePath: caCertPath, ...(oboApp === undefined ? {} : { app: { appId: oboApp.appId, privateKeyPath: oboApp.privateKeyPath! } }),
  });
  await writePrivate(configPath, `${JSON.stringify(clientConfig, null, 2)}\n`);
  await writePrivate(join(filesDir, 'config.yaml'), toConfigYaml(clientConfig));

  let closing: Promise<void> | undefined;
  return {
    ...urls, port, caCertPath, configPath, identities, apps: appFiles, faults, admin, store: store.view(), routes: router.routes(),
    close() {
      closing ??= (async () => {
        closed = true;
        clearTimeout(sweepTimer);
        const stopped = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        // Long-polling datafeed reads would hold the close for their full wait; end them.
        setTimeout(() => { for (const s of sockets) s.destroy(); }, 50).unref();
        await stopped;
        await delivery.close();
        stopGuard();
        agent.close();
        store.close();
        if (dataDir === undefined) await rm(filesDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
