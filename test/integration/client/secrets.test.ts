// No secret of a connected client ever prints: clients logged in with every kind of credential (RSA key, PKCS#12 +
// password, PEM certificate + key, caller-supplied tokens) and a proxy password are inspected (depth Infinity, hidden
// properties, getters, with and without custom inspectors), stringified, copied (spread, Object.entries,
// structuredClone) and turned into strings, together with every public object reachable from them, a datafeed and
// its events, key statistics and the errors they throw; none of the output may contain a private key PEM body, a
// certificate or proxy password, PKCS#12 bytes, a session, Key Manager, datafeed or Object Store token, or the bytes
// of a content, entity or account key in any common encoding.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { resolveConfig, type AllegroConfigInput } from '../../../src/config.js';
import type { DatafeedEvent } from '../../../src/pod/datafeed.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { rejection } from '../../helpers/errors.js';
import { call, login } from '../../helpers/sandbox.js';

const PROXY_PASSWORD = 'proxy-password-9f3c1e';

let sandbox: RunningSandbox;
const clients: AllegroClient[] = [];
/** Every secret of this file, in every form it could print in. */
const secrets = new Map<string, string>();
/** Everything that must not reveal a secret. */
const exhibits: Array<[string, unknown]> = [];

/** The forms bytes print in: base64 (both alphabets), hex, Buffer's spaced hex, Uint8Array's decimal list. */
function addBytes(name: string, bytes: Uint8Array): void {
  const b = Buffer.from(bytes);
  secrets.set(`${name} (base64)`, b.toString('base64').replace(/=+$/, ''));
  secrets.set(`${name} (base64url)`, b.toString('base64url'));
  secrets.set(`${name} (hex)`, b.toString('hex'));
  const head = [...b.subarray(0, 12)];
  secrets.set(`${name} (spaced hex)`, head.map((x) => x.toString(16).padStart(2, '0')).join(' '));
  secrets.set(`${name} (decimal list)`, head.join(', '));
  secrets.set(`${name} (JSON list)`, head.join(','));
}

/** A PEM's base64 lines, each a secret of its own (any one line printed is a leak). */
function addPem(name: string, pem: string): void {
  pem.split('\n').filter((line) => line.length >= 32 && !line.startsWith('-----')).forEach((line, i) => secrets.set(`${name} line ${i + 1}`, line));
}

async function addTokens(name: string, client: AllegroClient): Promise<void> {
  secrets.set(`${name} session token`, await client.session.token('session'));
  secrets.set(`${name} Key Manager token`, await client.session.token('keyManager'));
  secrets.set(`${name} datafeed token`, (await client.session.datafeed.headers()).authorization!.replace('Bearer ', ''));
  secrets.set(`${name} Object Store token`, (await client.session.objectStore.headers()).authorization!.replace('Bearer ', ''));
}

const bigints = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

