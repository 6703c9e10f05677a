// A data directory written by the wave-1 sandbox (JSON-lines journal; test/fixtures/sandbox-wave1, made with the
// pre-SQLite code) is migrated to SQLite on the first start: everything it held reads back over HTTPS, feeds resume
// at their acknowledged positions, and the journal is renamed so that it is never read again.
import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, login, type Login } from '../../helpers/sandbox.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/sandbox-wave1');

interface Expected {
  messages: Array<{ streamId: string; messageId: string; text: string }>;
  objects: Record<string, { baseHash: string; version: number; sortKey: string; deleted: string | null }>;
  feeds: { alice: { id: string; ackedEventIds: string[]; pendingEventIds: string[] } };
  blobs: Record<string, string>;
  attachments: Record<string, string>;
  carolId: number;
  rooms: { seedRoom: string; room: string; mim: string };
  partition: string;
  firstWritePartition: string;
  counts: { users: number; streams: number; messages: number; events: number; objects: number; partitions: number; feeds: number; connections: number; attachments: number; blobs: number };
  presence: Record<string, string>;
  aliceFeedAckSeq: number;
  lastSeq: number;
  rotation: string;
  roomName: string;
  members: Record<string, boolean>;
  connections: Array<{ from: number; to: number; status: string }>;
}

