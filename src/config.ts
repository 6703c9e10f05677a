/**
 * Client configuration: the Symphony BDK's `config.yaml` (YAML or JSON), read with the BDK's own keys and semantics,
 * plus one `allegro:` section for the settings only allegro-ts has. docs/config.md is the reference, key by key.
 * - Where each component lives: `scheme`, `host`, `port`, `context` and `proxy` at the top level, overridden field by
 *   field in `pod`, `keyManager`, `sessionAuth` and `agent`. `context` is the path *before* the component's own path,
 *   which the client appends as the BDK does (`/relay` and `/keyauth` on the Key Manager, `/sessionauth`, `/agent`).
 * - Who logs in: `bot` (username, and a private key or a certificate) and `app` (the OBO application's identity).
 * - Trust (`ssl.trustStore`, PEM), retries (`retry`, `datafeed.retry`), the connect timeout (`connectionTimeout`).
 *
 * Every string may reference environment variables as `${NAME}` or `${NAME:-default}` (`$${NAME}` is the literal
 * text); a reference to an unset variable without a default is an error naming the key. Keys the BDK knows that
 * allegro-ts does not use, and unknown keys outside `allegro:`, are listed in {@link AllegroConfig.ignoredKeys} (the
 * BDK ignores unknown keys too); an unknown key under `allegro:` is an error. allegro-ts's own former spellings
 * (`tokens`, `timeouts`, `ssl.caCertificates`, …) are still read (docs/config.md "Compatibility with allegro-ts's former format"). The same options can
 * be given in code; {@link resolveConfig} checks either and fills in the defaults: every numeric setting accepts
 * exactly what the module it feeds accepts, and every credential of the result (private key, PKCS#12 and its password,
 * supplied tokens, proxy passwords) is a {@link Secret} that never prints (docs/threat-model.md "Client").
 */
import { platform } from '#platform';
import { DEFAULT_JWT_LIFETIME_SECONDS, MAX_JWT_LIFETIME_SECONDS } from './crypto/rsa.js';
import { AllegroError, InvalidConfigError } from './errors.js';
import { fromUtf8, tryFromBase64, utf8 } from './util/bytes.js';
import { Secret } from './util/secret.js';
import { DocumentSyntaxError, parseDocumentText } from './util/yaml.js';

