/**
 * The pod's public REST API that needs no encryption (pod-api-public.yaml): session info, user lookup and search,
 * IM/MIM and room creation (IMs needing connections where the pod says so), room info, search and update,
 * membership, stream lists, presence and presence interest, connections and their removal, following, the allowed
 * file types and message suppression; plus the two
 * web-controller calls Allegro makes at start-up (`/webcontroller/public/podInfo`, `/webcontroller/maestro/Account`,
 * docs/protocol.md §2.1). Creating a stream generates its first content key; the pod keeps only what the Key
 * Manager needs and never sees plaintext. Every check a change depends on (ownership, membership, an existing IM,
 * a pending request) runs inside its write, against the database.
 */
import { intQuery, optionalField, parseUserId, requireArray, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { createStream, logStreamEvent, memberStream, roomFields, rotateStream } from '../conversations.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest } from '../http.js';
import { standardBase64Id } from '../ids.js';
import { conversationKey, type Member, type Stream } from '../store/streams.js';
import { profileOf, USER_FIELDS } from '../store/profiles.js';
import { readableMessage } from './messages.js';
import type { Connection, User } from '../store/users.js';

/** UserV2 of a user, with the directory fields of its profile (../store/profiles.ts). */
export function userJson(ctx: SandboxContext, u: User): Record<string, unknown> {
  const profile = profileOf(u.displayName, ctx.store.profiles.get(u.id));
  const fields = Object.fromEntries(USER_FIELDS.flatMap((f) => (profile[f] === undefined ? [] : [[f, profile[f]]])));
  return { id: u.id, emailAddress: u.email, ...fields, displayName: u.displayName, username: u.username, accountType: u.type, avatars: [], roles: ['INDIVIDUAL'] };
}

function roomAttributes(s: Stream): Record<string, unknown> {
  return { name: '', keywords: [], description: '', membersCanInvite: true, discoverable: true, public: false, readOnly: false, copyProtected: false,
    crossPod: false, viewHistory: false, multiLateralRoom: false, scheduledMeeting: false, groupChat: false, ...s.attributes };
}

function roomDetail(s: Stream): Record<string, unknown> {
  return { roomAttributes: roomAttributes(s), roomSystemInfo: { id: s.id, creationDate: s.createdAt, createdByUserId: s.createdBy, active: s.active } };
}

function streamJson(s: Stream, members: readonly Member[], v2: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: s.id, crossPod: false, active: s.active, streamType: { type: s.type },
    streamAttributes: { members: members.map((m) => m.userId) },
  };
  if (s.type === 'ROOM') json.roomAttributes = { name: String(s.attributes.name ?? '') };
  if (v2) {
    json.origin = 'INTERNAL';
    json.lastMessageDate = s.lastMessageDate;
  }
  return json;
}

function ownedRoom(ctx: SandboxContext, user: User, rawId: string): Stream {
  const stream = memberStream(ctx, user, rawId);
  if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
  if (ctx.store.streams.member(stream.id, user.id)?.owner !== true) throw new HttpError(403, 'Only room owners can do this');
  return stream;
}

function knownUser(ctx: SandboxContext, id: number): User {
  const u = ctx.store.users.get(id);
  if (u === undefined) throw new HttpError(400, `User ${id} does not exist`);
  return u;
}

