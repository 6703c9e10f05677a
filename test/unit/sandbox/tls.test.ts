import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticatedCommonName, certificateFingerprint, commonNameOf, issueClientCertificate, loadOrCreateTls,
  toPkcs12, type IssuedCertificate, type LoadedTls,
} from '../../../src/sandbox/tls.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

let dir: string;
let tls: LoadedTls;
let freshMs: number;
let alice: IssuedCertificate;
let foreign: LoadedTls;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allegro-tls-'));
  const started = performance.now();
  tls = await loadOrCreateTls(dir);
  freshMs = performance.now() - started;
  [alice, foreign] = await Promise.all([issueClientCertificate(tls, 'alice@example.com'), loadOrCreateTls(undefined)]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function daysValid(cert: X509Certificate): number {
  return (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
}

describe('certificates', () => {
  it('makes a self-signed CA valid for ten years', () => {
    const ca = new X509Certificate(tls.caCertPem);
    expect(ca.subject).toBe('CN=allegro-ts sandbox CA');
    expect(ca.issuer).toBe(ca.subject);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.checkPrivateKey(createPrivateKey(tls.caKeyPem))).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(Math.round(daysValid(ca))).toBe(3650);
    expect(Date.parse(ca.validFrom)).toBeLessThanOrEqual(Date.now());
  });

  it('makes a localhost server certificate issued by the CA, for two years', () => {
    const ca = new X509Certificate(tls.caCertPem);
    const server = new X509Certificate(tls.serverCertPem);
    expect(server.subject).toBe('CN=localhost');
    expect(server.issuer).toBe(ca.subject);
    expect(server.ca).toBe(false);
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.verify(new X509Certificate(foreign.caCertPem).publicKey)).toBe(false);
    expect(server.checkPrivateKey(createPrivateKey(tls.serverKeyPem))).toBe(true);
    expect(Math.round(daysValid(server))).toBe(730);
    expect(server.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    expect(server.serialNumber).not.toBe(new X509Certificate(foreign.serverCertPem).serialNumber);
  });

  it('issues client certificates for a user name, with clientAuth and the requested validity', async () => {
    const ca = new X509Certificate(tls.caCertPem);
    const client = new X509Certificate(alice.certPem);
    expect(client.subject).toBe('CN=alice@example.com');
    expect(client.issuer).toBe(ca.subject);
    expect(client.ca).toBe(false);
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
    expect(client.checkPrivateKey(createPrivateKey(alice.keyPem))).toBe(true);
    expect(Math.round(daysValid(client))).toBe(365);

    const short = await issueClientCertificate(tls, 'bot_ünïcode 名前', { days: 3 });
    expect(Math.round(daysValid(new X509Certificate(short.certPem)))).toBe(3);
    expect(commonNameOf(short.certPem)).toBe('bot_ünïcode 名前');
  });

  it('reads common names and fingerprints', () => {
    const client = new X509Certificate(alice.certPem);
    expect(commonNameOf(alice.certPem)).toBe('alice@example.com');
    expect(commonNameOf(client)).toBe('alice@example.com');
    expect(commonNameOf(client.toLegacyObject())).toBe('alice@example.com');
    expect(commonNameOf({} as ReturnType<TLSSocket['getPeerCertificate']>)).toBeUndefined();
    expect(certificateFingerprint(alice.certPem)).toBe(client.fingerprint256.replaceAll(':', '').toLowerCase());
    expect(certificateFingerprint(alice.certPem)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses bad arguments without quoting them', async () => {
    const invalid = (parameter: string) => expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter });
    for (const name of ['', 'x'.repeat(65), 'line\nbreak']) {
      await expect(issueClientCertificate(tls, name)).rejects.toThrow(invalid('commonName'));
    }
    for (const days of [0, 3651, 1.5]) {
      await expect(issueClientCertificate(tls, 'bob', { days })).rejects.toThrow(invalid('options.days'));
    }
    await expect(issueClientCertificate({ caCertPem: tls.serverCertPem, caKeyPem: tls.serverKeyPem }, 'bob'))
      .rejects.toThrow(invalid('ca.caCertPem'));
    const wrongKey = issueClientCertificate({ caCertPem: tls.caCertPem, caKeyPem: foreign.caKeyPem }, 'bob');
    await expect(wrongKey).rejects.toThrow(invalid('ca.caKeyPem'));
    await wrongKey.catch((err: Error) => expect(err.message).not.toContain('PRIVATE KEY'));
    const garbage = issueClientCertificate({ caCertPem: tls.caCertPem, caKeyPem: 'not a key' }, 'bob');
    await expect(garbage).rejects.toThrow(invalid('ca.caKeyPem'));

    expect(() => certificateFingerprint('nope')).toThrow(invalid('certPem'));
    expect(() => toPkcs12(alice.certPem, tls.caKeyPem, 'pw')).toThrow(invalid('keyPem'));
    expect(() => toPkcs12(alice.certPem, alice.keyPem, 'pässword')).toThrow(invalid('password'));
    expect(() => toPkcs12(alice.certPem, alice.keyPem, '')).toThrow(invalid('password'));
  });
});

