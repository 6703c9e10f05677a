// Click-to-chat links (src/obo/symphony-uri.ts): each documented form, both schemes, and the typed errors of bad
// targets. Random targets: test/property/symphony-uri.property.test.ts.
import { describe, expect, it } from 'vitest';
import { symphonyUri } from '../../../src/obo/symphony-uri.js';

describe('symphonyUri', () => {
  it('opens a chat with one user or a group chat', () => {
    expect(symphonyUri({ startChat: [71811853189751] })).toBe('https://open.symphony.com/?startChat=71811853189751');
    expect(symphonyUri({ startChat: [71811853187751, 3563645678951] })).toBe('https://open.symphony.com/?startChat=71811853187751,3563645678951');
  });

  it('opens an existing stream by id, sent URL-safe', () => {
    expect(symphonyUri({ streamId: 'iWyZBIOdQQzQj0tKOLRivX///qu6YeyZdA==', streamType: 'chatroom' })).toBe('https://open.symphony.com/?streamId=iWyZBIOdQQzQj0tKOLRivX___qu6YeyZdA&streamType=chatroom');
    expect(symphonyUri({ streamId: 'iWyZBIOdQQzQj0tKOLRivX___qu6YeyZdA', streamType: 'im' }, { form: 'symphony' })).toBe('symphony://?streamId=iWyZBIOdQQzQj0tKOLRivX___qu6YeyZdA&streamType=im');
  });

  it('creates a room with members by id or by email, silently or with the dialog', () => {
    expect(symphonyUri({ startRoom: 'Example', userIds: [4378106230763, 5478106410145] }))
      .toBe('https://open.symphony.com/?startRoom=RoomName=Example&userIds=4378106230763,5478106410145');
    expect(symphonyUri({ startRoom: 'A room with 2 people', userEmails: ['sample@symphony.com', 'acme@bank.com'], silent: false }))
      .toBe('https://open.symphony.com/?startRoom=RoomName=A%20room%20with%202%20people&silent=false&userEmails=sample%40symphony.com,acme%40bank.com');
    expect(symphonyUri({ startRoom: 'Q&A = #1', userIds: [1] }, { form: 'symphony' })).toBe('symphony://?startRoom=RoomName=Q%26A%20%3D%20%231&userIds=1');
  });

  it('shows a profile', () => {
    expect(symphonyUri({ userId: 13469017440257 })).toBe('https://open.symphony.com/?userId=13469017440257');
  });

  it('refuses what is not a target, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ startChat: [] }, /target\.startChat/],
      [{ startChat: [1, 1] }, /target\.startChat/],
      [{ startChat: [1.5] }, /target\.startChat/],
      [{ startChat: [-4] }, /target\.startChat/],
      [{ streamId: 'not base64!', streamType: 'im' }, /target\.streamId/],
      [{ streamId: 'abcd', streamType: 'IM' }, /target\.streamType/],
      [{ startRoom: '  ', userIds: [1] }, /target\.startRoom/],
      [{ startRoom: 'x'.repeat(501), userIds: [1] }, /target\.startRoom/],
      [{ startRoom: 'r', userEmails: ['not an address'] }, /target\.userEmails/],
      [{ startRoom: 'r', userEmails: ['a@b,c@d'] }, /target\.userEmails/],
      [{ startRoom: 'r', userIds: [1], silent: 'no' }, /target\.silent/],
      [{ userId: 0 }, /target\.userId/],
      [{ launch: true }, /Invalid target/],
      [null, /Invalid target/],
    ];
    for (const [target, message] of cases) expect(() => symphonyUri(target as never), JSON.stringify(target)).toThrow(message);
    expect(() => symphonyUri({ userId: 1 }, { form: 'ftp' as never })).toThrow(/options\.form/);
  });
});
