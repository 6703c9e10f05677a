import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_COMPANY, PROFILE_FIELDS, profileOf, USER_FIELDS } from '../../../../src/sandbox/store/profiles.js';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';

let store: SandboxStore;
beforeEach(() => {
  store = SandboxStore.open(undefined);
});
afterEach(() => store.close());

describe('profiles', () => {
  it('profileOf: names split from the display name and the default company, unless stored', () => {
    expect(profileOf('Ada King Lovelace', undefined)).toEqual({ firstName: 'Ada', lastName: 'King Lovelace', company: DEFAULT_COMPANY });
    expect(profileOf('Mononym', undefined)).toEqual({ firstName: 'Mononym', lastName: '', company: DEFAULT_COMPANY });
    expect(profileOf('Ada Lovelace', { lastName: 'King', company: 'Analytical', title: 'Countess' })).toEqual({ firstName: 'Ada', lastName: 'King', company: 'Analytical', title: 'Countess' });
  });

  it('UserV2 fields are the profile fields but for the search-only ones', () => {
    expect(PROFILE_FIELDS.filter((f) => !(USER_FIELDS as readonly string[]).includes(f))).toEqual(['marketCoverage', 'responsibility', 'instrument']);
  });

  it('stores one profile per user, replaced whole', async () => {
    await store.write((tx) => store.profiles.set(tx, 7, { title: 'A', location: 'B' }));
    await store.write((tx) => store.profiles.set(tx, 7, { title: 'C' }));
    await store.write((tx) => store.profiles.set(tx, 8, { department: 'D' }));
    expect(store.profiles.get(7)).toEqual({ title: 'C' });
    expect(store.profiles.get(9)).toBeUndefined();
    expect(store.profiles.get(1.5)).toBeUndefined();
    expect(store.profiles.all()).toEqual(new Map([[7, { title: 'C' }], [8, { department: 'D' }]]));
  });
});
