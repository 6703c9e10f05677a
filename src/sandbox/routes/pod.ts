/**
 * The pod's public REST API that needs no encryption (pod-api-public.yaml): session info, user lookup, IM/MIM
 * and room creation, room info and update, membership, stream lists, presence and connections; plus the two
 * web-controller calls Allegro makes at start-up (`/webcontroller/public/podInfo`, `/webcontroller/maestro/Account`,
 * docs/protocol.md §2.1). Creating a stream generates its first content key; the pod keeps only what the Key
 * Manager needs and never sees plaintext.
 */
import { randomBytes } from 'node:crypto';
import { toBase64 } from '../../util/bytes.js';
import {
  canonicalId, intQuery, optionalField, parseUserId, requireArray, requireObject, requiredField,
} from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError, type Router, type SandboxRequest } from '../http.js';
import { newId, standardBase64Id } from '../ids.js';
import type { ConnectionState, StateRecord, StreamState, UserState } from '../state.js';

/** UserV2 of a user. */
export function userJson(u: UserState): Record<string, unknown> {
  const [firstName, ...rest] = u.displayName.split(' ');
  return {
    id: u.id, emailAddress: u.email, firstName: firstName ?? '', lastName: rest.join(' '), displayName: u.displayName,
    company: 'Sandbox', username: u.username, accountType: u.type, avatars: [], roles: ['INDIVIDUAL'],
  };
}

function roomAttributes(s: StreamState): Record<string, unknown> {
  return { name: '', description: '', membersCanInvite: true, discoverable: true, public: false, readOnly: false, copyProtected: false,
    crossPod: false, viewHistory: false, multiLateralRoom: false, ...s.attributes };
}

function roomDetail(s: StreamState): Record<string, unknown> {
  return { roomAttributes: roomAttributes(s), roomSystemInfo: { id: s.id, creationDate: s.createdAt, createdByUserId: s.createdBy, active: s.active } };
}

function streamJson(s: StreamState, v2: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: s.id, crossPod: false, active: s.active, streamType: { type: s.type },
    streamAttributes: { members: [...s.members.keys()] },
  };
  if (s.type === 'ROOM') json.roomAttributes = { name: String(s.attributes.name ?? '') };
  if (v2) {
    json.origin = 'INTERNAL';
    json.lastMessageDate = s.lastMessageDate;
  }
  return json;
}

/** A new content key (32 random bytes, base64) and the first rotation id of a stream. */
export function newStreamKey(): { rotationId: string; contentKey: string } {
  return { rotationId: '0', contentKey: toBase64(randomBytes(32)) };
}

/** The stream `id` if the user may see it: 404 if unknown, 403 if not a member. */
export function memberStream(ctx: SandboxContext, user: UserState, rawId: string, name = 'id'): StreamState {
  const stream = ctx.state.streams.get(canonicalId(rawId, name));
  if (stream === undefined) throw new HttpError(404, 'Stream not found');
  if (!stream.members.has(user.id)) throw new HttpError(403, 'The user is not a member of this stream');
  return stream;
}

function ownedRoom(ctx: SandboxContext, user: UserState, rawId: string): StreamState {
  const stream = memberStream(ctx, user, rawId);
  if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
  if (stream.members.get(user.id)?.owner !== true) throw new HttpError(403, 'Only room owners can do this');
  return stream;
}

function knownUser(ctx: SandboxContext, id: number): UserState {
  const u = ctx.state.users.get(id);
  if (u === undefined) throw new HttpError(400, `User ${id} does not exist`);
  return u;
}

function lookupUsers(ctx: SandboxContext, req: SandboxRequest): { users: UserState[]; errors: Array<Record<string, string>> } {
  const users: UserState[] = [];
  const errors: Array<Record<string, string>> = [];
  const uid = req.query.get('uid');
  const email = req.query.get('email');
  const username = req.query.get('username');
  if ([uid, email, username].filter((v) => v !== null).length !== 1) throw new HttpError(400, 'Give exactly one of uid, email or username');
  const values = (uid ?? email ?? username)!.split(',').map((v) => v.trim()).filter(Boolean);
  if (values.length === 0 || values.length > 100) throw new HttpError(400, 'Give from 1 to 100 values');
  for (const v of values) {
    let found: UserState | undefined;
    if (uid !== null) {
      if (!/^\d{1,16}$/.test(v)) {
        errors.push({ error: 'invalid.format', id: v });
        continue;
      }
      found = ctx.state.users.get(Number(v));
    } else if (email !== null) found = [...ctx.state.users.values()].find((u) => u.email.toLowerCase() === v.toLowerCase());
    else found = ctx.state.usersByName.get(v.toLowerCase());
    if (found === undefined) errors.push({ error: 'user.notfound', ...(uid !== null ? { id: v } : email !== null ? { email: v } : { username: v }) });
    else users.push(found);
  }
  return { users, errors };
}

