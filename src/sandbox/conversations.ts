/**
 * Conversations as the routes, the seed and the admin change them (docs/sandbox.md "Semantics worth knowing"): creating a
 * stream with its first content key, rotating its key, and logging the MAESTRO event of a change, each inside a
 * write closure; and the membership checks every stream route makes (404 for an unknown stream, 403 for a
 * non-member).
 */
import { randomBytes } from 'node:crypto';
import { canonicalId } from './body.js';
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