describe('PKCS#12', () => {
  it('is accepted by tls.createSecureContext with the right passphrase only', () => {
    const pfx = toPkcs12(alice.certPem, alice.keyPem, 'correct horse', tls.caCertPem);
    expect(pfx).toBeInstanceOf(Uint8Array);
    expect(pfx[0]).toBe(0x30);
    expect(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: 'correct horse' })).not.toThrow();
    expect(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: 'wrong' })).toThrow();
    const withoutCa = toPkcs12(alice.certPem, alice.keyPem, 'pw');
    expect(() => createSecureContext({ pfx: Buffer.from(withoutCa), passphrase: 'pw' })).not.toThrow();
  });
});

describe('mutual TLS', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer({
      key: tls.serverKeyPem, cert: tls.serverCertPem, ca: tls.caCertPem,
      // Let unauthenticated clients through, so the test can see how the server classifies them.
      requestCert: true, rejectUnauthorized: false,
    }, (req, res) => {
      const socket = req.socket as TLSSocket;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        authorized: socket.authorized, user: authenticatedCommonName(socket) ?? null,
        peer: commonNameOf(socket.getPeerCertificate()) ?? null,
      }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** GET / over TLS, trusting the server only through `ca`; never rejectUnauthorized: false. */
  function get(options: { ca: string; cert?: string; key?: string; pfx?: Uint8Array; passphrase?: string }) {
    return new Promise<{ authorized: boolean; user: string | null; peer: string | null }>((resolve, reject) => {
      const { pfx, ...rest } = options;
      const pfxOption = pfx === undefined ? {} : { pfx: Buffer.from(pfx) };
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...rest, ...pfxOption }, (res) => {
        let body = '';
        res.setEncoding('utf8')
          .on('data', (chunk: string) => { body += chunk; })
          .on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject).end();
    });
  }

  it('authenticates a client presenting its certificate and key as PEM', async () => {
    expect(await get({ ca: tls.caCertPem, cert: alice.certPem, key: alice.keyPem }))
      .toEqual({ authorized: true, user: 'alice@example.com', peer: 'alice@example.com' });
  });

  it('authenticates a client presenting a PKCS#12 file', async () => {
    const pfx = toPkcs12(alice.certPem, alice.keyPem, 's3cret!', tls.caCertPem);
    expect(await get({ ca: tls.caCertPem, pfx, passphrase: 's3cret!' }))
      .toEqual({ authorized: true, user: 'alice@example.com', peer: 'alice@example.com' });
  });

  it('does not authenticate a client without a certificate or with one from another CA', async () => {
    expect(await get({ ca: tls.caCertPem })).toEqual({ authorized: false, user: null, peer: null });
    const mallory = await issueClientCertificate(foreign, 'alice@example.com', { days: 1 });
    expect(await get({ ca: tls.caCertPem, cert: mallory.certPem, key: mallory.keyPem }))
      .toEqual({ authorized: false, user: null, peer: 'alice@example.com' });
  });

  it('is trusted by clients through the CA only', async () => {
    // The server sends the CA certificate along (OpenSSL completes the chain from `ca`); a client that does
    // not trust that CA sees a self-signed certificate in the chain.
    await expect(get({ ca: foreign.caCertPem, cert: alice.certPem, key: alice.keyPem }))
      .rejects.toThrow(expect.objectContaining({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }));
  });
});

