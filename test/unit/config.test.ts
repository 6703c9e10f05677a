// Configuration (docs/config.md): environment interpolation; where each component lives with BDK semantics (context
// before the component's own path, inheritance field by field, keyauth on the Key Manager, port 443, doubled paths
// refused); credentials of every kind (RSA, PKCS#12, the Python BDK's PEM file, supplied tokens) and the OBO app; the
// trust store; every numeric setting with the offending key named; ignored and refused keys; allegro-ts's former
// spellings; loadConfig on YAML and JSON files.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpolateEnv, loadAppConfig, loadConfig, resolveAppConfig, resolveConfig, type AllegroConfigInput } from '../../src/config.js';
import { Session, type SessionOptions } from '../../src/auth/session.js';
import { generateRsaKeyPair, RsaPrivateKey, signJwtRs512 } from '../../src/crypto/rsa.js';
import { InvalidConfigError } from '../../src/errors.js';
import { HttpClient } from '../../src/http/http-client.js';
import { createDispatcher } from '../../src/http/pool.js';
import { retryPolicy } from '../../src/http/retry.js';
import { KeyCache } from '../../src/keys/key-cache.js';
import { Datafeed } from '../../src/pod/datafeed.js';
import { toBase64, utf8 } from '../../src/util/bytes.js';
import { Secret } from '../../src/util/secret.js';

const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const RSA_KEY_PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBCAcaCAca\n-----END CERTIFICATE-----\n';
const P12 = Uint8Array.from([0x30, 0x82, 0x01, 0x00, 0xff, 0x00, 0x7f]);

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

/** `base` with fields the types do not allow (wrong types, unknown keys), as a file may have them. */
const loose = (extra: Record<string, unknown>) => base(extra as Partial<AllegroConfigInput>);

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

