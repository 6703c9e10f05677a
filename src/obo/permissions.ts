/**
 * The OBO app permissions (docs/symphony-apis.md §2.1) and how a refusal for a missing one is recognised: an OBO
 * call answered 403 whose message names a permission becomes a {@link PermissionDeniedError} carrying it. Symphony
 * documents no error body for this case; the sandbox names the permission (docs/sandbox.md "OBO apps"), and any 403
 * that names none stays the {@link HttpStatusError} it was.
 */
import { HttpStatusError, PermissionDeniedError, type OboPermission } from '../errors.js';

/** Every OBO permission, `ACT_AS_USER` (implicit for every app) first. */
export const OBO_PERMISSIONS: readonly OboPermission[] = Object.freeze([
  'ACT_AS_USER', 'SEND_MESSAGES', 'SUPPRESS_MESSAGES', 'GET_USER_CONNECTIONS', 'REQUEST_USER_CONNECTIONS', 'GET_PRESENCE',
  'SET_PRESENCE', 'GET_BASIC_USER_INFO', 'GET_BASIC_CONTACT_INFO', 'LIST_USER_STREAMS', 'CREATE_USER_STREAM', 'MANAGE_ROOMS',
  'MANAGE_SIGNALS', 'MANAGE_USER_FOLLOWING',
] as const satisfies readonly OboPermission[]);

const NAMED = new RegExp(`\\b(${OBO_PERMISSIONS.join('|')})\\b`);

/** Whether `value` is the name of an OBO permission. */
export function isOboPermission(value: unknown): value is OboPermission {
  return typeof value === 'string' && (OBO_PERMISSIONS as readonly string[]).includes(value);
}

/** `err` as a {@link PermissionDeniedError} when it is a 403 naming a permission; otherwise `err` itself. */
export function asPermissionDenied(err: unknown): unknown {
  if (!(err instanceof HttpStatusError) || err.status !== 403) return err;
  const permission = NAMED.exec(err.serverMessage ?? '')?.[1];
  return permission === undefined ? err : new PermissionDeniedError(permission as OboPermission, err.route, { traceId: err.traceId, serverMessage: err.serverMessage }, err);
}