function lookupUsers(ctx: SandboxContext, req: SandboxRequest): { users: User[]; errors: Array<Record<string, string>> } {
  const users: User[] = [];
  const errors: Array<Record<string, string>> = [];
  const uid = req.query.get('uid');
  const email = req.query.get('email');
  const username = req.query.get('username');
  if ([uid, email, username].filter((v) => v !== null).length !== 1) throw new HttpError(400, 'Give exactly one of uid, email or username');
  const values = (uid ?? email ?? username)!.split(',').map((v) => v.trim()).filter(Boolean);
  if (values.length === 0 || values.length > 100) throw new HttpError(400, 'Give from 1 to 100 values');
  for (const v of values) {
    let found: User | undefined;
    if (uid !== null) {
      if (!/^\d{1,16}$/.test(v)) {
        errors.push({ error: 'invalid.format', id: v });
        continue;
      }
      found = ctx.store.users.get(Number(v));
    } else if (email !== null) found = ctx.store.users.byEmail(v);
    else found = ctx.store.users.byName(v);
    if (found === undefined) errors.push({ error: 'user.notfound', ...(uid !== null ? { id: v } : email !== null ? { email: v } : { username: v }) });
    else users.push(found);
  }
  return { users, errors };
}

/** `UserSearchFilter` fields and the profile fields they match (`function` is the job function). */
const SEARCH_FILTERS = {
  title: 'title', company: 'company', location: 'location', marketCoverage: 'marketCoverage', responsibility: 'responsibility',
  function: 'jobFunction', instrument: 'instrument',
} as const;

/**
 * The users `/pod/v1/user/search` finds, by id: every word of `query` starts a word of the user's display name,
 * first or last name, username or e-mail address (case-insensitive; an empty or absent query matches everyone), and every
 * filter matches its field exactly (case-insensitive); `accountTypes` lists the account types allowed.
 */
function searchUsers(ctx: SandboxContext, query: string, filters: Record<string, unknown>): User[] {
  const wanted: Array<[keyof typeof SEARCH_FILTERS, string]> = [];
  for (const name of Object.keys(SEARCH_FILTERS) as Array<keyof typeof SEARCH_FILTERS>) {
    const v = optionalField(filters, name, 'string');
    if (v !== undefined) wanted.push([name, v.toLowerCase()]);
  }
  const typesRaw = optionalField(filters, 'accountTypes', 'array');
  const types = typesRaw?.map((t) => {
    if (t !== 'NORMAL' && t !== 'SYSTEM') throw new HttpError(400, 'Field "filters.accountTypes" must list NORMAL or SYSTEM');
    return t;
  });
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const profiles = ctx.store.profiles.all();
  return ctx.store.users.all().filter((u) => {
    const profile = profileOf(u.displayName, profiles.get(u.id));
    if (types !== undefined && types.length > 0 && !types.includes(u.type)) return false;
    if (!wanted.every(([name, v]) => profile[SEARCH_FILTERS[name]]?.toLowerCase() === v)) return false;
    const names = [u.displayName, profile.firstName, profile.lastName, u.username, u.email].join(' ').toLowerCase().split(/[\s@.]+/);
    return words.every((w) => names.some((n) => n.startsWith(w)));
  });
}

function connectionJson(c: Connection, viewer: number): Record<string, unknown> {
  const incoming = c.to === viewer;
  const status = c.status === 'PENDING' ? (incoming ? 'PENDING_INCOMING' : 'PENDING_OUTGOING') : c.status;
  return { userId: incoming ? c.from : c.to, status, firstRequestedAt: c.firstRequestedAt, updatedAt: c.updatedAt, requestCounter: c.requestCounter };
}

function connectionBetween(ctx: SandboxContext, a: number, b: number): Connection | undefined {
  return ctx.store.users.connection(a, b) ?? ctx.store.users.connection(b, a);
}

/** What `GET /pod/v1/files/allowedTypes` answers. */
const ALLOWED_FILE_TYPES = ['.bmp', '.csv', '.doc', '.docx', '.gif', '.jpeg', '.jpg', '.json', '.log', '.md', '.pdf', '.png', '.ppt', '.pptx', '.txt', '.xls', '.xlsx', '.zip'];