const keyOf = async (input: AllegroConfigInput, baseDir?: string) => (await configError(resolveConfig(input, baseDir))).key;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-config-test-'));
  await writeFile(join(dir, 'bot.pem'), KEY_PEM);
  await writeFile(join(dir, 'bot.p12'), P12);
  await writeFile(join(dir, 'ca.pem'), CA_PEM);
  await writeFile(join(dir, 'bundle.pem'), `${CERT_PEM}${KEY_PEM}${CA_PEM}`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('interpolateEnv', () => {
  const env = { HOST: 'pod.example.com', PORT: '8443', EMPTY: '', USER_1: 'bot' };

  it('replaces ${X} and ${X:-default}, several per string, leaving other text alone; $${X} is the text ${X}', () => {
    expect(interpolateEnv('${HOST}', env)).toBe('pod.example.com');
    expect(interpolateEnv('https://${HOST}:${PORT}/x', env)).toBe('https://pod.example.com:8443/x');
    expect(interpolateEnv('${MISSING:-fallback}', env)).toBe('fallback');
    expect(interpolateEnv('${HOST:-fallback}', env)).toBe('pod.example.com');
    expect(interpolateEnv('${MISSING:-}', env)).toBe('');
    expect(interpolateEnv('${EMPTY:-used}', env)).toBe('used');
    expect(interpolateEnv('${USER_1}', env)).toBe('bot');
    expect(interpolateEnv('$HOST and {HOST} and $ {HOST}', env)).toBe('$HOST and {HOST} and $ {HOST}');
    expect(interpolateEnv('pa$${NOPE}ss and $${HOST}-${HOST}', env)).toBe('pa${NOPE}ss and ${HOST}-pod.example.com');
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
    e = await configError(() => interpolateEnv({ allegro: { caCertificates: ['a', 'x${NOPE}y'] } }, env));
    expect(e.key).toBe('allegro.caCertificates[1]');
    e = await configError(() => interpolateEnv('${NOPE}', env));
    expect(e.key).toBe('(root)');
    e = await configError(() => interpolateEnv({ host: '${EMPTY}' }, env));
    expect(e.key).toBe('host');
  });
});

describe('resolveConfig: where each component lives (BDK semantics)', () => {
  const urls = async (input: AllegroConfigInput) => {
    const c = await resolveConfig(input);
    return { pod: c.pod.url, keyManager: c.keyManager.url, keyAuth: c.keyAuth.url, sessionAuth: c.sessionAuth.url, agent: c.agent.url, objectStore: c.objectStore.url };
  };

  it('from the top level alone, each component appends its own path as the BDK does; the port is 443', async () => {
    expect(await urls(base())).toEqual({
      pod: 'https://pod.example.com:443', keyManager: 'https://pod.example.com:443/relay', keyAuth: 'https://pod.example.com:443/keyauth',
      sessionAuth: 'https://pod.example.com:443/sessionauth', agent: 'https://pod.example.com:443/agent', objectStore: 'https://pod.example.com:443',
    });
  });

  it('the port defaults to 443 whatever the scheme, as in the BDK (BdkServerConfig.DEFAULT_HTTPS_PORT)', async () => {
    expect((await urls(base({ scheme: 'http' }))).keyManager).toBe('http://pod.example.com:443/relay');
    const mixed = await urls(base({ agent: { scheme: 'http' } }));
    expect(mixed.agent).toBe('http://pod.example.com:443/agent');
    expect(mixed.pod).toBe('https://pod.example.com:443');
  });

  it('a top-level context is the prefix of every component, before its own path', async () => {
    expect(await urls(base({ port: 8443, context: 'symphony/' }))).toEqual({
      pod: 'https://pod.example.com:8443/symphony', keyManager: 'https://pod.example.com:8443/symphony/relay',
      keyAuth: 'https://pod.example.com:8443/symphony/keyauth', sessionAuth: 'https://pod.example.com:8443/symphony/sessionauth',
      agent: 'https://pod.example.com:8443/symphony/agent', objectStore: 'https://pod.example.com:8443/symphony',
    });
  });

  it('keyManager.context is the path before /relay and /keyauth, never doubled (the former reading made it the whole path)', async () => {
    const c = await urls(base({ keyManager: { host: 'km.example.com', port: 8444, context: '/km' } }));
    expect(c.keyManager).toBe('https://km.example.com:8444/km/relay');
    expect(c.keyAuth).toBe('https://km.example.com:8444/km/keyauth');
    expect(c.pod).toBe('https://pod.example.com:443');
  });

  it('a section overrides field by field: scheme, host, port, context and proxy, for that component only', async () => {
    const proxy = { host: 'proxy.local', port: 3128 };
    const kmProxy = { host: 'kmproxy', port: 8080, username: 'u', password: 'p' };
    const c = await resolveConfig(base({
      port: 8443, context: '/top', proxy,
      keyManager: { host: 'km.example.com', proxy: kmProxy }, agent: { port: 7443, context: '' }, sessionAuth: { scheme: 'http' }, pod: { host: 'pod2.example.com' },
    }));
    expect({ ...c.keyManager, proxy: revealed(c.keyManager.proxy) }).toEqual({ url: 'https://km.example.com:8443/top/relay', proxy: kmProxy });
    expect({ ...c.keyAuth, proxy: revealed(c.keyAuth.proxy) }).toEqual({ url: 'https://km.example.com:8443/top/keyauth', proxy: kmProxy });
    expect(c.agent).toEqual({ url: 'https://pod.example.com:7443/agent', proxy });
    expect(c.sessionAuth).toEqual({ url: 'http://pod.example.com:8443/top/sessionauth', proxy });
    expect(c.pod).toEqual({ url: 'https://pod2.example.com:8443/top', proxy });
    expect(c.objectStore).toEqual({ url: 'https://pod2.example.com:8443/top', proxy });
    const none = await resolveConfig(base());
    expect('proxy' in none.pod).toBe(false);
  });

  it('allegro.keyAuth and allegro.objectStore override the Key Manager and the pod they otherwise follow', async () => {
    const c = await urls(base({
      keyManager: { host: 'km.example.com', context: '/km' }, pod: { context: '/p' },
      allegro: { keyAuth: { host: 'ka.example.com' }, objectStore: { port: 9443, context: '/store' } },
    }));
    expect(c.keyAuth).toBe('https://ka.example.com:443/km/keyauth');
    expect(c.objectStore).toBe('https://pod.example.com:9443/store');
    expect(c.keyManager).toBe('https://km.example.com:443/km/relay');
  });

  it('a context ending with a path the client appends is refused, naming where it was set', async () => {
    const cases: Array<[Partial<AllegroConfigInput>, string, string]> = [
      [{ keyManager: { context: '/relay' } }, 'keyManager.context', '/relay'],
      [{ keyManager: { context: '/km/keyauth/' } }, 'keyManager.context', '/keyauth'],
      [{ sessionAuth: { context: 'sessionauth' } }, 'sessionAuth.context', '/sessionauth'],
      [{ agent: { context: '/x/agent' } }, 'agent.context', '/agent'],
      [{ pod: { context: '/pod' } }, 'pod.context', '/pod'],
      [{ pod: { context: '/login/' } }, 'pod.context', '/login'],
      [{ context: '/agent' }, 'context', '/agent'],
      [{ allegro: { keyAuth: { context: '/keyauth' } } }, 'allegro.keyAuth.context', '/keyauth'],
      [{ allegro: { objectStore: { context: '/object' } } }, 'allegro.objectStore.context', '/object'],
    ];
    for (const [extra, key, path] of cases) {
      const e = await configError(resolveConfig(base(extra)));
      expect(e.key, JSON.stringify(extra)).toBe(key);
      expect(e.message).toContain(`ends with ${path}`);
    }
    // Only whole segments count.
    expect((await urls(base({ keyManager: { context: '/relays' }, agent: { context: '/my-agent' } }))).keyManager).toBe('https://pod.example.com:443/relays/relay');
  });

  it('contexts gain a leading slash and lose trailing ones; "/" and "" mean none', async () => {
    const c = await urls(base({ pod: { context: 'a/b//' }, keyManager: { context: '/' }, agent: { context: '' } }));
    expect(c.pod).toBe('https://pod.example.com:443/a/b');
    expect(c.keyManager).toBe('https://pod.example.com:443/relay');
    expect(c.agent).toBe('https://pod.example.com:443/agent');
  });

  it('brackets an IPv6 host once', async () => {
    expect((await urls(base({ host: '::1', port: 8443 }))).keyManager).toBe('https://[::1]:8443/relay');
    expect((await urls(base({ host: '[::1]', port: 8443 }))).pod).toBe('https://[::1]:8443');
    expect((await urls(base({ host: 'fe80::1:2', pod: { host: '2001:db8::5' } }))).pod).toBe('https://[2001:db8::5]:443');
  });

  it('a port may be a numeric string (what ${PORT} gives; the BDK reads it as a number)', async () => {
    expect((await urls(loose({ port: '8443', agent: { port: '7443' } }))).agent).toBe('https://pod.example.com:7443/agent');
  });

  it('names the key of a missing or bad host, scheme, port or context where it was given', async () => {
    expect(await keyOf({ bot: { username: 'bot', privateKey: { content: KEY_PEM } } })).toBe('pod.host');
    expect(await keyOf(base({ host: '' }))).toBe('host');
    expect(await keyOf(base({ agent: { host: '' } }))).toBe('agent.host');
    expect(await keyOf(base({ host: 'https://pod.example.com' }))).toBe('host');
    expect(await keyOf(base({ keyManager: { host: 'km/relay' } }))).toBe('keyManager.host');
    expect(await keyOf(loose({ scheme: 'ftp' }))).toBe('scheme');
    expect(await keyOf(loose({ sessionAuth: { scheme: 'wss' } }))).toBe('sessionAuth.scheme');
    expect(await keyOf(loose({ allegro: { keyAuth: { scheme: 'wss' } } }))).toBe('allegro.keyAuth.scheme');
    expect(await keyOf(loose({ keyManager: { context: 5 } }))).toBe('keyManager.context');
    for (const port of [0, -1, 1.5, 65536, 'x', '1e3', ' 443', Number.NaN, true]) {
      expect(await keyOf(loose({ port }))).toBe('port');
      expect(await keyOf(loose({ sessionAuth: { port } }))).toBe('sessionAuth.port');
    }
    expect((await urls(base({ port: 1 }))).pod).toBe('https://pod.example.com:1');
    expect((await urls(base({ port: 65535 }))).pod).toBe('https://pod.example.com:65535');
    for (const key of ['pod', 'agent', 'keyManager', 'sessionAuth']) expect(await keyOf(loose({ [key]: 'x' }))).toBe(key);
    expect(await keyOf(loose({ allegro: 5 }))).toBe('allegro');
  });

  it('refuses a configuration that is not an object', async () => {
    for (const bad of [null, 'x', 5, []]) expect(await keyOf(bad as unknown as AllegroConfigInput)).toBe('(root)');
  });
});

describe('resolveConfig: proxies', () => {
  it('a proxy needs a host and a port; username and password must be strings', async () => {
    const ok = await resolveConfig(base({ proxy: { host: 'proxy', port: 3128, username: 'u', password: 'p' } }));
    expect(revealed(ok.pod.proxy)).toEqual({ host: 'proxy', port: 3128, username: 'u', password: 'p' });
    expect((await resolveConfig(loose({ proxy: { host: 'proxy', port: '3128' } }))).agent.proxy).toEqual({ host: 'proxy', port: 3128 });
    const cases: Array<[unknown, string]> = [
      [5, 'proxy'], [{ port: 3128 }, 'proxy.host'], [{ host: '', port: 3128 }, 'proxy.host'], [{ host: 'p' }, 'proxy.port'],
      [{ host: 'p', port: 0 }, 'proxy.port'], [{ host: 'p', port: 'x' }, 'proxy.port'], [{ host: 'p', port: 1, username: 5 }, 'proxy.username'],
      [{ host: 'p', port: 1, password: 5 }, 'proxy.password'],
    ];
    for (const [proxy, key] of cases) expect(await keyOf(loose({ proxy }))).toBe(key);
    expect(await keyOf(loose({ keyManager: { proxy: { host: 'p' } } }))).toBe('keyManager.proxy.port');
  });
});

describe('resolveConfig: the bot', () => {
  it('RSA: a path (relative to baseDir, absolute as given) or the content: PEM text or base64 of it', async () => {
    const rsa = { kind: 'rsa', username: 'bot', privateKeyPem: KEY_PEM };
    expect(revealed((await resolveConfig(base())).credentials)).toEqual(rsa);
    expect(revealed((await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: 'bot.pem' } } }, dir)).credentials)).toEqual(rsa);
    expect(revealed((await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: join(dir, 'bot.pem') } } }, '/nonexistent')).credentials)).toEqual(rsa);
    const b64 = await resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { content: toBase64(utf8(RSA_KEY_PEM)) } } });
    expect(revealed(b64.credentials)).toEqual({ ...rsa, privateKeyPem: RSA_KEY_PEM });
  });

  it('RSA: path and content together, an unreadable path, or something else than a PEM private key, names the key', async () => {
    const bot = (privateKey: unknown) => loose({ bot: { username: 'bot', privateKey } });
    expect(await keyOf(bot({ path: 'bot.pem', content: KEY_PEM }), dir)).toBe('bot.privateKey');
    let e = await configError(resolveConfig(bot({ path: 'none.pem' }), dir));
    expect(e.key).toBe('bot.privateKey.path');
    expect(e.message).toContain('ENOENT');
    expect(await keyOf(bot({ content: CERT_PEM }))).toBe('bot.privateKey.content');
    expect(await keyOf(bot({ content: toBase64(utf8('hello')) }))).toBe('bot.privateKey.content');
    e = await configError(resolveConfig(bot({ content: 'not base64 and a secret!' })));
    expect(e.key).toBe('bot.privateKey.content');
    expect(e.message).not.toContain('secret');
    expect(await keyOf(bot({ path: 'ca.pem' }), dir)).toBe('bot.privateKey.path');
    expect(await keyOf(bot({ content: 5 }))).toBe('bot.privateKey.content');
    expect(await keyOf(bot({ path: 5 }))).toBe('bot.privateKey.path');
    expect(await keyOf(bot('key.pem'))).toBe('bot.privateKey');
  });

  it('PKCS#12 (the Java BDK\'s form): the bytes from the path or base64 content, and the password (default empty)', async () => {
    const c = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: 'bot.p12', password: 'changeit' } } }, dir);
    expect(revealed(c.credentials)).toEqual({ kind: 'certificate', username: 'bot', pkcs12: P12, password: 'changeit' });
    const content = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { content: toBase64(P12) } } });
    expect(revealed(content.credentials)).toEqual({ kind: 'certificate', username: 'bot', pkcs12: P12, password: '' });
    const e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: 'nope.p12', password: 'p12-secret-password' } } }, dir));
    expect(e.key).toBe('bot.certificate.path');
    expect(e.message).not.toContain('p12-secret-password');
    expect(await keyOf(loose({ bot: { username: 'bot', certificate: { path: 'bot.p12', password: 5 } } }), dir)).toBe('bot.certificate.password');
    expect(await keyOf(loose({ bot: { username: 'bot', certificate: { path: 5 } } }))).toBe('bot.certificate.path');
    expect(await keyOf({ host: 'h', bot: { username: 'bot', certificate: { path: 'bot.p12', content: toBase64(P12) } } }, dir)).toBe('bot.certificate');
  });

  it('a PEM certificate file (the Python BDK\'s form): the certificates and the unencrypted key, from a path or the content', async () => {
    const expected = { kind: 'certificate', username: 'bot', certPem: `${CERT_PEM.trim()}\n${CA_PEM.trim()}\n`, keyPem: KEY_PEM };
    expect(revealed((await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { path: 'bundle.pem' } } }, dir)).credentials)).toEqual(expected);
    const inline = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { content: `${KEY_PEM}${CERT_PEM}${CA_PEM}`, password: 'unused' } } });
    expect(revealed(inline.credentials)).toEqual(expected);
    const pkcs1 = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { content: `${CERT_PEM}${RSA_KEY_PEM}` } } });
    expect(revealed(pkcs1.credentials).keyPem).toBe(RSA_KEY_PEM);
    const cases: Array<[string, string]> = [
      [CERT_PEM, 'holds the certificate and its private key'],
      [KEY_PEM, 'holds the certificate and its private key'],
      [`${CERT_PEM}-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n`, 'encrypted'],
    ];
    for (const [content, message] of cases) {
      const e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { content } } }));
      expect(e.key).toBe('bot.certificate.content');
      expect(e.message).toContain(message);
    }
  });

  it('the former certPath + keyPath pair still reads as a PEM certificate; either alone, or with path, is refused', async () => {
    await writeFile(join(dir, 'cert.pem'), CERT_PEM);
    const c = await resolveConfig({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem', keyPath: 'bot.pem' } } }, dir);
    expect(revealed(c.credentials)).toEqual({ kind: 'certificate', username: 'bot', certPem: CERT_PEM, keyPem: KEY_PEM });
    expect(await keyOf({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'x.pem', keyPath: 'bot.pem' } } }, dir)).toBe('bot.certificate.certPath');
    expect(await keyOf({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem', keyPath: 'x.pem' } } }, dir)).toBe('bot.certificate.keyPath');
    expect(await keyOf({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem' } } }, dir)).toBe('bot.certificate');
    expect(await keyOf({ host: 'h', bot: { username: 'bot', certificate: { certPath: 'cert.pem', keyPath: 'bot.pem', path: 'bot.p12' } } }, dir)).toBe('bot.certificate');
  });

  it('a private key and a certificate together are refused, as the Java BDK does', async () => {
    const e = await configError(resolveConfig({ host: 'h', bot: { username: 'bot', privateKey: { path: 'bot.pem' }, certificate: { path: 'bot.p12', password: 'x' } } }, dir));
    expect(e.key).toBe('bot');
    expect(e.message).toContain('not both');
  });

  it('the BDK\'s deprecated flat keys are refused with their replacement', async () => {
    for (const [old, now] of [['privateKeyPath', 'privateKey.path'], ['privateKeyContent', 'privateKey.content'], ['certificatePath', 'certificate.path'],
      ['certificateContent', 'certificate.content'], ['certificatePassword', 'certificate.password']]) {
      const e = await configError(resolveConfig(loose({ bot: { username: 'bot', privateKey: { content: KEY_PEM }, [old!]: 'x' } })));
      expect(e.key).toBe(`bot.${old}`);
      expect(e.message).toContain(`bot.${now}`);
    }
  });

  it('caller-supplied tokens (allegro.tokens, or the former top-level tokens): both required, and they take precedence over keys', async () => {
    const tokens = { kind: 'tokens', username: 'bot', sessionToken: 's-token', keyManagerToken: 'km-token' };
    expect(revealed((await resolveConfig(base({ allegro: { tokens: { session: 's-token', keyManager: 'km-token' } } }))).credentials)).toEqual(tokens);
    expect(revealed((await resolveConfig(base({ tokens: { session: 's-token', keyManager: 'km-token' } }))).credentials)).toEqual(tokens);
    const e = await configError(resolveConfig(base({ allegro: { tokens: { session: 's-token-secret' } } })));
    expect(e.key).toBe('allegro.tokens');
    expect(e.message).not.toContain('s-token-secret');
    expect(await keyOf(base({ tokens: { keyManager: 'km-token' } }))).toBe('tokens');
    expect(await keyOf(base({ allegro: { tokens: { session: '', keyManager: 'km-token' } } }))).toBe('allegro.tokens.session');
    expect(await keyOf(loose({ tokens: { session: 's', keyManager: 42 } }))).toBe('tokens.keyManager');
    expect(await keyOf(loose({ allegro: { tokens: 'x' } }))).toBe('allegro.tokens');
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
    expect(await keyOf({ host: 'h', bot: { privateKey: { content: KEY_PEM } } })).toBe('bot.username');
    expect(await keyOf({ host: 'h' })).toBe('bot.username');
    expect(await keyOf({ host: 'h', bot: { username: '' } })).toBe('bot.username');
    expect(await keyOf({ host: 'h', bot: { username: 'bot' } })).toBe('bot');
    expect(await keyOf({ host: 'h', bot: { username: 'bot', privateKey: {} } })).toBe('bot');
    expect(await keyOf(loose({ bot: 'bot' }))).toBe('bot');
  });
});

describe('resolveConfig: the OBO app (BDK app)', () => {
  it('appId with a private key or a certificate; no app section, or an empty one, is none', async () => {
    const rsa = await resolveConfig(base({ app: { appId: 'my-app', privateKey: { path: 'bot.pem' } } }), dir);
    expect(rsa.app?.appId).toBe('my-app');
    expect(revealed(rsa.app?.key)).toEqual({ kind: 'rsa', privateKeyPem: KEY_PEM });
    const cert = await resolveConfig(base({ app: { appId: 'my-app', certificate: { path: 'bundle.pem' } } }), dir);
    expect(revealed(cert.app?.key)).toMatchObject({ kind: 'certificate', keyPem: KEY_PEM });
    expect('app' in (await resolveConfig(base()))).toBe(false);
    expect('app' in (await resolveConfig(base({ app: {} })))).toBe(false);
  });

  it('an incomplete or contradictory app names the key', async () => {
    expect(await keyOf(base({ app: { appId: 'my-app' } }))).toBe('app');
    expect(await keyOf(base({ app: { privateKey: { content: KEY_PEM } } }))).toBe('app.appId');
    expect(await keyOf(base({ app: { appId: 'a', privateKey: { content: KEY_PEM }, certificate: { path: 'bundle.pem' } } }), dir)).toBe('app');
    expect(await keyOf(base({ app: { appId: 'a', privateKey: { content: CERT_PEM } } }))).toBe('app.privateKey.content');
    expect(await keyOf(loose({ app: { appId: 5, privateKey: { content: KEY_PEM } } }))).toBe('app.appId');
    expect(await keyOf(loose({ app: { appId: 'a', privateKeyPath: 'x' } }))).toBe('app.privateKeyPath');
  });

  it('resolveAppConfig requires the app and takes the bot only when one is named (the BDK\'s bot-less mode)', async () => {
    const app = { appId: 'crm', privateKey: { content: KEY_PEM } };
    const botless = await resolveAppConfig({ host: 'pod.example.com', app });
    expect(botless.app.appId).toBe('crm');
    expect('credentials' in botless).toBe(false);
    expect(botless.agent.url).toBe('https://pod.example.com:443/agent');
    expect((await resolveAppConfig(base({ app }))).credentials).toMatchObject({ kind: 'rsa', username: 'bot' });
    expect((await configError(resolveAppConfig({ host: 'pod.example.com' }))).key).toBe('app');
    expect((await configError(resolveAppConfig({ host: 'pod.example.com', app, bot: { privateKey: { content: KEY_PEM } } }))).key).toBe('bot.username');
    // resolveConfig still needs the bot.
    expect((await configError(resolveConfig({ host: 'pod.example.com', app }))).key).toBe('bot.username');
    await writeFile(join(dir, 'app.yaml'), 'host: pod.example.com\napp:\n  appId: crm\n  privateKey:\n    path: bot.pem\n');
    expect((await loadAppConfig(join(dir, 'app.yaml'))).app.appId).toBe('crm');
  });
});

describe('resolveConfig: trusted CA certificates', () => {
  it('ssl.trustStore (a PEM path or content), then allegro.caCertificates, relative to baseDir; a missing one is named', async () => {
    await writeFile(join(dir, 'ca2.pem'), CA_PEM.replace('CAca', 'CAtwo'));
    const c = await resolveConfig(base({ ssl: { trustStore: { path: 'ca.pem', password: 'ignored' } }, allegro: { caCertificates: ['ca2.pem', join(dir, 'ca.pem')] } }), dir);
    expect(c.caCertificates).toEqual([CA_PEM, CA_PEM.replace('CAca', 'CAtwo'), CA_PEM]);
    expect((await resolveConfig(base({ ssl: { trustStore: { content: CA_PEM } } }))).caCertificates).toEqual([CA_PEM]);
    expect((await resolveConfig(base({ ssl: { trustStore: { content: toBase64(utf8(CA_PEM)) } } }))).caCertificates).toEqual([CA_PEM]);
    expect((await resolveConfig(base())).caCertificates).toEqual([]);
    expect((await resolveConfig(base({ ssl: { trustStore: {} } }))).caCertificates).toEqual([]);
    expect(await keyOf(base({ ssl: { trustStore: { path: 'none.pem' } } }), dir)).toBe('ssl.trustStore.path');
    expect(await keyOf(base({ ssl: { trustStore: { path: 'ca.pem', content: CA_PEM } } }), dir)).toBe('ssl.trustStore');
    expect(await keyOf(base({ allegro: { caCertificates: ['ca.pem', 'none.pem'] } }), dir)).toBe('allegro.caCertificates[1]');
    expect(await keyOf(base({ allegro: { caCertificates: ['bot.pem'] } }), dir)).toBe('allegro.caCertificates[0]');
  });

  it('a JKS or PKCS#12 trust store is refused with how to convert it to PEM', async () => {
    await writeFile(join(dir, 'store.jks'), Uint8Array.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]));
    let e = await configError(resolveConfig(base({ ssl: { trustStore: { path: 'store.jks', password: 'changeit' } } }), dir));
    expect(e.key).toBe('ssl.trustStore.path');
    expect(e.message).toContain('keytool -exportcert -rfc');
    e = await configError(resolveConfig(base({ ssl: { trustStore: { path: 'bot.p12' } } }), dir));
    expect(e.message).toContain('openssl pkcs12');
    e = await configError(resolveConfig(base({ ssl: { trustStore: { content: KEY_PEM } } })));
    expect(e.key).toBe('ssl.trustStore.content');
  });

  it('the BDK\'s deprecated trustStorePath and trustStorePassword are refused with their replacement', async () => {
    expect(await keyOf(loose({ ssl: { trustStorePath: 'ca.pem' } }))).toBe('ssl.trustStorePath');
    expect(await keyOf(loose({ ssl: { trustStorePassword: 'x' } }))).toBe('ssl.trustStorePassword');
  });

  it('the CA list must be a list of paths, under either spelling', async () => {
    for (const bad of ['ca.pem', 5]) {
      expect(await keyOf(loose({ allegro: { caCertificates: bad } }))).toBe('allegro.caCertificates');
      expect(await keyOf(loose({ ssl: { caCertificates: bad } }))).toBe('ssl.caCertificates');
    }
    expect(await keyOf(loose({ allegro: { caCertificates: [5] } }))).toBe('allegro.caCertificates[0]');
    expect(await keyOf(loose({ ssl: { caCertificates: [''] } }))).toBe('ssl.caCertificates[0]');
    expect(await keyOf(loose({ ssl: { trustStore: { path: 5 } } }))).toBe('ssl.trustStore.path');
    expect(await keyOf(loose({ ssl: { trustStore: 'ca.pem' } }))).toBe('ssl.trustStore');
  });
});

/** Every numeric setting: its key, its former spelling, its default, what it is in the resolved configuration. */
const SETTINGS: Array<{ key: string; former?: string; resolved: string; fallback: number }> = [
  { key: 'retry.maxAttempts', resolved: 'retry.maxAttempts', fallback: 5 },
  { key: 'retry.initialIntervalMillis', former: 'retry.initialIntervalMs', resolved: 'retry.initialIntervalMs', fallback: 250 },
  { key: 'retry.multiplier', resolved: 'retry.multiplier', fallback: 2 },
  { key: 'retry.maxIntervalMillis', former: 'retry.maxIntervalMs', resolved: 'retry.maxIntervalMs', fallback: 30_000 },
  { key: 'allegro.timeouts.requestMs', former: 'timeouts.requestMs', resolved: 'timeouts.requestMs', fallback: 30_000 },
  { key: 'connectionTimeout', former: 'timeouts.connectMs', resolved: 'timeouts.connectMs', fallback: 10_000 },
  { key: 'allegro.keys.maxEntries', former: 'keys.maxEntries', resolved: 'keys.maxEntries', fallback: 1000 },
  { key: 'allegro.keys.maxAgeMs', former: 'keys.maxAgeMs', resolved: 'keys.maxAgeMs', fallback: 3_600_000 },
  { key: 'allegro.keys.rotationCheckMs', former: 'keys.rotationCheckMs', resolved: 'keys.rotationCheckMs', fallback: 60_000 },
  { key: 'allegro.keys.failureCooldownMs', former: 'keys.failureCooldownMs', resolved: 'keys.failureCooldownMs', fallback: 5_000 },
  { key: 'datafeed.retry.maxIntervalMillis', former: 'datafeed.maxBackoffMs', resolved: 'datafeed.maxBackoffMs', fallback: 30_000 },
  { key: 'allegro.datafeed.dedupEntries', former: 'datafeed.dedupEntries', resolved: 'datafeed.dedupEntries', fallback: 10_000 },
  { key: 'allegro.auth.minRefreshIntervalMs', former: 'auth.minRefreshIntervalMs', resolved: 'auth.minRefreshIntervalMs', fallback: 1_000 },
  { key: 'allegro.auth.jwtLifetimeSeconds', former: 'auth.jwtLifetimeSeconds', resolved: 'auth.jwtLifetimeSeconds', fallback: 240 },
];

/** `{ a: { b: value } }` for the dotted key `a.b`. */
function nested(key: string, value: unknown): Record<string, unknown> {
  return key.split('.').reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

const resolvedValue = (config: object, path: string) => path.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], config);

describe('resolveConfig: numeric settings', () => {
  it('has the documented defaults', async () => {
    const c = await resolveConfig(base());
    for (const s of SETTINGS) expect(resolvedValue(c, s.resolved), s.key).toBe(s.fallback);
  });

  it.each(SETTINGS)('$key (and its former spelling): a given value, a numeric string; both spellings together are refused', async (s) => {
    expect(resolvedValue(await resolveConfig(loose(nested(s.key, 7))), s.resolved)).toBe(7);
    expect(resolvedValue(await resolveConfig(loose(nested(s.key, '7'))), s.resolved)).toBe(7);
    if (s.former !== undefined) {
      expect(resolvedValue(await resolveConfig(loose(nested(s.former, 7))), s.resolved)).toBe(7);
      const both = { ...nested(s.key, 7) };
      const former = nested(s.former, 8);
      for (const [k, v] of Object.entries(former)) both[k] = typeof both[k] === 'object' ? { ...(both[k] as object), ...(v as object) } : v;
      const e = await configError(resolveConfig(loose(both)));
      expect(e.key).toBe(s.former);
      expect(e.message).toContain(s.key);
    }
  });

  /** What each setting accepts at its lower bound. */
  const bounds: Record<string, { refused: unknown[]; accepted: number; integer: boolean; message: string }> = {
    'retry.initialIntervalMillis': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'retry.maxIntervalMillis': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'retry.multiplier': { refused: [0, 0.99, -1], accepted: 1, integer: false, message: 'number of at least 1' },
    'allegro.keys.maxAgeMs': { refused: [0, -1], accepted: 0.5, integer: false, message: 'positive number' },
    'allegro.keys.rotationCheckMs': { refused: [0, -1], accepted: 0.5, integer: false, message: 'positive number' },
    'allegro.keys.failureCooldownMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'allegro.auth.minRefreshIntervalMs': { refused: [-1, -0.5], accepted: 0, integer: false, message: 'non-negative number' },
    'allegro.auth.jwtLifetimeSeconds': { refused: [0, -1, 1.5, 301], accepted: 1, integer: true, message: 'integer from 1 to 300' },
  };

  it.each(SETTINGS)('$key refuses values outside its bound, a non-numeric string, NaN, Infinity and booleans, naming the key', async (s) => {
    const bound = bounds[s.key] ?? { refused: [0, -1, 1.5], accepted: 1, integer: true, message: 'positive integer' };
    for (const value of [...bound.refused, 'x', '5ms', '', Number.NaN, Number.POSITIVE_INFINITY, true, [], {}]) {
      const e = await configError(resolveConfig(loose(nested(s.key, value))));
      expect(e.key).toBe(s.key);
      if (typeof value !== 'object') expect(e.message).toContain(s.key === 'retry.maxAttempts' && typeof value === 'number' && value < 0 ? 'positive integer' : bound.message);
    }
    expect(resolvedValue(await resolveConfig(loose(nested(s.key, bound.accepted))), s.resolved)).toBe(bound.accepted);
    if (!bound.integer) expect(resolvedValue(await resolveConfig(loose(nested(s.key, 1.5))), s.resolved)).toBe(1.5);
  });

  it('retry.maxAttempts -1 (the BDK\'s "without end") is refused, saying so', async () => {
    const e = await configError(resolveConfig(base({ retry: { maxAttempts: -1 } })));
    expect(e.key).toBe('retry.maxAttempts');
    expect(e.message).toContain('without end');
  });

  it('a settings section that is not an object names the section', async () => {
    for (const key of ['retry', 'datafeed', 'datafeed.retry', 'allegro.timeouts', 'allegro.keys', 'allegro.datafeed', 'allegro.auth', 'timeouts', 'keys', 'auth']) {
      for (const bad of [5, 'x', []]) expect(await keyOf(loose(nested(key, bad))), `${key} = ${JSON.stringify(bad)}`).toBe(key);
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
      'retry.initialIntervalMillis': (v) => retryPolicy({ initialDelayMs: v }),
      'retry.multiplier': (v) => retryPolicy({ multiplier: v }),
      'retry.maxIntervalMillis': (v) => retryPolicy({ maxDelayMs: v }),
      'allegro.timeouts.requestMs': (v) => new HttpClient({ transport: dispatcher, timeoutMs: v }),
      connectionTimeout: (v) => void createDispatcher({ connectTimeoutMs: v }).close(),
      'allegro.keys.maxEntries': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxEntries: v }),
      'allegro.keys.maxAgeMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxAgeMs: v }),
      'allegro.keys.rotationCheckMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, maxAgeMs: v }),
      'allegro.keys.failureCooldownMs': (v) => new KeyCache({ name: 'k', keyOf: String, load: noop, failureCooldownMs: v }),
      'datafeed.retry.maxIntervalMillis': (v) => new Datafeed({ http, podUrl: 'https://p', auth: { headers: () => ({}) }, decrypt: noop, maxBackoffMs: v }),
      'allegro.datafeed.dedupEntries': (v) => new Datafeed({ http, podUrl: 'https://p', auth: { headers: () => ({}) }, decrypt: noop, dedupEntries: v }),
      'allegro.auth.minRefreshIntervalMs': (v) => session({ minRefreshIntervalMs: v }),
      'allegro.auth.jwtLifetimeSeconds': (v) => { session({ jwtLifetimeSeconds: v }); return signJwtRs512(key, { sub: 'u', lifetimeSeconds: v }); },
    };
    expect(Object.keys(modules).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    const candidates = [-1, -0.5, 0, 0.5, 1, 1.5, 2, 299, 300, 301, 2 ** 31, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY];
    const disagreements: string[] = [];
    for (const s of SETTINGS) {
      for (const value of candidates) {
        const byModule = (() => { try { modules[s.key]!(value); return true; } catch { return false; } })();
        const byConfig = await resolveConfig(loose(nested(s.key, value))).then(() => true, () => false);
        if (byModule !== byConfig) disagreements.push(`${s.key} = ${value}: config ${byConfig ? 'accepts' : 'refuses'}, module ${byModule ? 'accepts' : 'refuses'}`);
      }
    }
    await dispatcher.close();
    expect(disagreements).toEqual([]);
  });
});

