// Client configurations (BDK keys, docs/config.md) for the sandbox's seeded identities.
import type { AllegroConfigInput } from '../../src/config.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';

/** Where the sandbox listens, and its CA to trust. */
function sandboxPod(sandbox: RunningSandbox): Pick<AllegroConfigInput, 'host' | 'port' | 'ssl'> {
  return { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } } };
}

/** A client configuration for a seeded identity, logging in with its generated RSA key (or its certificate). */
export function identityConfig(sandbox: RunningSandbox, username: string, overrides: Partial<AllegroConfigInput> & { useCertificate?: boolean } = {}): AllegroConfigInput {
  const files = sandbox.identities.get(username);
  if (files === undefined) throw new Error(`no identity ${username}`);
  const { useCertificate, ...rest } = overrides;
  const bot: NonNullable<AllegroConfigInput['bot']> = useCertificate === true
    ? { username, certificate: { path: files.pkcs12Path!, password: files.pkcs12Password! } }
    : { username, privateKey: { path: files.privateKeyPath! } };
  return {
    ...sandboxPod(sandbox),
    bot,
    retry: { maxAttempts: 6, initialIntervalMillis: 50, maxIntervalMillis: 1000 },
    ...rest,
  };
}

/**
 * An OBO app configuration for a seeded app, without a bot: its generated RSA key, or (`useCertificate`) its client
 * certificate (CN = app id) as the PEM file of certificate and key the Python BDK takes.
 */
export function appConfig(sandbox: RunningSandbox, appId: string, overrides: Partial<AllegroConfigInput> & { useCertificate?: boolean } = {}): AllegroConfigInput {
  const files = sandbox.apps.get(appId);
  if (files === undefined) throw new Error(`no app ${appId}`);
  const { useCertificate, ...rest } = overrides;
  const app: NonNullable<AllegroConfigInput['app']> = useCertificate === true
    ? { appId, certificate: { certPath: files.certificatePath!, keyPath: files.certificateKeyPath! } }
    : { appId, privateKey: { path: files.privateKeyPath! } };
  return {
    ...sandboxPod(sandbox),
    app,
    retry: { maxAttempts: 3, initialIntervalMillis: 20, maxIntervalMillis: 200 },
    allegro: { auth: { minRefreshIntervalMs: 0 } },
    ...rest,
  };
}
