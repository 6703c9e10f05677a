// Configuration: environment interpolation, URL resolution (inheritance, per-component overrides, default contexts,
// IPv6, trailing slashes), credentials of every kind with paths resolved against the base directory, validation of
// every numeric setting with the offending key named, loadConfig on files, and the file a real sandbox writes.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpolateEnv, loadConfig, resolveConfig, type AllegroConfigInput } from '../../src/config.js';
import { Session, type SessionOptions } from '../../src/auth/session.js';
import { generateRsaKeyPair, RsaPrivateKey, signJwtRs512 } from '../../src/crypto/rsa.js';
import { InvalidConfigError } from '../../src/errors.js';
import { HttpClient } from '../../src/http/http-client.js';
import { createDispatcher } from '../../src/http/pool.js';
import { retryPolicy } from '../../src/http/retry.js';
import { KeyCache } from '../../src/keys/key-cache.js';
import { Datafeed } from '../../src/pod/datafeed.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { Secret } from '../../src/util/secret.js';

const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';

const SECRET_FIELDS = new Set(['privateKeyPem', 'pkcs12', 'password', 'keyPem', 'sessionToken', 'keyManagerToken']);

/** An object with its secrets revealed, for comparison with plain values; a secret field that is not a Secret fails. */
function revealed(value: object | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value ?? {}).map(([k, v]) => {
    if (SECRET_FIELDS.has(k)) {
      expect(v, k).toBeInstanceOf(Secret);
      return [k, (v as Secret<string | Uint8Array>).reveal()];
    }
    return [k, v];
  }));
}

/** A minimal valid configuration: a host and an inline RSA key. */
function base(extra: Partial<AllegroConfigInput> = {}): AllegroConfigInput {
  return { host: 'pod.example.com', bot: { username: 'bot', privateKey: { content: KEY_PEM } }, ...extra };
}

async function configError(promise: Promise<unknown> | (() => unknown)): Promise<InvalidConfigError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConfigError);
    const e = err as InvalidConfigError;
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain(e.key);
    return e;
  }
  throw new Error('expected an InvalidConfigError');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-config-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('interpolateEnv', () => {
  const env = { HOST: 'pod.example.com', PORT: '8443', EMPTY: '', USER_1: 'bot' };

  it('replaces ${X} and ${X:-default}, several per string, leaving other text alone', () => {
    expect(interpolateEnv('${HOST}', env)).toBe('pod.example.com');
    expect(interpolateEnv('https://${HOST}:${PORT}/x', env)).toBe('https://pod.example.com:8443/x');
    expect(interpolateEnv('${MISSING:-fallback}', env)).toBe('fallback');
    expect(interpolateEnv('${HOST:-fallback}', env)).toBe('pod.example.com');
    expect(interpolateEnv('${MISSING:-}', env)).toBe('');
    expect(interpolateEnv('${EMPTY:-used}', env)).toBe('used');
    expect(interpolateEnv('${USER_1}', env)).toBe('bot');
    expect(interpolateEnv('$HOST and {HOST} and $ {HOST}', env)).toBe('$HOST and {HOST} and $ {HOST}');
  });

  it('walks nested objects and arrays and leaves non-strings unchanged', () => {
    const input = { a: { b: ['${HOST}', 1, true, null, { c: '${MISSING:-d}' }] }, n: 5, s: 'x' };
    expect(interpolateEnv(input, env)).toEqual({ a: { b: ['pod.example.com', 1, true, null, { c: 'd' }] }, n: 5, s: 'x' });
    expect(input.a.b[0]).toBe('${HOST}'); // the input is not modified
  });

  it('an unset variable without a default is an InvalidConfigError naming the dotted key (array indices included)', async () => {
    let e = await configError(() => interpolateEnv({ bot: { privateKey: { path: '${NOPE}' } } }, env));
    expect(e.key).toBe('bot.privateKey.path');
    expect(e.message).toContain('NOPE');
    e = await configError(() => interpolateEnv({ ssl: { caCertificates: ['a', 'x${NOPE}y'] } }, env));
    expect(e.key).toBe('ssl.caCertificates[1]');
    e = await configError(() => interpolateEnv('${NOPE}', env));
    expect(e.key).toBe('(root)');
    e = await configError(() => interpolateEnv({ host: '${EMPTY}' }, env));
    expect(e.key).toBe('host');
  });
});

