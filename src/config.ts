/**
 * Client configuration, BDK-style (bdk-and-obo.md §1.9): a top-level scheme/host/port/context that every component
 * (pod, keyManager, sessionAuth, keyAuth, agent, objectStore) inherits unless it sets its own; the bot's username,
 * private key (path or content) and certificate (PKCS#12 path + password, or PEM paths); proxy; extra CA
 * certificates; retry, timeout, key-cache and datafeed settings. The sandbox writes this format (`configPath`).
 *
 * Files are JSON. Every string may reference environment variables as `${NAME}` or `${NAME:-default}`; a
 * reference to an unset variable without a default is an error naming the key. The same options can be given in
 * code; {@link resolveConfig} checks either and fills in the defaults: every numeric setting accepts exactly what
 * the module it feeds accepts (docs/cli.md "The bot's configuration"), and every credential of the result (private
 * key, PKCS#12 and its password, supplied tokens, proxy passwords) is a {@link Secret} that never prints
 * (docs/threat-model.md "Client").
 */
import { platform } from '#platform';
import { DEFAULT_JWT_LIFETIME_SECONDS, MAX_JWT_LIFETIME_SECONDS } from './crypto/rsa.js';
import { AllegroError, InvalidConfigError } from './errors.js';
import { fromUtf8 } from './util/bytes.js';
import { Secret } from './util/secret.js';

/** Where one component lives. */
export interface ComponentConfig {
  scheme?: 'https' | 'http';
  host?: string;
  port?: number;
  /** Path prefix, e.g. `/relay` for the Key Manager. */
  context?: string;
  proxy?: ProxyConfig;
}

