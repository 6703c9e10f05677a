// The OBO apps table (src/sandbox/store/apps.ts): apps as stored, their flags, permissions and callback, and the
// users each is installed for, on an in-memory store.
import { describe, expect, it } from 'vitest';
import type { App } from '../../../../src/sandbox/store/apps.js';
import { storeWithUsers, T0, U1, U2, U3 } from '../../../helpers/sandbox-store.js';

const crm: App = { appId: 'crm', name: 'CRM', publicKeyPem: 'pem', permissions: ['SEND_MESSAGES', 'GET_PRESENCE'], enabled: true, createdAt: T0 };

describe('AppTable', () => {
  it('stores an app as given, and changes its flag, permissions and callback', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => store.apps.insert(tx, crm));
    expect(store.apps.get('crm')).toEqual(crm);
    expect(store.apps.get('other')).toBeUndefined();
    await store.write((tx) => {
      store.apps.setEnabled(tx, 'crm', false);
      store.apps.setPermissions(tx, 'crm', ['MANAGE_ROOMS']);
      store.apps.setCallback(tx, 'crm', { url: 'https://crm.example/cb', apiKey: 'k' });
    });
    expect(store.apps.get('crm')).toEqual({ ...crm, enabled: false, permissions: ['MANAGE_ROOMS'], callback: { url: 'https://crm.example/cb', apiKey: 'k' } });
    await store.write((tx) => store.apps.setCallback(tx, 'crm', undefined));
    expect(store.apps.get('crm')!.callback).toBeUndefined();
    const certOnly: App = { appId: 'cert-app', name: 'c', permissions: [], enabled: true, createdAt: T0 };
    await store.write((tx) => store.apps.insert(tx, certOnly));
    expect(store.apps.all().map((a) => a.appId)).toEqual(['cert-app', 'crm']);
    expect(store.apps.get('cert-app')).toEqual(certOnly);
  });

  it('installs and uninstalls for users, idempotently, per app', async () => {
    const store = await storeWithUsers();
    await store.write((tx) => {
      store.apps.insert(tx, crm);
      store.apps.insert(tx, { ...crm, appId: 'other' });
      store.apps.install(tx, 'crm', U2);
      store.apps.install(tx, 'crm', U1);
      store.apps.install(tx, 'crm', U1);
      store.apps.install(tx, 'other', U3);
    });
    expect(store.apps.installedFor('crm')).toEqual([U1, U2].sort((a, b) => a - b));
    expect([store.apps.isInstalled('crm', U1), store.apps.isInstalled('crm', U3), store.apps.isInstalled('other', U3)]).toEqual([true, false, true]);
    await store.write((tx) => store.apps.uninstall(tx, 'crm', U1));
    expect(store.apps.installedFor('crm')).toEqual([U2]);
  });
});