function connectionJson(c: ConnectionState, viewer: number): Record<string, unknown> {
  const incoming = c.to === viewer;
  const status = c.status === 'PENDING' ? (incoming ? 'PENDING_INCOMING' : 'PENDING_OUTGOING') : c.status;
  return { userId: incoming ? c.from : c.to, status, firstRequestedAt: c.firstRequestedAt, updatedAt: c.updatedAt, requestCounter: c.requestCounter };
}

function connectionBetween(ctx: SandboxContext, a: number, b: number): ConnectionState | undefined {
  return ctx.state.connections.get(`${a}:${b}`) ?? ctx.state.connections.get(`${b}:${a}`);
}

const PRESENCE = ['AVAILABLE', 'BUSY', 'AWAY', 'ON_THE_PHONE', 'BE_RIGHT_BACK', 'IN_A_MEETING', 'OUT_OF_OFFICE', 'OFF_WORK', 'OFFLINE'];

/** Register the pod routes. */
export function podRoutes(router: Router, ctx: SandboxContext): void {
  const { state } = ctx;
  router
    .add('GET', '/webcontroller/public/podInfo', () => ({
      json: { data: { podId: state.podId, externalPodId: state.podId, keyManagerUrl: ctx.urls.keyManagerUrl, baseUrl: ctx.urls.podUrl } },
    }))
    .add('GET', '/webcontroller/maestro/Account', (req) => {
      const user = ctx.sessionUser(req);
      return { json: { userName: user.id, myCurrentThreadId: standardBase64Id(user.wallStreamId), prettyName: user.displayName } };
    })
    .add('GET', '/pod/v2/sessioninfo', (req) => ({ json: userJson(ctx.sessionUser(req)) }))
    .add('GET', '/pod/v3/users', (req) => {
      ctx.sessionUser(req);
      const { users, errors } = lookupUsers(ctx, req);
      return { json: { users: users.map(userJson), errors } };
    })
    .add('GET', '/pod/v2/user', (req) => {
      ctx.sessionUser(req);
      const { users } = lookupUsers(ctx, req);
      if (users.length !== 1) throw new HttpError(404, 'User not found');
      return { json: userJson(users[0]!) };
    })
    .add('POST', '/pod/v1/im/create', async (req) => {
      const user = ctx.sessionUser(req);
      const others = [...new Set(requireArray(req.json()).map((v) => parseUserId(v, 'user id')))].filter((id) => id !== user.id);
      if (others.length === 0) throw new HttpError(400, 'Give at least one other user id');
      if (others.length > 16) throw new HttpError(400, 'An IM or MIM has at most 17 members');
      for (const id of others) knownUser(ctx, id);
      const members = [user.id, ...others].sort((a, b) => a - b);
      const type = members.length === 2 ? 'IM' : 'MIM';
      const existing = [...state.streams.values()].find((s) => s.type === type && s.members.size === members.length && members.every((m) => s.members.has(m)));
      if (existing !== undefined) return { json: { id: existing.id } };
      const id = newId();
      await ctx.commit({ t: 'stream', id, type, by: user.id, at: Date.now(), attributes: {}, members: members.map((m) => ({ id: m, owner: false })), ...newStreamKey() });
      return { json: { id } };
    })
    .add('POST', '/pod/v3/room/create', async (req) => {
      const user = ctx.sessionUser(req);
      const body = requireObject(req.json());
      const name = requiredField(body, 'name', 'string');
      if (name.trim().length === 0 || name.length > 500) throw new HttpError(400, 'Field "name" must be 1 to 500 characters');
      const attributes: Record<string, unknown> = { name };
      const description = optionalField(body, 'description', 'string');
      if (description !== undefined) attributes.description = description;
      for (const flag of ['membersCanInvite', 'discoverable', 'public', 'readOnly', 'copyProtected', 'crossPod', 'viewHistory', 'multiLateralRoom'] as const) {
        const v = optionalField(body, flag, 'boolean');
        if (v !== undefined) attributes[flag] = v;
      }
      const id = newId();
      await ctx.commit({ t: 'stream', id, type: 'ROOM', by: user.id, at: Date.now(), attributes, members: [{ id: user.id, owner: true }], ...newStreamKey() });
      return { json: roomDetail(state.stream(id)) };
    })
    .add('GET', '/pod/v3/room/:id/info', (req) => {
      const stream = memberStream(ctx, ctx.sessionUser(req), req.params.id!);
      if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
      return { json: roomDetail(stream) };
    })
    .add('POST', '/pod/v3/room/:id/update', async (req) => {
      const user = ctx.sessionUser(req);
      const stream = ownedRoom(ctx, user, req.params.id!);
      const body = requireObject(req.json());
      const attributes = { ...stream.attributes };
      const name = optionalField(body, 'name', 'string');
      if (name !== undefined) attributes.name = name;
      const description = optionalField(body, 'description', 'string');
      if (description !== undefined) attributes.description = description;
      await ctx.commit({ t: 'stream.update', id: stream.id, at: Date.now(), by: user.id, attributes });
      return { json: roomDetail(stream) };
    })
    .add('POST', '/pod/v1/room/:id/setActive', async (req) => {
      const user = ctx.sessionUser(req);
      const stream = ownedRoom(ctx, user, req.params.id!);
      const active = req.query.get('active');
      if (active !== 'true' && active !== 'false') throw new HttpError(400, 'Query parameter "active" must be true or false');
      await ctx.commit({ t: 'stream.update', id: stream.id, at: Date.now(), by: user.id, active: active === 'true' });
      const { name, membersCanInvite, discoverable, public: isPublic, readOnly, copyProtected } = roomAttributes(stream); // v1 RoomDetail
      return { json: { roomAttributes: { name, membersCanInvite, discoverable }, roomSystemInfo: roomDetail(stream).roomSystemInfo, immutableRoomAttributes: { public: isPublic, readOnly, copyProtected } } };
    })
    .add('GET', '/pod/v2/room/:id/membership/list', (req) => {
      const stream = memberStream(ctx, ctx.sessionUser(req), req.params.id!);
      return { json: [...stream.members].map(([id, m]) => ({ id, owner: m.owner, joinDate: m.joinDate })) };
    });

  for (const action of ['add', 'remove', 'promoteOwner', 'demoteOwner'] as const) {
    router.add('POST', `/pod/v1/room/:id/membership/${action}`, async (req) => {
      const user = ctx.sessionUser(req);
      const stream = action === 'add' ? memberStream(ctx, user, req.params.id!) : ownedRoom(ctx, user, req.params.id!);
      if (action === 'add' && stream.members.get(user.id)?.owner !== true && stream.attributes.membersCanInvite === false) {
        throw new HttpError(403, 'Only room owners can add members to this room');
      }
      if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
      const target = knownUser(ctx, parseUserId(requireObject(req.json()).id, 'id')).id;
      const at = Date.now();
      const records: StateRecord[] = [];
      if (action === 'add') {
        if (!stream.members.has(target)) records.push({ t: 'member.add', streamId: stream.id, userId: target, by: user.id, at });
      } else if (!stream.members.has(target)) {
        throw new HttpError(400, 'That user is not a member of this room');
      } else if (action === 'remove') {
        records.push({ t: 'member.remove', streamId: stream.id, userId: target, by: user.id, at });
        if (ctx.config.rotateOnMemberRemoval) {
          records.push({ t: 'rotate', streamId: stream.id, rotationId: (BigInt(stream.currentRotation) + 1n).toString(), contentKey: newStreamKey().contentKey, at });
        }
      } else {
        records.push({ t: 'member.owner', streamId: stream.id, userId: target, owner: action === 'promoteOwner', by: user.id, at });
      }
      await ctx.commit(...records);
      const messages = { add: 'Member added', remove: 'Member removed', promoteOwner: 'Member promoted to owner', demoteOwner: 'Member demoted from owner' };
      return { json: { format: 'TEXT', message: messages[action] } };
    });
  }

  router
    .add('POST', '/pod/v1/streams/list', (req) => {
      const user = ctx.sessionUser(req);
      const skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 50, 1, 1000);
      const body = req.body.length === 0 ? {} : requireObject(req.json());
      const typesRaw = optionalField(body, 'streamTypes', 'array');
      const types = typesRaw?.map((t) => requiredField(requireObject(t, 'stream type'), 'type', 'string'));
      const includeInactive = optionalField(body, 'includeInactiveStreams', 'boolean') ?? false;
      const list = [...state.streams.values()]
        .filter((s) => s.members.has(user.id) && (includeInactive || s.active) && (types === undefined || types.length === 0 || types.includes(s.type)))
        .sort((a, b) => b.lastMessageDate - a.lastMessageDate)
        .slice(skip, skip + limit);
      return { json: list.map((s) => streamJson(s, false)) };
    })
    .add('GET', '/pod/v2/streams/:sid/info', (req) => ({ json: streamJson(memberStream(ctx, ctx.sessionUser(req), req.params.sid!, 'sid'), true) }))
    .add('GET', '/pod/v2/user/presence', (req) => {
      const user = ctx.sessionUser(req);
      return { json: { category: user.presence.category, userId: user.id, timestamp: user.presence.timestamp } };
    })
    .add('POST', '/pod/v2/user/presence', async (req) => {
      const user = ctx.sessionUser(req);
      const category = requiredField(requireObject(req.json()), 'category', 'string').toUpperCase();
      if (!PRESENCE.includes(category)) throw new HttpError(400, `Field "category" must be one of ${PRESENCE.join(', ')}`);
      await ctx.commit({ t: 'presence', userId: user.id, category, at: Date.now() });
      return { json: { category, userId: user.id, timestamp: user.presence.timestamp } };
    })
    .add('GET', '/pod/v3/user/:uid/presence', (req) => {
      ctx.sessionUser(req);
      const target = ctx.state.users.get(parseUserId(req.params.uid, 'uid'));
      if (target === undefined) throw new HttpError(404, 'User not found');
      return { json: { category: target.presence.category, userId: target.id, timestamp: target.presence.timestamp } };
    })
    .add('GET', '/pod/v1/connection/list', (req) => {
      const user = ctx.sessionUser(req);
      const status = req.query.get('status') ?? 'ALL';
      const list = [...state.connections.values()]
        .filter((c) => c.from === user.id || c.to === user.id)
        .map((c) => connectionJson(c, user.id))
        .filter((c) => status === 'ALL' || c.status === status);
      return { json: list };
    })
    .add('GET', '/pod/v1/connection/user/:userId/info', (req) => {
      const user = ctx.sessionUser(req);
      const c = connectionBetween(ctx, user.id, parseUserId(req.params.userId, 'userId'));
      if (c === undefined) throw new HttpError(404, 'No connection with that user');
      return { json: connectionJson(c, user.id) };
    })
    .add('POST', '/pod/v1/connection/create', async (req) => {
      const user = ctx.sessionUser(req);
      const target = knownUser(ctx, parseUserId(requireObject(req.json()).userId, 'userId')).id;
      if (target === user.id) throw new HttpError(400, 'Cannot connect to yourself');
      const existing = connectionBetween(ctx, user.id, target);
      if (existing?.status === 'ACCEPTED') return { json: connectionJson(existing, user.id) };
      await ctx.commit({ t: 'connection', from: user.id, to: target, status: 'PENDING', at: Date.now() });
      return { json: connectionJson(state.connections.get(`${user.id}:${target}`)!, user.id) };
    });

  for (const action of ['accept', 'reject'] as const) {
    router.add('POST', `/pod/v1/connection/${action}`, async (req) => {
      const user = ctx.sessionUser(req);
      const from = parseUserId(requireObject(req.json()).userId, 'userId');
      const pending = state.connections.get(`${from}:${user.id}`);
      if (pending === undefined || pending.status !== 'PENDING') throw new HttpError(400, 'No pending connection request from that user');
      await ctx.commit({ t: 'connection', from, to: user.id, status: action === 'accept' ? 'ACCEPTED' : 'REJECTED', at: Date.now() });
      return { json: connectionJson(state.connections.get(`${from}:${user.id}`)!, user.id) };
    });
  }
}