describe('resolveConfig: datafeed.version', () => {
  it('v2 (any case) or nothing; anything else is refused', async () => {
    await resolveConfig(base({ datafeed: { version: 'v2' } }));
    await resolveConfig(base({ datafeed: { version: 'V2' } }));
    for (const bad of ['v1', '2', 5]) {
      const e = await configError(resolveConfig(loose({ datafeed: { version: bad } })));
      expect(e.key).toBe('datafeed.version');
      expect(e.message).toContain('Datafeed 2.0');
    }
  });
});

describe('resolveConfig: keys not read', () => {
  it('lists the BDK keys allegro-ts does not use and unknown keys outside allegro:, as dotted paths', async () => {
    const c = await resolveConfig(loose({
      readTimeout: 60000, connectionPoolMax: 20, defaultHeaders: { Connection: 'Keep-Alive' },
      pod: { connectionTimeout: 1000 }, agent: { loadBalancing: { mode: 'roundRobin' } },
      ssl: { trustStore: { content: CA_PEM, password: 'changeit' } },
      datafeed: { version: 'v2', tag: 't', includeInvisible: true, idFilePath: '.', retry: { maxAttempts: 6, initialIntervalMillis: 2000, multiplier: 1.5, maxIntervalMillis: 10000 } },
      datahose: { tag: 'x' }, commonJwt: { enabled: false }, extensions: {}, manifest: 'm.json',
      keymanager: { host: 'typo' }, bot: { username: 'bot', privateKey: { content: KEY_PEM }, usrname: 'typo' },
      retry: { maxAttempt: 3 },
    }));
    expect(c.ignoredKeys.sort()).toEqual([
      'agent.loadBalancing', 'bot.usrname', 'commonJwt', 'connectionPoolMax', 'datafeed.idFilePath', 'datafeed.includeInvisible',
      'datafeed.retry.initialIntervalMillis', 'datafeed.retry.maxAttempts', 'datafeed.retry.multiplier', 'datafeed.tag', 'datahose',
      'defaultHeaders', 'extensions', 'keymanager', 'manifest', 'pod.connectionTimeout', 'readTimeout', 'retry.maxAttempt', 'ssl.trustStore.password',
    ]);
    expect(c.datafeed.maxBackoffMs).toBe(10000);
    expect((await resolveConfig(base())).ignoredKeys).toEqual([]);
  });

  it('an unknown key under allegro: is an error naming it', async () => {
    for (const key of ['allegro.timeout', 'allegro.keys.maxEntry', 'allegro.keyAuth.connectionTimeout', 'allegro.tokens.km', 'allegro.datafeed.maxBackoffMs']) {
      const e = await configError(resolveConfig(loose(nested(key, 1))));
      expect(e.key).toBe(key);
      expect(e.message).toContain('not an allegro-ts setting');
    }
  });

  it('a key without a value (YAML null) is the same as no key', async () => {
    const c = await resolveConfig(loose({ pod: null, agent: { host: null }, proxy: null, ssl: null, retry: { maxAttempts: null }, allegro: null, app: null }));
    expect(c.agent.url).toBe('https://pod.example.com:443/agent');
    expect(c.retry.maxAttempts).toBe(5);
  });
});

