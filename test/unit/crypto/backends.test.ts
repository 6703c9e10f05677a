import { describe, expect, it } from 'vitest';
import { aeadBackendNames, getAeadBackend } from '../../../src/crypto/backends.js';
import { platform } from '../../../src/crypto/platform.js';

describe('backend registry', () => {
  it('defaults to node:crypto in Node and offers all three backends', () => {
    expect(platform.name).toBe('node');
    expect(getAeadBackend().name).toBe('node');
    expect(aeadBackendNames()).toEqual(['node', 'webcrypto', 'noble']);
    for (const name of aeadBackendNames()) expect(getAeadBackend(name).name).toBe(name);
  });

  it('accepts a backend instance and refuses unknown names', () => {
    const custom = getAeadBackend('noble');
    expect(getAeadBackend(custom)).toBe(custom);
    expect(() => getAeadBackend('forge' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'backend' }));
  });
});