describe('resolveConfig: component URLs', () => {
  it('every component inherits scheme, host and port and gets its default context', async () => {
    const c = await resolveConfig(base({ port: 8443 }));
    expect(c.pod.url).toBe('https://pod.example.com:8443');
    expect(c.keyManager.url).toBe('https://pod.example.com:8443/relay');
    expect(c.sessionAuth.url).toBe('https://pod.example.com:8443/sessionauth');
    expect(c.keyAuth.url).toBe('https://pod.example.com:8443/keyauth');
    expect(c.agent.url).toBe('https://pod.example.com:8443/agent');
    expect(c.objectStore.url).toBe('https://pod.example.com:8443');
  });

  it('the default port follows the scheme: 443 for https, 80 for http', async () => {
    expect((await resolveConfig(base())).pod.url).toBe('https://pod.example.com:443');
    const http = await resolveConfig(base({ scheme: 'http' }));
    expect(http.pod.url).toBe('http://pod.example.com:80');
    expect(http.keyManager.url).toBe('http://pod.example.com:80/relay');
    const mixed = await resolveConfig(base({ agent: { scheme: 'http' } }));
    expect(mixed.agent.url).toBe('http://pod.example.com:80/agent');
    expect(mixed.pod.url).toBe('https://pod.example.com:443');
  });

  it('per-component scheme, host, port, context and proxy override the top level, for that component only', async () => {
    const proxy = { host: 'proxy.local', port: 3128 };
    const km = { host: 'km.example.com', port: 9443, context: '/keys', proxy: { host: 'kmproxy', port: 8080, username: 'u', password: 'p' } };
    const c = await resolveConfig(base({ port: 8443, proxy, keyManager: km, agent: { host: 'agent.example.com' }, pod: { port: 7443 } }));
    expect({ ...c.keyManager, proxy: revealed(c.keyManager.proxy) }).toEqual({ url: 'https://km.example.com:9443/keys', proxy: km.proxy });
    expect(c.agent).toEqual({ url: 'https://agent.example.com:8443/agent', proxy });
    expect(c.pod).toEqual({ url: 'https://pod.example.com:7443', proxy });
    expect(c.sessionAuth).toEqual({ url: 'https://pod.example.com:8443/sessionauth', proxy });
    const none = await resolveConfig(base());
    expect(none.pod).toEqual({ url: 'https://pod.example.com:443' });
    expect('proxy' in none.pod).toBe(false);
  });

  it('contexts lose trailing slashes and gain a leading one; "/" and "" mean none', async () => {
    const c = await resolveConfig(base({
      pod: { context: '/pod/' }, keyManager: { context: 'relay//' }, sessionAuth: { context: '/' }, keyAuth: { context: '' }, agent: { context: 'a/b/' },
    }));
    expect(c.pod.url).toBe('https://pod.example.com:443/pod');
    expect(c.keyManager.url).toBe('https://pod.example.com:443/relay');
    expect(c.sessionAuth.url).toBe('https://pod.example.com:443');
    expect(c.keyAuth.url).toBe('https://pod.example.com:443');
    expect(c.agent.url).toBe('https://pod.example.com:443/a/b');
    for (const component of [c.pod, c.keyManager, c.sessionAuth, c.keyAuth, c.agent, c.objectStore]) expect(component.url.endsWith('/')).toBe(false);
  });

  it('brackets an IPv6 host once', async () => {
    expect((await resolveConfig(base({ host: '::1', port: 8443 }))).keyManager.url).toBe('https://[::1]:8443/relay');
    expect((await resolveConfig(base({ host: '[::1]', port: 8443 }))).pod.url).toBe('https://[::1]:8443');
    expect((await resolveConfig(base({ host: 'fe80::1:2', pod: { host: '2001:db8::5' } }))).pod.url).toBe('https://[2001:db8::5]:443');
    expect((await resolveConfig(base({ host: '127.0.0.1' }))).pod.url).toBe('https://127.0.0.1:443');
  });

  it('names the key of a missing or bad host, scheme, port or context', async () => {
    expect((await configError(resolveConfig({ bot: { username: 'bot', privateKey: { content: KEY_PEM } } }))).key).toBe('pod.host');
    expect((await configError(resolveConfig(base({ host: '' })))).key).toBe('host');
    expect((await configError(resolveConfig(base({ agent: { host: '' } })))).key).toBe('agent.host');
    expect((await configError(resolveConfig(base({ scheme: 'ftp' as 'https' })))).key).toBe('pod.scheme');
    expect((await configError(resolveConfig(base({ keyAuth: { scheme: 'wss' as 'https' } })))).key).toBe('keyAuth.scheme');
    expect((await configError(resolveConfig(base({ keyManager: { context: 5 as unknown as string } })))).key).toBe('keyManager.context');
    for (const port of [0, -1, 1.5, 65536, 'x', '443', Number.NaN]) {
      expect((await configError(resolveConfig(base({ port: port as number })))).key).toBe('pod.port');
      expect((await configError(resolveConfig(base({ sessionAuth: { port: port as number } })))).key).toBe('sessionAuth.port');
    }
    expect((await resolveConfig(base({ port: 1 }))).pod.url).toBe('https://pod.example.com:1');
    expect((await resolveConfig(base({ port: 65535 }))).pod.url).toBe('https://pod.example.com:65535');
  });

  it('refuses a configuration that is not an object', async () => {
    for (const bad of [null, 'x', 5, []]) expect((await configError(resolveConfig(bad as unknown as AllegroConfigInput))).key).toBe('(root)');
  });
});

