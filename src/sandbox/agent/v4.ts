/**
 * The Agent API's answer shapes (agent-api-public.yaml; docs/sandbox.md "Agent API"), made from what the sandbox
 * stores: `V4User`, `V4Stream`, `V4RoomProperties`, `V4Message` (a stored SocialMessage with its decrypted
 * PresentationML and entity JSON) and `V4Event` (an entry of the event log the native Datafeed 2.0 reads too, named
 * as the Agent's datafeed names it). Pure functions over a {@link V4Directory}; nothing here decrypts.
 */
import { urlSafeBase64Id as urlSafeId } from '../ids.js';
import type { EventKind, LoggedEvent } from '../store/events.js';
import type { Message } from '../store/messages.js';

/** What a user record gives a `V4User`. */
export interface V4UserSource {
  id: number;
  username: string;
  displayName: string;
  firstName: string;
  lastName: string;
  email: string;
}

/** What a stream record gives a `V4Stream`. */
export interface V4StreamSource {
  id: string;
  type: 'IM' | 'MIM' | 'ROOM' | 'POST';
  createdBy: number;
  createdAt: number;
  /** Room attributes (V3RoomAttributes). */
  attributes: Record<string, unknown>;
  /** Member user ids. */
  members: readonly number[];
}

/** A stored message (../store/messages.ts), its row number aside. */
export type V4MessageSource = Omit<Message, 'seq'>;

/** What decrypting a message gave: its content, or why there is none. */
export type V4Content = { presentationML: string; entityJson: Record<string, unknown> } | { diagnostic: string };

/**
 * One event of the log (../store/events.ts): kind, initiator, time, stream, affected user, message, and the
 * kind-specific `payload` (the suppressed `messageId`; the `formMessageId`, `formId` and `formValues` of an action).
 */
export type V4EventSource = Omit<LoggedEvent, 'message'> & { message?: V4MessageSource };

/** Lookups the shapes need. */
export interface V4Directory {
  user(id: number): V4UserSource | undefined;
  stream(id: string): V4StreamSource | undefined;
  /** The pod's id (the tenant id of every conversation). */
  podId: number;
}

/** The Agent's name of each kind, and its key in `V4Payload`. */
export const V4_EVENT_TYPES: Readonly<Record<EventKind, { type: string; payload: string }>> = {
  SOCIALMESSAGE: { type: 'MESSAGESENT', payload: 'messageSent' },
  CREATE_IM: { type: 'INSTANTMESSAGECREATED', payload: 'instantMessageCreated' },
  CREATE_ROOM: { type: 'ROOMCREATED', payload: 'roomCreated' },
  UPDATE_ROOM: { type: 'ROOMUPDATED', payload: 'roomUpdated' },
  DEACTIVATE_ROOM: { type: 'ROOMDEACTIVATED', payload: 'roomDeactivated' },
  REACTIVATE_ROOM: { type: 'ROOMREACTIVATED', payload: 'roomReactivated' },
  JOIN_ROOM: { type: 'USERJOINEDROOM', payload: 'userJoinedRoom' },
  LEAVE_ROOM: { type: 'USERLEFTROOM', payload: 'userLeftRoom' },
  PROMOTE_OWNER: { type: 'ROOMMEMBERPROMOTEDTOOWNER', payload: 'roomMemberPromotedToOwner' },
  DEMOTE_OWNER: { type: 'ROOMMEMBERDEMOTEDFROMOWNER', payload: 'roomMemberDemotedFromOwner' },
  CONNECTION_REQUESTED: { type: 'CONNECTIONREQUESTED', payload: 'connectionRequested' },
  CONNECTION_ACCEPTED: { type: 'CONNECTIONACCEPTED', payload: 'connectionAccepted' },
  MESSAGE_SUPPRESSED: { type: 'MESSAGESUPPRESSED', payload: 'messageSuppressed' },
  ELEMENTS_ACTION: { type: 'SYMPHONYELEMENTSACTION', payload: 'symphonyElementsAction' },
};

/** `V4User`; a user the pod does not know is named by id only. */
export function v4User(dir: V4Directory, id: number): Record<string, unknown> {
  const u = dir.user(id);
  if (u === undefined) return { userId: id };
  return { userId: u.id, firstName: u.firstName, lastName: u.lastName, displayName: u.displayName, email: u.email, username: u.username };
}

/** `V4Stream`. `realTime` adds what only datafeed events carry (`recipientTenantIds`); `members` the IM members. */
export function v4Stream(dir: V4Directory, streamId: string, options: { realTime?: boolean; members?: boolean } = {}): Record<string, unknown> {
  const s = dir.stream(streamId);
  const json: Record<string, unknown> = { streamId: urlSafeId(streamId), external: false, crossPod: false };
  if (s === undefined) return json;
  json.streamType = s.type;
  if (s.type === 'ROOM') json.roomName = String(s.attributes.name ?? '');
  if (options.members === true) json.members = s.members.map((id) => v4User(dir, id));
  if (options.realTime === true) json.recipientTenantIds = [dir.podId];
  return json;
}

/** `V4RoomProperties` of a room. */
export function v4RoomProperties(dir: V4Directory, streamId: string): Record<string, unknown> {
  const s = dir.stream(streamId);
  if (s === undefined) return {};
  const a = s.attributes;
  const flag = (name: string, fallback: boolean) => (typeof a[name] === 'boolean' ? a[name] : fallback);
  const keywords = Array.isArray(a.keywords) ? (a.keywords as unknown[]).filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null) : [];
  return {
    name: String(a.name ?? ''), description: String(a.description ?? ''), creatorUser: v4User(dir, s.createdBy), createdDate: s.createdAt,
    external: false, crossPod: false, public: flag('public', false), copyProtected: flag('copyProtected', false), readOnly: flag('readOnly', false),
    discoverable: flag('discoverable', true), membersCanInvite: flag('membersCanInvite', true),
    keywords: keywords.map((k) => ({ key: String(k.key ?? ''), value: String(k.value ?? '') })), canViewHistory: flag('viewHistory', false),
  };
}