/** Where one component lives (the BDK's client section). A field left out is inherited from the top level. */
export interface ComponentConfig {
  scheme?: 'https' | 'http';
  host?: string;
  /** Default 443, whatever the scheme (as in the BDK). */
  port?: number;
  /**
   * The path before the component's own path, as in the BDK: `/relay` is never part of `keyManager.context`
   * (docs/config.md "Where each component lives").
   */
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

/** Retry settings as resolved: the options of the request retry policy (http/retry.ts). */
export interface RetryConfig {
  maxAttempts?: number;
  initialIntervalMs?: number;
  multiplier?: number;
  maxIntervalMs?: number;
}

/** The BDK's retry section (`retry`, `datafeed.retry`). */
export interface BdkRetryConfig {
  maxAttempts?: number;
  initialIntervalMillis?: number;
  multiplier?: number;
  maxIntervalMillis?: number;
  /** @deprecated allegro-ts's former spelling of `initialIntervalMillis`. */
  initialIntervalMs?: number;
  /** @deprecated allegro-ts's former spelling of `maxIntervalMillis`. */
  maxIntervalMs?: number;
}

/** A file given by its path or by its content (exactly one). */
export interface FileConfig {
  path?: string;
  /** The text itself when it is PEM, else base64 of the file (as the Java BDK reads its `byte[]` content). */
  content?: string;
}

/**
 * A client certificate: a PKCS#12 file and its password (the Java BDK's form), or one PEM file holding the
 * certificate and its unencrypted private key (the Python BDK's form).
 */
export interface CertificateConfig extends FileConfig {
  password?: string;
  /** @deprecated allegro-ts's former form: the PEM certificate's path, with `keyPath`. */
  certPath?: string;
  /** @deprecated allegro-ts's former form: the PEM private key's path, with `certPath`. */
  keyPath?: string;
}

/** How an identity logs in: a private key (RSA, a signed JWT) or a client certificate, not both. */
export interface IdentityConfig {
  privateKey?: FileConfig;
  certificate?: CertificateConfig;
}

/** What only allegro-ts has: the `allegro:` section. An unknown key here is an error. */
export interface AllegroSettings {
  /** Where `/keyauth` lives when not on the Key Manager (each field defaults to the Key Manager's). */
  keyAuth?: ComponentConfig;
  /** Where the Object Store (`/object/...`) lives when not on the pod (each field defaults to the pod's). */
  objectStore?: ComponentConfig;
  /**
   * Caller-supplied tokens instead of a login (both must be given; `bot.username` is then optional), e.g. obtained by
   * an extension app's backend. With `refresh` (in code only), a 401 gets new tokens from it ({@link TokenRefresh}).
   */
  tokens?: { session?: string; keyManager?: string; refresh?: TokenRefresh };
  /** More trusted CA files (PEM), after `ssl.trustStore`. */
  caCertificates?: string[];
  timeouts?: { requestMs?: number };
  keys?: { maxEntries?: number; maxAgeMs?: number; rotationCheckMs?: number; failureCooldownMs?: number };
  datafeed?: { dedupEntries?: number };
  auth?: { minRefreshIntervalMs?: number; jwtLifetimeSeconds?: number };
}

/** The configuration as written in a file (BDK `config.yaml`) or passed in code. */
export interface AllegroConfigInput extends ComponentConfig {
  /** Connect timeout in milliseconds (BDK: top level). */
  connectionTimeout?: number;
  pod?: ComponentConfig;
  keyManager?: ComponentConfig;
  sessionAuth?: ComponentConfig;
  agent?: ComponentConfig;
  bot?: IdentityConfig & { username?: string };
  /** The OBO application (BDK `app`): resolved into {@link AllegroConfig.app}. */
  app?: IdentityConfig & { appId?: string };
  ssl?: {
    /** A PEM file of CA certificates (a JKS or PKCS#12 trust store is refused with how to convert it). */
    trustStore?: FileConfig & { password?: string };
    /** @deprecated allegro-ts's former spelling of `allegro.caCertificates`. */
    caCertificates?: string[];
  };
  retry?: BdkRetryConfig;
  datafeed?: {
    /** `v2` (the default) is the only one allegro-ts reads. */
    version?: string;
    /** Of the BDK's datafeed retry, `maxIntervalMillis` is read: the longest wait between two attempts. */
    retry?: BdkRetryConfig;
    /** @deprecated allegro-ts's former spelling of `datafeed.retry.maxIntervalMillis`. */
    maxBackoffMs?: number;
    /** @deprecated allegro-ts's former spelling of `allegro.datafeed.dedupEntries`. */
    dedupEntries?: number;
  };
  allegro?: AllegroSettings;
  /** @deprecated allegro-ts's former spelling of `allegro.keyAuth`. */
  keyAuth?: ComponentConfig;
  /** @deprecated allegro-ts's former spelling of `allegro.objectStore`. */
  objectStore?: ComponentConfig;
  /** @deprecated allegro-ts's former spelling of `allegro.tokens`. */
  tokens?: { session?: string; keyManager?: string; refresh?: TokenRefresh };
  /** @deprecated allegro-ts's former spelling of `allegro.timeouts.requestMs` and `connectionTimeout`. */
  timeouts?: { requestMs?: number; connectMs?: number };
  /** @deprecated allegro-ts's former spelling of `allegro.keys`. */
  keys?: AllegroSettings['keys'];
  /** @deprecated allegro-ts's former spelling of `allegro.auth`. */
  auth?: AllegroSettings['auth'];
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
  /** Base URL including the component's own path (`/relay`, …), without a trailing slash. */
  url: string;
  proxy?: ResolvedProxy;
}

/**
 * An identity's login material. Every secret is a {@link Secret}: printing, stringifying or copying the configuration
 * shows placeholders such as `[redacted private key]`; the auth layer calls `reveal()`. A certificate is public and
 * stays a string.
 */
export type KeyMaterial =
  | { kind: 'rsa'; privateKeyPem: Secret }
  | { kind: 'certificate'; pkcs12: Secret<Uint8Array>; password: Secret }
  | { kind: 'certificate'; certPem: string; keyPem: Secret };

/**
 * Gets a new session and Key Manager token when the pod or the Key Manager refused one with 401 (single-flight: one
 * call however many requests were refused; at most one per `auth.minRefreshIntervalMs`). A rejection, or an answer
 * without both tokens, fails the refused request with `AUTHENTICATION_FAILED`, reason `refresh-failed`.
 */
export type TokenRefresh = () => Promise<{ session: string; keyManager: string }>;

/** How the bot authenticates: its key material, or tokens supplied by the caller. */
export type Credentials =
  | (KeyMaterial & { username: string })
  | { kind: 'tokens'; username?: string; sessionToken: Secret; keyManagerToken: Secret; refresh?: TokenRefresh };

/** The OBO application of BDK `app`: its id and its key material. */
export interface AppIdentity {
  appId: string;
  key: KeyMaterial;
}

/**
 * A checked OBO app configuration (`resolveAppConfig`, `loadAppConfig`): the same settings as {@link AllegroConfig},
 * with `app` required and the bot's `credentials` only when the file names a bot too.
 */
export interface AppConfig extends Omit<AllegroConfig, 'credentials' | 'app'> {
  app: AppIdentity;
  credentials?: Credentials;
}

/** A checked configuration with every default applied. */
export interface AllegroConfig {
  pod: ResolvedComponent;
  keyManager: ResolvedComponent;
  sessionAuth: ResolvedComponent;
  keyAuth: ResolvedComponent;
  agent: ResolvedComponent;
  objectStore: ResolvedComponent;
  credentials: Credentials;
  /** The `app` section, when it names an application. */
  app?: AppIdentity;
  /** Trusted CA certificates (PEM): `ssl.trustStore`, then `allegro.caCertificates`. */
  caCertificates: string[];
  retry: Required<RetryConfig>;
  timeouts: { requestMs: number; connectMs: number };
  keys: { maxEntries: number; maxAgeMs: number; rotationCheckMs: number; failureCooldownMs: number };
  datafeed: { maxBackoffMs: number; dedupEntries: number };
  auth: { minRefreshIntervalMs: number; jwtLifetimeSeconds: number };
  /** Dotted keys of the input that allegro-ts does not read (BDK-only settings, unknown keys): worth a warning. */
  ignoredKeys: string[];
}

type ComponentName = 'pod' | 'keyManager' | 'sessionAuth' | 'keyAuth' | 'agent' | 'objectStore';

/**
 * Per component: the sections it reads, most specific first (each with its former spelling), before the top level;
 * the path the client appends to its base URL; and every path appended there (by allegro-ts or the BDK), which a
 * `context` therefore cannot end with (docs/config.md "Where each component lives").
 */
const COMPONENTS: Record<ComponentName, { sections: Array<[key: string, former?: string]>; path: string; appended: string[] }> = {
  pod: { sections: [['pod']], path: '', appended: ['/pod', '/login'] },
  keyManager: { sections: [['keyManager']], path: '/relay', appended: ['/relay', '/keyauth'] },
  sessionAuth: { sections: [['sessionAuth']], path: '/sessionauth', appended: ['/sessionauth'] },
  keyAuth: { sections: [['allegro.keyAuth', 'keyAuth'], ['keyManager']], path: '/keyauth', appended: ['/relay', '/keyauth'] },
  agent: { sections: [['agent']], path: '/agent', appended: ['/agent'] },
  objectStore: { sections: [['allegro.objectStore', 'objectStore'], ['pod']], path: '', appended: ['/object'] },
};

/** Replace `${NAME}` and `${NAME:-default}` in every string of `value`; `$${NAME}` gives the text `${NAME}`. */
export function interpolateEnv(value: unknown, env: Record<string, string | undefined>, key = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, escaped: string, name: string, fallback: string | undefined) => {
      if (escaped !== '') return whole.slice(1);
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new InvalidConfigError(key || '(root)', `environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${key}[${i}]`));
  if (isDict(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, key === '' ? k : `${key}.${k}`)]));
  }
  return value;
}

