import { describe, expect, it } from 'vitest';
import { storeWithUsers, T0 } from '../../../helpers/sandbox-store.js';

describe('RevocationTable', () => {
  it('revokes what a subject issued before a time, until it expires; a later revocation only widens it', async () => {
    const store = await storeWithUsers();
    const { revocations } = store;
    await store.write((tx) => revocations.revoke(tx, 'session:s1', T0 + 100, T0 + 1000));
    expect(revocations.isRevoked('session:s1', T0 + 99)).toBe(true);
    expect(revocations.isRevoked('session:s1', T0 + 100)).toBe(false);
    expect(revocations.isRevoked('session:s2', 0)).toBe(false);
    await store.write((tx) => revocations.revoke(tx, 'session:s1', T0 + 50, T0 + 500));
    expect(revocations.isRevoked('session:s1', T0 + 99)).toBe(true);
    await store.write((tx) => revocations.revoke(tx, 'session:s1', T0 + 200, T0 + 2000));
    expect(revocations.isRevoked('session:s1', T0 + 150)).toBe(true);
    // Pruned once expired, not before.
    await store.write((tx) => revocations.prune(tx, T0 + 1999));
    expect(revocations.isRevoked('session:s1', T0 + 150)).toBe(true);
    await store.write((tx) => revocations.prune(tx, T0 + 2001));
    expect(revocations.isRevoked('session:s1', T0 + 150)).toBe(false);
  });
});
