// Identity references: parsed from PUT bodies, never key material, turned into client configurations.
import { describe, expect, it } from 'vitest';
import { clientConfig, identityJson, IdentityUnavailableError, parseIdentity } from '../../../src/agent-host/identity.js';
import { HttpError } from '../../../src/sandbox/http-error.js';

const status = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return [(err as HttpError).status, (err as HttpError).message] as const;
  }
  throw new Error('expected a refusal');
};

describe('identities', () => {
  it('parse rsa and certificate references, the username defaulting to the agent\'s', () => {
    expect(parseIdentity({ Kind: 'rsa', PrivateKeyPath: '/k.pem' }, 'bot')).toEqual({ kind: 'rsa', username: 'bot', privateKeyPath: '/k.pem' });
    expect(parseIdentity({ Kind: 'certificate', Username: 'b2', CertificateEnv: 'CERT', PasswordEnv: 'PW' }, 'bot')).toEqual({ kind: 'certificate', username: 'b2', certificateEnv: 'CERT', passwordEnv: 'PW' });
    expect(identityJson({ kind: 'rsa', username: 'bot', privateKeyEnv: 'KEY' })).toEqual({ Kind: 'rsa', Username: 'bot', PrivateKeyEnv: 'KEY' });
  });

  it('refuse key material, two sources or none, unknown kinds, and obo (not supported yet) with a 400', () => {
    expect(status(() => parseIdentity({ Kind: 'rsa', PrivateKey: '-----BEGIN PRIVATE KEY-----' }, 'b'))).toEqual([400, expect.stringContaining('Identity.PrivateKey is not a field')]);
    expect(status(() => parseIdentity({ Kind: 'rsa', PrivateKeyPath: '/a', PrivateKeyEnv: 'B' }, 'b'))[1]).toContain('exactly one of PrivateKeyPath and PrivateKeyEnv');
    expect(status(() => parseIdentity({ Kind: 'rsa' }, 'b'))[1]).toContain('exactly one');
    expect(status(() => parseIdentity({ Kind: 'saml' }, 'b'))[1]).toContain('Identity.Kind must be one of rsa, certificate, obo');
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'a', UserId: '1' }, 'b'))[1]).toContain('"obo" is not supported');
    expect(status(() => parseIdentity('rsa', 'b'))[0]).toBe(400);
  });

  it('become a client configuration, reading environment variables at log-on', () => {
    const symphony = { host: 'pod.example', port: 443 };
    expect(clientConfig({ kind: 'rsa', username: 'bot', privateKeyPath: '/k.pem' }, symphony)).toEqual({ host: 'pod.example', port: 443, bot: { username: 'bot', privateKey: { path: '/k.pem' } } });
    expect(clientConfig({ kind: 'rsa', username: 'bot', privateKeyEnv: 'K' }, symphony, { K: 'PEM' }).bot).toEqual({ username: 'bot', privateKey: { content: 'PEM' } });
    expect(clientConfig({ kind: 'certificate', username: 'bot', certificatePath: '/c.p12', passwordEnv: 'P' }, symphony, { P: 'pw' }).bot).toEqual({ username: 'bot', certificate: { path: '/c.p12', password: 'pw' } });
    expect(() => clientConfig({ kind: 'rsa', username: 'bot', privateKeyEnv: 'MISSING' }, symphony, {})).toThrow(IdentityUnavailableError);
    expect(() => clientConfig({ kind: 'rsa', username: 'bot', privateKeyEnv: 'MISSING' }, symphony, {})).toThrow('The environment variable MISSING is not set');
  });
});