describe('migration of a wave-1 data directory', () => {
  let dir: string;
  let expected: Expected;
  let sandbox: RunningSandbox;
  let bot: Login;
  let alice: Login;
  const errors: unknown[] = [];
  // The fixture's feed was last read when it was made: keep it live however long ago that was.
  const config = { feedTtlMs: 100 * 365 * 24 * 3600 * 1000, datafeedWaitMs: 50 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-migration-'));
    await cp(join(FIXTURE, 'data'), dir, { recursive: true });
    expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
    sandbox = await startSandbox({ dataDir: dir, config, onError: (e) => errors.push(e) });
    [bot, alice] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice')]);
  });
  afterAll(async () => {
    await sandbox?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves the journal aside and stores everything in sandbox.db', async () => {
    const entries = await readdir(dir);
    expect(entries).toContain('sandbox.db');
    expect(entries).toContain('journal.migrated');
    expect(entries).not.toContain('journal');
    expect((await readdir(join(dir, 'journal.migrated'))).sort()).toEqual(['journal-1.log', 'snapshot.json']);
    expect((await stat(join(dir, 'sandbox.db'))).mode & 0o777).toBe(0o600);
    const { counts } = expected;
    expect(sandbox.store.counts()).toMatchObject({
      users: counts.users, streams: counts.streams, messages: counts.messages, objectVersions: counts.objects, partitions: counts.partitions,
      feeds: counts.feeds, attachments: counts.attachments,
    });
    expect(sandbox.store.lastEventSeq()).toBe(expected.lastSeq);
    expect(sandbox.store.check()).toEqual([]);
  });

  it('serves every message as it was posted', async () => {
    for (const m of expected.messages) {
      const reply = await call(sandbox, 'GET', `/webcontroller/dataquery/retrieveMessagePayload?messageId=${m.messageId}`, { headers: bot.headers });
      expect(reply.status).toBe(200);
      expect(reply.json.text).toBe(m.text);
      expect(reply.json.threadId).toBe(Buffer.from(m.streamId, 'base64url').toString('base64'));
    }
    const history = await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${expected.rooms.room}&limit=50`, { headers: alice.headers });
    expect(history.json.map((e: { message: { text: string } }) => e.message.text))
      .toEqual(expected.messages.filter((m) => m.streamId === expected.rooms.room).map((m) => m.text));
  });

  it('keeps rooms, members, rotations, presence and connections', async () => {
    const { room } = expected.rooms;
    const info = await call(sandbox, 'GET', `/pod/v3/room/${room}/info`, { headers: bot.headers });
    expect(info.json.roomAttributes.name).toBe(expected.roomName);
    expect(info.json.roomSystemInfo.active).toBe(true);
    const members = await call(sandbox, 'GET', `/pod/v2/room/${room}/membership/list`, { headers: bot.headers });
    expect(Object.fromEntries(members.json.map((m: { id: number; owner: boolean }) => [String(m.id), m.owner]))).toEqual(expected.members);
    expect(sandbox.store.stream(room)!.currentRotation).toBe(expected.rotation);
    expect(sandbox.store.stream(room)!.rotations.sort()).toEqual(['0', expected.rotation]);
    for (const [name, category] of Object.entries(expected.presence)) expect(sandbox.store.user(name)!.presence.category).toBe(category);
    const stored = [...new Set([bot.userId, alice.userId, sandbox.identities.get('bob')!.userId])].flatMap((id) => {
      const user = sandbox.store.user(id)!;
      return [user.username];
    });
    expect(stored).toEqual(['sandbox-bot', 'alice', 'bob']);
    const connections = await call(sandbox, 'GET', '/pod/v1/connection/list', { headers: bot.headers });
    expect(connections.json).toEqual([expect.objectContaining({ userId: expected.connections[1]!.to, status: 'PENDING_OUTGOING' })]);
    const aliceConnections = await call(sandbox, 'GET', '/pod/v1/connection/list', { headers: alice.headers });
    expect(aliceConnections.json).toEqual([expect.objectContaining({ userId: expected.connections[0]!.to, status: 'ACCEPTED' })]);
    // An IM of the same members is found again, not created twice.
    const bob = sandbox.identities.get('bob')!.userId;
    expect((await call(sandbox, 'POST', '/pod/v1/im/create', { headers: bot.headers, json: [alice.userId, bob] })).json.id).toBe(expected.rooms.mim);
  });

  it('resumes the feed at its acknowledged position: the pending events, never the acknowledged ones', async () => {
    const tokens = await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: alice.headers });
    const df = { authorization: `Bearer ${tokens.json[0].token}` };
    const { feeds } = expected;
    const read = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feeds.alice.id}/events`, { headers: df, json: { ackId: '' } });
    expect(read.status).toBe(200);
    const ids: string[] = read.json.events.map((e: { eventId: string }) => e.eventId);
    expect(ids.slice(0, feeds.alice.pendingEventIds.length)).toEqual(feeds.alice.pendingEventIds);
    expect(ids.every((id) => Number(id.slice(1)) > expected.aliceFeedAckSeq && Number(id.slice(1)) <= expected.lastSeq)).toBe(true);
    expect(ids.some((id) => feeds.alice.ackedEventIds.includes(id))).toBe(false);
    // Every message alice has not acknowledged comes, in order, with its ciphertext.
    const texts = read.json.events.filter((e: { name: string }) => e.name === 'SOCIALMESSAGE').map((e: { payload: { text: string } }) => e.payload.text);
    expect(texts).toEqual(expected.messages.slice(3).map((m) => m.text));
    // Acknowledging them works with the new ackIds; nothing comes again.
    await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feeds.alice.id}/events`, { headers: df, json: { ackId: read.json.ackId } });
    const after = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${feeds.alice.id}/events`, { headers: df, json: { ackId: read.json.ackId } });
    expect(after.json.events).toEqual([]);
  });

  it('keeps Object Store partitions, objects with their versions and tombstones, blobs and attachments', async () => {
    const api = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: bot.headers })).json.access_token}` };
    const versions = Object.fromEntries(sandbox.store.objectVersions().map((o) => [o.absoluteHash, { baseHash: o.baseHash, version: o.version, sortKey: o.sortKey, deleted: o.deletionType ?? null }]));
    expect(versions).toEqual(expected.objects);
    const page = await call(sandbox, 'GET', `/object/v1/partitions/${expected.partition}/page`, { headers: api });
    expect(page.json.data.map((o: { sortKey: string }) => o.sortKey)).toEqual(['key-a2', 'key-d', 'key-e']);
    // The upsert of a migrated partition finds it under the hash it had.
    const upsert = await call(sandbox, 'POST', '/object/v1/partitions/upsert', { headers: api, json: { partitionId: { name: 'migrated', userId: bot.userId } } });
    expect(upsert.json.hash).toBe(expected.partition);
    const aliceApi = { authorization: `Bearer ${(await call(sandbox, 'POST', '/login/idm/tokens', { headers: alice.headers })).json.access_token}` };
    const users = await call(sandbox, 'GET', `/object/v1/partitions/${expected.partition}/users`, { headers: aliceApi });
    expect(users.json.data).toEqual([{ userId: bot.userId, permissions: ['READ', 'WRITE'] }, { userId: alice.userId, permissions: ['READ'] }]);
    // The partition alice created by a first write is still hers.
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${expected.firstWritePartition}/key-f`, { headers: aliceApi })).status).toBe(200);
    expect((await call(sandbox, 'GET', `/object/v1/partitions/${expected.firstWritePartition}`, { headers: aliceApi })).json.id.userId).toBe(alice.userId);

    for (const [id, bytes] of Object.entries(expected.blobs)) {
      const blob = await call(sandbox, 'GET', `/object/v1/blobs/${id}`, { headers: api });
      expect(blob.body.toString('base64')).toBe(bytes);
    }
    expect((await call(sandbox, 'GET', '/object/v1/blobs/fixture-blob-0000002', { headers: api })).status).toBe(404);
    for (const [id, bytes] of Object.entries(expected.attachments)) {
      const attachment = await call(sandbox, 'GET', `/webcontroller/ingestor/v1/attachments/${id}`, { headers: bot.headers });
      expect(attachment.body.toString('base64')).toBe(bytes);
    }
  });

  it('numbers new users after the migrated ones, and a restart reads the database, not the journal again', async () => {
    expect(sandbox.store.user('carol')!.id).toBe(expected.carolId);
    const dave = await sandbox.admin.createUser({ username: 'dave' });
    expect(dave.userId).toBe(expected.carolId + 1);
    const counts = sandbox.store.counts();
    await sandbox.close();
    sandbox = await startSandbox({ dataDir: dir, config, onError: (e) => errors.push(e) });
    expect(sandbox.store.counts()).toEqual(counts);
    expect(await readdir(dir)).not.toContain('journal');
    expect(errors).toEqual([]);
  });
});