describe('resolveConfig: credentials and files', () => {
  it('RSA: inline content, or a path resolved against baseDir (absolute paths as given)', async () => {
    await mkdir(join(dir, 'keys'), { recursive: true });
    await writeFile(join(dir, 'keys', 'bot.pem'), KEY_PEM);
    expect(revealed((await resolveConfig(base())).credentials)).toEqual({ kind: 'rsa', username: 'bot', privateKeyPem: KEY_PEM });
    const rel = await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: 'keys/bot.pem' } } }, dir);
    expect(revealed(rel.credentials)).toEqual({ kind: 'rsa', username: 'bot', privateKeyPem: KEY_PEM });
    const abs = await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: join(dir, 'keys', 'bot.pem') } } }, '/nonexistent');
    expect(revealed(abs.credentials)).toEqual({ kind: 'rsa', username: 'bot', privateKeyPem: KEY_PEM });
    // Content wins over path; the RSA key wins over a certificate.
    const both = await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { content: KEY_PEM, path: 'missing.pem' }, certificate: { path: 'missing.p12' } } }, dir);
    expect(both.credentials.kind).toBe('rsa');
  });

  it('RSA: an unreadable path or content that is not a PEM private key names the key', async () => {
    let e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: 'keys/none.pem' } } }, dir));
    expect(e.key).toBe('bot.privateKey.path');
    expect(e.message).toContain('ENOENT');
    e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { content: CERT_PEM } } }, dir));
    expect(e.key).toBe('bot.privateKey');
    await writeFile(join(dir, 'keys', 'not-a-key.txt'), 'hello');
    e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: 'keys/not-a-key.txt' } } }, dir));
    expect(e.key).toBe('bot.privateKey');
    expect(e.message).not.toContain('hello');
  });

  it('PKCS#12: the file bytes and the password (default empty), path relative to baseDir', async () => {
    const p12 = Uint8Array.from([0x30, 0x82, 0x01, 0x00, 0xff, 0x00, 0x7f]);
    await writeFile(join(dir, 'bot.p12'), p12);
    const c = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: 'bot.p12', password: 'changeit' } } }, dir);
    expect(revealed(c.credentials)).toEqual({ kind: 'certificate', username: 'bot', pkcs12: expect.any(Uint8Array), password: 'changeit' });
    expect(Array.from(revealed(c.credentials).pkcs12 as Uint8Array)).toEqual(Array.from(p12));
    const noPassword = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: join(dir, 'bot.p12') } } });
    expect(revealed(noPassword.credentials).password).toBe('');
    const e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: 'nope.p12', password: 'p12-secret-password' } } }, dir));
    expect(e.key).toBe('bot.certificate.path');
    expect(e.message).not.toContain('p12-secret-password');
  });

  it('PEM certificate + key, both relative to baseDir; either missing file names its key', async () => {
    await writeFile(join(dir, 'cert.pem'), CERT_PEM);
    await writeFile(join(dir, 'cert-key.pem'), KEY_PEM);
    const c = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem', keyPath: 'cert-key.pem' } } }, dir);
    expect(revealed(c.credentials)).toEqual({ kind: 'certificate', username: 'bot', certPem: CERT_PEM, keyPem: KEY_PEM });
    expect((await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'x.pem', keyPath: 'cert-key.pem' } } }, dir))).key).toBe('bot.certificate.certPath');
    expect((await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem', keyPath: 'x.pem' } } }, dir))).key).toBe('bot.certificate.keyPath');
    // A certificate without its key is no credential at all.
    expect((await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem' } } }, dir))).key).toBe('bot');
  });

  it('caller-supplied tokens: both required, and they take precedence over keys', async () => {
    const c = await resolveConfig(base({ tokens: { session: 's-token', keyManager: 'km-token' } }));
    expect(revealed(c.credentials)).toEqual({ kind: 'tokens', username: 'bot', sessionToken: 's-token', keyManagerToken: 'km-token' });
    let e = await configError(resolveConfig(base({ tokens: { session: 's-token-secret' } })));
    expect(e.key).toBe('tokens');
    expect(e.message).not.toContain('s-token-secret');
    e = await configError(resolveConfig(base({ tokens: { keyManager: 'km-token' } })));
    expect(e.key).toBe('tokens');
    e = await configError(resolveConfig(base({ tokens: { session: '', keyManager: 'km-token' } })));
    expect(e.key).toBe('tokens.session');
    e = await configError(resolveConfig(base({ tokens: { session: 's', keyManager: 42 as unknown as string } })));
    expect(e.key).toBe('tokens.keyManager');
  });

  it('caller-supplied tokens need no username, and carry a refresh callback given in code (a function, or INVALID_CONFIG)', async () => {
    const refresh = async () => ({ session: 'new-s', keyManager: 'new-km' });
    const c = await resolveConfig({ host: 'pod.example.com', tokens: { session: 's-token', keyManager: 'km-token', refresh } });
    expect(revealed(c.credentials)).toEqual({ kind: 'tokens', sessionToken: 's-token', keyManagerToken: 'km-token', refresh });
    const e = await configError(resolveConfig(base({ tokens: { session: 's-token', keyManager: 'km-token', refresh: 'https://backend.example/tokens' as never } })));
    expect(e.key).toBe('tokens.refresh');
    expect(e.message).toContain('expected a function');
  });

  it('a username is required, and some credential', async () => {
    expect((await configError(resolveConfig({ host: 'h', bot: { privateKey: { content: KEY_PEM } } }))).key).toBe('bot.username');
    expect((await configError(resolveConfig({ host: 'h' }))).key).toBe('bot.username');
    expect((await configError(resolveConfig({ host: 'h', bot: { username: '' } }))).key).toBe('bot.username');
    expect((await configError(resolveConfig({ host: 'h', bot: { username: 'bot' } }))).key).toBe('bot');
    expect((await configError(resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: {} } }))).key).toBe('bot');
  });

  it('CA certificates: the trust store first, then caCertificates, relative to baseDir; a missing one is named', async () => {
    await writeFile(join(dir, 'ca1.pem'), 'CA-ONE');
    await writeFile(join(dir, 'ca2.pem'), 'CA-TWO');
    await writeFile(join(dir, 'ca3.pem'), 'CA-THREE');
    const c = await resolveConfig(base({ ssl: { trustStore: { path: 'ca1.pem' }, caCertificates: ['ca2.pem', join(dir, 'ca3.pem')] } }), dir);
    expect(c.caCertificates).toEqual(['CA-ONE', 'CA-TWO', 'CA-THREE']);
    expect((await resolveConfig(base())).caCertificates).toEqual([]);
    expect((await configError(resolveConfig(base({ ssl: { trustStore: { path: 'none.pem' } } }), dir))).key).toBe('ssl.trustStore.path');
    expect((await configError(resolveConfig(base({ ssl: { caCertificates: ['ca1.pem', 'none.pem'] } }), dir))).key).toBe('ssl.caCertificates[1]');
    // With a trust store, the index is still that of the caCertificates entry.
    expect((await configError(resolveConfig(base({ ssl: { trustStore: { path: 'ca1.pem' }, caCertificates: ['none.pem'] } }), dir))).key).toBe('ssl.caCertificates[0]');
  });
});