describe('resolveConfig: allegro-ts\'s former spellings', () => {
  it('the former top-level sections read as their allegro: counterparts', async () => {
    const former = await resolveConfig(base({
      keyAuth: { host: 'ka.example.com' }, objectStore: { host: 'os.example.com' }, timeouts: { requestMs: 11, connectMs: 12 },
      keys: { maxEntries: 13 }, auth: { jwtLifetimeSeconds: 14 }, ssl: { caCertificates: ['ca.pem'] }, retry: { initialIntervalMs: 15, maxIntervalMs: 16 },
      datafeed: { maxBackoffMs: 17, dedupEntries: 18 },
    }), dir);
    const current = await resolveConfig(base({
      connectionTimeout: 12, allegro: { keyAuth: { host: 'ka.example.com' }, objectStore: { host: 'os.example.com' }, timeouts: { requestMs: 11 }, keys: { maxEntries: 13 },
        auth: { jwtLifetimeSeconds: 14 }, caCertificates: ['ca.pem'], datafeed: { dedupEntries: 18 } },
      retry: { initialIntervalMillis: 15, maxIntervalMillis: 16 }, datafeed: { retry: { maxIntervalMillis: 17 } },
    }), dir);
    expect(JSON.stringify(former)).toBe(JSON.stringify(current));
    expect(former.keyAuth.url).toBe('https://ka.example.com:443/keyauth');
    expect(former.ignoredKeys).toEqual([]);
  });

  it('a file the sandbox wrote before BDK semantics (contexts with /relay) is refused, naming the context', async () => {
    const old = {
      scheme: 'https', host: '127.0.0.1', port: 39461,
      pod: { context: '' }, keyManager: { context: '/relay' }, sessionAuth: { context: '/sessionauth' }, keyAuth: { context: '/keyauth' }, agent: { context: '/agent' }, objectStore: { context: '' },
      bot: { username: 'sandbox-bot', privateKey: { content: KEY_PEM } },
    } as AllegroConfigInput;
    const e = await configError(resolveConfig(old));
    expect(e.key).toBe('keyManager.context');
    expect(e.message).toContain('leave /relay out');
  });
});

