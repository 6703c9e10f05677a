/**
 * Which OBO app permission each OBO-enabled endpoint needs (docs/symphony-apis.md §2.1, §2.2: Symphony's "OBO-enabled
 * endpoints" page, 50 rows), and the check every request made with an OBO user's session token goes through
 * (context.ts): an endpoint of the table needs its permission(s) — all of them, or any one, as the row says —, and an
 * endpoint that is not in the table (datafeeds, message history, keys, the keystore, the Object Store, …) is refused.
 * Both refusals are 403 JSON; the first names the missing permission (the client reads it as
 * `OBO_PERMISSION_DENIED`), the second names none.
 */
import type { OboPermission } from '../errors.js';
import { HttpError } from './http-error.js';

/** One row: a method, a path pattern, the permissions and whether the app needs all of them or any one. */
export interface OboEndpoint {
  method: string;
  /** As the table writes it: `{name}` for a path segment, `v[123]` and `(a|b)` for alternatives. */
  pattern: string;
  path: RegExp;
  permissions: readonly OboPermission[];
  need: 'all' | 'any';
}

const ID = '[^/]+';

function row(method: string, pattern: string, permissions: OboPermission | readonly OboPermission[], need: 'all' | 'any' = 'all'): OboEndpoint {
  return { method, pattern, path: new RegExp(`^${pattern.replace(/\{\w+\}/g, ID)}$`), permissions: typeof permissions === 'string' ? [permissions] : permissions, need };
}