/** The attachments a message was posted with (`posted.attachments`, as the Agent writes them) as `V4AttachmentInfo`s. */
function v4Attachments(posted: Record<string, unknown>): Array<Record<string, unknown>> {
  const list = Array.isArray(posted.attachments) ? posted.attachments : [];
  return list.flatMap((a: unknown) => {
    if (typeof a !== 'object' || a === null) return [];
    const r = a as Record<string, unknown>;
    if (typeof r.fileId !== 'string') return [];
    const images = Array.isArray(r.images) ? (r.images as unknown[]).flatMap((i) => (typeof i === 'object' && i !== null && typeof (i as Record<string, unknown>).fileId === 'string'
      ? [{ id: (i as Record<string, unknown>).fileId as string }] : [])) : [];
    return [{ id: r.fileId, name: String(r.name ?? ''), size: typeof r.size === 'number' ? r.size : 0, images }];
  });
}

/**
 * `V4Message`: the stored message with its content (PresentationML, entity JSON as a string) or a `diagnostic`
 * when it could not be decrypted. `realTime` marks a datafeed event's message (`externalRecipients`). `replacedBy`
 * names the message that updated this one, if any.
 */
export function v4Message(dir: V4Directory, m: V4MessageSource, content: V4Content, options: { realTime?: boolean; replacedBy?: string } = {}): Record<string, unknown> {
  const p = m.posted;
  const json: Record<string, unknown> = { messageId: urlSafeId(m.messageId), timestamp: m.ingestionDate };
  if ('diagnostic' in content) {
    json.message = '';
    json.data = '{}';
    json.diagnostic = content.diagnostic;
  } else {
    json.message = content.presentationML;
    json.data = JSON.stringify(content.entityJson);
  }
  json.attachments = v4Attachments(p);
  json.user = v4User(dir, m.fromUserId);
  json.stream = v4Stream(dir, m.streamId, { realTime: options.realTime === true });
  if (options.realTime === true) json.externalRecipients = false;
  if (typeof p.clientVersionInfo === 'string') json.userAgent = p.clientVersionInfo;
  json.originalFormat = typeof p.format === 'string' ? p.format : 'com.symphony.messageml.v2';
  for (const field of ['replacing', 'initialMessageId'] as const) if (typeof p[field] === 'string') json[field] = urlSafeId(p[field]);
  if (typeof p.initialTimestamp === 'number') json.initialTimestamp = p.initialTimestamp;
  if (typeof p.silent === 'boolean') json.silent = p.silent;
  if (options.replacedBy !== undefined) json.replacedBy = urlSafeId(options.replacedBy);
  return json;
}

/** The kind-specific part of an event's `V4Payload`. */
function eventBody(dir: V4Directory, e: V4EventSource, message: Record<string, unknown> | undefined): Record<string, unknown> {
  const streamId = e.streamId ?? '';
  const stream = () => v4Stream(dir, streamId, { realTime: true });
  const affected = () => (e.affectedUserId === undefined ? {} : { affectedUser: v4User(dir, e.affectedUserId) });
  switch (e.kind) {
    case 'SOCIALMESSAGE':
      return message === undefined ? {} : { message };
    case 'CREATE_IM':
      return { stream: v4Stream(dir, streamId, { realTime: true, members: true }) };
    case 'CREATE_ROOM':
      return { stream: stream(), roomProperties: v4RoomProperties(dir, streamId) };
    case 'UPDATE_ROOM':
      return { stream: stream(), newRoomProperties: v4RoomProperties(dir, streamId) };
    case 'DEACTIVATE_ROOM':
    case 'REACTIVATE_ROOM':
      return { stream: stream() };
    case 'JOIN_ROOM':
    case 'LEAVE_ROOM':
    case 'PROMOTE_OWNER':
    case 'DEMOTE_OWNER':
      return { stream: stream(), ...affected() };
    case 'CONNECTION_REQUESTED':
      return e.affectedUserId === undefined ? {} : { toUser: v4User(dir, e.affectedUserId) };
    case 'CONNECTION_ACCEPTED':
      return e.affectedUserId === undefined ? {} : { fromUser: v4User(dir, e.affectedUserId) };
    case 'MESSAGE_SUPPRESSED':
      return { messageId: urlSafeId(String(e.payload?.messageId ?? '')), stream: stream() };
    case 'ELEMENTS_ACTION':
      return {
        stream: stream(), formMessageId: urlSafeId(String(e.payload?.formMessageId ?? '')), formId: String(e.payload?.formId ?? ''),
        formValues: typeof e.payload?.formValues === 'object' && e.payload.formValues !== null ? e.payload.formValues : {},
      };
  }
}

/** `V4Event` of a logged event; `message` is the `V4Message` of a SOCIALMESSAGE event (see {@link v4Message}). */
export function v4Event(dir: V4Directory, e: V4EventSource, message?: Record<string, unknown>): Record<string, unknown> {
  const { type, payload } = V4_EVENT_TYPES[e.kind];
  const json: Record<string, unknown> = { id: `e${e.seq}`, timestamp: e.timestamp, type, initiator: { user: v4User(dir, e.initiator) } };
  if (e.message !== undefined) json.messageId = urlSafeId(e.message.messageId);
  json.payload = { [payload]: eventBody(dir, e, message) };
  return json;
}
