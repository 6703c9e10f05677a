// Load the library's modules bound to one platform, so that one test file can run the same code on node:crypto and
// on the portable platform (WebCrypto, noble, node-forge) side by side and pass bytes from one to the other.
import { vi } from 'vitest';

/** Both platform implementations. */
export const PLATFORMS = ['node', 'portable'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/**
 * Import fresh copies of the modules `load` imports (and everything they import), with `#platform` bound to the
 * platform `name`: src/platform/node.ts (as vitest.config.ts aliases it) or src/platform/portable.ts. Each call gives
 * separate module instances, so classes such as `AesKey` are distinct per platform: pass bytes between them, not
 * objects. Calls run one after the other (the module registry and the mock are global to the test file).
 */
export function onPlatform<T>(name: PlatformName, load: () => Promise<T>): Promise<T> {
  const loaded = queue.then(async () => {
    vi.resetModules();
    if (name === 'portable') vi.doMock('#platform', () => import('../../src/platform/portable.js'));
    try {
      return await load();
    } finally {
      vi.doUnmock('#platform');
    }
  });
  queue = loaded.catch(() => undefined);
  return loaded;
}

let queue: Promise<unknown> = Promise.resolve();
