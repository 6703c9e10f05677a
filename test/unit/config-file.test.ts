// Writing a client configuration (src/config-file.ts, docs/config.md "What loads everywhere"): URLs become BDK fields
// with the component's own path left to the reader; the YAML reads back in allegro-ts to the same URLs (a property
// over generated endpoints); what is written satisfies the Java and Python BDKs' rules (test/helpers/bdk-rules.ts),
// whose URLs are the same again; the rules themselves catch the documents the BDKs refuse; and the files a real
// sandbox writes.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig, type AllegroConfigInput } from '../../src/config.js';
import { clientConfigFor, toConfigYaml, type ConfigEndpoints } from '../../src/config-file.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { parseDocumentText } from '../../src/util/yaml.js';
import { bdkProblems, bdkUrls } from '../helpers/bdk-rules.js';

const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const ONE_HOST: ConfigEndpoints = {
  podUrl: 'https://127.0.0.1:8443', keyManagerUrl: 'https://127.0.0.1:8443/relay', sessionAuthUrl: 'https://127.0.0.1:8443/sessionauth',
  agentUrl: 'https://127.0.0.1:8443/agent', keyAuthUrl: 'https://127.0.0.1:8443/keyauth', objectStoreUrl: 'https://127.0.0.1:8443',
};

/** The configuration as a file would hold it: written as YAML, read back. */
const roundTrip = (config: AllegroConfigInput) => parseDocumentText(toConfigYaml(config)) as Record<string, unknown>;

/** With an inline key instead of files, so that it resolves without them. */
const withKey = ({ ssl: _, ...config }: AllegroConfigInput): AllegroConfigInput => ({ ...config, bot: { username: 'bot', privateKey: { content: KEY_PEM } } });

describe('clientConfigFor', () => {
  it('everything on one host: the top level only, with the bot\'s key and the trust store', () => {
    expect(clientConfigFor(ONE_HOST, { username: 'bot', privateKeyPath: '/k/bot.pem', pkcs12Path: '/k/bot.p12', pkcs12Password: 'changeit' }, { trustStorePath: '/t/ca.pem' })).toEqual({
      scheme: 'https', host: '127.0.0.1', port: 8443,
      bot: { username: 'bot', privateKey: { path: '/k/bot.pem' } },
      ssl: { trustStore: { path: '/t/ca.pem' } },
    });
  });

  it('a component elsewhere gets a section with only what differs; keyauth off the Key Manager and the Object Store off the pod go under allegro:', () => {
    const config = clientConfigFor({
      podUrl: 'https://pod.example.com/', keyManagerUrl: 'https://km.example.com:8444/km/relay', sessionAuthUrl: 'https://pod.example.com:8444/sessionauth/',
      agentUrl: 'http://agent.example.com:8080/x/agent', keyAuthUrl: 'https://ka.example.com:8444/km/keyauth', objectStoreUrl: 'https://pod.example.com/store',
    });
    expect(config).toEqual({
      scheme: 'https', host: 'pod.example.com', port: 443,
      keyManager: { host: 'km.example.com', port: 8444, context: '/km' },
      sessionAuth: { port: 8444 },
      agent: { scheme: 'http', host: 'agent.example.com', port: 8080, context: '/x' },
      allegro: { keyAuth: { host: 'ka.example.com' }, objectStore: { context: '/store' } },
    });
  });

  it('a pod under a context puts it at the top level, which the other components inherit', () => {
    const at = 'https://h.example.com/sym';
    const config = clientConfigFor({ podUrl: at, keyManagerUrl: `${at}/relay`, sessionAuthUrl: `${at}/sessionauth`, agentUrl: `${at}/agent` });
    expect(config).toEqual({ scheme: 'https', host: 'h.example.com', port: 443, context: '/sym' });
  });

  it('the bot: its RSA key, else its PKCS#12 (the Java BDK\'s form), else only its name; no identity, no bot', () => {
    expect(clientConfigFor(ONE_HOST, { username: 'b', pkcs12Path: '/k/b.p12', pkcs12Password: 'pw' }).bot).toEqual({ username: 'b', certificate: { path: '/k/b.p12', password: 'pw' } });
    expect(clientConfigFor(ONE_HOST, { username: 'b' }).bot).toEqual({ username: 'b' });
    expect('bot' in clientConfigFor(ONE_HOST)).toBe(false);
    expect('ssl' in clientConfigFor(ONE_HOST)).toBe(false);
  });

  it('an IPv6 host keeps its brackets, as the BDKs concatenate it into the URL', async () => {
    const v6: ConfigEndpoints = { podUrl: 'https://[::1]:8443', keyManagerUrl: 'https://[::1]:8443/relay', sessionAuthUrl: 'https://[::1]:8443/sessionauth', agentUrl: 'https://[::1]:8443/agent' };
    const config = clientConfigFor(v6);
    expect(config.host).toBe('[::1]');
    expect((await resolveConfig(withKey(config))).keyManager.url).toBe('https://[::1]:8443/relay');
    expect(bdkUrls(roundTrip(config)).relay).toBe('https://[::1]:8443/relay');
  });

  it('a URL that is not http(s), has a query or credentials, or lacks the component\'s own path is INVALID_ARGUMENT naming it', () => {
    const cases: Array<[Partial<ConfigEndpoints>, string]> = [
      [{ keyManagerUrl: 'https://127.0.0.1:8443/km' }, 'endpoints.keyManagerUrl'],
      [{ sessionAuthUrl: 'https://127.0.0.1:8443/relay' }, 'endpoints.sessionAuthUrl'],
      [{ agentUrl: 'ftp://127.0.0.1/agent' }, 'endpoints.agentUrl'],
      [{ podUrl: 'not a url' }, 'endpoints.podUrl'],
      [{ podUrl: 'https://u:p@127.0.0.1' }, 'endpoints.podUrl'],
      [{ podUrl: 'https://127.0.0.1/?x=1' }, 'endpoints.podUrl'],
      [{ keyAuthUrl: 'https://127.0.0.1:8443/relay' }, 'endpoints.keyAuthUrl'],
    ];
    for (const [change, parameter] of cases) {
      let error: unknown;
      try {
        clientConfigFor({ ...ONE_HOST, ...change });
      } catch (err) {
        error = err;
      }
      expect(error, parameter).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).parameter).toBe(parameter);
      expect((error as Error).message).not.toContain('u:p');
    }
  });
});

