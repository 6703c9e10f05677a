import { platform } from '#platform';
import { describe, expect, it } from 'vitest';
import { aeadBackendNames, getAeadBackend } from '../../../src/crypto/backends.js';

describe('backend registry', () => {
  it("defaults to the platform's backend and offers every backend the runtime has", () => {
    expect(getAeadBackend()).toBe(platform.defaultAead);
    // node:crypto exists only on the Node platform; WebCrypto and noble everywhere (Node 20 has WebCrypto too).
    expect(aeadBackendNames()).toEqual(platform.name === 'node' ? ['node', 'webcrypto', 'noble'] : ['webcrypto', 'noble']);
    for (const name of aeadBackendNames()) expect(getAeadBackend(name).name).toBe(name);
  });

  it('accepts a backend instance and refuses unknown names', () => {
    const custom = getAeadBackend('noble');
    expect(getAeadBackend(custom)).toBe(custom);
    expect(() => getAeadBackend('forge' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'backend' }));
  });
});