describe('resolveConfig: numeric settings', () => {
  const defaults = {
    retry: { maxAttempts: 5, initialIntervalMs: 250, multiplier: 2, maxIntervalMs: 30_000 },
    timeouts: { requestMs: 30_000, connectMs: 10_000 },
    keys: { maxEntries: 1000, maxAgeMs: 3_600_000, rotationCheckMs: 60_000, failureCooldownMs: 5_000 },
    datafeed: { maxBackoffMs: 30_000, dedupEntries: 10_000 },
    auth: { minRefreshIntervalMs: 1_000, jwtLifetimeSeconds: 240 },
  } as const;

  it('has the documented defaults and takes given values', async () => {
    const c = await resolveConfig(base());
    expect({ retry: c.retry, timeouts: c.timeouts, keys: c.keys, datafeed: c.datafeed, auth: c.auth }).toEqual(defaults);
    const given = {
      retry: { maxAttempts: 2, initialIntervalMs: 10, multiplier: 1.5, maxIntervalMs: 99 },
      timeouts: { requestMs: 7, connectMs: 8 },
      keys: { maxEntries: 3, maxAgeMs: 4, rotationCheckMs: 5, failureCooldownMs: 6 },
      datafeed: { maxBackoffMs: 11, dedupEntries: 12 },
      auth: { minRefreshIntervalMs: 13, jwtLifetimeSeconds: 14 },
    };
    const d = await resolveConfig(base(given));
    expect({ retry: d.retry, timeouts: d.timeouts, keys: d.keys, datafeed: d.datafeed, auth: d.auth }).toEqual(given);
  });

  const settings = Object.entries(defaults).flatMap(([section, values]) => Object.keys(values).map((name) => [section, name] as const));

  /** What each setting accepts at its lower bound: `[value refused, value accepted, message]`. */
  const bounds: Record<string, { refused: number[]; accepted: number; integer: boolean; message: string }> = {
    'retry.initialIntervalMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'retry.maxIntervalMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'retry.multiplier': { refused: [0, 0.99, -1], accepted: 1, integer: false, message: 'number of at least 1' },
    'keys.maxAgeMs': { refused: [0, -1], accepted: 0.5, integer: false, message: 'positive number' },
    'keys.rotationCheckMs': { refused: [0, -1], accepted: 0.5, integer: false, message: 'positive number' },
    'keys.failureCooldownMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'auth.minRefreshIntervalMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'auth.jwtLifetimeSeconds': { refused: [0, -1, 1.5, 301], accepted: 1, integer: true, message: 'integer from 1 to 300' },
  };

  it.each(settings)('%s.%s refuses values below its bound, a string, NaN and Infinity, naming the key', async (section, name) => {
    const bound = bounds[`${section}.${name}`] ?? { refused: [0, -1, 1.5], accepted: 1, integer: true, message: 'positive integer' };
    const bad: unknown[] = [...bound.refused, 'x', '5', Number.NaN, Number.POSITIVE_INFINITY, null, true];
    for (const value of bad) {
      const e = await configError(resolveConfig(base({ [section]: { [name]: value } } as Partial<AllegroConfigInput>)));
      expect(e.key).toBe(`${section}.${name}`);
      expect(e.message).toContain(bound.message);
    }
    const ok = await resolveConfig(base({ [section]: { [name]: bound.accepted } } as Partial<AllegroConfigInput>));
    expect((ok as unknown as Record<string, Record<string, number>>)[section]![name]).toBe(bound.accepted);
    if (!bound.integer) {
      const fraction = await resolveConfig(base({ [section]: { [name]: 1.5 } } as Partial<AllegroConfigInput>));
      expect((fraction as unknown as Record<string, Record<string, number>>)[section]![name]).toBe(1.5);
    }
  });

  it('keys.failureCooldownMs: 0 (documented as "disables" by KeyCache) is accepted', async () => {
    expect((await resolveConfig(base({ keys: { failureCooldownMs: 0 } }))).keys.failureCooldownMs).toBe(0);
  });

  it('a settings section that is not an object names the section', async () => {
    for (const key of ['retry', 'timeouts', 'keys', 'datafeed', 'auth'] as const) {
      for (const bad of [5, 'x', [], null]) expect((await configError(resolveConfig(base({ [key]: bad } as Partial<AllegroConfigInput>)))).key).toBe(key);
    }
  });

  it('accepts exactly the values the module each setting feeds accepts', async () => {
    const dispatcher = createDispatcher({});
    const key = new RsaPrivateKey((await generateRsaKeyPair()).privateKeyPem);
    const noop = async () => { throw new Error('not called'); };
    const http = new HttpClient({ transport: dispatcher });
    const session = (o: Partial<SessionOptions>) => new Session({
      credentials: { kind: 'tokens', username: 'u', sessionToken: new Secret('t', 't'), keyManagerToken: new Secret('t', 't') }, http: { pod: http, keyManager: http },
      podUrl: 'https://p', keyManagerUrl: 'https://p', sessionAuthUrl: 'https://p', keyAuthUrl: 'https://p', minRefreshIntervalMs: 0, jwtLifetimeSeconds: 1, ...o,
    });
    const modules: Record<string, (v: number) => unknown> = {
      'retry.maxAttempts': (v) => retryPolicy({ maxAttempts: v }),
      'retry.initialIntervalMs': (v) => retryPolicy({ initialDelayMs: v }),
      'retry.multiplier': (v) => retryPolicy({ multiplier: v }),
      'retry.maxIntervalMs': (v) => retryPolicy({ maxDelayMs: v }),
      'timeouts.requestMs': (v) => new HttpClient({ transport: dispatcher, timeoutMs: v }),
      'timeouts.connectMs': (v) => void createDispatcher({ connectTimeoutMs: v }).close(),
      'keys.maxEntries': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxEntries: v }),
      'keys.maxAgeMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxAgeMs: v }),
      'keys.rotationCheckMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxAgeMs: v }),
      'keys.failureCooldownMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, failureCooldownMs: v }),
      'datafeed.maxBackoffMs': (v) => new Datafeed({ http, podUrl: 'https://p', auth: { headers: () => ({}) }, decrypt: noop, maxBackoffMs: v }),
      'datafeed.dedupEntries': (v) => new Datafeed({ http, podUrl: 'https://p', auth: { headers: () => ({}) }, decrypt: noop, dedupEntries: v }),
      'auth.minRefreshIntervalMs': (v) => session({ minRefreshIntervalMs: v }),
      'auth.jwtLifetimeSeconds': (v) => { session({ jwtLifetimeSeconds: v }); return signJwtRs512(key, { sub: 'u', lifetimeSeconds: v }); },
    };
    expect(Object.keys(modules).sort()).toEqual(settings.map(([section, name]) => `${section}.${name}`).sort());
    const candidates = [-1, -0.5, 0, 0.5, 1, 1.5, 2, 299, 300, 301, 2 ** 31, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY];
    const disagreements: string[] = [];
    for (const [section, name] of settings) {
      for (const value of candidates) {
        const byModule = (() => { try { modules[`${section}.${name}`]!(value); return true; } catch { return false; } })();
        const byConfig = await resolveConfig(base({ [section]: { [name]: value } } as Partial<AllegroConfigInput>)).then(() => true, () => false);
        if (byModule !== byConfig) disagreements.push(`${section}.${name} = ${value}: config ${byConfig ? 'accepts' : 'refuses'}, module ${byModule ? 'accepts' : 'refuses'}`);
      }
    }
    await dispatcher.close();
    expect(disagreements).toEqual([]);
  });
});

