/**
 * The connection pools of a configuration: one HTTP client per distinct (proxy, client certificate) among the
 * components an identity talks to, each over a transport from the platform (undici's pool in Node, fetch elsewhere).
 * The bot (client.ts) and the OBO app (obo/app.ts) open theirs here; components with the same proxy and TLS needs
 * share one pool, so however many users an OBO app acts for, their requests share its connections.
 */
import type { AllegroConfig, KeyMaterial, ResolvedProxy } from './config.js';
import { platform } from '#platform';
import { HttpClient } from './http/http-client.js';
import type { ClientCertificate } from './http/pool.js';
import type { Transport } from './http/transport.js';

/** The components a client sends requests to. */
export type Component = 'pod' | 'keyManager' | 'sessionAuth' | 'keyAuth' | 'agent' | 'objectStore';

/** The components whose requests present the client certificate (the certificate logins). */
const PRESENTING: ReadonlySet<Component> = new Set(['sessionAuth', 'keyAuth']);

/** What the pools are made from: where each component lives, whom to trust, retries and timeouts. */
export type PoolSettings = Pick<AllegroConfig, Component | 'caCertificates' | 'retry' | 'timeouts'>;

/** One connection pool to build: through a proxy or not, presenting the client certificate or not. */
export interface PoolPlan {
  proxy: ResolvedProxy | undefined;
  certificate: boolean;
}

/**
 * Which connection pool each component's requests go through: its own proxy (`<component>.proxy`, else the top-level
 * `proxy`, else none), and the client certificate for the certificate logins (sessionAuth and keyAuth, which get no
 * pool without one). Components with the same proxy and TLS needs share a pool.
 */
export function planPools(config: PoolSettings, components: readonly Component[], certificate: boolean): { pools: PoolPlan[]; poolOf: Partial<Record<Component, number>> } {
  const pools: PoolPlan[] = [];
  const keys: string[] = [];
  const poolOf: Partial<Record<Component, number>> = {};
  for (const component of components) {
    const presents = PRESENTING.has(component);
    if (presents && !certificate) continue;
    const { proxy } = config[component];
    const key = JSON.stringify([presents, proxy?.host, proxy?.port, proxy?.username, proxy?.password?.reveal()]);
    let index = keys.indexOf(key);
    if (index < 0) {
      index = keys.push(key) - 1;
      pools.push({ proxy, certificate: presents });
    }
    poolOf[component] = index;
  }
  return { pools, poolOf };
}

/** The open pools of one identity. */
export interface Pools {
  /** The HTTP client of `component`; undefined for a certificate login component without a certificate. */
  httpOf(component: Component): HttpClient | undefined;
  /** Close every transport (`force`: abort requests in flight). */
  close(options?: { force?: boolean }): Promise<void>;
}

/**
 * Open the pools `components` need, presenting `key`'s certificate (when it is one) on the certificate logins. The
 * HTTP clients retry and time out as the configuration says.
 */
export function openPools(config: PoolSettings, components: readonly Component[], key: KeyMaterial | undefined): Pools {
  const ca = config.caCertificates.length === 0 ? undefined : config.caCertificates;
  const retry = {
    maxAttempts: config.retry.maxAttempts, initialDelayMs: config.retry.initialIntervalMs,
    multiplier: config.retry.multiplier, maxDelayMs: config.retry.maxIntervalMs,
  };
  const clientCertificate = key?.kind !== 'certificate' ? undefined : certificateOf(key);
  const { pools, poolOf } = planPools(config, components, clientCertificate !== undefined);
  const transports: Transport[] = [];
  const close = async (options: { force?: boolean } = {}) => {
    await Promise.all(transports.map((t) => t.close(options)));
  };
  try {
    const clients = pools.map((plan) => {
      const transport = platform.createTransport({
        ...(ca === undefined ? {} : { ca }),
        ...(plan.proxy === undefined ? {} : { proxy: proxyOptions(plan.proxy) }),
        ...(plan.certificate && clientCertificate !== undefined ? { clientCertificate } : {}),
        connectTimeoutMs: config.timeouts.connectMs,
      });
      transports.push(transport);
      return new HttpClient({ transport, retry, timeoutMs: config.timeouts.requestMs });
    });
    return {
      httpOf: (component) => {
        const index = poolOf[component];
        return index === undefined ? undefined : clients[index];
      },
      close,
    };
  } catch (err) {
    void close({ force: true });
    throw err;
  }
}

/** The client certificate of certificate key material, as the pool takes it. */
function certificateOf(key: Extract<KeyMaterial, { kind: 'certificate' }>): ClientCertificate {
  return 'pkcs12' in key ? { pfx: key.pkcs12.reveal(), passphrase: key.password.reveal() } : { certPem: key.certPem, keyPem: key.keyPem.reveal() };
}

/** The proxy of a component as the pool takes it (credentials apart from the URL). */
function proxyOptions(proxy: ResolvedProxy): { url: string; username?: string; password?: string } {
  return {
    url: `http://${proxy.host}:${proxy.port}`,
    ...(proxy.username === undefined ? {} : { username: proxy.username }),
    ...(proxy.password === undefined ? {} : { password: proxy.password.reveal() }),
  };
}
