// A Symphony developer's config.yaml, against the sandbox over HTTPS on 127.0.0.1 (docs/config.md): the file the
// sandbox writes, unchanged; a hand-written one with per-component sections, ${ENV} references, the BDK's retry keys,
// an allegro: section and the Python BDK's PEM certificate file; and the Java BDK's PKCS#12 form. Each bot sends an
// encrypted message and reads it back.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { loadConfig } from '../../../src/config.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { parseDocumentText } from '../../../src/util/yaml.js';
import { bdkProblems, bdkUrls } from '../../helpers/bdk-rules.js';

let sandbox: RunningSandbox;
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  dir = await mkdtemp(join(tmpdir(), 'allegro-bdk-config-'));
});
afterAll(async () => {
  await sandbox?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Send an encrypted message in the bot's room and read it back decrypted. */
async function roundTrip(bot: AllegroClient, text: string): Promise<void> {
  const room = (await bot.pod.streams({ types: ['ROOM'] }))[0]!.id;
  const id = await bot.pod.send(room, `<messageML>${text}</messageML>`);
  expect((await bot.pod.message(id)).text).toBe(text);
}

describe('a bot configured by a BDK config.yaml', () => {
  it('the config.yaml the sandbox writes loads in the Java and Python BDKs: no certificate password, no doubled context path', async () => {
    const doc = parseDocumentText(await readFile(join(dirname(sandbox.configPath), 'config.yaml'), 'utf8')) as Record<string, unknown>;
    expect(bdkProblems(doc)).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('password');
    // Every URL a BDK builds from it is one the sandbox serves, each component's own path once.
    expect(bdkUrls(doc)).toEqual({
      login: `${sandbox.podUrl}/login`, pod: `${sandbox.podUrl}/pod`, relay: sandbox.keyManagerUrl, keyauth: sandbox.keyAuthUrl,
      sessionauth: sandbox.sessionAuthUrl, agent: sandbox.agentUrl,
    });
  });

  it('connects with the config.yaml the sandbox writes, unchanged', async () => {
    const bot = await AllegroClient.create(join(dirname(sandbox.configPath), 'config.yaml'));
    try {
      expect(bot.username).toBe('sandbox-bot');
      expect(bot.config.ignoredKeys).toEqual([]);
      await roundTrip(bot, 'hello from config.yaml');
    } finally {
      await bot.close();
    }
  });

  it('connects with a hand-written file: per-component sections, ${ENV}, BDK retry keys, allegro:, and a PEM certificate file', async () => {
    const files = sandbox.identities.get('sandbox-bot')!;
    // The Python BDK's certificate form: one PEM file with the certificate and its unencrypted key.
    await writeFile(join(dir, 'bot-bundle.pem'), `${await readFile(files.certificatePath!, 'utf8')}${await readFile(files.certificateKeyPath!, 'utf8')}`);
    const file = join(dir, 'config.yaml');
    await writeFile(file, [
      'host: ${SANDBOX_HOST}',
      'port: ${SANDBOX_PORT}',
      'pod:',
      '  host: localhost', // the sandbox certificate names localhost and 127.0.0.1: each component may live "elsewhere"
      'keyManager:',
      '  host: localhost',
      'sessionAuth:',
      '  port: ${SANDBOX_PORT}',
      'agent:',
      '  host: localhost',
      'bot:',
      '  username: sandbox-bot',
      '  certificate:',
      '    path: bot-bundle.pem',
      'ssl:',
      '  trustStore:',
      `    path: ${sandbox.caCertPath}`,
      'retry:',
      '  maxAttempts: 4',
      '  initialIntervalMillis: 20',
      '  maxIntervalMillis: 200',
      'datafeed:',
      '  version: v2',
      '  retry:',
      '    maxIntervalMillis: 5000',
      'readTimeout: 60000',
      'allegro:',
      '  keys:',
      '    maxEntries: 50',
      '',
    ].join('\n'));
    const config = await loadConfig(file, { SANDBOX_HOST: '127.0.0.1', SANDBOX_PORT: String(sandbox.port) });
    expect(config.pod.url).toBe(`https://localhost:${sandbox.port}`);
    expect(config.keyManager.url).toBe(`https://localhost:${sandbox.port}/relay`);
    expect(config.keyAuth.url).toBe(`https://localhost:${sandbox.port}/keyauth`);
    expect(config.sessionAuth.url).toBe(sandbox.sessionAuthUrl);
    expect(config.objectStore.url).toBe(`https://localhost:${sandbox.port}`);
    expect(config).toMatchObject({ retry: { maxAttempts: 4, initialIntervalMs: 20, maxIntervalMs: 200 }, datafeed: { maxBackoffMs: 5000 }, keys: { maxEntries: 50 } });
    expect(config.ignoredKeys).toEqual(['readTimeout']);
    const bot = await AllegroClient.create(config);
    try {
      await roundTrip(bot, 'hello from a PEM certificate');
      expect(bot.session.logins).toEqual({ session: 1, keyManager: 1 }); // both over mutual TLS, with the PEM file's certificate
    } finally {
      await bot.close();
    }
  });

  it('connects with the Java BDK\'s certificate form: a PKCS#12 file and its password', async () => {
    const files = sandbox.identities.get('sandbox-bot')!;
    const file = join(dir, 'java.json');
    await writeFile(file, JSON.stringify({
      host: '127.0.0.1', port: sandbox.port,
      bot: { username: 'sandbox-bot', certificate: { path: files.pkcs12Path, password: files.pkcs12Password } },
      ssl: { trustStore: { path: sandbox.caCertPath } },
    }));
    const bot = await AllegroClient.create(file);
    try {
      await roundTrip(bot, 'hello from PKCS#12');
    } finally {
      await bot.close();
    }
  });
});
