/**
 * The agent host's configuration file (docs/agent-host.md "Configuration"): YAML or JSON read with util/yaml.ts,
 * validated key by key (INVALID_CONFIG naming the key). It holds where to listen (127.0.0.1 by default; HTTPS when a
 * certificate is given, else HTTP), the data directory, the super user (username and scrypt hash, never a
 * password), how agents reach Symphony (BDK config.yaml keys without `bot`, shared by every agent), the OBO apps
 * `obo` agents act through (each app's id and its RSA key by reference: a file or an environment variable, read when
 * the host starts), and tunables. Relative paths are relative to the file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AllegroConfigInput } from '../config.js';
import { InvalidConfigError } from '../errors.js';
import { parseDocumentText } from '../util/yaml.js';
import { isPasswordHash } from './password.js';
import type { PgConnectionOptions } from './store/pg.js';

/** The tunables of a host (all have defaults). */
export interface HostTunables {
  /** Lifetime of an issued token. Default 3,600,000 (1 hour, as MindLink). */
  tokenLifetimeMs: number;
  /** Longest hold of `GET /Collaboration/V1/Events`. Default 30,000. */
  eventsWaitMs: number;
  /** Events kept per agent; older ones are pruned (a `last-event` before them is answered 410). Default 10,000. */
  eventBufferSize: number;
  /** Most events one `/Events` answer carries. Default 500. */
  eventsPerAnswer: number;
  /** First activation retry delay. Default 500. */
  backoffInitialMs: number;
  /** Cap of the activation retry delay. Default 300,000 (5 minutes). */
  backoffMaxMs: number;
  /** Largest request body, bytes. Default 1 MiB. */
  bodyLimit: number;
  /** Concurrent connections. Default 1,024. */
  maxConnections: number;
  /** A whole request must arrive within this. Default 60,000. */
  requestTimeoutMs: number;
}

/**
 * The shared PostgreSQL store (docs/agent-host.md "Scale-out"): where it is — a `url` and/or its parts — and the
 * name of the environment variable holding the password (the password itself is never in the file).
 */
export interface PostgresStoreConfig extends Pick<PgConnectionOptions, 'url' | 'host' | 'port' | 'database' | 'user' | 'maxConnections'> {
  kind: 'postgres';
  passwordEnv?: string;
  /** How long an agent's lease lasts without renewal (default 15,000 ms), and how often it is renewed. */
  leaseTimeMs?: number;
  leaseIntervalMs?: number;
  /** The URL other hosts forward calls to (default: the URL this host listens at). */
  advertiseUrl?: string;
  /** A PEM file of the CA certificates to trust when forwarding to other hosts over HTTPS (default: the system's). */
  forwardCaPath?: string;
}

/**
 * An OBO app of the host (docs/agent-host.md "Configuration"): agents of `Kind: "obo"` act through it. Its RSA private
 * key is named, never held: exactly one of a PEM file and an environment variable holding the PEM.
 */
export interface HostOboApp {
  appId: string;
  /** The PEM file of the app's private key (absolute). */
  privateKeyPath?: string;
  /** The environment variable holding the PEM. */
  privateKeyEnv?: string;
}

/** The host's configuration, resolved. */
export interface HostConfig {
  /** The file it was read from, when it was. */
  path?: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM certificate chain and private key of the HTTPS server; absent = plain HTTP. */
  tls?: { certificatePath: string; privateKeyPath: string };
  /** Where the database lives; absent = in memory (tests). */
  dataDir?: string;
  /** The shared store instead of SQLite in `dataDir` (several hosts on one database). */
  store?: PostgresStoreConfig;
  superUser: { username: string; passwordHash: string };
  /** BDK configuration keys (host, port, ssl, …) every agent's client starts from; its `bot` comes from the agent. */
  symphony: AllegroConfigInput;
  /** The OBO apps `obo` agents act through, when any is configured. */
  oboApps?: HostOboApp[];
  tunables: HostTunables;
}