describe('resolveConfig: proxies, CA lists and credential fields of the wrong type', () => {
  it('a proxy needs a host and a port; username and password must be strings', async () => {
    const ok = await resolveConfig(base({ proxy: { host: 'proxy', port: 3128, username: 'u', password: 'p' } }));
    expect(revealed(ok.pod.proxy)).toEqual({ host: 'proxy', port: 3128, username: 'u', password: 'p' });
    const cases: Array<[unknown, string]> = [
      [5, 'proxy'], [{ port: 3128 }, 'proxy.host'], [{ host: '', port: 3128 }, 'proxy.host'], [{ host: 'p' }, 'proxy.port'],
      [{ host: 'p', port: 0 }, 'proxy.port'], [{ host: 'p', port: '3128' }, 'proxy.port'], [{ host: 'p', port: 1, username: 5 }, 'proxy.username'],
      [{ host: 'p', port: 1, password: 5 }, 'proxy.password'],
    ];
    for (const [proxy, key] of cases) expect((await configError(resolveConfig(base({ proxy } as Partial<AllegroConfigInput>)))).key).toBe(key);
    expect((await configError(resolveConfig(base({ keyManager: { proxy: { host: 'p' } } } as Partial<AllegroConfigInput>)))).key).toBe('keyManager.proxy.port');
  });

  it('ssl.caCertificates must be a list of paths', async () => {
    for (const bad of ['ca.pem', 5, [5], ['']]) {
      expect((await configError(resolveConfig(base({ ssl: { caCertificates: bad as string[] } })))).key).toMatch(/^ssl\.caCertificates/);
    }
    expect((await configError(resolveConfig(base({ ssl: { trustStore: { path: 5 as unknown as string } } })))).key).toBe('ssl.trustStore.path');
  });

  it('key content, paths and the certificate password must be strings', async () => {
    const bot = (b: unknown) => ({ host: 'h', bot: { username: 'bot', ...(b as object) } }) as AllegroConfigInput;
    expect((await configError(resolveConfig(bot({ privateKey: { content: 5 } })))).key).toBe('bot.privateKey.content');
    expect((await configError(resolveConfig(bot({ privateKey: { path: 5 } })))).key).toBe('bot.privateKey.path');
    expect((await configError(resolveConfig(bot({ certificate: { path: 5 } })))).key).toBe('bot.certificate.path');
    expect((await configError(resolveConfig(bot({ certificate: { path: 'x.p12', password: 5 } })))).key).toBe('bot.certificate.password');
    expect((await configError(resolveConfig(bot({ certificate: { certPath: 5, keyPath: 'k' } })))).key).toBe('bot.certificate.certPath');
  });
});

