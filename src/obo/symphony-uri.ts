/**
 * Click-to-chat links: Symphony URIs (docs/symphony-apis.md §2.3), the universal `https://open.symphony.com/?…`
 * form and the older `symphony://?…` form with the same query. They open the desktop, web or mobile client on a chat
 * with users (`startChat`), an existing stream (`streamId` + `streamType` `im` or `chatroom`), a new room
 * (`startRoom=RoomName=…` with `userIds` or `userEmails`, `silent=false` for the creation dialog) or a profile
 * (`userId`). Typical OBO use: create the IM on behalf of the user, then hand them `{streamId, streamType: 'im'}`.
 * Every value is checked and percent-encoded; portable (no `node:` import).
 */
import { InvalidArgumentError } from '../errors.js';
import { describeValue, requireBase64Id } from '../util/validate.js';

/** What a link opens. */
export type SymphonyUriTarget =
  /** A chat with one user, or a group chat with several (user ids). */
  | { startChat: readonly number[] }
  /** An existing stream: `im` for IMs and MIMs, `chatroom` for rooms. */
  | { streamId: string; streamType: 'im' | 'chatroom' }
  /** A new room named `startRoom`, with its members (the creator included) by user id. */
  | { startRoom: string; userIds: readonly number[]; silent?: boolean }
  /** A new room named `startRoom`, with its members (the creator included) by email. */
  | { startRoom: string; userEmails: readonly string[]; silent?: boolean }
  /** A user's profile. */
  | { userId: number };

/** Options of {@link symphonyUri}. */
export interface SymphonyUriOptions {
  /** `https` (default): `https://open.symphony.com/?…`; `symphony`: `symphony://?…`. */
  form?: 'https' | 'symphony';
}

/** The longest room name a link carries. */
const MAX_ROOM_NAME = 500;
const EMAIL = /^[^\s@,]+@[^\s@,]+$/;

function userIds(parameter: string, ids: unknown): string {
  if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || (id as number) <= 0) || new Set(ids).size !== ids.length) {
    throw new InvalidArgumentError(parameter, 'a non-empty array of distinct user ids', describeValue(ids));
  }
  return ids.join(',');
}

function emails(parameter: string, list: unknown): string {
  if (!Array.isArray(list) || list.length === 0 || list.some((e) => typeof e !== 'string' || !EMAIL.test(e))) {
    throw new InvalidArgumentError(parameter, 'a non-empty array of email addresses', describeValue(list));
  }
  return list.map((e: string) => encodeURIComponent(e)).join(',');
}

/** The query of a link (without `?`). */
function query(target: SymphonyUriTarget): string {
  if (typeof target !== 'object' || target === null) throw new InvalidArgumentError('target', 'a Symphony URI target', describeValue(target));
  if ('startChat' in target) return `startChat=${userIds('target.startChat', target.startChat)}`;
  if ('streamId' in target) {
    const id = requireBase64Id('target.streamId', target.streamId);
    if (target.streamType !== 'im' && target.streamType !== 'chatroom') throw new InvalidArgumentError('target.streamType', '"im" or "chatroom"', describeValue(target.streamType));
    return `streamId=${encodeURIComponent(id)}&streamType=${target.streamType}`;
  }
  if ('startRoom' in target) {
    const name = target.startRoom;
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > MAX_ROOM_NAME) {
      throw new InvalidArgumentError('target.startRoom', `a room name of 1 to ${MAX_ROOM_NAME} characters`, describeValue(name));
    }
    if (target.silent !== undefined && typeof target.silent !== 'boolean') throw new InvalidArgumentError('target.silent', 'a boolean', describeValue(target.silent));
    const members = 'userIds' in target ? `userIds=${userIds('target.userIds', target.userIds)}` : `userEmails=${emails('target.userEmails', target.userEmails)}`;
    return `startRoom=RoomName=${encodeURIComponent(name)}${target.silent === false ? '&silent=false' : ''}&${members}`;
  }
  if ('userId' in target) {
    if (!Number.isSafeInteger(target.userId) || target.userId <= 0) throw new InvalidArgumentError('target.userId', 'a user id', describeValue(target.userId));
    return `userId=${target.userId}`;
  }
  throw new InvalidArgumentError('target', 'one of startChat, streamId, startRoom or userId', describeValue(target));
}

/**
 * A click-to-chat link.
 * @example
 * ```ts
 * symphonyUri({ startChat: [71811853189751] });                  // https://open.symphony.com/?startChat=71811853189751
 * symphonyUri({ streamId: im, streamType: 'im' }, { form: 'symphony' }); // symphony://?streamId=…&streamType=im
 * ```
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the field: empty or repeated user ids, a stream id that is
 *   not base64, an unknown stream type, an empty room name, an address that is not one.
 */
export function symphonyUri(target: SymphonyUriTarget, options: SymphonyUriOptions = {}): string {
  const form = options.form ?? 'https';
  if (form !== 'https' && form !== 'symphony') throw new InvalidArgumentError('options.form', '"https" or "symphony"', describeValue(form));
  return `${form === 'https' ? 'https://open.symphony.com/' : 'symphony://'}?${query(target)}`;
}
