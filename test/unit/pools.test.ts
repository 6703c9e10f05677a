// Which connection pool each component uses (planPools), for the bot's components and an OBO app's: its own proxy,
// inherited from the top level or none; components with the same proxy and TLS needs share a pool; the client
// certificate only in the pools of the certificate logins. No I/O (the requests themselves:
// test/integration/client/proxies.test.ts).
import { describe, expect, it } from 'vitest';
import { planPools, type Component, type PoolPlan } from '../../src/pools.js';
import { resolveConfig, type AllegroConfigInput } from '../../src/config.js';

const base: AllegroConfigInput = { host: 'pod.example', bot: { username: 'bot' }, tokens: { session: 's', keyManager: 'k' } };
const BOT: readonly Component[] = ['pod', 'keyManager', 'sessionAuth', 'keyAuth', 'objectStore'];
const A = { host: 'proxy-a', port: 3128 };
const B = { host: 'proxy-b', port: 3128, username: 'u', password: 'p' };

/** A pool plan with the proxy password revealed, to compare with plain objects. */
const plain = (plan: PoolPlan) => ({
  certificate: plan.certificate,
  proxy: plan.proxy === undefined ? undefined : { ...plan.proxy, ...(plan.proxy.password === undefined ? {} : { password: plan.proxy.password.reveal() }) },
});

describe('planPools', () => {
  it('shares one pool among components without a proxy', async () => {
    const { pools, poolOf } = planPools(await resolveConfig(base), BOT, false);
    expect(pools.map(plain)).toEqual([{ proxy: undefined, certificate: false }]);
    expect(poolOf).toEqual({ pod: 0, keyManager: 0, objectStore: 0 });
  });

  it('gives each distinct proxy its own pool, and components with the same proxy the same one', async () => {
    const { pools, poolOf } = planPools(await resolveConfig({ ...base, proxy: A, keyManager: { proxy: B }, objectStore: { proxy: { ...B } } }), BOT, false);
    expect(pools.map(plain)).toEqual([{ proxy: A, certificate: false }, { proxy: B, certificate: false }]);
    expect(poolOf).toEqual({ pod: 0, keyManager: 1, objectStore: 1 });
    // The same proxy host with another password is another pool.
    const other = planPools(await resolveConfig({ ...base, keyManager: { proxy: B }, objectStore: { proxy: { ...B, password: 'q' } } }), BOT, false);
    expect(other.poolOf).toEqual({ pod: 0, keyManager: 1, objectStore: 2 });
  });

  it('puts the certificate logins in pools of their own, per proxy', async () => {
    const config = await resolveConfig(base);
    const { pools, poolOf } = planPools({ ...config, keyAuth: { ...config.keyAuth, proxy: A } }, BOT, true);
    expect(pools.map(plain)).toEqual([{ proxy: undefined, certificate: false }, { proxy: undefined, certificate: true }, { proxy: A, certificate: true }]);
    expect(poolOf).toEqual({ pod: 0, keyManager: 0, sessionAuth: 1, keyAuth: 2, objectStore: 0 });
  });

  it('plans an OBO app\'s components: the Agent\'s pool by its proxy, sessionAuth only with the app\'s certificate', async () => {
    const config = await resolveConfig({ ...base, agent: { proxy: A } });
    const obo: readonly Component[] = ['pod', 'agent', 'sessionAuth'];
    expect(planPools(config, obo, false).poolOf).toEqual({ pod: 0, agent: 1 });
    const withCertificate = planPools(config, obo, true);
    expect(withCertificate.pools.map(plain)).toEqual([{ proxy: undefined, certificate: false }, { proxy: A, certificate: false }, { proxy: undefined, certificate: true }]);
    expect(withCertificate.poolOf).toEqual({ pod: 0, agent: 1, sessionAuth: 2 });
  });
});