describe('loadConfig', () => {
  it('reads a YAML file, interpolates the environment (numbers too) and resolves paths against the file directory', async () => {
    const sub = join(dir, 'conf');
    await mkdir(join(sub, 'keys'), { recursive: true });
    await writeFile(join(sub, 'keys', 'bot.pem'), KEY_PEM);
    await writeFile(join(sub, 'ca.pem'), CA_PEM);
    const file = join(sub, 'config.yaml');
    await writeFile(file, [
      '# a BDK config.yaml',
      'host: ${POD_HOST}',
      'port: ${POD_PORT:-8443}',
      'keyManager:',
      '  host: ${KM_HOST:-km.example.com}',
      '  context: km',
      'bot:',
      '  username: ${BOT_USER}',
      '  privateKey:',
      '    path: keys/${KEY_FILE:-bot.pem}',
      'ssl:',
      '  trustStore:',
      '    path: ca.pem',
      'retry:',
      '  maxAttempts: 3',
      'agent:',
      '',
    ].join('\n'));
    const c = await loadConfig(file, { POD_HOST: 'pod.example.com', BOT_USER: 'my-bot' });
    expect(c.pod.url).toBe('https://pod.example.com:8443');
    expect(c.keyManager.url).toBe('https://km.example.com:8443/km/relay');
    expect(c.agent.url).toBe('https://pod.example.com:8443/agent');
    expect(revealed(c.credentials)).toEqual({ kind: 'rsa', username: 'my-bot', privateKeyPem: KEY_PEM });
    expect(c.caCertificates).toEqual([CA_PEM]);
    expect(c.retry.maxAttempts).toBe(3);
    const e = await configError(loadConfig(file, { POD_HOST: 'pod.example.com' }));
    expect(e.key).toBe('bot.username');
    expect(e.message).toContain('BOT_USER');
  });

  it('reads the same configuration as JSON', async () => {
    const yaml = join(dir, 'same.yaml');
    const json = join(dir, 'same.json');
    await writeFile(yaml, 'host: pod.example.com\nagent: {host: agent.example.com, port: 7443}\nbot:\n  username: bot\n  privateKey: {path: bot.pem}\n');
    await writeFile(json, JSON.stringify({ host: 'pod.example.com', agent: { host: 'agent.example.com', port: 7443 }, bot: { username: 'bot', privateKey: { path: 'bot.pem' } } }));
    expect(JSON.stringify(await loadConfig(yaml, {}))).toBe(JSON.stringify(await loadConfig(json, {})));
  });

  it('a text that is neither JSON nor YAML names the position, never the text; so does a document that is not a mapping', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'host: x\nbot:\n  username: b\n  privateKey: {content: "hunter2-secret\n');
    let e = await configError(loadConfig(bad, {}));
    expect(e.key).toBe('(file)');
    expect(e.message).toMatch(/neither JSON nor YAML \(line \d+, column \d+: /);
    expect(e.message).not.toContain('hunter2');
    await writeFile(bad, 'host: x\nhost: y\n');
    expect((await configError(loadConfig(bad, {}))).message).toContain('line 2, column 1: duplicate key');
    for (const text of ['- a\n- b\n', 'just text', '', '42']) {
      await writeFile(bad, text);
      e = await configError(loadConfig(bad, {}));
      expect(e.key).toBe('(file)');
      expect(e.message).toContain('does not hold a mapping');
    }
    e = await configError(loadConfig(join(dir, 'missing.yaml'), {}));
    expect(e.key).toBe('(file)');
    expect(e.message).toContain('cannot read');
    // A value of the wrong shape in a file is reported like one in code.
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ host: 'h', bot: { username: 'b', privateKey: { content: KEY_PEM } }, allegro: { timeouts: { requestMs: '30s' } } }));
    expect((await configError(loadConfig(wrong, {}))).key).toBe('allegro.timeouts.requestMs');
  });
});