const PRESENCE = ['AVAILABLE', 'BUSY', 'AWAY', 'ON_THE_PHONE', 'BE_RIGHT_BACK', 'IN_A_MEETING', 'OUT_OF_OFFICE', 'OFF_WORK', 'OFFLINE'];
/** Register the pod routes. */
export function podRoutes(router: Router, ctx: SandboxContext): void {
  const { store } = ctx;
  router
    .add('GET', '/webcontroller/public/podInfo', () => {
      const { podId } = store.pod.require();
      return { json: { data: { podId, externalPodId: podId, keyManagerUrl: ctx.urls.keyManagerUrl, baseUrl: ctx.urls.podUrl } } };
    })
    .add('GET', '/webcontroller/maestro/Account', (req) => {
      const user = ctx.sessionUser(req);
      return { json: { userName: user.id, myCurrentThreadId: standardBase64Id(user.wallStreamId), prettyName: user.displayName } };
    })
    .add('GET', '/pod/v2/sessioninfo', (req) => ({ json: userJson(ctx, ctx.sessionUser(req)) }))
    .add('GET', '/pod/v3/users', (req) => {
      ctx.sessionUser(req);
      const { users, errors } = lookupUsers(ctx, req);
      return { json: { users: users.map((u) => userJson(ctx, u)), errors } };
    })
    .add('GET', '/pod/v2/user', (req) => {
      ctx.sessionUser(req);
      const { users } = lookupUsers(ctx, req);
      if (users.length !== 1) throw new HttpError(404, 'User not found');
      return { json: userJson(ctx, users[0]!) };
    })
    .add('POST', '/pod/v1/user/search', (req) => {
      ctx.sessionUser(req);
      const skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 50, 1, 1000);
      const local = req.query.get('local');
      if (local !== null && local !== 'true' && local !== 'false') throw new HttpError(400, 'Query parameter "local" must be true or false');
      const body = requireObject(req.json());
      const query = optionalField(body, 'query', 'string') ?? '';
      const filters = optionalField(body, 'filters', 'object') ?? {};
      const matching = searchUsers(ctx, query, filters);
      if (matching.length === 0) return { status: 204 };
      return {
        json: {
          count: matching.length, skip, limit, searchQuery: { ...(body.query === undefined ? {} : { query }), ...(body.filters === undefined ? {} : { filters }) },
          users: matching.slice(skip, skip + limit).map((u) => userJson(ctx, u)),
        },
      };
    })
    .add('POST', '/pod/v1/admin/messagesuppression/:id/suppress', async (req) => {
      const user = ctx.sessionUser(req);
      const message = readableMessage(ctx, user, req.params.id!);
      if (user.type !== 'SYSTEM' && message.fromUserId !== user.id) throw new HttpError(403, 'Only the sender or a service account may suppress a message');
      const suppression = await store.write((tx) => {
        const earlier = store.edits.suppression(message.messageId);
        if (earlier !== undefined) return earlier;
        const s = { messageId: message.messageId, by: user.id, at: Date.now() };
        store.edits.suppress(tx, s);
        store.events.append(tx, {
          kind: 'MESSAGE_SUPPRESSED', initiator: user.id, timestamp: s.at, streamId: message.streamId, payload: { messageId: standardBase64Id(message.messageId) },
        }, ctx.liveSince(s.at));
        return s;
      });
      return { json: { messageId: message.messageId, suppressed: true, suppressionDate: suppression.at } };
    })
    .add('POST', '/pod/v1/im/create', async (req) => {
      const user = ctx.sessionUser(req);
      const others = [...new Set(requireArray(req.json()).map((v) => parseUserId(v, 'user id')))].filter((id) => id !== user.id);
      if (others.length === 0) throw new HttpError(400, 'Give at least one other user id');
      if (others.length > 16) throw new HttpError(400, 'An IM or MIM has at most 17 members');
      for (const id of others) knownUser(ctx, id);
      if (store.policies.pod().imRequiresConnection) {
        const unconnected = others.find((id) => connectionBetween(ctx, user.id, id)?.status !== 'ACCEPTED');
        if (unconnected !== undefined) throw new HttpError(403, `The user is not connected to user ${unconnected}: this pod requires a connection for IMs`);
      }
      const members = [user.id, ...others].sort((a, b) => a - b);
      const type = members.length === 2 ? 'IM' : 'MIM';
      const id = await store.write((tx) => store.streams.byConversation(conversationKey(type, members))?.id ??
        createStream(ctx, tx, { type, by: user.id, at: Date.now(), attributes: {}, members: members.map((m) => ({ userId: m, owner: false })) }).id);
      return { json: { id } };
    })
    .add('POST', '/pod/v3/room/create', async (req) => {
      const user = ctx.sessionUser(req);
      const body = requireObject(req.json());
      const name = requiredField(body, 'name', 'string');
      if (name.trim().length === 0 || name.length > 500) throw new HttpError(400, 'Field "name" must be 1 to 500 characters');
      const attributes: Record<string, unknown> = { name, ...roomFields(body, true) };
      const stream = await store.write((tx) => createStream(ctx, tx, { type: 'ROOM', by: user.id, at: Date.now(), attributes, members: [{ userId: user.id, owner: true }] }));
      return { json: roomDetail(stream) };
    })
    .add('GET', '/pod/v3/room/:id/info', (req) => {
      const stream = memberStream(ctx, ctx.sessionUser(req), req.params.id!);
      if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
      return { json: roomDetail(stream) };
    })
    .add('POST', '/pod/v3/room/:id/update', async (req) => {
      const user = ctx.sessionUser(req);
      const body = requireObject(req.json());
      const name = optionalField(body, 'name', 'string');
      const changes = roomFields(body, false);
      const stream = await store.write((tx) => {
        const room = ownedRoom(ctx, user, req.params.id!);
        const attributes = { ...room.attributes, ...(name === undefined ? {} : { name }), ...changes };
        store.streams.update(tx, room.id, { attributes });
        logStreamEvent(ctx, tx, 'UPDATE_ROOM', room.id, user.id, Date.now());
        return { ...room, attributes };
      });
      return { json: roomDetail(stream) };
    })
    .add('POST', '/pod/v1/room/:id/setActive', async (req) => {
      const user = ctx.sessionUser(req);
      const active = req.query.get('active');
      if (active !== 'true' && active !== 'false') throw new HttpError(400, 'Query parameter "active" must be true or false');
      const stream = await store.write((tx) => {
        const room = ownedRoom(ctx, user, req.params.id!);
        store.streams.update(tx, room.id, { active: active === 'true' });
        logStreamEvent(ctx, tx, active === 'true' ? 'REACTIVATE_ROOM' : 'DEACTIVATE_ROOM', room.id, user.id, Date.now());
        return { ...room, active: active === 'true' };
      });
      const { name: roomName, membersCanInvite, discoverable, public: isPublic, readOnly, copyProtected } = roomAttributes(stream); // v1 RoomDetail
      return { json: { roomAttributes: { name: roomName, membersCanInvite, discoverable }, roomSystemInfo: roomDetail(stream).roomSystemInfo, immutableRoomAttributes: { public: isPublic, readOnly, copyProtected } } };
    })
    .add('GET', '/pod/v2/room/:id/membership/list', (req) => {
      const stream = memberStream(ctx, ctx.sessionUser(req), req.params.id!);
      return { json: store.streams.members(stream.id).map((m) => ({ id: m.userId, owner: m.owner, joinDate: m.joinDate })) };
    });

  for (const action of ['add', 'remove', 'promoteOwner', 'demoteOwner'] as const) {
    router.add('POST', `/pod/v1/room/:id/membership/${action}`, async (req) => {
      const user = ctx.sessionUser(req);
      await store.write((tx) => {
        const stream = action === 'add' ? memberStream(ctx, user, req.params.id!) : ownedRoom(ctx, user, req.params.id!);
        const self = store.streams.member(stream.id, user.id);
        if (action === 'add' && self?.owner !== true && stream.attributes.membersCanInvite === false) {
          throw new HttpError(403, 'Only room owners can add members to this room');
        }
        if (stream.type !== 'ROOM') throw new HttpError(400, 'This stream is not a room');
        const target = knownUser(ctx, parseUserId(requireObject(req.json()).id, 'id')).id;
        const at = Date.now();
        const member = store.streams.member(stream.id, target);
        if (action === 'add') {
          if (member !== undefined) return;
          store.streams.setMember(tx, stream.id, { userId: target, owner: false, joinDate: at });
          logStreamEvent(ctx, tx, 'JOIN_ROOM', stream.id, user.id, at, target);
        } else if (member === undefined) {
          throw new HttpError(400, 'That user is not a member of this room');
        } else if (action === 'remove') {
          // The member who leaves is told too: the event goes out before the removal.
          logStreamEvent(ctx, tx, 'LEAVE_ROOM', stream.id, user.id, at, target);
          store.streams.removeMember(tx, stream.id, target);
          if (ctx.config.rotateOnMemberRemoval) rotateStream(ctx, tx, stream.id);
        } else {
          store.streams.setMember(tx, stream.id, { ...member, owner: action === 'promoteOwner' });
          logStreamEvent(ctx, tx, action === 'promoteOwner' ? 'PROMOTE_OWNER' : 'DEMOTE_OWNER', stream.id, user.id, at, target);
        }
      });
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
      const list = store.streams.ofUser(user.id)
        .filter((s) => (includeInactive || s.active) && (types === undefined || types.length === 0 || types.includes(s.type)))
        .slice(skip, skip + limit);
      return { json: list.map((s) => streamJson(s, store.streams.members(s.id), false)) };
    })
    .add('GET', '/pod/v2/streams/:sid/info', (req) => {
      const stream = memberStream(ctx, ctx.sessionUser(req), req.params.sid!, 'sid');
      return { json: streamJson(stream, store.streams.members(stream.id), true) };
    })
    .add('GET', '/pod/v2/user/presence', (req) => {
      const user = ctx.sessionUser(req);
      return { json: { category: user.presence.category, userId: user.id, timestamp: user.presence.timestamp } };
    })
    .add('POST', '/pod/v2/user/presence', async (req) => {
      const user = ctx.sessionUser(req);
      const category = requiredField(requireObject(req.json()), 'category', 'string').toUpperCase();
      if (!PRESENCE.includes(category)) throw new HttpError(400, `Field "category" must be one of ${PRESENCE.join(', ')}`);
      const at = Date.now();
      await store.write((tx) => store.users.setPresence(tx, user.id, category, at));
      return { json: { category, userId: user.id, timestamp: at } };
    })
    .add('GET', '/pod/v3/user/:uid/presence', (req) => {
      ctx.sessionUser(req);
      const target = store.users.get(parseUserId(req.params.uid, 'uid'));
      if (target === undefined) throw new HttpError(404, 'User not found');
      return { json: { category: target.presence.category, userId: target.id, timestamp: target.presence.timestamp } };
    })
    .add('GET', '/pod/v1/user/:uid/followers', (req) => {
      ctx.sessionUser(req);
      const followers = store.follows.followers(knownUser(ctx, parseUserId(req.params.uid, 'uid')).id);
      return { json: { count: followers.length, followers } };
    })
    .add('POST', '/pod/v1/user/presence/register', (req) => {
      ctx.sessionUser(req);
      for (const id of requireArray(req.json()).map((v) => parseUserId(v, 'user id'))) knownUser(ctx, id);
      return { json: { format: 'TEXT', message: 'Presence interest registered' } };
    })
    .add('GET', '/pod/v1/files/allowedTypes', (req) => {
      ctx.sessionUser(req);
      return { json: ALLOWED_FILE_TYPES };
    })
    .add('POST', '/pod/v3/room/search', (req) => {
      const user = ctx.sessionUser(req);
      const skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 50, 1, 100);
      const query = requireObject(req.json());
      const text = requiredField(query, 'query', 'string').toLowerCase();
      const active = optionalField(query, 'active', 'boolean');
      const rooms = store.streams.ofUser(user.id).filter((s) => s.type === 'ROOM' && (active === undefined || s.active === active) &&
        `${String(s.attributes.name ?? '')} ${String(s.attributes.description ?? '')}`.toLowerCase().includes(text));
      return { json: { count: rooms.length, skip, limit, query, rooms: rooms.slice(skip, skip + limit).map(roomDetail) } };
    })
    .add('POST', '/pod/v1/connection/user/:uid/remove', async (req) => {
      const user = ctx.sessionUser(req);
      const other = parseUserId(req.params.uid, 'uid');
      await store.write((tx) => {
        if (connectionBetween(ctx, user.id, other)?.status !== 'ACCEPTED') throw new HttpError(400, 'No accepted connection with that user');
        store.users.removeConnection(tx, user.id, other);
      });
      return { json: { format: 'TEXT', message: 'Connection removed' } };
    })
    .add('GET', '/pod/v1/connection/list', (req) => {
      const user = ctx.sessionUser(req);
      const status = req.query.get('status') ?? 'ALL';
      const list = store.users.connectionsOf(user.id)
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
      const connection = await store.write((tx) => {
        const existing = connectionBetween(ctx, user.id, target);
        if (existing?.status === 'ACCEPTED') return existing;
        const at = Date.now();
        store.users.setConnection(tx, user.id, target, 'PENDING', at);
        // CONNECTIONREQUESTED (docs/sandbox.md "Agent API"): for both users, naming the one asked.
        store.events.append(tx, { kind: 'CONNECTION_REQUESTED', initiator: user.id, timestamp: at, affectedUserId: target }, ctx.liveSince(at), [user.id, target]);
        return store.users.connection(user.id, target)!;
      });
      return { json: connectionJson(connection, user.id) };
    });

  for (const action of ['follow', 'unfollow'] as const) {
    router.add('POST', `/pod/v1/user/:uid/${action}`, async (req) => {
      ctx.sessionUser(req);
      const followed = knownUser(ctx, parseUserId(req.params.uid, 'uid')).id;
      const followers = requireArray(requiredField(requireObject(req.json()), 'followers', 'array'), 'followers').map((v) => knownUser(ctx, parseUserId(v, 'follower id')).id);
      await store.write((tx) => {
        for (const f of followers) {
          if (action === 'unfollow') store.follows.unfollow(tx, followed, f);
          else if (f !== followed) store.follows.follow(tx, followed, f, Date.now());
        }
      });
      return { json: { format: 'TEXT', message: action === 'follow' ? 'Followers added' : 'Followers removed' } };
    });
  }

  for (const action of ['accept', 'reject'] as const) {
    router.add('POST', `/pod/v1/connection/${action}`, async (req) => {
      const user = ctx.sessionUser(req);
      const from = parseUserId(requireObject(req.json()).userId, 'userId');
      const connection = await store.write((tx) => {
        const pending = store.users.connection(from, user.id);
        if (pending === undefined || pending.status !== 'PENDING') throw new HttpError(400, 'No pending connection request from that user');
        const at = Date.now();
        store.users.setConnection(tx, from, user.id, action === 'accept' ? 'ACCEPTED' : 'REJECTED', at);
        // CONNECTIONACCEPTED: for both users, naming the one who asked; a rejection raises no event.
        if (action === 'accept') store.events.append(tx, { kind: 'CONNECTION_ACCEPTED', initiator: user.id, timestamp: at, affectedUserId: from }, ctx.liveSince(at), [from, user.id]);
        return store.users.connection(from, user.id)!;
      });
      return { json: connectionJson(connection, user.id) };
    });
  }
}