describe('toConfigYaml', () => {
  it('starts with a comment, and quotes what YAML 1.1 would read as something else', () => {
    const text = toConfigYaml({ host: 'on', bot: { username: 'yes', privateKey: { path: '0644' } } });
    expect(text.startsWith('# Symphony client configuration (BDK config.yaml')).toBe(true);
    expect(parseDocumentText(text)).toEqual({ host: 'on', bot: { username: 'yes', privateKey: { path: '0644' } } });
  });
});

/** Endpoints where each component may live elsewhere, under its own context. */
const endpoints: fc.Arbitrary<ConfigEndpoints> = (() => {
  const host = fc.constantFrom('127.0.0.1', 'pod.example.com', 'km.example.com', '[::1]', 'a-b.example.org');
  const context = fc.constantFrom('', '/sym', '/a/b', '/relays');
  const place = fc.record({ scheme: fc.constantFrom('https', 'http'), host, port: fc.integer({ min: 1, max: 65535 }), context });
  const url = (p: { scheme: string; host: string; port: number; context: string }, own: string) => `${p.scheme}://${p.host}:${p.port}${p.context}${own}`;
  return fc.record({ pod: place, km: place, sa: place, agent: place, ka: fc.option(place, { nil: undefined }), os: fc.option(place, { nil: undefined }) }).map((p) => ({
    podUrl: url(p.pod, ''), keyManagerUrl: url(p.km, '/relay'), sessionAuthUrl: url(p.sa, '/sessionauth'), agentUrl: url(p.agent, '/agent'),
    ...(p.ka === undefined ? {} : { keyAuthUrl: url(p.ka, '/keyauth') }), ...(p.os === undefined ? {} : { objectStoreUrl: url(p.os, '') }),
  }));
})();

