// scrypt password hashes: the stored form, verification, and what a tampered hash cannot do.
import { describe, expect, it } from 'vitest';
import { hashPassword, isPasswordHash, verifyPassword } from '../../../src/agent-host/password.js';

describe('password hashes', () => {
  it('verify the password they were made from, and no other', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(hash).not.toContain('correct');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsE', hash)).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(hash);
  });

  it('refuse hashes of another form or with unreasonable costs', async () => {
    const hash = await hashPassword('pw');
    for (const bad of ['', 'plain', hash.replace('16384', '16385'), hash.replace('$16384$', '$4194304$'), hash.replace('$8$1$', '$0$1$'), `${hash}x`]) {
      expect(isPasswordHash(bad)).toBe(false);
      expect(await verifyPassword('pw', bad)).toBe(false);
    }
    expect(isPasswordHash(hash)).toBe(true);
  });
});