type Dict = Record<string, unknown>;

/** A plain object (from a document or an object literal), not an array or a class instance. */
function isDict(value: unknown): value is Dict {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The input without null-valued keys: `pod:` with nothing under it (YAML's null) means no `pod` section. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isDict(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, withoutNulls(v)]));
}

/** The value at dotted `path`; a non-object on the way is an error naming it. */
function at(root: Dict, path: string): unknown {
  let value: unknown = root;
  let key = '';
  for (const part of path.split('.')) {
    if (value === undefined) return undefined;
    if (!isDict(value)) throw new InvalidConfigError(key, 'expected an object');
    value = value[part];
    key = key === '' ? part : `${key}.${part}`;
  }
  return value;
}

/** The section at `path`, absent or an object. */
function sectionAt(root: Dict, path: string): Dict | undefined {
  const value = at(root, path);
  if (value !== undefined && !isDict(value)) throw new InvalidConfigError(path, 'expected an object');
  return value;
}

/**
 * A value given under `key` or under its former allegro-ts spelling (docs/config.md "Compatibility with allegro-ts's former format"), never both:
 * the key it was given under, and the value.
 */
function given(root: Dict, key: string, former?: string): [string, unknown] {
  const value = at(root, key);
  const old = former === undefined ? undefined : at(root, former);
  if (old === undefined) return [key, value];
  if (value !== undefined) throw new InvalidConfigError(former!, `is the former spelling of ${key}, which is given too: keep ${key}`);
  return [former!, old];
}

/**
 * What a numeric setting accepts: exactly what the module option it feeds accepts (docs/config.md "Numeric
 * settings" lists each setting with its option), so a value is never refused here that the module would take, nor
 * taken here that the module would refuse later.
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

/** A number, or a string that is one: `${PORT}` interpolates to a string, which the BDK reads as a number too. */
function numeric(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

function setting(key: string, raw: unknown, fallback: number, rule: NumberRule): number {
  if (raw === undefined) return fallback;
  const value = numeric(raw);
  const ok = typeof value === 'number' && Number.isFinite(value) && (rule.integer !== true || Number.isSafeInteger(value)) &&
    (rule.above === true ? value > rule.min : value >= rule.min) && (rule.max === undefined || value <= rule.max);
  if (!ok) throw new InvalidConfigError(key, `expected ${expectation(rule)}`);
  return value;
}

function text(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new InvalidConfigError(key, 'expected a non-empty string');
  return value;
}

function port(key: string, raw: unknown): number {
  const value = numeric(raw);
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) throw new InvalidConfigError(key, 'expected a port number');
  return value as number;
}

function component(name: ComponentName, root: Dict): ResolvedComponent {
  const { sections, path, appended } = COMPONENTS[name];
  const layers: Array<[prefix: string, section: Dict]> = [];
  for (const [key, former] of sections) {
    const [found, value] = given(root, key, former);
    if (value === undefined) continue;
    if (!isDict(value)) throw new InvalidConfigError(found, 'expected an object');
    layers.push([`${found}.`, value]);
  }
  layers.push(['', root]);
  /** A field from the most specific section that sets it, with its dotted key. */
  const field = (f: keyof ComponentConfig): [string, unknown] => {
    for (const [prefix, section] of layers) if (section[f] !== undefined) return [`${prefix}${f}`, section[f]];
    return [`${sections[0]![0]}.${f}`, undefined];
  };
  const [schemeKey, scheme = 'https'] = field('scheme');
  if (scheme !== 'https' && scheme !== 'http') throw new InvalidConfigError(schemeKey, 'expected https or http');
  const [hostKey, hostValue] = field('host');
  const host = text(hostKey, hostValue);
  if (host === undefined) throw new InvalidConfigError(hostKey, 'no host set here or at the top level');
  if (host.includes('/')) throw new InvalidConfigError(hostKey, 'expected a host name, without scheme or path');
  const [portKey, portValue] = field('port');
  const portNumber = portValue === undefined ? 443 : port(portKey, portValue);
  const [contextKey, contextValue = ''] = field('context');
  if (typeof contextValue !== 'string') throw new InvalidConfigError(contextKey, 'expected a path');
  let context = contextValue.replace(/\/+$/, '');
  if (context !== '' && !context.startsWith('/')) context = `/${context}`;
  const doubled = appended.find((p) => context.endsWith(p));
  if (doubled !== undefined) {
    throw new InvalidConfigError(contextKey, `ends with ${doubled}, which the client appends itself (context is the path before it, as in the BDK): leave ${doubled} out`);
  }
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const [proxyKey, proxyValue] = field('proxy');
  const proxy = proxyValue === undefined ? undefined : resolveProxy(proxyKey, proxyValue);
  return { url: `${scheme}://${hostPart}:${portNumber}${context}${path}`, ...(proxy === undefined ? {} : { proxy }) };
}

function resolveProxy(key: string, value: unknown): ResolvedProxy {
  if (!isDict(value)) throw new InvalidConfigError(key, 'expected an object with host and port');
  const host = text(`${key}.host`, value.host);
  if (host === undefined) throw new InvalidConfigError(`${key}.host`, 'required');
  const proxyPort = port(`${key}.port`, value.port);
  const username = text(`${key}.username`, value.username);
  if (value.password !== undefined && typeof value.password !== 'string') throw new InvalidConfigError(`${key}.password`, 'expected a string');
  return {
    host, port: proxyPort, ...(username === undefined ? {} : { username }),
    ...(value.password === undefined ? {} : { password: new Secret('password', value.password) }),
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

/** The text of `bytes` when they are PEM, else undefined (binary: DER, PKCS#12, JKS). */
function pemText(bytes: Uint8Array): string | undefined {
  const textValue = fromUtf8(bytes);
  return textValue.includes('-----BEGIN ') ? textValue : undefined;
}

/**
 * The bytes of a file section's `path` or `content` (exactly one, as the BDK requires) and the key they came from;
 * undefined when the section gives neither. `content` is the text itself when it is PEM, else base64 of the file
 * (how the Java BDK reads its `byte[]` content).
 */
async function fileOrContent(key: string, section: Dict, baseDir: string | undefined): Promise<{ key: string; bytes: Uint8Array } | undefined> {
  if (section.path !== undefined && section.content !== undefined) throw new InvalidConfigError(key, 'give path or content, not both');
  if (section.path !== undefined) return { key: `${key}.path`, bytes: await readBytes(`${key}.path`, section.path, baseDir) };
  const content = text(`${key}.content`, section.content);
  if (content === undefined) return undefined;
  if (content.includes('-----BEGIN ')) return { key: `${key}.content`, bytes: utf8(content) };
  const decoded = tryFromBase64(content.replace(/\s+/g, ''));
  if (decoded === undefined || decoded.length === 0) throw new InvalidConfigError(`${key}.content`, 'expected PEM text, or base64 of the file');
  return { key: `${key}.content`, bytes: decoded };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

/** A PEM certificate file (the certificate chain and its unencrypted key), or a PKCS#12 file and its password. */
async function certificateMaterial(key: string, cert: Dict, baseDir: string | undefined): Promise<KeyMaterial> {
  if (cert.certPath !== undefined || cert.keyPath !== undefined) {
    if (cert.path !== undefined || cert.content !== undefined) throw new InvalidConfigError(key, 'give path or content, or the former certPath + keyPath, not both');
    if (cert.certPath === undefined || cert.keyPath === undefined) throw new InvalidConfigError(key, 'certPath and keyPath go together');
    return {
      kind: 'certificate',
      certPem: await readText(`${key}.certPath`, cert.certPath, baseDir),
      keyPem: new Secret('private key', await readText(`${key}.keyPath`, cert.keyPath, baseDir)),
    };
  }
  const file = (await fileOrContent(key, cert, baseDir))!;
  const pem = pemText(file.bytes);
  if (pem !== undefined) {
    if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
      throw new InvalidConfigError(file.key, 'the private key is encrypted: decrypt it (`openssl pkey -in KEY -out PLAIN`), as the Python BDK requires too');
    }
    const certificates = [...pem.matchAll(PEM_CERTIFICATE)].map((m) => m[0]);
    const privateKey = PEM_PRIVATE_KEY.exec(pem)?.[0];
    if (certificates.length === 0 || privateKey === undefined) {
      throw new InvalidConfigError(file.key, 'a PEM certificate file holds the certificate and its private key (the Python BDK\'s form); or give a PKCS#12 file and its password');
    }
    return { kind: 'certificate', certPem: `${certificates.join('\n')}\n`, keyPem: new Secret('private key', `${privateKey}\n`) };
  }
  const password = cert.password ?? '';
  if (typeof password !== 'string') throw new InvalidConfigError(`${key}.password`, 'expected a string');
  return { kind: 'certificate', pkcs12: new Secret('PKCS#12', file.bytes), password: new Secret('password', password) };
}

/** The Java BDK's deprecated identity keys, and what replaced them. */
const DEPRECATED_IDENTITY_KEYS: Record<string, string> = {
  privateKeyPath: 'privateKey.path', privateKeyContent: 'privateKey.content',
  certificatePath: 'certificate.path', certificateContent: 'certificate.content', certificatePassword: 'certificate.password',
};

/** The key material of `bot` or `app`: a private key or a certificate (not both, as the BDK requires), or none. */
async function keyMaterial(root: Dict, key: 'bot' | 'app', baseDir: string | undefined): Promise<KeyMaterial | undefined> {
  const identity = sectionAt(root, key) ?? {};
  for (const [old, now] of Object.entries(DEPRECATED_IDENTITY_KEYS)) {
    if (identity[old] !== undefined) throw new InvalidConfigError(`${key}.${old}`, `the BDK's deprecated spelling: give ${key}.${now}`);
  }
  const privateKey = sectionAt(root, `${key}.privateKey`);
  const certificate = sectionAt(root, `${key}.certificate`);
  const hasKey = privateKey !== undefined && (privateKey.path !== undefined || privateKey.content !== undefined);
  const hasCertificate = certificate !== undefined && ['path', 'content', 'certPath', 'keyPath'].some((f) => certificate[f] !== undefined);
  if (hasKey && hasCertificate) throw new InvalidConfigError(key, 'give privateKey or certificate, not both (the BDK refuses both)');
  if (hasCertificate) return certificateMaterial(`${key}.certificate`, certificate, baseDir);
  if (!hasKey) return undefined;
  const file = (await fileOrContent(`${key}.privateKey`, privateKey, baseDir))!;
  const pem = fromUtf8(file.bytes);
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem)) throw new InvalidConfigError(file.key, 'expected a PEM private key (PKCS#1 or PKCS#8)');
  return { kind: 'rsa', privateKeyPem: new Secret('private key', pem) };
}

async function credentials(root: Dict, baseDir: string | undefined): Promise<Credentials> {
  const bot = sectionAt(root, 'bot') ?? {};
  const username = text('bot.username', bot.username);
  const [tokensKey, tokens] = given(root, 'allegro.tokens', 'tokens');
  if (tokens !== undefined) {
    if (!isDict(tokens)) throw new InvalidConfigError(tokensKey, 'expected an object');
    const sessionToken = text(`${tokensKey}.session`, tokens.session);
    const keyManagerToken = text(`${tokensKey}.keyManager`, tokens.keyManager);
    if (sessionToken === undefined || keyManagerToken === undefined) throw new InvalidConfigError(tokensKey, 'give both session and keyManager');
    const { refresh } = tokens;
    if (refresh !== undefined && typeof refresh !== 'function') throw new InvalidConfigError(`${tokensKey}.refresh`, 'expected a function returning a promise of {session, keyManager}');
    return {
      kind: 'tokens', ...(username === undefined ? {} : { username }),
      sessionToken: new Secret('session token', sessionToken), keyManagerToken: new Secret('Key Manager token', keyManagerToken),
      ...(refresh === undefined ? {} : { refresh: refresh as TokenRefresh }),
    };
  }
  if (username === undefined) throw new InvalidConfigError('bot.username', 'required');
  const key = await keyMaterial(root, 'bot', baseDir);
  if (key === undefined) throw new InvalidConfigError('bot', 'give privateKey (path or content) or certificate (path or content), or allegro.tokens');
  return { ...key, username };
}

/** BDK `app`: the OBO application, when the section names one. */
async function appIdentity(root: Dict, baseDir: string | undefined): Promise<AppIdentity | undefined> {
  const app = sectionAt(root, 'app');
  if (app === undefined) return undefined;
  const appId = text('app.appId', app.appId);
  const key = await keyMaterial(root, 'app', baseDir);
  if (appId === undefined && key === undefined) return undefined;
  if (appId === undefined) throw new InvalidConfigError('app.appId', 'required with the app\'s key or certificate');
  if (key === undefined) throw new InvalidConfigError('app', 'give privateKey (path or content) or certificate (path or content)');
  return { appId, key };
}

/** The CA certificates (PEM) of `ssl.trustStore`, then of `allegro.caCertificates`. */
async function caCertificates(root: Dict, baseDir: string | undefined): Promise<string[]> {
  for (const old of ['ssl.trustStorePath', 'ssl.trustStorePassword']) {
    if (at(root, old) !== undefined) throw new InvalidConfigError(old, 'the BDK\'s deprecated spelling: give ssl.trustStore.path (and .password)');
  }
  const found: string[] = [];
  const store = sectionAt(root, 'ssl.trustStore');
  const file = store === undefined ? undefined : await fileOrContent('ssl.trustStore', store, baseDir);
  if (file !== undefined) {
    const pem = pemText(file.bytes);
    if (pem === undefined || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      const jks = file.bytes.length >= 4 && file.bytes[0] === 0xfe && file.bytes[1] === 0xed && file.bytes[2] === 0xfe && file.bytes[3] === 0xed;
      throw new InvalidConfigError(file.key, jks
        ? 'a Java KeyStore (JKS); allegro-ts reads a PEM file of CA certificates: export them with `keytool -exportcert -rfc -keystore STORE -alias ALIAS`'
        : 'not a PEM file of CA certificates (a PKCS#12 trust store?); allegro-ts reads PEM: convert it with `openssl pkcs12 -in STORE -nokeys -out ca.pem`');
    }
    found.push(pem);
  }
  const [listKey, list = []] = given(root, 'allegro.caCertificates', 'ssl.caCertificates');
  if (!Array.isArray(list)) throw new InvalidConfigError(listKey, 'expected a list of file paths');
  for (const [i, path] of list.entries()) {
    const pem = await readText(`${listKey}[${i}]`, path, baseDir);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new InvalidConfigError(`${listKey}[${i}]`, 'expected a PEM file of CA certificates');
    found.push(pem);
  }
  return found;
}

/**
 * Which keys allegro-ts reads (`read`), which the BDK has but allegro-ts does not use (`unused`: listed in
 * `ignoredKeys`), and the sections; docs/config.md documents each. Under `allegro`, a key not here is an error.
 */
type Shape = 'read' | 'unused' | { readonly [key: string]: Shape };
const PROXY_SHAPE: Shape = { host: 'read', port: 'read', username: 'read', password: 'read' };
const PLACE_SHAPE = { scheme: 'read', host: 'read', port: 'read', context: 'read', proxy: PROXY_SHAPE } as const;
const BDK_CONNECTION_SHAPE = { readTimeout: 'unused', connectionPoolMax: 'unused', connectionPoolPerRoute: 'unused', defaultHeaders: 'unused' } as const;
const CLIENT_SHAPE = { ...PLACE_SHAPE, ...BDK_CONNECTION_SHAPE, connectionTimeout: 'unused' } as const;
const FILE_SHAPE = { path: 'read', content: 'read' } as const;
const IDENTITY_SHAPE = {
  privateKey: FILE_SHAPE, certificate: { ...FILE_SHAPE, password: 'read', certPath: 'read', keyPath: 'read' },
  ...Object.fromEntries(Object.keys(DEPRECATED_IDENTITY_KEYS).map((k) => [k, 'read'])),
} as const;
const RETRY_SHAPE = { maxAttempts: 'read', initialIntervalMillis: 'read', multiplier: 'read', maxIntervalMillis: 'read', initialIntervalMs: 'read', maxIntervalMs: 'read' } as const;
const TOKENS_SHAPE = { session: 'read', keyManager: 'read', refresh: 'read' } as const;
const KEYS_SHAPE = { maxEntries: 'read', maxAgeMs: 'read', rotationCheckMs: 'read', failureCooldownMs: 'read' } as const;
const AUTH_SHAPE = { minRefreshIntervalMs: 'read', jwtLifetimeSeconds: 'read' } as const;
const ALLEGRO_SHAPE: Shape = {
  keyAuth: PLACE_SHAPE, objectStore: PLACE_SHAPE, tokens: TOKENS_SHAPE, caCertificates: 'read',
  timeouts: { requestMs: 'read' }, keys: KEYS_SHAPE, datafeed: { dedupEntries: 'read' }, auth: AUTH_SHAPE,
};
const SHAPE: Shape = {
  ...PLACE_SHAPE, ...BDK_CONNECTION_SHAPE, connectionTimeout: 'read',
  pod: CLIENT_SHAPE, agent: { ...CLIENT_SHAPE, loadBalancing: 'unused' }, keyManager: CLIENT_SHAPE, sessionAuth: CLIENT_SHAPE,
  bot: { username: 'read', ...IDENTITY_SHAPE }, app: { appId: 'read', ...IDENTITY_SHAPE },
  ssl: { trustStore: { ...FILE_SHAPE, password: 'unused' }, trustStorePath: 'read', trustStorePassword: 'read', caCertificates: 'read' },
  retry: RETRY_SHAPE,
  datafeed: {
    version: 'read', retry: { maxIntervalMillis: 'read', maxAttempts: 'unused', initialIntervalMillis: 'unused', multiplier: 'unused' },
    idFilePath: 'unused', includeInvisible: 'unused', tag: 'unused', maxBackoffMs: 'read', dedupEntries: 'read',
  },
  datahose: 'unused', commonJwt: 'unused', extensions: 'unused', manifest: 'unused',
  allegro: ALLEGRO_SHAPE,
  // allegro-ts's former spellings (docs/config.md "Compatibility with allegro-ts's former format").
  keyAuth: PLACE_SHAPE, objectStore: PLACE_SHAPE, tokens: TOKENS_SHAPE, timeouts: { requestMs: 'read', connectMs: 'read' }, keys: KEYS_SHAPE, auth: AUTH_SHAPE,
};

/** The keys of `value` that allegro-ts does not read, into `out`; under `allegro`, such a key is an error. */
function unreadKeys(value: unknown, shape: Shape, key: string, strict: boolean, out: string[]): void {
  if (shape === 'unused') {
    out.push(key);
    return;
  }
  if (shape === 'read' || !isDict(value)) return;
  for (const [name, v] of Object.entries(value)) {
    const path = key === '' ? name : `${key}.${name}`;
    const sub = Object.hasOwn(shape, name) ? shape[name] : undefined;
    if (sub === undefined) {
      if (strict) throw new InvalidConfigError(path, 'not an allegro-ts setting (docs/config.md lists them)');
      out.push(path);
    } else {
      unreadKeys(v, sub, path, strict || path === 'allegro', out);
    }
  }
}

/**
 * Check a configuration and apply defaults. Relative file paths are resolved against `baseDir` (default: the working
 * directory). Where there is no file system (browsers), give keys and certificates as content, not paths.
 * @throws InvalidConfigError (`INVALID_CONFIG`) naming the offending key.
 */
export async function resolveConfig(input: AllegroConfigInput, baseDir?: string): Promise<AllegroConfig> {
  const root = checkedRoot(input);
  const rest = await resolveSettings(root, baseDir);
  return { ...rest, credentials: await credentials(root, baseDir) };
}

/**
 * The configuration of an OBO app (docs/config.md "Who logs in: `bot` and `app`"): as {@link resolveConfig}, but `app` is required and
 * `bot` optional (the BDK's bot-less mode: a configuration with only `app` works for OBO).
 * @throws InvalidConfigError (`INVALID_CONFIG`) naming the offending key; `app` when the section names no application.
 */
export async function resolveAppConfig(input: AllegroConfigInput, baseDir?: string): Promise<AppConfig> {
  const root = checkedRoot(input);
  const rest = await resolveSettings(root, baseDir);
  if (rest.app === undefined) throw new InvalidConfigError('app', 'required for OBO: give app.appId and its privateKey or certificate');
  const bot = sectionAt(root, 'bot');
  const [, tokens] = given(root, 'allegro.tokens', 'tokens');
  const withBot = bot !== undefined || tokens !== undefined;
  return { ...rest, app: rest.app, ...(withBot ? { credentials: await credentials(root, baseDir) } : {}) };
}

/** The input as a dictionary without nulls, its unread keys listed (an unknown key under `allegro` throws). */
function checkedRoot(input: AllegroConfigInput): Dict {
  if (!isDict(input)) throw new InvalidConfigError('(root)', 'expected an object');
  return withoutNulls(input) as Dict;
}

/** Everything of a configuration but the bot's credentials. */
async function resolveSettings(root: Dict, baseDir: string | undefined): Promise<Omit<AllegroConfig, 'credentials'>> {
  const ignoredKeys: string[] = [];
  unreadKeys(root, SHAPE, '', false, ignoredKeys);
  const num = (key: string, former: string | undefined, fallback: number, rule: NumberRule) => setting(...given(root, key, former), fallback, rule);
  const [attemptsKey, attempts] = given(root, 'retry.maxAttempts');
  if (typeof numeric(attempts) === 'number' && (numeric(attempts) as number) < 0) {
    throw new InvalidConfigError(attemptsKey, 'expected a positive integer: allegro-ts does not retry a request without end (the BDK\'s -1)');
  }
  const [versionKey, version] = given(root, 'datafeed.version');
  if (version !== undefined && (typeof version !== 'string' || version.toLowerCase() !== 'v2')) {
    throw new InvalidConfigError(versionKey, 'allegro-ts reads Datafeed 2.0 only: give v2, or leave it out');
  }
  const [pod, keyManager, sessionAuth, keyAuth, agent, objectStore] = (Object.keys(COMPONENTS) as ComponentName[]).map((name) => component(name, root)) as [
    ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent, ResolvedComponent];
  const app = await appIdentity(root, baseDir);
  return {
    pod, keyManager, sessionAuth, keyAuth, agent, objectStore,
    ...(app === undefined ? {} : { app }),
    caCertificates: await caCertificates(root, baseDir),
    // Each rule is the check of the option the value feeds: http/retry.ts (retryPolicy), http/http-client.ts and
    // http/pool.ts (timeouts), keys/key-cache.ts (KeyCache), pod/datafeed.ts (Datafeed), auth/session.ts and
    // crypto/rsa.ts (signJwtRs512).
    retry: {
      maxAttempts: setting(attemptsKey, attempts, 5, POSITIVE_INTEGER),
      initialIntervalMs: num('retry.initialIntervalMillis', 'retry.initialIntervalMs', 250, NON_NEGATIVE),
      multiplier: num('retry.multiplier', undefined, 2, { min: 1 }),
      maxIntervalMs: num('retry.maxIntervalMillis', 'retry.maxIntervalMs', 30_000, NON_NEGATIVE),
    },
    timeouts: {
      requestMs: num('allegro.timeouts.requestMs', 'timeouts.requestMs', 30_000, POSITIVE_INTEGER),
      connectMs: num('connectionTimeout', 'timeouts.connectMs', 10_000, POSITIVE_INTEGER),
    },
    keys: {
      maxEntries: num('allegro.keys.maxEntries', 'keys.maxEntries', 1000, POSITIVE_INTEGER),
      maxAgeMs: num('allegro.keys.maxAgeMs', 'keys.maxAgeMs', 60 * 60 * 1000, POSITIVE),
      rotationCheckMs: num('allegro.keys.rotationCheckMs', 'keys.rotationCheckMs', 60_000, POSITIVE),
      failureCooldownMs: num('allegro.keys.failureCooldownMs', 'keys.failureCooldownMs', 5_000, NON_NEGATIVE),
    },
    datafeed: {
      maxBackoffMs: num('datafeed.retry.maxIntervalMillis', 'datafeed.maxBackoffMs', 30_000, POSITIVE_INTEGER),
      dedupEntries: num('allegro.datafeed.dedupEntries', 'datafeed.dedupEntries', 10_000, POSITIVE_INTEGER),
    },
    auth: {
      minRefreshIntervalMs: num('allegro.auth.minRefreshIntervalMs', 'auth.minRefreshIntervalMs', 1_000, NON_NEGATIVE),
      jwtLifetimeSeconds: num('allegro.auth.jwtLifetimeSeconds', 'auth.jwtLifetimeSeconds', DEFAULT_JWT_LIFETIME_SECONDS, { integer: true, min: 1, max: MAX_JWT_LIFETIME_SECONDS }),
    },
    ignoredKeys,
  };
}

/**
 * Read a configuration file, BDK `config.yaml` or its JSON form (JSON is tried first, as the BDKs do), interpolate
 * environment variables, and resolve it (relative paths against the file's directory).
 * @throws InvalidConfigError (`INVALID_CONFIG`) for an unreadable file, a text that is neither JSON nor YAML, or a bad value.
 */
export async function loadConfig(path: string, env: Record<string, string | undefined> = globalThis.process?.env ?? {}): Promise<AllegroConfig> {
  return resolveConfig(await readConfigFile(path, env), platform.directoryOf(path));
}

/**
 * Read an OBO app's configuration file: as {@link loadConfig}, resolved by {@link resolveAppConfig} (`app` required,
 * `bot` optional).
 * @throws InvalidConfigError (`INVALID_CONFIG`) as {@link loadConfig} does, and for a file without `app`.
 */
export async function loadAppConfig(path: string, env: Record<string, string | undefined> = globalThis.process?.env ?? {}): Promise<AppConfig> {
  return resolveAppConfig(await readConfigFile(path, env), platform.directoryOf(path));
}

/** The document of a configuration file, environment variables interpolated. */
async function readConfigFile(path: string, env: Record<string, string | undefined>): Promise<AllegroConfigInput> {
  let parsed: unknown;
  try {
    parsed = parseDocumentText(fromUtf8(await platform.readFile(path)));
  } catch (err) {
    throw new InvalidConfigError('(file)', err instanceof DocumentSyntaxError ? `${path} is neither JSON nor YAML (${err.message})` : readFailure(path, err));
  }
  if (!isDict(parsed)) throw new InvalidConfigError('(file)', `${path} does not hold a mapping of keys to values`);
  return interpolateEnv(parsed, env) as AllegroConfigInput;
}
