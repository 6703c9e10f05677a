/**
 * Client configuration, BDK-style (bdk-and-obo.md §1.9): a top-level scheme/host/port/context that every component
 * (pod, keyManager, sessionAuth, keyAuth, agent, objectStore) inherits unless it sets its own; the bot's username,
 * private key (path or content) and certificate (PKCS#12 path + password, or PEM paths); proxy; extra CA
 * certificates; retry, timeout, key-cache and datafeed settings. The sandbox writes this format (`configPath`).
 *
 * Files are JSON. Every string may reference environment variables as `${NAME}` or `${NAME:-default}`; a
 * reference to an unset variable without a default is an error naming the key. The same options can be given in
 * code; {@link resolveConfig} checks either and fills in the defaults.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidConfigError } from './errors.js';
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
  /** Caller-supplied tokens instead of a login (both must be given). */
  tokens?: { session?: string; keyManager?: string };
  ssl?: { trustStore?: { path?: string }; caCertificates?: string[] };
  retry?: RetryConfig;
  timeouts?: { requestMs?: number; connectMs?: number };
  keys?: { maxEntries?: number; maxAgeMs?: number; rotationCheckMs?: number; failureCooldownMs?: number };
  datafeed?: { maxBackoffMs?: number; dedupEntries?: number };
  auth?: { minRefreshIntervalMs?: number; jwtLifetimeSeconds?: number };
}

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
  | { kind: 'tokens'; username: string; sessionToken: Secret; keyManagerToken: Secret };

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

function positive(key: string, value: unknown, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidConfigError(key, `expected a positive ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

function atLeastOne(key: string, value: number): number {
  if (value < 1) throw new InvalidConfigError(key, 'expected a number of at least 1');
  return value;
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

async function readText(key: string, path: string, baseDir: string): Promise<string> {
  try {
    return await readFile(isAbsolute(path) ? path : resolve(baseDir, path), 'utf8');
  } catch (err) {
    throw new InvalidConfigError(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function credentials(input: AllegroConfigInput, baseDir: string): Promise<Credentials> {
  const bot = input.bot ?? {};
  const username = text('bot.username', bot.username);
  if (username === undefined) throw new InvalidConfigError('bot.username', 'required');
  if (input.tokens !== undefined) {
    const sessionToken = text('tokens.session', input.tokens.session);
    const keyManagerToken = text('tokens.keyManager', input.tokens.keyManager);
    if (sessionToken === undefined || keyManagerToken === undefined) throw new InvalidConfigError('tokens', 'give both session and keyManager');
    return { kind: 'tokens', username, sessionToken: new Secret('session token', sessionToken), keyManagerToken: new Secret('Key Manager token', keyManagerToken) };
  }
  const key = bot.privateKey;
  if (key !== undefined && (key.path !== undefined || key.content !== undefined)) {
    const pem = key.content ?? (await readText('bot.privateKey.path', key.path!, baseDir));
    if (!pem.includes('PRIVATE KEY')) throw new InvalidConfigError('bot.privateKey', 'expected a PEM private key (PKCS#1 or PKCS#8)');
    return { kind: 'rsa', username, privateKeyPem: new Secret('private key', pem) };
  }
  const cert = bot.certificate;
  if (cert?.path !== undefined) {
    const password = cert.password ?? '';
    try {
      const pkcs12 = await readFile(isAbsolute(cert.path) ? cert.path : resolve(baseDir, cert.path));
      return { kind: 'certificate', username, pkcs12: new Secret('PKCS#12', pkcs12), password: new Secret('password', password) };
    } catch (err) {
      throw new InvalidConfigError('bot.certificate.path', `cannot read ${cert.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
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
 * Check a configuration and apply defaults. Relative file paths are resolved against `baseDir`.
 * @throws InvalidConfigError (`INVALID_CONFIG`) naming the offending key.
 */
export async function resolveConfig(input: AllegroConfigInput, baseDir = process.cwd()): Promise<AllegroConfig> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidConfigError('(root)', 'expected an object');
  const caPaths = [...(input.ssl?.trustStore?.path === undefined ? [] : [input.ssl.trustStore.path]), ...(input.ssl?.caCertificates ?? [])];
  const trustStores = caPaths.length - (input.ssl?.caCertificates?.length ?? 0);
  const caCertificates = await Promise.all(caPaths.map((p, i) => readText(i < trustStores ? 'ssl.trustStore.path' : `ssl.caCertificates[${i - trustStores}]`, p, baseDir)));
  const [pod, keyManager, sessionAuth, keyAuth, agent, objectStore] = COMPONENTS.map((name) => component(name, input)) as [
    ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent];
  return {
    pod, keyManager, sessionAuth, keyAuth, agent, objectStore,
    credentials: await credentials(input, baseDir),
    caCertificates,
    retry: {
      maxAttempts: positive('retry.maxAttempts', input.retry?.maxAttempts, 5),
      initialIntervalMs: positive('retry.initialIntervalMs', input.retry?.initialIntervalMs, 250),
      multiplier: atLeastOne('retry.multiplier', positive('retry.multiplier', input.retry?.multiplier, 2, false)),
      maxIntervalMs: positive('retry.maxIntervalMs', input.retry?.maxIntervalMs, 30_000),
    },
    timeouts: {
      requestMs: positive('timeouts.requestMs', input.timeouts?.requestMs, 30_000),
      connectMs: positive('timeouts.connectMs', input.timeouts?.connectMs, 10_000),
    },
    keys: {
      maxEntries: positive('keys.maxEntries', input.keys?.maxEntries, 1000),
      maxAgeMs: positive('keys.maxAgeMs', input.keys?.maxAgeMs, 60 * 60 * 1000),
      rotationCheckMs: positive('keys.rotationCheckMs', input.keys?.rotationCheckMs, 60_000),
      failureCooldownMs: positive('keys.failureCooldownMs', input.keys?.failureCooldownMs, 5_000),
    },
    datafeed: {
      maxBackoffMs: positive('datafeed.maxBackoffMs', input.datafeed?.maxBackoffMs, 30_000),
      dedupEntries: positive('datafeed.dedupEntries', input.datafeed?.dedupEntries, 10_000),
    },
    auth: {
      minRefreshIntervalMs: positive('auth.minRefreshIntervalMs', input.auth?.minRefreshIntervalMs, 1_000),
      jwtLifetimeSeconds: positive('auth.jwtLifetimeSeconds', input.auth?.jwtLifetimeSeconds, 240),
    },
  };
}

/**
 * Read a JSON configuration file, interpolate environment variables, and resolve it (relative paths against the
 * file's directory).
 * @throws InvalidConfigError (`INVALID_CONFIG`) for an unreadable file, invalid JSON or a bad value.
 */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<AllegroConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidConfigError('(file)', err instanceof SyntaxError ? `${path} is not valid JSON` : `cannot read ${path}`);
  }
  return resolveConfig(interpolateEnv(parsed, env) as AllegroConfigInput, dirname(resolve(path)));
}
