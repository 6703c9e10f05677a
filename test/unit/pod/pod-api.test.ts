// The key-free pod operations (src/pod/pod-api.ts): every argument is checked before any request, with an error
// naming it. The transport here fails the test if a request is made; the requests themselves are exercised against
// the sandbox (test/integration/pod/, test/integration/obo/).
import { describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/http/http-client.js';
import type { Transport } from '../../../src/http/transport.js';
import { PodApi } from '../../../src/pod/pod-api.js';

const noRequest: Transport = {
  description: 'none', maxResponseBytes: 1024,
  exchange: () => { throw new Error('no request expected'); },
  close: async () => {},
};
const pod = new PodApi({ http: new HttpClient({ transport: noRequest }), podUrl: 'https://pod.invalid', auth: { headers: () => ({}) } });

describe('PodApi arguments', () => {
  it('refuses what cannot be a user id, a list of them, a name, a page or a flag, naming the parameter', async () => {
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => pod.createIm([]), /Invalid userIds/],
      [() => pod.createIm([1.5]), /Invalid userIds/],
      [() => pod.users({ ids: [-1] }), /Invalid query\.ids/],
      [() => pod.users({ usernames: ['a,b'] }), /Invalid query\.username/],
      [() => pod.searchUsers({ query: 5 as unknown as string }), /Invalid search\.query/],
      [() => pod.searchUsers({ query: 'a' }, { limit: 0 }), /Invalid options\.limit/],
      [() => pod.searchRooms({ query: 'a' }, { limit: 101 }), /Invalid options\.limit: expected an integer from 1 to 100/],
      [() => pod.searchRooms({ query: 'a' }, { skip: -1 }), /Invalid options\.skip/],
      [() => pod.streams({ limit: 1.5 }), /Invalid options\.limit/],
      [() => pod.createRoom({ name: undefined as unknown as string }), /Invalid attributes\.name/],
      [() => pod.updateRoom('AAAA', null as never), /Invalid attributes/],
      [() => pod.setRoomActive('AAAA', 'yes' as never), /Invalid active/],
      [() => pod.addMember('AAAA', 0), /Invalid userId/],
      [() => pod.promoteOwner('AAAA', Number.NaN), /Invalid userId/],
      [() => pod.userPresence(-3), /Invalid userId/],
      [() => pod.registerPresenceInterest([]), /Invalid userIds/],
      [() => pod.setPresence(7 as unknown as string), /Invalid category/],
      [() => pod.connection(0), /Invalid userId/],
      [() => pod.requestConnection(1.1), /Invalid userId/],
      [() => pod.removeConnection(-1), /Invalid userId/],
      [() => pod.suppress('not base64!'), /Invalid messageId/],
    ];
    for (const [call, message] of cases) await expect(Promise.resolve().then(call)).rejects.toThrow(message);
  });
});
