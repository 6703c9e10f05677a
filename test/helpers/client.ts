// Client configurations (BDK keys, docs/config.md) for the sandbox's seeded identities.
import type { AllegroConfigInput } from '../../src/config.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';

/** A client configuration for a seeded identity, logging in with its generated RSA key (or its certificate). */
export function identityConfig(sandbox: RunningSandbox, username: string, overrides: Partial<AllegroConfigInput> & { useCertificate?: boolean } = {}): AllegroConfigInput {
  const files = sandbox.identities.get(username);
  if (files === undefined) throw new Error(`no identity ${username}`);
  const { useCertificate, ...rest } = overrides;
  const bot: NonNullable<AllegroConfigInput['bot']> = useCertificate === true
    ? { username, certificate: { path: files.pkcs12Path!, password: files.pkcs12Password! } }
    : { username, privateKey: { path: files.privateKeyPath! } };
  return {
    host: '127.0.0.1', port: sandbox.port,
    ssl: { trustStore: { path: sandbox.caCertPath } },
    bot,
    retry: { maxAttempts: 6, initialIntervalMillis: 50, maxIntervalMillis: 1000 },
    ...rest,
  };
}
