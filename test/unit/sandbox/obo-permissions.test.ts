// The sandbox's OBO permission table (src/sandbox/obo-permissions.ts): every OBO-enabled endpoint needs its
// permission, rows needing several need all (or any one, as the row says), and anything else is not OBO-enabled;
// the refusals name the missing permission, or none.
import { describe, expect, it } from 'vitest';
import type { OboPermission } from '../../../src/errors.js';
import { OBO_PERMISSIONS } from '../../../src/obo/permissions.js';
import { checkOboCall, oboPermissionsOf } from '../../../src/sandbox/obo-permissions.js';

const ALL = new Set(OBO_PERMISSIONS);
const without = (...p: OboPermission[]) => new Set(OBO_PERMISSIONS.filter((x) => !p.includes(x)));
const refusal = (f: () => void): string => {
  try {
    f();
  } catch (err) {
    expect((err as { status: number }).status).toBe(403);
    return (err as Error).message;
  }
  return 'allowed';
};

describe('the OBO permission table', () => {
  it('maps each family of endpoints to its permission', () => {
    const cases: Array<[string, string, readonly OboPermission[]]> = [
      ['GET', '/pod/v2/sessioninfo', ['GET_BASIC_USER_INFO']],
      ['GET', '/pod/v3/users', ['GET_BASIC_CONTACT_INFO']],
      ['POST', '/pod/v1/user/search', ['GET_BASIC_CONTACT_INFO']],
      ['GET', '/pod/v3/user/13469017440257/presence', ['GET_PRESENCE']],
      ['POST', '/pod/v2/user/presence', ['SET_PRESENCE']],
      ['GET', '/pod/v1/connection/list', ['GET_USER_CONNECTIONS']],
      ['POST', '/pod/v1/connection/accept', ['REQUEST_USER_CONNECTIONS']],
      ['POST', '/pod/v1/im/create', ['SEND_MESSAGES']],
      ['POST', '/pod/v1/streams/list', ['LIST_USER_STREAMS']],
      ['POST', '/pod/v3/room/create', ['MANAGE_ROOMS', 'CREATE_USER_STREAM']],
      ['POST', '/pod/v1/room/abc_-9/membership/promoteOwner', ['MANAGE_ROOMS']],
      ['POST', '/agent/v4/stream/abc/message/create', ['SEND_MESSAGES']],
      ['POST', '/agent/v4/stream/abc/message/def/update', ['SEND_MESSAGES']],
      ['POST', '/pod/v1/admin/messagesuppression/x/suppress', ['SUPPRESS_MESSAGES']],
      ['GET', '/agent/v1/signals/list', ['MANAGE_SIGNALS']],
      ['POST', '/pod/v1/user/7/follow', ['MANAGE_USER_FOLLOWING']],
    ];
    for (const [method, path, permissions] of cases) expect(oboPermissionsOf(method, path)?.permissions, `${method} ${path}`).toEqual(permissions);
  });

  it('leaves datafeeds, history, keys, the keystore and the Object Store out', () => {
    for (const [method, path] of [
      ['POST', '/datafeed2/api/v1/feeds'], ['GET', '/settings-web/api/v1/tokens'], ['GET', '/dataquery/api/v3/messages/thread'],
      ['GET', '/agent/v4/stream/abc/message'], ['POST', '/agent/v5/datafeeds'], ['GET', '/webcontroller/keystore/wrappedAccountKeys/one'],
      ['GET', '/keystore/wrappedContentKeys/one'], ['POST', '/webcontroller/ingestor/v2/MessageService'], ['GET', '/object/v1/objects/x'],
      ['GET', '/pod/v2/sessioninfo/extra'], ['DELETE', '/pod/v2/sessioninfo'], ['POST', '/login/idm/tokens'],
    ]) {
      expect(oboPermissionsOf(method!, path!), `${method} ${path}`).toBeUndefined();
      const message = refusal(() => checkOboCall(method!, path!, 'crm', ALL));
      expect(message).toMatch(/not available to an on-behalf-of session/);
      expect(OBO_PERMISSIONS.some((p) => message.includes(p))).toBe(false);
    }
  });

  it('refuses a call whose app lacks the permission, naming it; needs all of several, or one of "any"', () => {
    expect(refusal(() => checkOboCall('GET', '/pod/v2/user/presence', 'crm', ALL))).toBe('allowed');
    expect(refusal(() => checkOboCall('GET', '/pod/v2/user/presence', 'crm', without('GET_PRESENCE'))))
      .toBe('The app crm lacks the OBO permission GET_PRESENCE needed for GET /pod/v2/user/presence');
    expect(refusal(() => checkOboCall('POST', '/pod/v3/room/create', 'crm', without('CREATE_USER_STREAM')))).toMatch(/CREATE_USER_STREAM/);
    expect(refusal(() => checkOboCall('GET', '/pod/v2/room/r/membership/list', 'crm', without('MANAGE_ROOMS')))).toBe('allowed');
    expect(refusal(() => checkOboCall('GET', '/pod/v2/room/r/membership/list', 'crm', without('MANAGE_ROOMS', 'LIST_USER_STREAMS')))).toMatch(/MANAGE_ROOMS/);
  });
});
