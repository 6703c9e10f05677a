/**
 * `startSandbox`: a local HTTPS server that behaves like a Symphony pod, Key Manager and Object Store, for
 * development and tests with no account anywhere (docs/sandbox.md). One port serves every component under
 * Symphony's context paths (`/pod`, `/login`, `/relay`, `/sessionauth`, `/keyauth`, `/webcontroller`, `/keystore`,
 * `/datafeed2`, `/object`, `/agent`); certificate login needs mutual TLS, every other route works without a client
 * certificate. Binds 127.0.0.1 by default on a free port. With `dataDir`, every acknowledged change is journaled
 * (fsync'd) and survives a restart; without it, state lives in memory and generated files in a temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Socket } from 'node:net';
import { generateRsaKeyPair, RsaPublicKey } from '../crypto/index.js';
import { clientConfigFor, toConfigYaml } from '../index.js';
import { toBase64 } from '../util/bytes.js';
import type { SandboxAdmin } from './admin.js';
import { SandboxContext, type Persistence, type SandboxConfig, type SandboxUrls } from './context.js';
import { corsPolicy } from './cors.js';
import { Faults, type FaultRule } from './faults.js';
import { handleRequest, errorResponse, HttpError, Router, writeResponse } from './http.js';
import { newId, userIdOf } from './ids.js';
import { Journal } from './journal.js';
import { authRoutes } from './routes/auth.js';
import { blobRoutes, openBlobStore, type BlobStore } from './routes/blobs.js';
import { controlRoutes } from './routes/control.js';
import { datafeedRoutes } from './routes/datafeed.js';
import { feedMessages, feedRoutes } from './routes/feeds.js';
import { keyRoutes } from './routes/keys.js';
import { messageRoutes } from './routes/messages.js';
import { OBJECT_STORE_DISABLED, objectRoutes } from './routes/objects.js';
import { newStreamKey, podRoutes } from './routes/pod.js';
import { DEFAULT_SEED, parseSeed, readSeedFile, USERNAME, type Seed } from './seed.js';
import { SandboxState, type StateRecord, type StateSnapshot, type UserState } from './state.js';
import { issueClientCertificate, loadOrCreateTls, toPkcs12, type CertificateAuthority } from './tls.js';

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Directory for the journal, TLS material, generated keys and the config file; absent = in memory. */
  dataDir?: string;
  /** Seed (object or path of a JSON file) used on the first start; default {@link DEFAULT_SEED}. */
  seed?: Seed | string;
  /** Tunables; see {@link SandboxConfig}. */
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
  /** Installed fault rules. */
  faults: Faults;
  /** The live state, read-only by convention (tests inspect it). */
  state: SandboxState;
  /** Administrative actions, the same as the control API. */
  admin: SandboxAdmin;
  /** Stop serving, finish in-flight writes, close the journal. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_CONFIG: SandboxConfig = {
  sessionTtlSeconds: 3600,
  datafeedWaitMs: 20_000,
  feedTtlMs: 30 * 60 * 1000,
  maxFeedsPerUser: 20,
  maxEventsPerRead: 100,
  rotateOnMemberRemoval: false,
  objectFeedVisibilitySeconds: 30,
};

const PKCS12_PASSWORD = 'changeit';

class MemoryPersistence implements Persistence {
  readonly needsCompaction = false;
  async append(): Promise<void> {}
  async compact(): Promise<void> {}
  async close(): Promise<void> {}
}

async function openState(dataDir: string | undefined): Promise<{ state: SandboxState; persistence: Persistence }> {
  if (dataDir === undefined) return { state: new SandboxState(), persistence: new MemoryPersistence() };
  const { journal, snapshot, records } = await Journal.open<StateRecord, StateSnapshot>({ dir: join(dataDir, 'journal') });
  const state = snapshot === undefined ? new SandboxState() : SandboxState.fromSnapshot(snapshot);
  for (const r of records) state.apply(r);
  return { state, persistence: journal };
}

/** Build the user record of a new user: Key Manager key pair, account key and wall stream. */
async function newUserRecords(user: { username: string; displayName?: string; email?: string; type?: 'NORMAL' | 'SYSTEM'; loginPublicKeyPem?: string }, id: number): Promise<StateRecord[]> {
  if (user.loginPublicKeyPem !== undefined) {
    try {
      new RsaPublicKey(user.loginPublicKeyPem);
    } catch (err) {
      throw new HttpError(400, `The public key of ${user.username} is not usable: ${(err as Error).message}`);
    }
  }
  const km = await generateRsaKeyPair();
  const wallStreamId = newId();
  const at = Date.now();
  const userState: UserState = {
    id, username: user.username, displayName: user.displayName ?? user.username, email: user.email ?? `${user.username.toLowerCase()}@sandbox.invalid`,
    type: user.type ?? 'NORMAL', kmPublicKeyPem: km.publicKeyPem, kmPrivateKeyPem: km.privateKeyPem, accountKey: toBase64(randomBytes(32)),
    wallStreamId, presence: { category: 'AVAILABLE', timestamp: at },
    ...(user.loginPublicKeyPem === undefined ? {} : { loginPublicKeyPem: user.loginPublicKeyPem }),
  };
  return [
    { t: 'user', user: userState },
    { t: 'stream', id: wallStreamId, type: 'POST', by: id, at, attributes: {}, members: [{ id, owner: true }], ...newStreamKey() },
  ];
}

