// Test helpers for the sandbox's storage (src/sandbox/store/): an in-memory store with a pod and four users, and the
// shapes the store takes, so that the unit tests of each table start from the same pod.
import { userIdOf } from '../../src/sandbox/ids.js';
import { SandboxStore } from '../../src/sandbox/store/store.js';
import type { Stream } from '../../src/sandbox/store/streams.js';
import type { User } from '../../src/sandbox/store/users.js';
import { toBase64Url } from '../../src/util/bytes.js';

export const POD = 196;
export const T0 = Date.UTC(2030, 0, 1);
export const U1 = userIdOf(POD, 1000);
export const U2 = userIdOf(POD, 1001);
export const U3 = userIdOf(POD, 1002);
export const U4 = userIdOf(POD, 1003);
export const USERS = [U1, U2, U3, U4] as const;

/** User number `n` of the pod, as stored. */
export function userOf(n: number, username = `user${n}`): User {
  return {
    id: userIdOf(POD, n), username, displayName: username.toUpperCase(), email: `${username}@example.com`, type: n === 1000 ? 'SYSTEM' : 'NORMAL',
    kmPublicKeyPem: `pub${n}`, kmPrivateKeyPem: `priv${n}`, accountKey: Buffer.alloc(32, n % 256), wallStreamId: `wall${n}`,
    presence: { category: 'OFFLINE', timestamp: T0 },
  };
}

/** A stream id: URL-safe base64 of `n` repeated. */
export function sid(n: number): string {
  return toBase64Url(new Uint8Array(24).fill(n));
}

/** A stream as stored (rotation 0). */
export function streamOf(id: string, type: Stream['type'], by: number, at = T0): Stream {
  return { id, type, createdBy: by, createdAt: at, active: true, attributes: type === 'ROOM' ? { name: `room ${id}` } : {}, currentRotation: '0', lastMessageDate: at };
}

/** An in-memory store holding a pod and users 1000 to 1003 (or a file store at `path`). */
export async function storeWithUsers(path?: string): Promise<SandboxStore> {
  const store = SandboxStore.open(path);
  await store.write((tx) => {
    store.pod.create(tx, {
      podId: POD, name: 'test pod', objectStore: true, entityKey: Buffer.alloc(32, 1), tokenSecret: Buffer.alloc(32, 2), feedSecret: Buffer.alloc(32, 3), nextUserNumber: 1000,
    });
    for (const n of [1000, 1001, 1002, 1003]) {
      store.users.insert(tx, userOf(n));
      store.pod.useUserNumber(tx, n);
    }
  });
  return store;
}
