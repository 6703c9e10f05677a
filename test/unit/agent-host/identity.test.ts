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

  it('refuse key material, two sources or none, and unknown kinds with a 400', () => {
    expect(status(() => parseIdentity({ Kind: 'rsa', PrivateKey: '-----BEGIN PRIVATE KEY-----' }, 'b'))).toEqual([400, expect.stringContaining('Identity.PrivateKey is not a field')]);
    expect(status(() => parseIdentity({ Kind: 'rsa', PrivateKeyPath: '/a', PrivateKeyEnv: 'B' }, 'b'))[1]).toContain('exactly one of PrivateKeyPath and PrivateKeyEnv');
    expect(status(() => parseIdentity({ Kind: 'rsa' }, 'b'))[1]).toContain('exactly one');
    expect(status(() => parseIdentity({ Kind: 'saml' }, 'b'))[1]).toContain('Identity.Kind must be one of rsa, certificate, obo');
    expect(status(() => parseIdentity('rsa', 'b'))[0]).toBe(400);
  });

  it('parse obo references to a configured app, by user id (number or decimal string) or username, and answer them', () => {
    const apps = ['crm', 'desk'];
    expect(parseIdentity({ Kind: 'obo', AppId: 'crm', UserId: 13469017441257 }, 'alice', apps)).toEqual({ kind: 'obo', appId: 'crm', userId: '13469017441257' });
    expect(parseIdentity({ Kind: 'obo', AppId: 'desk', UserId: '13469017441257' }, 'alice', apps)).toEqual({ kind: 'obo', appId: 'desk', userId: '13469017441257' });
    expect(parseIdentity({ Kind: 'obo', AppId: 'crm', Username: 'bob' }, 'alice', apps)).toEqual({ kind: 'obo', appId: 'crm', username: 'bob' });
    expect(identityJson({ kind: 'obo', appId: 'crm', userId: '13469017441257' })).toEqual({ Kind: 'obo', AppId: 'crm', UserId: 13469017441257 });
    expect(identityJson({ kind: 'obo', appId: 'crm', username: 'bob' })).toEqual({ Kind: 'obo', AppId: 'crm', Username: 'bob' });
  });

  it('refuse an obo reference naming the field: an app the host does not have, no or two users, a bad id, key material', () => {
    const apps = ['crm'];
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'other', UserId: 1 }, 'b', apps))).toEqual([400, 'Identity.AppId "other" is not an OBO app of this host (configured: crm)']);
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm', UserId: 1 }, 'b'))[1]).toBe('Identity.AppId "crm" is not an OBO app of this host (this host has none: add it under oboApps in its configuration)');
    expect(status(() => parseIdentity({ Kind: 'obo', UserId: 1 }, 'b', apps))[1]).toContain('Identity.AppId is required');
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 7, UserId: 1 }, 'b', apps))[1]).toContain('Identity.AppId must be a non-empty string');
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm' }, 'b', apps))[1]).toBe('Identity needs exactly one of UserId and Username (the user the app acts for)');
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm', UserId: 1, Username: 'bob' }, 'b', apps))[1]).toContain('exactly one of UserId and Username');
    for (const bad of [0, -1, 1.5, '12a', '', 2 ** 53, true]) {
      expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm', UserId: bad }, 'b', apps))[1]).toContain('Identity.UserId must be a Symphony user id');
    }
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm', Username: 'bob', PrivateKey: 'PEM' }, 'b', apps))[1]).toContain('Identity.PrivateKey is not a field of a obo identity');
    expect(status(() => parseIdentity({ Kind: 'obo', AppId: 'crm', Username: 'bob', PrivateKeyPath: '/k.pem' }, 'b', apps))[1]).toContain('Identity.PrivateKeyPath is not a field');
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