async function writePrivate(path: string, content: string | Uint8Array): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
}

/** Seed an empty state; returns the files generated for each identity. */
async function seedState(ctx: SandboxContext, seed: Seed, filesDir: string, ca: CertificateAuthority, botName: string | undefined): Promise<Map<string, IdentityFiles>> {
  const podId = seed.pod?.podId ?? 196;
  await ctx.commit({
    t: 'pod', podId, name: seed.pod?.name ?? 'allegro-ts sandbox', objectStore: seed.entitlements?.objectStore ?? true,
    entityKey: toBase64(randomBytes(32)), tokenSecret: toBase64(randomBytes(32)),
  });
  await mkdir(join(filesDir, 'identities'), { recursive: true });
  const identities = new Map<string, IdentityFiles>();
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
      await writeFile(files.certificatePath, cert.certPem);
      await writePrivate(files.certificateKeyPath, cert.keyPem);
      await writePrivate(files.pkcs12Path, toPkcs12(cert.certPem, cert.keyPem, PKCS12_PASSWORD, ca.caCertPem));
    }
    return { files, records: await newUserRecords({ ...u, loginPublicKeyPem }, files.userId) };
  }));
  for (const { files, records } of prepared) {
    await ctx.commit(...records);
    identities.set(files.username, files);
  }
  const idOf = (name: string) => ctx.state.usersByName.get(name.toLowerCase())!.id;
  const at = Date.now();
  for (const room of seed.rooms ?? []) {
    const owner = idOf(room.owner);
    const members = [{ id: owner, owner: true }, ...(room.members ?? []).map(idOf).filter((m) => m !== owner).map((id) => ({ id, owner: false }))];
    await ctx.commit({
      t: 'stream', id: newId(), type: 'ROOM', by: owner, at, members, ...newStreamKey(),
      attributes: { name: room.name, ...(room.description === undefined ? {} : { description: room.description }) },
    });
  }
  for (const im of seed.ims ?? []) {
    const members = [...new Set(im.map(idOf))];
    await ctx.commit({ t: 'stream', id: newId(), type: members.length === 2 ? 'IM' : 'MIM', by: members[0]!, at, attributes: {}, members: members.map((id) => ({ id, owner: false })), ...newStreamKey() });
  }
  await writeFile(join(filesDir, 'identities.json'), `${JSON.stringify({ bot: botName, identities: [...identities.values()] }, null, 2)}\n`);
  return identities;
}