/** The defaults of {@link HostTunables}. */
export const DEFAULT_TUNABLES: Readonly<HostTunables> = Object.freeze({
  tokenLifetimeMs: 3_600_000, eventsWaitMs: 30_000, eventBufferSize: 10_000, eventsPerAnswer: 500, backoffInitialMs: 500, backoffMaxMs: 300_000,
  bodyLimit: 1024 * 1024, maxConnections: 1024, requestTimeoutMs: 60_000,
});

const TOP_KEYS = ['host', 'port', 'tls', 'dataDir', 'store', 'superUser', 'symphony', 'oboApps', 'tunables'];

function record(key: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(key, 'expected a mapping');
  return value as Record<string, unknown>;
}

function onlyKeys(key: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidConfigError(`${key === '' ? '' : `${key}.`}${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
}

function text(key: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidConfigError(key, 'expected a non-empty string');
  return value;
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw new InvalidConfigError(key, `expected an integer from ${min} to ${max}`);
  return value;
}

const POSTGRES_KEYS = ['kind', 'url', 'host', 'port', 'database', 'user', 'passwordEnv', 'maxConnections', 'leaseTimeMs', 'leaseIntervalMs', 'advertiseUrl', 'forwardCa'];

/** The `store` section: `kind: sqlite` (the default, in `dataDir`) or `kind: postgres` with where the database is. */
function storeConfig(value: unknown, path: (key: string, value: unknown) => string): PostgresStoreConfig | undefined {
  const o = record('store', value);
  if (o.kind === 'sqlite') {
    onlyKeys('store', o, ['kind']);
    return undefined;
  }
  if (o.kind !== 'postgres') throw new InvalidConfigError('store.kind', 'expected sqlite or postgres');
  onlyKeys('store', o, POSTGRES_KEYS);
  if (o.url === undefined && o.host === undefined) throw new InvalidConfigError('store', 'a postgres store needs url or host');
  const optional = <T>(key: string, read: (k: string, v: unknown) => T): Record<string, T> => (o[key] === undefined ? {} : { [key]: read(`store.${key}`, o[key]) });
  const store: PostgresStoreConfig = {
    kind: 'postgres',
    ...optional('url', text), ...optional('host', text), ...optional('port', (k, v) => integer(k, v, 1, 65535)), ...optional('database', text), ...optional('user', text),
    ...optional('passwordEnv', text), ...optional('maxConnections', (k, v) => integer(k, v, 1, 1000)),
    ...optional('leaseTimeMs', (k, v) => integer(k, v, 100, 3_600_000)), ...optional('leaseIntervalMs', (k, v) => integer(k, v, 10, 3_600_000)),
    ...optional('advertiseUrl', text), ...(o.forwardCa === undefined ? {} : { forwardCaPath: path('store.forwardCa', o.forwardCa) }),
  };
  if (store.url !== undefined && !/^postgres(ql)?:\/\//.test(store.url)) throw new InvalidConfigError('store.url', 'expected a postgresql:// URL');
  if (store.url !== undefined && /^[^/]*\/\/[^/@]*:[^/@]*@/.test(store.url)) throw new InvalidConfigError('store.url', 'put no password in the URL; name its environment variable in store.passwordEnv');
  if (store.leaseIntervalMs !== undefined && store.leaseIntervalMs >= (store.leaseTimeMs ?? 15_000)) throw new InvalidConfigError('store.leaseIntervalMs', 'expected less than store.leaseTimeMs');
  return store;
}

/** The `oboApps` section: a list of `{appId, privateKey | privateKeyEnv}`, app ids unique. */
function oboAppsConfig(value: unknown, path: (key: string, value: unknown) => string): HostOboApp[] {
  if (!Array.isArray(value)) throw new InvalidConfigError('oboApps', 'expected a list of {appId, privateKey | privateKeyEnv}');
  const apps: HostOboApp[] = [];
  value.forEach((entry, i) => {
    const key = `oboApps[${i}]`;
    const o = record(key, entry);
    onlyKeys(key, o, ['appId', 'privateKey', 'privateKeyEnv']);
    const appId = text(`${key}.appId`, o.appId);
    if (apps.some((a) => a.appId === appId)) throw new InvalidConfigError(`${key}.appId`, `the app ${appId} is configured twice`);
    if ((o.privateKey === undefined) === (o.privateKeyEnv === undefined)) throw new InvalidConfigError(key, 'expected exactly one of privateKey (a PEM file) and privateKeyEnv (the environment variable holding the PEM)');
    apps.push(o.privateKey !== undefined ? { appId, privateKeyPath: path(`${key}.privateKey`, o.privateKey) } : { appId, privateKeyEnv: text(`${key}.privateKeyEnv`, o.privateKeyEnv) });
  });
  return apps;
}

/**
 * Resolve a configuration document (already parsed). `baseDir` resolves relative paths.
 * @throws InvalidConfigError naming the key.
 */
export function resolveHostConfig(document: unknown, baseDir: string): HostConfig {
  const o = record('(document)', document);
  onlyKeys('', o, TOP_KEYS);
  const path = (key: string, value: unknown) => {
    const p = text(key, value);
    return isAbsolute(p) ? p : resolve(baseDir, p);
  };
  const su = record('superUser', o.superUser);
  onlyKeys('superUser', su, ['username', 'passwordHash']);
  const passwordHash = text('superUser.passwordHash', su.passwordHash);
  if (!isPasswordHash(passwordHash)) throw new InvalidConfigError('superUser.passwordHash', 'expected an scrypt hash as `allegro agent-host hash-password` prints it (scrypt$N$r$p$salt$hash)');
  let tls: HostConfig['tls'];
  if (o.tls !== undefined) {
    const t = record('tls', o.tls);
    onlyKeys('tls', t, ['certificate', 'privateKey']);
    tls = { certificatePath: path('tls.certificate', t.certificate), privateKeyPath: path('tls.privateKey', t.privateKey) };
  }
  const symphony = { ...record('symphony', o.symphony) } as AllegroConfigInput & Record<string, unknown>;
  if ('bot' in symphony) throw new InvalidConfigError('symphony.bot', 'each agent brings its own identity; remove bot');
  const trust = symphony.ssl?.trustStore;
  if (trust?.path !== undefined && !isAbsolute(trust.path)) symphony.ssl = { ...symphony.ssl, trustStore: { ...trust, path: resolve(baseDir, trust.path) } };
  const store = o.store === undefined ? undefined : storeConfig(o.store, path);
  const oboApps = o.oboApps === undefined ? undefined : oboAppsConfig(o.oboApps, path);
  const tunables: HostTunables = { ...DEFAULT_TUNABLES };
  if (o.tunables !== undefined) {
    const t = record('tunables', o.tunables);
    onlyKeys('tunables', t, Object.keys(DEFAULT_TUNABLES));
    for (const [k, v] of Object.entries(t)) (tunables as unknown as Record<string, number>)[k] = integer(`tunables.${k}`, v, 1, 2 ** 31 - 1);
  }
  return {
    host: o.host === undefined ? '127.0.0.1' : text('host', o.host),
    port: o.port === undefined ? 0 : integer('port', o.port, 0, 65535),
    ...(tls === undefined ? {} : { tls }),
    ...(o.dataDir === undefined ? {} : { dataDir: path('dataDir', o.dataDir) }),
    ...(store === undefined ? {} : { store }),
    superUser: { username: text('superUser.username', su.username), passwordHash },
    symphony,
    ...(oboApps === undefined ? {} : { oboApps }),
    tunables,
  };
}

/**
 * Read and resolve the configuration file at `file`.
 * @throws InvalidConfigError when it cannot be read or is not valid.
 */
export function loadHostConfig(file: string): HostConfig {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidConfigError('(file)', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let document: unknown;
  try {
    document = parseDocumentText(content);
  } catch (err) {
    throw new InvalidConfigError('(file)', `${file} is not YAML or JSON (${(err as Error).message})`);
  }
  return { ...resolveHostConfig(document, dirname(resolve(file))), path: resolve(file) };
}
