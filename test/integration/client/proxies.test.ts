// Per-component proxies: AllegroClient sends each component's requests through that component's proxy (or none),
// against the sandbox over HTTPS through real CONNECT proxies on 127.0.0.1. The components are told apart by host
// name: the pod is reached as 127.0.0.1, the others as localhost (the sandbox certificate names both), so each
// proxy's record of tunnel targets shows whose requests it carried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';

let sandbox: RunningSandbox;
const proxies: TestProxy[] = [];

async function proxy(): Promise<TestProxy> {
  const p = await startProxy();
  proxies.push(p);
  return p;
}

const via = (p: TestProxy) => ({ host: '127.0.0.1', port: p.port });

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await sandbox?.close();
});

describe('per-component proxies', () => {
  it('sends pod, Key Manager and Object Store requests each through its own proxy', async () => {
    const [podProxy, kmProxy, storeProxy] = [await proxy(), await proxy(), await proxy()];
    const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', {
      pod: { proxy: via(podProxy) },
      keyManager: { host: 'localhost', proxy: via(kmProxy) },
      allegro: { objectStore: { host: 'localhost', proxy: via(storeProxy) } },
    }));
    try {
      await bot.keys.entityKey(); // the Key Manager (user key, entity key) and the pod (account key)
      await bot.objects.partition('proxied'); // the pod (bearer token), then the Object Store
    } finally {
      await bot.close();
    }
    const port = String(sandbox.port);
    expect(podProxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(podProxy.tunnels)).toEqual(new Set([`127.0.0.1:${port}`]));
    expect(kmProxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(kmProxy.tunnels)).toEqual(new Set([`localhost:${port}`]));
    expect(storeProxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(storeProxy.tunnels)).toEqual(new Set([`localhost:${port}`]));
  });

  it('sends the requests of a component without a proxy directly', async () => {
    const podProxy = await proxy();
    const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', {
      pod: { proxy: via(podProxy) },
      keyManager: { host: 'localhost' },
    }));
    try {
      await bot.keys.entityKey();
      await bot.objects.partition('direct');
    } finally {
      await bot.close();
    }
    expect(podProxy.tunnels.length).toBeGreaterThan(0);
    expect(podProxy.tunnels.every((t) => t.startsWith('127.0.0.1:'))).toBe(true);
  });

  it('the Object Store follows the pod, and keyauth the Key Manager, proxy included, unless they have their own', async () => {
    const [podProxy, kmProxy] = [await proxy(), await proxy()];
    const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', {
      useCertificate: true,
      pod: { host: 'localhost', proxy: via(podProxy) },
      keyManager: { proxy: via(kmProxy) },
    }));
    try {
      await bot.keys.entityKey(); // keyauth login, then the Key Manager
      await bot.objects.partition('inherited'); // the Object Store
    } finally {
      await bot.close();
    }
    expect(new Set(podProxy.tunnels)).toEqual(new Set([`localhost:${sandbox.port}`]));
    expect(new Set(kmProxy.tunnels)).toEqual(new Set([`127.0.0.1:${sandbox.port}`]));
    expect(bot.config.objectStore).toEqual(bot.config.pod);
    expect(bot.config.keyAuth.url).toBe(bot.config.keyManager.url.replace(/\/relay$/, '/keyauth'));
  });

  it('sends the certificate logins through the proxies of sessionAuth and keyAuth, with mutual TLS in the tunnel', async () => {
    const [podProxy, authProxy] = [await proxy(), await proxy()];
    const bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', {
      useCertificate: true,
      pod: { proxy: via(podProxy) },
      keyManager: { proxy: via(podProxy) },
      sessionAuth: { host: 'localhost', proxy: via(authProxy) },
      allegro: { keyAuth: { host: 'localhost', proxy: via(authProxy) } },
    }));
    try {
      await bot.keys.entityKey();
      expect(bot.session.logins).toEqual({ session: 1, keyManager: 1 });
    } finally {
      await bot.close();
    }
    expect(new Set(podProxy.tunnels)).toEqual(new Set([`127.0.0.1:${sandbox.port}`]));
    expect(authProxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(authProxy.tunnels)).toEqual(new Set([`localhost:${sandbox.port}`]));
  });
});