async function readIdentities(filesDir: string): Promise<{ identities: Map<string, IdentityFiles>; botName: string | undefined }> {
  try {
    const saved = JSON.parse(await readFile(join(filesDir, 'identities.json'), 'utf8')) as { bot?: string; identities: IdentityFiles[] };
    return { identities: new Map(saved.identities.map((f) => [f.username, f])), botName: saved.bot };
  } catch {
    return { identities: new Map(), botName: undefined };
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
  const cors = corsPolicy(options.corsOrigins);
  const faults = new Faults();
  for (const rule of options.faults ?? []) faults.add(rule);
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const filesDir = dataDir ?? (await mkdtemp(join(tmpdir(), 'allegro-sandbox-')));
  await mkdir(filesDir, { recursive: true });
  const tls = await loadOrCreateTls(filesDir);
  const caCertPath = tls.caCertPath ?? join(filesDir, 'tls', 'ca.pem');
  const { state, persistence } = await openState(dataDir);
  const config: SandboxConfig = { ...DEFAULT_CONFIG, ...options.config };
  const urls: SandboxUrls = { podUrl: '', keyManagerUrl: '', sessionAuthUrl: '', keyAuthUrl: '', objectStoreUrl: '', agentUrl: '' };
  const fresh = state.podId === 0;
  const ctx = new SandboxContext(state, config, urls, persistence);
  let identities: Map<string, IdentityFiles>;
  let botName: string | undefined;
  let blobStore: BlobStore;
  try {
    if (fresh) {
      // The seed applies to a new data directory only; later starts replay the journal.
      const seed = options.seed === undefined ? DEFAULT_SEED : typeof options.seed === 'string' ? await readSeedFile(options.seed) : parseSeed(options.seed);
      botName = seed.bot ?? seed.users.find((u) => u.type === 'SYSTEM')?.username ?? seed.users[0]?.username;
      identities = await seedState(ctx, seed, filesDir, tls, botName);
    } else {
      ({ identities, botName } = await readIdentities(filesDir));
    }
    // Blob files live next to the journal; uploads that never committed are removed now.
    blobStore = await openBlobStore(join(filesDir, 'blobs'), state, options.maxBlobBytes);
  } catch (err) {
    await ctx.close();
    throw err;
  }

  const admin: SandboxAdmin = {
    async rotate(streamId) {
      const stream = state.streams.get(streamId);
      if (stream === undefined) throw new HttpError(404, 'Stream not found');
      const rotationId = (BigInt(stream.currentRotation) + 1n).toString();
      await ctx.commit({ t: 'rotate', streamId, rotationId, contentKey: newStreamKey().contentKey, at: Date.now() });
      return rotationId;
    },
    async setObjectStoreEntitlement(enabled) {
      await ctx.commit({ t: 'entitlement', objectStore: enabled });
    },
    async createUser(user) {
      if (typeof user.username !== 'string' || !USERNAME.test(user.username)) throw new HttpError(400, 'Field "username" must be 1 to 64 letters, digits or . _ @ -');
      if (state.usersByName.has(user.username.toLowerCase())) throw new HttpError(409, 'A user with that username exists');
      let privateKeyPem: string | undefined;
      let loginPublicKeyPem = user.publicKeyPem;
      if (loginPublicKeyPem === undefined) {
        const pair = await generateRsaKeyPair();
        privateKeyPem = pair.privateKeyPem;
        loginPublicKeyPem = pair.publicKeyPem;
      }
      const userId = state.nextUserId();
      await ctx.commit(...(await newUserRecords({ ...user, loginPublicKeyPem }, userId)));
      return { userId, ...(privateKeyPem === undefined ? {} : { privateKeyPem }) };
    },
  };

  const router = new Router();
  authRoutes(router, ctx);
  keyRoutes(router, ctx);
  podRoutes(router, ctx);
  messageRoutes(router, ctx);
  datafeedRoutes(router, ctx);
  objectRoutes(router, ctx, feedMessages(ctx));
  feedRoutes(router, ctx, faults);
  blobRoutes(router, ctx, blobStore);
  if (options.control === true) controlRoutes(router, faults, admin);

  const server: Server = createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem, ca: tls.caCertPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      if (cors.handle(req, res) === 'handled') return;
      void handleRequest(router, req, res, async (method, path, response) => {
        // The control API is exempt, so that a broad rule can always be removed.
        if (!path.startsWith('/sandbox/') && (await faults.apply(method, path, response)) === 'handled') return 'handled';
        if (path.startsWith('/object/') && !state.objectStore) {
          req.resume();
          writeResponse(response, errorResponse(403, OBJECT_STORE_DISABLED));
          return 'handled';
        }
        return 'continue';
      }, options.onError);
    });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => { /* a client gave up during the handshake; nothing to do */ });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err) => { void ctx.close().finally(() => reject(err)); }); // release the journal lock
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  Object.assign(urls, {
    podUrl: base, keyManagerUrl: `${base}/relay`, sessionAuthUrl: `${base}/sessionauth`, keyAuthUrl: `${base}/keyauth`,
    objectStoreUrl: base, agentUrl: `${base}/agent`,
  });
  const configPath = join(filesDir, 'config.json');
  const clientConfig = clientConfigFor(urls, botName === undefined ? undefined : identities.get(botName), { trustStorePath: caCertPath });
  await writeFile(configPath, `${JSON.stringify(clientConfig, null, 2)}\n`);
  await writeFile(join(filesDir, 'config.yaml'), toConfigYaml(clientConfig));

  let closing: Promise<void> | undefined;
  return {
    ...urls, port, caCertPath, configPath, identities, faults, state, admin,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        // Long-polling datafeed reads would hold the close for their full wait; end them.
        setTimeout(() => { for (const s of sockets) s.destroy(); }, 50).unref();
        await stopped;
        await ctx.close();
        if (dataDir === undefined) await rm(filesDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