/** The OBO-enabled endpoints (paths as the sandbox serves them: `/pod/…`, `/agent/…`). */
export const OBO_ENDPOINTS: readonly OboEndpoint[] = [
  // Logout: ends the session, whatever the app may do.
  row('POST', '/sessionauth/v1/logout', 'ACT_AS_USER'),
  // Session and users
  row('GET', '/pod/v1/sessioninfo', 'GET_BASIC_USER_INFO'),
  row('GET', '/pod/v2/sessioninfo', 'GET_BASIC_USER_INFO'),
  row('GET', '/pod/v1/user', 'GET_BASIC_CONTACT_INFO'),
  row('GET', '/pod/v2/user', ['GET_BASIC_CONTACT_INFO', 'SEND_MESSAGES'], 'any'),
  row('GET', '/pod/v3/users', 'GET_BASIC_CONTACT_INFO'),
  row('POST', '/pod/v1/user/search', 'GET_BASIC_CONTACT_INFO'),
  row('POST', '/pod/v1/user/{uid}/follow', 'MANAGE_USER_FOLLOWING'),
  row('POST', '/pod/v1/user/{uid}/unfollow', 'MANAGE_USER_FOLLOWING'),
  // Presence
  row('GET', '/pod/v1/user/presence', 'GET_PRESENCE'),
  row('GET', '/pod/v2/user/presence', 'GET_PRESENCE'),
  row('GET', '/pod/v[123]/user/{uid}/presence', 'GET_PRESENCE'),
  row('POST', '/pod/v1/presence/feed/create', 'GET_PRESENCE'),
  row('GET', '/pod/v1/presence/feed/{id}/read', 'GET_PRESENCE'),
  row('POST', '/pod/v1/presence/feed/{id}/delete', 'GET_PRESENCE'),
  row('POST', '/pod/v1/user/presence/register', 'GET_PRESENCE'),
  row('POST', '/pod/v[123]/user/presence', 'SET_PRESENCE'),
  // Connections
  row('GET', '/pod/v1/connection/list', 'GET_USER_CONNECTIONS'),
  row('GET', '/pod/v1/connection/user/{uid}/info', 'GET_USER_CONNECTIONS'),
  row('POST', '/pod/v1/connection/create', 'REQUEST_USER_CONNECTIONS'),
  row('POST', '/pod/v1/connection/accept', 'REQUEST_USER_CONNECTIONS'),
  row('POST', '/pod/v1/connection/reject', 'REQUEST_USER_CONNECTIONS'),
  row('POST', '/pod/v1/connection/user/{uid}/remove', 'REQUEST_USER_CONNECTIONS'),
  // Streams and rooms
  row('POST', '/pod/v1/im/create', 'SEND_MESSAGES'),
  row('GET', '/pod/v1/streams/{sid}/info', 'SEND_MESSAGES'),
  row('GET', '/pod/v2/streams/{sid}/info', 'SEND_MESSAGES'),
  row('POST', '/pod/v1/streams/list', 'LIST_USER_STREAMS'),
  row('POST', '/pod/v3/room/create', ['MANAGE_ROOMS', 'CREATE_USER_STREAM']),
  row('GET', '/pod/v3/room/{id}/info', 'MANAGE_ROOMS'),
  row('POST', '/pod/v3/room/search', 'MANAGE_ROOMS'),
  row('POST', '/pod/v3/room/{id}/update', 'MANAGE_ROOMS'),
  row('POST', '/pod/v1/room/{id}/setActive', 'MANAGE_ROOMS'),
  row('POST', '/pod/v1/room/{id}/membership/(add|remove|promoteOwner|demoteOwner)', 'MANAGE_ROOMS'),
  row('GET', '/pod/v2/room/{id}/membership/list', ['MANAGE_ROOMS', 'LIST_USER_STREAMS'], 'any'),
  // Messages (the Agent), files, suppression
  row('POST', '/agent/v4/stream/{sid}/message/create', 'SEND_MESSAGES'),
  row('POST', '/agent/v4/message/blast', 'SEND_MESSAGES'),
  row('POST', '/agent/v4/stream/{sid}/message/{mid}/update', 'SEND_MESSAGES'),
  row('POST', '/agent/v3/stream/{sid}/share', 'SEND_MESSAGES'),
  row('GET', '/pod/v1/files/allowedTypes', 'SEND_MESSAGES'),
  row('GET', '/pod/v1/admin/system/protocols/list', 'SEND_MESSAGES'),
  row('POST', '/pod/v1/admin/messagesuppression/{id}/suppress', 'SUPPRESS_MESSAGES'),
  // Signals (the Agent)
  row('GET', '/agent/v1/signals/list', 'MANAGE_SIGNALS'),
  row('POST', '/agent/v1/signals/create', 'MANAGE_SIGNALS'),
  row('GET', '/agent/v1/signals/{id}/get', 'MANAGE_SIGNALS'),
  row('POST', '/agent/v1/signals/{id}/update', 'MANAGE_SIGNALS'),
  row('POST', '/agent/v1/signals/{id}/delete', 'MANAGE_SIGNALS'),
  row('POST', '/agent/v1/signals/{id}/subscribe', 'MANAGE_SIGNALS'),
  row('POST', '/agent/v1/signals/{id}/unsubscribe', 'MANAGE_SIGNALS'),
  row('GET', '/agent/v1/signals/{id}/subscribers', 'MANAGE_SIGNALS'),
];

/** The permissions `method path` needs of an OBO app, or undefined when the endpoint is not OBO-enabled. */
export function oboPermissionsOf(method: string, path: string): { permissions: readonly OboPermission[]; need: 'all' | 'any' } | undefined {
  const found = OBO_ENDPOINTS.find((r) => r.method === method && r.path.test(path));
  return found === undefined ? undefined : { permissions: found.permissions, need: found.need };
}

/**
 * Let an OBO user's call through, or refuse it (HttpError 403): not OBO-enabled, or the app `appId` (holding
 * `granted`; `ACT_AS_USER` is implicit) lacks a permission the endpoint needs.
 */
export function checkOboCall(method: string, path: string, appId: string, granted: ReadonlySet<OboPermission>): void {
  const needed = oboPermissionsOf(method, path);
  if (needed === undefined) throw new HttpError(403, `${method} ${path} is not available to an on-behalf-of session`);
  const missing = needed.permissions.filter((p) => !granted.has(p));
  if (needed.need === 'any' ? missing.length === needed.permissions.length : missing.length > 0) {
    throw new HttpError(403, `The app ${appId} lacks the OBO permission ${missing[0]} needed for ${method} ${path}`);
  }
}