describe('loadConfig', () => {
  it('reads a JSON file, interpolates the environment and resolves paths against the file directory', async () => {
    const sub = join(dir, 'conf');
    await mkdir(join(sub, 'keys'), { recursive: true });
    await writeFile(join(sub, 'keys', 'bot.pem'), KEY_PEM);
    await writeFile(join(sub, 'ca.pem'), 'CA');
    const file = join(sub, 'config.json');
    await writeFile(file, JSON.stringify({
      host: '${POD_HOST}', port: 8443,
      keyManager: { host: '${KM_HOST:-km.example.com}' },
      bot: { username: '${BOT_USER}', privateKey: { path: 'keys/${KEY_FILE:-bot.pem}' } },
      ssl: { caCertificates: ['ca.pem'] },
      retry: { maxAttempts: 3 },
    }));
    const c = await loadConfig(file, { POD_HOST: 'pod.example.com', BOT_USER: 'my-bot' });
    expect(c.pod.url).toBe('https://pod.example.com:8443');
    expect(c.keyManager.url).toBe('https://km.example.com:8443/relay');
    expect(revealed(c.credentials)).toEqual({ kind: 'rsa', username: 'my-bot', privateKeyPem: KEY_PEM });
    expect(c.caCertificates).toEqual(['CA']);
    expect(c.retry.maxAttempts).toBe(3);
    const e = await configError(loadConfig(file, { POD_HOST: 'pod.example.com' }));
    expect(e.key).toBe('bot.username');
    expect(e.message).toContain('BOT_USER');
  });

  it('invalid JSON and a missing file are InvalidConfigErrors', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ "host": "x", ');
    let e = await configError(loadConfig(bad, {}));
    expect(e.key).toBe('(file)');
    expect(e.message).toContain('not valid JSON');
    e = await configError(loadConfig(join(dir, 'missing.json'), {}));
    expect(e.key).toBe('(file)');
    expect(e.message).toContain('cannot read');
    // A value of the wrong shape in a file is reported like one in code.
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ host: 'h', bot: { username: 'b', privateKey: { content: KEY_PEM } }, timeouts: { requestMs: '30000' } }));
    expect((await configError(loadConfig(wrong, {}))).key).toBe('timeouts.requestMs');
  });

  it('loads the configuration a real sandbox writes', async () => {
    const sandbox = await startSandbox();
    try {
      const c = await loadConfig(sandbox.configPath, {});
      expect(c.pod.url).toBe(sandbox.podUrl);
      expect(c.keyManager.url).toBe(sandbox.keyManagerUrl);
      expect(c.sessionAuth.url).toBe(sandbox.sessionAuthUrl);
      expect(c.keyAuth.url).toBe(sandbox.keyAuthUrl);
      expect(c.agent.url).toBe(sandbox.agentUrl);
      expect(c.objectStore.url).toBe(sandbox.objectStoreUrl);
      expect(c.credentials.kind).toBe('rsa');
      expect(c.credentials.username).toBe('sandbox-bot');
      expect(revealed(c.credentials).privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(c.caCertificates).toHaveLength(1);
      expect(c.caCertificates[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    } finally {
      await sandbox.close();
    }
  });
});
