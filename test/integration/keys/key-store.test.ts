// KeyStore against a pod and Key Manager that answer 2xx without the field the protocol promises (a loopback HTTP
// server standing in for a broken deployment; the sandbox never does this): each is a MalformedResponseError naming
// the route and what is missing — never an invented HTTP status — and a missing wrapped content key is
// CONTENT_KEY_UNAVAILABLE (key-manager-unavailable) with that MalformedResponseError as its cause.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentKeyUnavailableError, MalformedResponseError } from '../../../src/errors.js';
import { HttpClient } from '../../../src/http/http-client.js';
import { createDispatcher } from '../../../src/http/pool.js';
import type { Transport } from '../../../src/http/transport.js';
import { KeyStore } from '../../../src/keys/key-store.js';
import { rejection } from '../../helpers/errors.js';

const THREAD = 'AAAAAAAAAAAAAAAAAAAAAQ';
let server: Server;
let base: string;
let transport: Transport;
let http: HttpClient;
/** What the broken server answers, by path. */
const answers = new Map<string, unknown>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const answer = answers.get(path);
    if (answer === undefined) res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no"}');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  transport = createDispatcher();
  http = new HttpClient({ transport, retry: { maxAttempts: 1 } });
});

afterAll(async () => {
  await transport.close({ force: true });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function keyStore(): KeyStore {
  const auth = { headers: () => ({ sessionToken: 'token-value' }) };
  return new KeyStore({
    http: { pod: http, keyManager: http }, podUrl: base, keyManagerUrl: `${base}/relay`, session: auth, keyManager: auth, userId: 1,
    maxEntries: 10, maxAgeMs: 60_000, rotationCheckMs: 60_000, failureCooldownMs: 0,
  });
}

describe('KeyStore and 2xx answers without the field it needs', () => {
  it('no entity key', async () => {
    answers.clear();
    answers.set('/relay/keys/entityKey', {});
    const err = await rejection(keyStore().entityKey());
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /relay/keys/entityKey', retryable: false });
    expect((err as Error).message).toBe('GET /relay/keys/entityKey answered with a malformed response: no entity key');
  });

  it('no private key in /relay/keys/me, no wrapped account key', async () => {
    answers.clear();
    // A legacy-wrapped content key needs account key 0, which needs the user key.
    answers.set('/keystore/wrappedContentKeys/one', { data: { wrappedContentKey: Buffer.alloc(48, 1).toString('base64') } });
    answers.set('/relay/keys/me', {});
    expect(await rejection(keyStore().contentKey(THREAD, 1n))).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /relay/keys/me' });

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    answers.set('/relay/keys/me', { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    answers.set('/webcontroller/keystore/wrappedAccountKeys/one', { data: {} });
    expect(await rejection(keyStore().contentKey(THREAD, 1n))).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /webcontroller/keystore/wrappedAccountKeys/one' });
  });

  it('no wrapped content key: CONTENT_KEY_UNAVAILABLE caused by the malformed answer', async () => {
    answers.clear();
    answers.set('/keystore/wrappedContentKeys/one', { data: {} });
    const err = await rejection(keyStore().contentKey(THREAD, 1n));
    expect(err).toBeInstanceOf(ContentKeyUnavailableError);
    expect(err).toMatchObject({ reason: 'key-manager-unavailable', threadId: THREAD });
    expect((err as Error).cause).toBeInstanceOf(MalformedResponseError);
  });
});