/** Every way an object commonly ends up in a log. */
function renderings(value: unknown): string[] {
  const out = [
    inspect(value, { depth: Infinity, showHidden: true }),
    inspect(value, { depth: Infinity, showHidden: true, getters: true }),
    inspect(value, { depth: Infinity, showHidden: true, customInspect: false }),
    JSON.stringify(value, bigints) ?? '',
    String(value),
    `${value as string}`,
  ];
  if (typeof value === 'object' && value !== null) {
    out.push(inspect({ ...value }, { depth: Infinity, showHidden: true }), inspect(Object.entries(value), { depth: Infinity }));
    try {
      out.push(inspect(structuredClone(value), { depth: Infinity, showHidden: true }));
    } catch {
      // objects holding functions cannot be cloned: nothing to print then
    }
  }
  return out;
}

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 500 } });
  const bot = sandbox.identities.get('sandbox-bot')!;
  const proxy = { host: '127.0.0.1', port: 9, username: 'proxy-user', password: PROXY_PASSWORD };
  // The agent component is not used by the client, so its proxy is configured but never dialled.
  const rsa = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { agent: { proxy } }));
  const pkcs12 = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { useCertificate: true }));
  const pem = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', {
    bot: { username: 'sandbox-bot', certificate: { certPath: bot.certificatePath!, keyPath: bot.certificateKeyPath! } },
  }));
  const aliceLogin = await login(sandbox, 'alice');
  const tokens = await AllegroClient.create(identityConfig(sandbox, 'alice', { tokens: { session: aliceLogin.session, keyManager: aliceLogin.km } }));
  clients.push(rsa, pkcs12, pem, tokens);

  addPem('bot login key', readFileSync(bot.privateKeyPath!, 'utf8'));
  addPem('bot certificate key', readFileSync(bot.certificateKeyPath!, 'utf8'));
  addBytes('bot PKCS#12', readFileSync(bot.pkcs12Path!));
  secrets.set('PKCS#12 password', bot.pkcs12Password!);
  secrets.set('proxy password', PROXY_PASSWORD);
  for (const [name, client] of [['rsa', rsa], ['pkcs12', pkcs12], ['pem', pem], ['tokens', tokens]] as const) await addTokens(name, client);
  for (const who of [await login(sandbox, 'sandbox-bot'), aliceLogin]) {
    addPem(`user key of ${who.userId}`, (await call(sandbox, 'GET', '/relay/keys/me', { headers: who.kmHeaders })).json.privateKey as string);
  }

  // Use every part, so that caches, feeds and errors hold what a working bot holds.
  const room = await rsa.pod.createRoom({ name: 'secrets' });
  await rsa.pod.addMember(room, tokens.userId);
  const feed = tokens.datafeed();
  const events: DatafeedEvent[] = [];
  const heard = feed.listen((event) => {
    events.push(event);
    if (event.message?.text === 'hello') feed.stop();
  });
  for (let i = 0; i < 200 && feed.feedId === undefined; i++) await new Promise((r) => setTimeout(r, 25));
  await rsa.pod.send(room, 'hello');
  await heard;
  const partition = await rsa.objects.partition('secrets');
  const stored = await rsa.objects.put({ partition, sortKey: 'k', threadId: room, payload: { n: 1 } });
  const rotation = await rsa.keys.currentRotation(room);
  addBytes('content key', (await rsa.keys.contentKey(room, rotation)).bytes);
  addBytes('entity key', (await rsa.keys.entityKey()).bytes);
  addBytes('alice content key', (await tokens.keys.contentKey(room, rotation)).bytes);

  const badToken = `${aliceLogin.session}x`;
  secrets.set('refused session token', badToken);
  const errors = [
    await rejection(rsa.objects.get('AAAAAAAAAAAAAAAAAAAAAA')),
    await rejection(pkcs12.keys.contentKey('BBBBBBBBBBBBBBBBBBBBBB', 1n)),
    await rejection(pem.pod.send(room, 5 as unknown as string)),
    await rejection(AllegroClient.create(identityConfig(sandbox, 'alice', { tokens: { session: badToken, keyManager: aliceLogin.km } }))),
    await rejection(resolveConfig({ host: 'h', bot: { username: 'b', certificate: { path: '/nonexistent.p12', password: bot.pkcs12Password! } } } as AllegroConfigInput)),
  ];

  for (const [name, client] of [['rsa', rsa], ['pkcs12', pkcs12], ['pem', pem], ['tokens', tokens]] as const) {
    exhibits.push(
      [`${name} client`, client], [`${name} config`, client.config], [`${name} credentials`, client.config.credentials],
      [`${name} session`, client.session], [`${name} keys`, client.keys], [`${name} key stats`, client.keys.stats()],
      [`${name} pod`, client.pod], [`${name} objects`, client.objects],
    );
  }
  exhibits.push(['agent component', rsa.config.agent], ['datafeed', feed], ['datafeed events', events], ['stored object', stored]);
  errors.forEach((err, i) => exhibits.push([`error ${i + 1}`, err]));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sandbox?.close();
});

describe('secrets never print', () => {
  it('collected the secrets and the objects to check', () => {
    expect(secrets.size).toBeGreaterThan(40);
    for (const [name, secret] of secrets) expect(secret.length, name).toBeGreaterThanOrEqual(8);
    expect(exhibits.length).toBeGreaterThan(35);
  });

  it('no inspect, JSON, string, spread or clone of a client or anything reachable from it shows a secret', () => {
    const leaks: string[] = [];
    for (const [what, value] of exhibits) {
      for (const text of renderings(value)) {
        for (const [name, secret] of secrets) if (text.includes(secret)) leaks.push(`${what} shows the ${name.replace(/ line \d+$/, '')}`);
      }
    }
    expect([...new Set(leaks)]).toEqual([]);
  });

  it('credentials print as placeholders that say what they hide', () => {
    const credentials = clients.map((c) => inspect(c.config.credentials));
    expect(credentials[0]).toContain('[redacted private key]');
    expect(credentials[1]).toContain('[redacted PKCS#12]');
    expect(credentials[1]).toContain('[redacted password]');
    expect(credentials[2]).toContain('[redacted private key]');
    expect(credentials[3]).toContain('[redacted session token]');
    expect(JSON.stringify(clients[0]!.config.agent)).toContain('"password":"[redacted password]"');
  });
});
