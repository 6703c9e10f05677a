// The OBO permissions (src/obo/permissions.ts): the list is the union's every member, and a 403 becomes a
// PermissionDeniedError exactly when its message names one.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { HttpStatusError, PermissionDeniedError, type OboPermission } from '../../../src/errors.js';
import { asPermissionDenied, isOboPermission, OBO_PERMISSIONS } from '../../../src/obo/permissions.js';

describe('OBO permissions', () => {
  it('lists every permission of the type once, ACT_AS_USER first', () => {
    expectTypeOf<(typeof OBO_PERMISSIONS)[number]>().toEqualTypeOf<OboPermission>();
    expect(new Set(OBO_PERMISSIONS).size).toBe(14);
    expect(OBO_PERMISSIONS[0]).toBe('ACT_AS_USER');
    expect(Object.isFrozen(OBO_PERMISSIONS)).toBe(true);
    expect(isOboPermission('MANAGE_SIGNALS')).toBe(true);
    expect(isOboPermission('manage_signals')).toBe(false);
  });

  it('turns a 403 naming a permission into PermissionDeniedError, and leaves every other error as it was', () => {
    const named = new HttpStatusError(403, 'GET /pod/v2/user/presence', { traceId: 't1', serverMessage: 'The app crm lacks the OBO permission GET_PRESENCE' });
    const denied = asPermissionDenied(named);
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect(denied).toMatchObject({ permission: 'GET_PRESENCE', route: 'GET /pod/v2/user/presence', traceId: 't1', cause: named });
    const notMember = new HttpStatusError(403, 'GET /pod/v2/streams/{id}/info', { serverMessage: 'The user is not a member of this stream' });
    expect(asPermissionDenied(notMember)).toBe(notMember);
    const partial = new HttpStatusError(403, 'POST /x', { serverMessage: 'NOT_SEND_MESSAGES_AT_ALL' });
    expect(asPermissionDenied(partial)).toBe(partial);
    const unauthorized = new HttpStatusError(401, 'POST /x', { serverMessage: 'SEND_MESSAGES' });
    expect(asPermissionDenied(unauthorized)).toBe(unauthorized);
    const plain = new Error('SEND_MESSAGES');
    expect(asPermissionDenied(plain)).toBe(plain);
  });
});