describe('persistence', () => {
  const tlsDir = () => join(dir, 'tls');

  it('stores the material with private keys readable by the owner only, and no leftovers', async () => {
    expect(tls.created).toBe('ca-and-server');
    expect(tls.caCertPath).toBe(join(dir, 'tls', 'ca.pem'));
    expect((await readdir(tlsDir())).sort()).toEqual(['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);
    for (const name of ['ca-key.pem', 'server-key.pem']) {
      expect((await stat(join(tlsDir(), name))).mode & 0o777).toBe(0o600);
    }
    expect((await stat(join(tlsDir(), 'ca.pem'))).mode & 0o022).toBe(0);
  });

  it('reuses stored material', async () => {
    const started = performance.now();
    const again = await loadOrCreateTls(dir);
    const reuseMs = performance.now() - started;
    console.info(`loadOrCreateTls: fresh ${freshMs.toFixed(0)} ms, reuse ${reuseMs.toFixed(1)} ms`);
    expect(again).toEqual({ ...tls, created: 'nothing' });
  });

  it('re-issues a server certificate about to expire, or unreadable, from the same CA', async () => {
    const expiring = await issueClientCertificate(tls, 'localhost', { days: 6 });
    await writeFile(join(tlsDir(), 'server.pem'), expiring.certPem);
    await writeFile(join(tlsDir(), 'server-key.pem'), expiring.keyPem, { mode: 0o600 });
    const renewed = await loadOrCreateTls(dir);
    expect(renewed.created).toBe('server');
    expect(renewed.caCertPem).toBe(tls.caCertPem);
    expect(renewed.caKeyPem).toBe(tls.caKeyPem);
    expect(renewed.serverCertPem).not.toBe(tls.serverCertPem);
    expect(renewed.serverKeyPem).not.toBe(tls.serverKeyPem);
    const server = new X509Certificate(renewed.serverCertPem);
    expect(server.checkIssued(new X509Certificate(tls.caCertPem))).toBe(true);
    expect(Math.round(daysValid(server))).toBe(730);
    expect(await loadOrCreateTls(dir)).toEqual({ ...renewed, created: 'nothing' });

    await writeFile(join(tlsDir(), 'server.pem'), 'garbage');
    const repaired = await loadOrCreateTls(dir);
    expect(repaired.created).toBe('server');
    expect(repaired.caCertPem).toBe(tls.caCertPem);
  });

  it('starts over when the CA certificate and key do not match', async () => {
    await writeFile(join(tlsDir(), 'ca-key.pem'), foreign.caKeyPem, { mode: 0o600 });
    const replaced = await loadOrCreateTls(dir);
    expect(replaced.created).toBe('ca-and-server');
    expect(replaced.caCertPem).not.toBe(tls.caCertPem);
    expect(new X509Certificate(replaced.serverCertPem).checkIssued(new X509Certificate(replaced.caCertPem))).toBe(true);
    expect((await stat(join(tlsDir(), 'ca-key.pem'))).mode & 0o777).toBe(0o600);
  });

  it('keeps material in memory without a directory', () => {
    expect(foreign.created).toBe('ca-and-server');
    expect('caCertPath' in foreign).toBe(false);
  });
});
