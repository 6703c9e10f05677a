// Properties of click-to-chat links (src/obo/symphony-uri.ts): for random valid targets, the link is a URL whose
// query reads back to exactly the target (ids, stream id, room name, addresses), and the symphony:// form carries
// the same query.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { symphonyUri, type SymphonyUriTarget } from '../../src/obo/symphony-uri.js';
import { toBase64Url } from '../../src/util/bytes.js';

const userId = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const ids = fc.uniqueArray(userId, { minLength: 1, maxLength: 20 });
const email = fc.tuple(fc.stringMatching(/^[A-Za-z0-9._%+-]{1,12}$/), fc.stringMatching(/^[a-z0-9-]{1,10}\.[a-z]{2,4}$/)).map(([l, d]) => `${l}@${d}`);
const roomName = fc.string({ minLength: 1, maxLength: 60 }).filter((s) => s.trim().length > 0);
const target: fc.Arbitrary<SymphonyUriTarget> = fc.oneof(
  ids.map((startChat) => ({ startChat })),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.constantFrom('im' as const, 'chatroom' as const)).map(([b, streamType]) => ({ streamId: toBase64Url(b), streamType })),
  fc.tuple(roomName, ids, fc.option(fc.boolean(), { nil: undefined })).map(([startRoom, userIds, silent]) => ({ startRoom, userIds, ...(silent === undefined ? {} : { silent }) })),
  fc.tuple(roomName, fc.array(email, { minLength: 1, maxLength: 5 })).map(([startRoom, userEmails]) => ({ startRoom, userEmails })),
  userId.map((id) => ({ userId: id })),
);

/** What a link's query says, read back the way a browser reads it. */
function readBack(link: string): SymphonyUriTarget {
  const q = new URL(link).searchParams;
  const list = (name: string) => q.get(name)!.split(',');
  if (q.has('startChat')) return { startChat: list('startChat').map(Number) };
  if (q.has('streamId')) return { streamId: q.get('streamId')!, streamType: q.get('streamType') as 'im' | 'chatroom' };
  if (q.has('startRoom')) {
    const startRoom = q.get('startRoom')!.replace(/^RoomName=/, '');
    const silent = q.has('silent') ? { silent: q.get('silent') === 'true' } : {};
    return q.has('userIds') ? { startRoom, userIds: list('userIds').map(Number), ...silent } : { startRoom, userEmails: list('userEmails'), ...silent };
  }
  return { userId: Number(q.get('userId')) };
}

describe('symphonyUri properties', () => {
  it('reads back to the target it was made from, in both forms', () => {
    fc.assert(fc.property(target, (t) => {
      const https = symphonyUri(t);
      expect(https.startsWith('https://open.symphony.com/?')).toBe(true);
      const expected = 'silent' in t && t.silent === true ? (({ silent: _s, ...rest }) => rest)(t) : t;
      expect(readBack(https)).toEqual(expected);
      const legacy = symphonyUri(t, { form: 'symphony' });
      expect(legacy).toBe(`symphony://?${https.split('?')[1]}`);
    }), { numRuns: 500 });
  });

  it('never lets a value add a parameter of its own', () => {
    fc.assert(fc.property(roomName, ids, (name, userIds) => {
      const keys = [...new URL(symphonyUri({ startRoom: name, userIds })).searchParams.keys()];
      expect(keys).toEqual(['startRoom', 'userIds']);
    }), { numRuns: 300 });
  });
});