/** A URL as allegro-ts writes it: the port always present (http:80 and https:443 are dropped by the URL parser). */
const explicit = (url: string) => {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}:${u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : u.port}${u.pathname.replace(/\/$/, '')}`;
};

describe('what is written reads back to the same URLs, in allegro-ts and by the BDKs\' rules', () => {
  it('for any endpoints (property)', async () => {
    await fc.assert(fc.asyncProperty(endpoints, async (e) => {
      const doc = roundTrip(clientConfigFor(e, { username: 'bot', privateKeyPath: '/k/bot.pem' }, { trustStorePath: '/t/ca.pem' }));
      expect(bdkProblems(doc)).toEqual([]);
      const c = await resolveConfig(withKey(doc as AllegroConfigInput));
      expect(c.ignoredKeys).toEqual([]);
      expect(c.pod.url).toBe(explicit(e.podUrl));
      expect(c.keyManager.url).toBe(explicit(e.keyManagerUrl));
      expect(c.sessionAuth.url).toBe(explicit(e.sessionAuthUrl));
      expect(c.agent.url).toBe(explicit(e.agentUrl));
      expect(c.keyAuth.url).toBe(explicit(e.keyAuthUrl ?? e.keyManagerUrl.replace(/\/relay$/, '/keyauth')));
      expect(c.objectStore.url).toBe(explicit(e.objectStoreUrl ?? e.podUrl));
      // The BDKs build the same URLs (they know no keyAuth or Object Store of their own).
      const bdk = bdkUrls(doc);
      expect([bdk.relay, bdk.sessionauth, bdk.agent, bdk.pod]).toEqual([c.keyManager.url, c.sessionAuth.url, c.agent.url, `${c.pod.url}/pod`]);
      if (e.keyAuthUrl === undefined) expect(bdk.keyauth).toBe(c.keyAuth.url);
    }), { numRuns: 200 });
  });
});

describe('the BDK rules catch what the BDKs refuse', () => {
  const good = { host: 'h', bot: { username: 'b', privateKey: { path: '/k.pem' } }, ssl: { trustStore: { path: '/ca.pem' } } };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a certificate with a password (the Python BDK refuses the parameter)', { bot: { username: 'b', certificate: { path: '/b.p12', password: 'x' } } }, 'bot.certificate.password'],
    ['a certificate without a password (the Java BDK ignores it)', { bot: { username: 'b', certificate: { path: '/b.pem' } } }, 'without password'],
    ['a key and a certificate', { bot: { username: 'b', privateKey: { path: '/k.pem' }, certificate: { path: '/b.p12', password: 'x' } } }, 'both privateKey and certificate'],
    ['a key path and content', { bot: { username: 'b', privateKey: { path: '/k.pem', content: 'x' } } }, 'both path and content'],
    ['a trust store password', { ssl: { trustStore: { path: '/ca.pem', password: 'changeit' } } }, 'ssl.trustStore.password'],
    ['a proxy key Python does not take', { proxy: { host: 'p', port: 1, scheme: 'http' } }, 'proxy.scheme'],
    ['a proxy without port', { agent: { proxy: { host: 'p' } } }, 'agent.proxy: host and port'],
    ['a datafeed without version', { datafeed: { retry: { maxAttempts: 3 } } }, 'datafeed without version'],
    ['a retry value that is a string', { retry: { maxAttempts: '3' } }, 'retry.maxAttempts is not a number'],
  ];
  it.each(cases)('%s', (_, change, problem) => {
    expect(bdkProblems(good)).toEqual([]);
    expect(bdkProblems({ ...good, ...change }).join('\n')).toContain(problem);
  });

  // The BDKs' getFormattedContext adds a leading slash or drops a trailing one, not both: `a/` stays `/a/`.
  it('and the URLs they build double a context that ends with the component\'s path', () => {
    expect(bdkUrls({ host: 'h', keyManager: { context: '/relay' } }).relay).toBe('https://h:443/relay/relay');
    expect(bdkUrls({ host: 'h', port: 8443, context: 'x', agent: { context: 'a/' } })).toMatchObject({ pod: 'https://h:8443/x/pod', agent: 'https://h:8443/a//agent' });
  });
});

describe('the files a real sandbox writes', () => {
  it('config.yaml and config.json hold the same configuration, which the BDKs load and which resolves to the sandbox\'s URLs', async () => {
    const sandbox = await startSandbox();
    try {
      const yamlPath = join(dirname(sandbox.configPath), 'config.yaml');
      const yamlText = await readFile(yamlPath, 'utf8');
      const doc = parseDocumentText(yamlText) as Record<string, unknown>;
      expect(doc).toEqual(JSON.parse(await readFile(sandbox.configPath, 'utf8')));
      expect(bdkProblems(doc)).toEqual([]);
      expect(yamlText).not.toMatch(/^\s*password:/m);
      const bdk = bdkUrls(doc);
      expect([bdk.pod, bdk.relay, bdk.keyauth, bdk.sessionauth, bdk.agent]).toEqual([
        `${sandbox.podUrl}/pod`, sandbox.keyManagerUrl, sandbox.keyAuthUrl, sandbox.sessionAuthUrl, sandbox.agentUrl]);
      for (const path of [yamlPath, sandbox.configPath]) {
        const c = await loadConfig(path, {});
        expect([c.pod.url, c.keyManager.url, c.keyAuth.url, c.sessionAuth.url, c.agent.url, c.objectStore.url]).toEqual([
          sandbox.podUrl, sandbox.keyManagerUrl, sandbox.keyAuthUrl, sandbox.sessionAuthUrl, sandbox.agentUrl, sandbox.objectStoreUrl]);
        expect(c.credentials).toMatchObject({ kind: 'rsa', username: 'sandbox-bot' });
        expect(c.caCertificates).toHaveLength(1);
        expect(c.caCertificates[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
        expect(c.ignoredKeys).toEqual([]);
      }
    } finally {
      await sandbox.close();
    }
  });
});