/** An HTTP(S) proxy. */
export interface ProxyConfig {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

/** Retry settings for idempotent requests (and the datafeed). */
export interface RetryConfig {
  maxAttempts?: number;
  initialIntervalMs?: number;
  multiplier?: number;
  maxIntervalMs?: number;
}

/** The configuration as written in a file or passed in code. */
export interface AllegroConfigInput extends ComponentConfig {
  pod?: ComponentConfig;
  keyManager?: ComponentConfig;
  sessionAuth?: ComponentConfig;
  keyAuth?: ComponentConfig;
  agent?: ComponentConfig;
  objectStore?: ComponentConfig;
  bot?: {
    username?: string;
    privateKey?: { path?: string; content?: string };
    certificate?: { path?: string; password?: string; certPath?: string; keyPath?: string };
  };
  /**
   * Caller-supplied tokens instead of a login (both must be given; `bot.username` is then optional), e.g. obtained by
   * an extension app's backend. With `refresh` (in code only), a 401 gets new tokens from it ({@link TokenRefresh}).
   */
  tokens?: { session?: string; keyManager?: string; refresh?: TokenRefresh };
  ssl?: { trustStore?: { path?: string }; caCertificates?: string[] };
  retry?: RetryConfig;
  timeouts?: { requestMs?: number; connectMs?: number };
  keys?: { maxEntries?: number; maxAgeMs?: number; rotationCheckMs?: number; failureCooldownMs?: number };
  datafeed?: { maxBackoffMs?: number; dedupEntries?: number };
  auth?: { minRefreshIntervalMs?: number; jwtLifetimeSeconds?: number };
}

/**
 * Gets a new session and Key Manager token when the pod or the Key Manager refused one with 401 (single-flight: one
 * call however many requests were refused; at most one per `auth.minRefreshIntervalMs`). A rejection, or an answer
 * without both tokens, fails the refused request with `AUTHENTICATION_FAILED`, reason `refresh-failed`.
 */
export type TokenRefresh = () => Promise<{ session: string; keyManager: string }>;

/** A proxy as resolved: its password never prints. */
export interface ResolvedProxy {
  host: string;
  port: number;
  username?: string;
  password?: Secret;
}

/** A component's resolved base URL and proxy. */
export interface ResolvedComponent {
  /** Base URL including the context path, without a trailing slash. */
  url: string;
  proxy?: ResolvedProxy;
}

/**
 * How the bot authenticates. Every secret is a {@link Secret}: printing, stringifying or copying the configuration
 * shows placeholders such as `[redacted private key]`; the auth layer calls `reveal()`. A certificate is public and
 * stays a string.
 */
export type Credentials =
  | { kind: 'rsa'; username: string; privateKeyPem: Secret }
  | { kind: 'certificate'; username: string; pkcs12: Secret<Uint8Array>; password: Secret }
  | { kind: 'certificate'; username: string; certPem: string; keyPem: Secret }
  | { kind: 'tokens'; username?: string; sessionToken: Secret; keyManagerToken: Secret; refresh?: TokenRefresh };

/** A checked configuration with every default applied. */
export interface AllegroConfig {
  pod: ResolvedComponent;
  keyManager: ResolvedComponent;
  sessionAuth: ResolvedComponent;
  keyAuth: ResolvedComponent;
  agent: ResolvedComponent;
  objectStore: ResolvedComponent;
  credentials: Credentials;
  /** Extra trusted CA certificates (PEM). */
  caCertificates: string[];
  retry: Required<RetryConfig>;
  timeouts: { requestMs: number; connectMs: number };
  keys: { maxEntries: number; maxAgeMs: number; rotationCheckMs: number; failureCooldownMs: number };
  datafeed: { maxBackoffMs: number; dedupEntries: number };
  auth: { minRefreshIntervalMs: number; jwtLifetimeSeconds: number };
}

const COMPONENTS = ['pod', 'keyManager', 'sessionAuth', 'keyAuth', 'agent', 'objectStore'] as const;
const DEFAULT_CONTEXT: Record<(typeof COMPONENTS)[number], string> = {
  pod: '', keyManager: '/relay', sessionAuth: '/sessionauth', keyAuth: '/keyauth', agent: '/agent', objectStore: '',
};

/** Replace `${NAME}` and `${NAME:-default}` in every string of `value`. */
export function interpolateEnv(value: unknown, env: Record<string, string | undefined>, key = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new InvalidConfigError(key || '(root)', `environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${key}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, key === '' ? k : `${key}.${k}`)]));
  }
  return value;
}

/**
 * What a numeric setting accepts: exactly what the module option it feeds accepts (docs/cli.md "The bot's
 * configuration" lists each setting with its option), so a value is never refused here that the module would take, nor taken here
 * that the module would refuse later.
 */
interface NumberRule {
  integer?: boolean;
  min: number;
  /** `min` itself is excluded. */
  above?: boolean;
  max?: number;
}

const POSITIVE_INTEGER: NumberRule = { integer: true, min: 1 };
const POSITIVE: NumberRule = { min: 0, above: true };
const NON_NEGATIVE: NumberRule = { min: 0 };

function expectation(rule: NumberRule): string {
  const kind = rule.integer === true ? 'integer' : 'number';
  if (rule.max !== undefined) return `${rule.integer === true ? 'an' : 'a'} ${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min === 0) return rule.above === true ? `a positive ${kind}` : `a non-negative ${kind}`;
  if (rule.min === 1 && rule.integer === true) return 'a positive integer';
  return `a ${kind} of at least ${rule.min}`;
}

function setting(key: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && Number.isFinite(value) && (rule.integer !== true || Number.isSafeInteger(value)) &&
    (rule.above === true ? value > rule.min : value >= rule.min) && (rule.max === undefined || value <= rule.max);
  if (!ok) throw new InvalidConfigError(key, `expected ${expectation(rule)}`);
  return value;
}

/** A settings section (`retry`, `keys`, ...): absent, or an object. */
function section(input: AllegroConfigInput, key: 'retry' | 'timeouts' | 'keys' | 'datafeed' | 'auth'): Record<string, unknown> {
  const value: unknown = input[key];
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(key, 'expected an object');
  return value as Record<string, unknown>;
}

function text(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new InvalidConfigError(key, 'expected a non-empty string');
  return value;
}

function component(name: (typeof COMPONENTS)[number], input: AllegroConfigInput): ResolvedComponent {
  const own = (input[name] ?? {}) as ComponentConfig;
  const scheme = own.scheme ?? input.scheme ?? 'https';
  if (scheme !== 'https' && scheme !== 'http') throw new InvalidConfigError(`${name}.scheme`, 'expected https or http');
  const host = text(`${name}.host`, own.host) ?? text('host', input.host);
  if (host === undefined) throw new InvalidConfigError(`${name}.host`, 'no host set here or at the top level');
  const port = own.port ?? input.port ?? (scheme === 'https' ? 443 : 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidConfigError(`${name}.port`, 'expected a port number');
  let context = own.context ?? DEFAULT_CONTEXT[name];
  if (typeof context !== 'string') throw new InvalidConfigError(`${name}.context`, 'expected a path');
  context = context.replace(/\/+$/, '');
  if (context !== '' && !context.startsWith('/')) context = `/${context}`;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const proxy = own.proxy !== undefined ? resolveProxy(`${name}.proxy`, own.proxy) : input.proxy !== undefined ? resolveProxy('proxy', input.proxy) : undefined;
  return { url: `${scheme}://${hostPart}:${port}${context}`, ...(proxy === undefined ? {} : { proxy }) };
}

function resolveProxy(key: string, value: unknown): ResolvedProxy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(key, 'expected an object with host and port');
  const p = value as Partial<ProxyConfig>;
  const host = text(`${key}.host`, p.host);
  if (host === undefined) throw new InvalidConfigError(`${key}.host`, 'required');
  if (!Number.isInteger(p.port) || p.port! < 1 || p.port! > 65535) throw new InvalidConfigError(`${key}.port`, 'expected a port number');
  const username = text(`${key}.username`, p.username);
  if (p.password !== undefined && typeof p.password !== 'string') throw new InvalidConfigError(`${key}.password`, 'expected a string');
  return {
    host, port: p.port!, ...(username === undefined ? {} : { username }),
    ...(p.password === undefined ? {} : { password: new Secret('password', p.password) }),
  };
}

/** Why a file could not be read: the platform's own error (no file system), else the system error code. */
function readFailure(path: string, err: unknown): string {
  return err instanceof AllegroError ? `cannot read ${path}: ${err.message}` : `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
}

/** The bytes of the file at `path` (a non-empty string, relative to `baseDir`), or an error naming `key`. */
async function readBytes(key: string, path: unknown, baseDir: string | undefined): Promise<Uint8Array> {
  const file = text(key, path);
  if (file === undefined) throw new InvalidConfigError(key, 'expected a file path');
  try {
    return await platform.readFile(file, baseDir);
  } catch (err) {
    throw new InvalidConfigError(key, readFailure(file, err));
  }
}

async function readText(key: string, path: unknown, baseDir: string | undefined): Promise<string> {
  return fromUtf8(await readBytes(key, path, baseDir));
}

async function credentials(input: AllegroConfigInput, baseDir: string | undefined): Promise<Credentials> {
  const bot = input.bot ?? {};
  const username = text('bot.username', bot.username);
  if (input.tokens !== undefined) {
    const sessionToken = text('tokens.session', input.tokens.session);
    const keyManagerToken = text('tokens.keyManager', input.tokens.keyManager);
    if (sessionToken === undefined || keyManagerToken === undefined) throw new InvalidConfigError('tokens', 'give both session and keyManager');
    const { refresh } = input.tokens;
    if (refresh !== undefined && typeof refresh !== 'function') throw new InvalidConfigError('tokens.refresh', 'expected a function returning a promise of {session, keyManager}');
    return {
      kind: 'tokens', ...(username === undefined ? {} : { username }),
      sessionToken: new Secret('session token', sessionToken), keyManagerToken: new Secret('Key Manager token', keyManagerToken), ...(refresh === undefined ? {} : { refresh }),
    };
  }
  if (username === undefined) throw new InvalidConfigError('bot.username', 'required');
  const key = bot.privateKey;
  if (key !== undefined && (key.path !== undefined || key.content !== undefined)) {
    const pem = key.content !== undefined ? text('bot.privateKey.content', key.content)! : await readText('bot.privateKey.path', key.path, baseDir);
    if (!pem.includes('PRIVATE KEY')) throw new InvalidConfigError('bot.privateKey', 'expected a PEM private key (PKCS#1 or PKCS#8)');
    return { kind: 'rsa', username, privateKeyPem: new Secret('private key', pem) };
  }
  const cert = bot.certificate;
  if (cert?.path !== undefined) {
    const password = cert.password ?? '';
    if (typeof password !== 'string') throw new InvalidConfigError('bot.certificate.password', 'expected a string');
    const pkcs12 = await readBytes('bot.certificate.path', cert.path, baseDir);
    return { kind: 'certificate', username, pkcs12: new Secret('PKCS#12', pkcs12), password: new Secret('password', password) };
  }
  if (cert?.certPath !== undefined && cert.keyPath !== undefined) {
    return {
      kind: 'certificate', username,
      certPem: await readText('bot.certificate.certPath', cert.certPath, baseDir),
      keyPem: new Secret('private key', await readText('bot.certificate.keyPath', cert.keyPath, baseDir)),
    };
  }
  throw new InvalidConfigError('bot', 'give privateKey.path or privateKey.content (RSA), certificate.path (PKCS#12) or certificate.certPath + keyPath (PEM), or tokens');
}

/**
 * Check a configuration and apply defaults. Relative file paths are resolved against `baseDir` (default: the working
 * directory). Where there is no file system (browsers), give keys and certificates as content, not paths.
 * @throws InvalidConfigError (`INVALID_CONFIG`) naming the offending key.
 */
export async function resolveConfig(input: AllegroConfigInput, baseDir?: string): Promise<AllegroConfig> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidConfigError('(root)', 'expected an object');
  const listed: unknown = input.ssl?.caCertificates ?? [];
  if (!Array.isArray(listed)) throw new InvalidConfigError('ssl.caCertificates', 'expected a list of file paths');
  const caFiles: Array<[string, unknown]> = [
    ...(input.ssl?.trustStore?.path === undefined ? [] : [['ssl.trustStore.path', input.ssl.trustStore.path] as [string, unknown]]),
    ...listed.map((p, i): [string, unknown] => [`ssl.caCertificates[${i}]`, p]),
  ];
  const caCertificates = await Promise.all(caFiles.map(([key, path]) => readText(key, path, baseDir)));
  const [retry, timeouts, keys, datafeed, auth] = (['retry', 'timeouts', 'keys', 'datafeed', 'auth'] as const).map((key) => section(input, key)) as [
    Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  const [pod, keyManager, sessionAuth, keyAuth, agent, objectStore] = COMPONENTS.map((name) => component(name, input)) as [
    ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent];
  return {
    pod, keyManager, sessionAuth, keyAuth, agent, objectStore,
    credentials: await credentials(input, baseDir),
    caCertificates,
    // Each rule is the check of the option the value feeds: http/retry.ts (retryPolicy), http/http-client.ts and
    // http/pool.ts (timeouts), keys/key-cache.ts (KeyCache), pod/datafeed.ts (Datafeed), auth/session.ts and
    // crypto/rsa.ts (signJwtRs512).
    retry: {
      maxAttempts: setting('retry.maxAttempts', retry.maxAttempts, 5, POSITIVE_INTEGER),
      initialIntervalMs: setting('retry.initialIntervalMs', retry.initialIntervalMs, 250, NON_NEGATIVE),
      multiplier: setting('retry.multiplier', retry.multiplier, 2, { min: 1 }),
      maxIntervalMs: setting('retry.maxIntervalMs', retry.maxIntervalMs, 30_000, NON_NEGATIVE),
    },
    timeouts: {
      requestMs: setting('timeouts.requestMs', timeouts.requestMs, 30_000, POSITIVE_INTEGER),
      connectMs: setting('timeouts.connectMs', timeouts.connectMs, 10_000, POSITIVE_INTEGER),
    },
    keys: {
      maxEntries: setting('keys.maxEntries', keys.maxEntries, 1000, POSITIVE_INTEGER),
      maxAgeMs: setting('keys.maxAgeMs', keys.maxAgeMs, 60 * 60 * 1000, POSITIVE),
      rotationCheckMs: setting('keys.rotationCheckMs', keys.rotationCheckMs, 60_000, POSITIVE),
      failureCooldownMs: setting('keys.failureCooldownMs', keys.failureCooldownMs, 5_000, NON_NEGATIVE),
    },
    datafeed: {
      maxBackoffMs: setting('datafeed.maxBackoffMs', datafeed.maxBackoffMs, 30_000, POSITIVE_INTEGER),
      dedupEntries: setting('datafeed.dedupEntries', datafeed.dedupEntries, 10_000, POSITIVE_INTEGER),
    },
    auth: {
      minRefreshIntervalMs: setting('auth.minRefreshIntervalMs', auth.minRefreshIntervalMs, 1_000, NON_NEGATIVE),
      jwtLifetimeSeconds: setting('auth.jwtLifetimeSeconds', auth.jwtLifetimeSeconds, DEFAULT_JWT_LIFETIME_SECONDS, { integer: true, min: 1, max: MAX_JWT_LIFETIME_SECONDS }),
    },
  };
}

/**
 * Read a JSON configuration file, interpolate environment variables, and resolve it (relative paths against the
 * file's directory).
 * @throws InvalidConfigError (`INVALID_CONFIG`) for an unreadable file, invalid JSON or a bad value.
 */
export async function loadConfig(path: string, env: Record<string, string | undefined> = globalThis.process?.env ?? {}): Promise<AllegroConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(await platform.readFile(path)));
  } catch (err) {
    throw new InvalidConfigError('(file)', err instanceof SyntaxError ? `${path} is not valid JSON` : readFailure(path, err));
  }
  return resolveConfig(interpolateEnv(parsed, env) as AllegroConfigInput, platform.directoryOf(path));
}
