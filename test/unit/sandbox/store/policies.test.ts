// The pod's policies and the users' entitlements (src/sandbox/store/policies.ts): their defaults and changes.
import { describe, expect, it } from 'vitest';
import { storeWithUsers, U1, U2 } from '../../../helpers/sandbox-store.js';

describe('PolicyTable', () => {
  it('defaults to IMs without connections and the sandbox\'s own Agent; stores both', async () => {
    const store = await storeWithUsers();
    expect(store.policies.pod()).toEqual({ imRequiresConnection: false });
    await store.write((tx) => store.policies.setPod(tx, { imRequiresConnection: true, agentUrl: 'https://agent.example/agent' }));
    expect(store.policies.pod()).toEqual({ imRequiresConnection: true, agentUrl: 'https://agent.example/agent' });
    await store.write((tx) => store.policies.setPod(tx, { imRequiresConnection: false }));
    expect(store.policies.pod()).toEqual({ imRequiresConnection: false });
  });

  it('lets every user send files unless switched off', async () => {
    const store = await storeWithUsers();
    expect(store.policies.canSendFiles(U1)).toBe(true);
    await store.write((tx) => store.policies.setCanSendFiles(tx, U1, false));
    expect([store.policies.canSendFiles(U1), store.policies.canSendFiles(U2)]).toEqual([false, true]);
    await store.write((tx) => store.policies.setCanSendFiles(tx, U1, true));
    expect(store.policies.canSendFiles(U1)).toBe(true);
  });
});
