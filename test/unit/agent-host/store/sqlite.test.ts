// The agent host's SQLite store: what it keeps across a reopen, the event buffer with its cursor, dedup, pruning,
// fencing by lease generation, and the conflicts it refuses.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/agent-host/store/sqlite.js';
import { ConflictError, LeaseLostError, type AgentHostStore, type NewHostEvent } from '../../../../src/agent-host/store/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-host-store-'));
  dirs.push(dir);
  return join(dir, 'agent-host.db');
}

const agent = { id: 'a1', userName: 'bot', identity: { kind: 'rsa' as const, username: 'bot', privateKeyPath: '/keys/bot.pem' }, users: ['u1'], canProvision: false, provisioningMode: 0, managementMode: 0 };
const event = (n: number, sourceId?: string): NewHostEvent => ({ type: 'message', channelId: 'room:abcdefgh', local: false, time: n, body: { Content: `m${n}` }, ...(sourceId === undefined ? {} : { sourceId }) });

describe('the SQLite agent host store', () => {
  it('keeps users, agents, channels, metadata, throttles, tokens, events and the cursor across a reopen (file 0600)', async () => {
    const path = tempPath();
    let store: AgentHostStore = openSqliteStore(path);
    await store.setSuperUser('admin', 'scrypt$hash');
    await store.putUser({ id: 'u1', userName: 'App', passwordHash: 'h' });
    await store.putAgent(agent);
    await store.putChannel({ agentId: 'a1', channelId: 'room:abcdefgh', state: 0, reason: 'not a member' });
    await store.setMetadata('a1', new Map([['k', 'v']]));
    await store.putThrottle({ id: 't1', type: 0, threshold: 5, intervalMs: 60_000, agents: ['a1'] });
    await store.putToken({ hash: 'th', username: 'App', agentId: 'a1', expiresAt: Date.now() + 1000 });
    const lease = (await store.claimAgent('a1', 'host-1', 10_000))!;
    await store.setStatus(lease, { state: 2, instanceId: 'i1' });
    const stored = await store.appendEvents(lease, [event(1), event(2)], { feedId: 'f', ackId: 'ack' });
    expect(stored.map((e) => [e.eventId, e.instanceId])).toEqual([[1, 'i1'], [2, 'i1']]);
    await store.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);

    store = openSqliteStore(path);
    expect(await store.getSuperUser()).toEqual({ userName: 'admin', passwordHash: 'scrypt$hash' });
    expect(await store.findUserByName('app')).toEqual({ id: 'u1', userName: 'App', passwordHash: 'h' });
    expect(await store.getAgent('a1')).toEqual(agent);
    expect(await store.listChannels('a1')).toEqual([{ agentId: 'a1', channelId: 'room:abcdefgh', state: 0, reason: 'not a member' }]);
    expect(await store.getMetadata('a1')).toEqual(new Map([['k', 'v']]));
    expect(await store.getThrottle('t1')).toEqual({ id: 't1', type: 0, threshold: 5, intervalMs: 60_000, agents: ['a1'] });
    expect((await store.getToken('th'))?.agentId).toBe('a1');
    expect(await store.getCursor('a1')).toEqual({ feedId: 'f', ackId: 'ack' });
    expect(await store.getStatus('a1')).toEqual({ state: 2, instanceId: 'i1' });
    const window = await store.readEvents('a1', 0, 10);
    expect(window.events.map((e) => e.body)).toEqual([{ Content: 'm1' }, { Content: 'm2' }]);
    expect(window.lastEventId).toBe(2);
    // The ids go on after a reopen; the sequence never repeats.
    const lease2 = (await store.claimAgent('a1', 'host-2', 10_000))!;
    expect(lease2.generation).toBe(lease.generation + 1);
    expect((await store.appendEvents(lease2, [event(3)]))[0]!.eventId).toBe(3);
    await store.close();
  });

  it('skips events whose source is already buffered, also within one batch', async () => {
    const store = openSqliteStore();
    await store.putAgent(agent);
    const lease = (await store.claimAgent('a1', 'h', 10_000))!;
    await store.appendEvents(lease, [event(1, 's1'), event(2, 's2')]);
    const again = await store.appendEvents(lease, [event(1, 's1'), event(2, 's2'), event(3, 's3'), event(3, 's3')]);
    expect(again.map((e) => e.eventId)).toEqual([3]);
    expect((await store.readEvents('a1', 0, 10)).events.map((e) => e.sourceId)).toEqual(['s1', 's2', 's3']);
    await store.close();
  });

  it('prunes all but the newest events and says through which id', async () => {
    const store = openSqliteStore();
    await store.putAgent(agent);
    const lease = (await store.claimAgent('a1', 'h', 10_000))!;
    await store.appendEvents(lease, [1, 2, 3, 4, 5].map((n) => event(n)));
    expect(await store.pruneEvents('a1', 2)).toBe(3);
    const window = await store.readEvents('a1', 0, 10);
    expect(window.events.map((e) => e.eventId)).toEqual([4, 5]);
    expect(window.prunedThrough).toBe(3);
    expect(await store.pruneEvents('a1', 2)).toBe(0);
    await store.close();
  });

  it('wakes watchers after an append commits, and not after a refused one', async () => {
    const store = openSqliteStore();
    await store.putAgent(agent);
    const lease = (await store.claimAgent('a1', 'h', 10_000))!;
    let woken = 0;
    const stop = store.watchEvents('a1', () => { woken++; });
    await store.appendEvents(lease, [event(1)]);
    expect(woken).toBe(1);
    await store.appendEvents(lease, []);
    expect(woken).toBe(1);
    await expect(store.appendEvents({ ...lease, generation: lease.generation - 1 }, [event(2)])).rejects.toBeInstanceOf(LeaseLostError);
    expect(woken).toBe(1);
    stop();
    await store.appendEvents(lease, [event(3)]);
    expect(woken).toBe(1);
    await store.close();
  });

  it('grants a live lease to one owner only, fences stale generations, and hands over after expiry or release', async () => {
    const store = openSqliteStore();
    await store.putAgent(agent);
    const first = (await store.claimAgent('a1', 'h1', 60_000))!;
    expect(await store.claimAgent('a1', 'h2', 60_000)).toBeUndefined();
    expect(await store.renewLease(first, 60_000)).toBeDefined();
    await store.releaseLease(first);
    const second = (await store.claimAgent('a1', 'h2', 60_000))!;
    expect(await store.renewLease(first, 60_000)).toBeUndefined();
    await expect(store.setStatus(first, { state: 2, instanceId: 'x' })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.setCursor(first, undefined)).rejects.toBeInstanceOf(LeaseLostError);
    await store.setStatus(second, { state: 1, instanceId: 'y' });
    expect(await store.updateChannel(second, { agentId: 'a1', channelId: 'room:none', state: 2 })).toBe(false);
    await store.close();
  });

  it('refuses a user name taken by another id, and unlinks deleted users and agents', async () => {
    const store = openSqliteStore();
    await store.putUser({ id: 'u1', userName: 'App', passwordHash: 'h' });
    await expect(store.putUser({ id: 'u2', userName: 'app', passwordHash: 'h' })).rejects.toBeInstanceOf(ConflictError);
    await store.putAgent(agent);
    await store.putThrottle({ id: 't1', type: 0, threshold: 5, intervalMs: 1000, agents: ['a1'] });
    expect(await store.deleteUser('u1')).toBe(true);
    expect((await store.getAgent('a1'))!.users).toEqual([]);
    expect(await store.deleteAgent('a1')).toBe(true);
    expect((await store.getThrottle('t1'))!.agents).toEqual([]);
    expect(await store.deleteAgent('a1')).toBe(false);
    await store.close();
    await expect(store.listAgents()).rejects.toThrow('closed');
  });

  it('forgets expired tokens', async () => {
    const store = openSqliteStore();
    await store.putToken({ hash: 'old', username: 'x', agentId: '', expiresAt: 1000 });
    await store.putToken({ hash: 'new', username: 'x', agentId: '', expiresAt: 3000 });
    expect(await store.deleteExpiredTokens(2000)).toBe(1);
    expect(await store.getToken('old')).toBeUndefined();
    await store.close();
  });
});
