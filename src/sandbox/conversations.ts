/**
 * Conversations as the routes, the seed and the admin change them (docs/sandbox.md "Semantics worth knowing"): creating a
 * stream with its first content key, rotating its key, and logging the MAESTRO event of a change, each inside a
 * write closure; the membership checks every stream route makes (404 for an unknown stream, 403 for a
 * non-member); and the room attributes a create, an update or a seed gives.
 */
import { randomBytes } from 'node:crypto';
import { canonicalId, optionalField, requireObject, requiredField } from './body.js';
import type { SandboxContext } from './context.js';
import { HttpError } from './http-error.js';
import { newId } from './ids.js';
import type { MaestroKind } from './store/events.js';
import { conversationKey, type Member, type Stream } from './store/streams.js';
import type { Tx } from './store/transaction.js';
import type { User } from './store/users.js';

/** What a new stream needs. */
export interface NewStream {
  type: Stream['type'];
  by: number;
  at: number;
  attributes: Record<string, unknown>;
  members: ReadonlyArray<{ userId: number; owner: boolean }>;
  /** Default: a new random id. */
  id?: string;
}

/** A new content key: 32 random bytes. */
export function newContentKey(): Buffer {
  return randomBytes(32);
}

/** Log a MAESTRO event of `streamId` for its current members. */
export function logStreamEvent(ctx: SandboxContext, tx: Tx, kind: MaestroKind, streamId: string, by: number, at: number, affectedUserId?: number): void {
  ctx.store.events.append(tx, { kind, initiator: by, timestamp: at, streamId, ...(affectedUserId === undefined ? {} : { affectedUserId }) }, ctx.liveSince(at));
}

/** Create a stream at rotation 0 with a new content key (and, for rooms and IMs, its creation event); returns it. */
export function createStream(ctx: SandboxContext, tx: Tx, spec: NewStream): Stream {
  const stream: Stream = {
    id: spec.id ?? newId(), type: spec.type, createdBy: spec.by, createdAt: spec.at, active: true, attributes: spec.attributes,
    currentRotation: '0', lastMessageDate: spec.at,
  };
  const members: Member[] = spec.members.map((m) => ({ ...m, joinDate: spec.at }));
  const conversation = spec.type === 'IM' || spec.type === 'MIM' ? conversationKey(spec.type, members.map((m) => m.userId)) : undefined;
  ctx.store.streams.insert(tx, stream, members, newContentKey(), conversation);
  if (spec.type !== 'POST') logStreamEvent(ctx, tx, spec.type === 'ROOM' ? 'CREATE_ROOM' : 'CREATE_IM', stream.id, spec.by, spec.at);
  return stream;
}

/** Give a stream a new content key under the next rotation id; returns that id. */
export function rotateStream(ctx: SandboxContext, tx: Tx, streamId: string): string {
  const stream = ctx.store.streams.get(streamId);
  if (stream === undefined) throw new HttpError(404, 'Stream not found');
  const rotationId = (BigInt(stream.currentRotation) + 1n).toString();
  ctx.store.streams.rotate(tx, streamId, rotationId, newContentKey());
  return rotationId;
}

/** The stream `rawId` if the user may see it: 404 if unknown, 403 if not a member. */
export function memberStream(ctx: SandboxContext, user: User, rawId: string, name = 'id'): Stream {
  const id = canonicalId(rawId, name);
  const stream = ctx.store.streams.get(id);
  if (stream === undefined) throw new HttpError(404, 'Stream not found');
  if (ctx.store.streams.member(id, user.id) === undefined) throw new HttpError(403, 'The user is not a member of this stream');
  return stream;
}

/** The boolean flags of V3RoomAttributes. */
export const ROOM_FLAGS = ['membersCanInvite', 'discoverable', 'public', 'readOnly', 'copyProtected', 'crossPod', 'viewHistory', 'multiLateralRoom', 'scheduledMeeting', 'groupChat'] as const;

/**
 * The V3RoomAttributes of a create or update body besides the name: description, `keywords` (`[{key, value}]`),
 * `subType`, `pinnedMessageId` and, at creation, the boolean flags.
 */
export function roomFields(body: Record<string, unknown>, flags: boolean): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const field of ['description', 'subType', 'pinnedMessageId'] as const) {
    const v = optionalField(body, field, 'string');
    if (v !== undefined) attributes[field] = v;
  }
  const keywords = optionalField(body, 'keywords', 'array');
  if (keywords !== undefined) {
    attributes.keywords = keywords.map((k, i) => {
      const pair = requireObject(k, `keywords[${i}]`);
      return { key: requiredField(pair, 'key', 'string'), value: requiredField(pair, 'value', 'string') };
    });
  }
  if (flags) {
    for (const flag of ROOM_FLAGS) {
      const v = optionalField(body, flag, 'boolean');
      if (v !== undefined) attributes[flag] = v;
    }
  }
  return attributes;
}
