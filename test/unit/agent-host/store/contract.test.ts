// The agent host store's contract (src/agent-host/store/types.ts), run against both backends: the embedded SQLite
// store and the shared PostgreSQL store (on a throwaway server, test/helpers/postgres.ts). Each test starts from an
// empty store; the same expectations hold for both, which is what lets the host run on either.
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../../../src/agent-host/store/postgres.js';
import { openSqliteStore } from '../../../../src/agent-host/store/sqlite.js';
import { ConflictError, LeaseLostError, type AgentHostStore, type AgentLease, type NewHostEvent } from '../../../../src/agent-host/store/types.js';
import { postgresMissing, startPostgres, warnIfPostgresMissing, type RunningPostgres } from '../../../helpers/postgres.js';

interface Backend {
  name: string;
  missing: string | undefined;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** An empty store. */
  open(): Promise<AgentHostStore>;
}

let server: RunningPostgres | undefined;
const backends: Backend[] = [
  { name: 'SQLite', missing: undefined, setup: async () => undefined, teardown: async () => undefined, open: () => Promise.resolve(openSqliteStore()) },
  {
    name: 'PostgreSQL',
    missing: postgresMissing,
    setup: async () => {
      server = await startPostgres();
    },
    teardown: async () => {
      await server?.stop();
    },
    open: async () => {
      await server!.resetDatabase();
      return openPostgresStore({ url: server!.url() });
    },
  },
];

const agent = { id: 'a1', userName: 'bot', identity: { kind: 'rsa' as const, username: 'bot', privateKeyPath: '/keys/bot.pem' }, users: ['u1'], canProvision: false, provisioningMode: 0, managementMode: 0 };
const event = (n: number, sourceId?: string): NewHostEvent => ({ type: 'message', channelId: 'room:abcdefgh', local: n % 2 === 0, time: n, body: { Content: `m${n}`, Nested: { n } }, ...(sourceId === undefined ? {} : { sourceId }) });

for (const backend of backends) {
  if (backend.missing !== undefined) warnIfPostgresMissing('the agent host store contract');
  describe.skipIf(backend.missing !== undefined)(`the agent host store contract on ${backend.name}`, () => {
    const open: AgentHostStore[] = [];
    const fresh = async (): Promise<AgentHostStore> => {
      const store = await backend.open();
      open.push(store);
      return store;
    };
    beforeAll(() => backend.setup());
    afterAll(() => backend.teardown());
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });

    it('reads back what it stored: super user, users, agents, channels, metadata, throttles, tokens, status, events, cursor', async () => {
      const store = await fresh();
      expect(await store.getSuperUser()).toBeUndefined();
      await store.setSuperUser('admin', 'scrypt$1');
      await store.setSuperUser('admin2', 'scrypt$2');
      expect(await store.getSuperUser()).toEqual({ userName: 'admin2', passwordHash: 'scrypt$2' });

      await store.putUser({ id: 'u2', userName: 'Zed', passwordHash: 'h2' });
      await store.putUser({ id: 'u1', userName: 'App', passwordHash: 'h' });
      expect(await store.listUsers()).toEqual([{ id: 'u1', userName: 'App', passwordHash: 'h' }, { id: 'u2', userName: 'Zed', passwordHash: 'h2' }]);
      expect(await store.findUserByName('aPP')).toEqual({ id: 'u1', userName: 'App', passwordHash: 'h' });
      expect(await store.getUser('nobody')).toBeUndefined();

      await store.putAgent(agent);
      const obo = { ...agent, id: 'a0', identity: { kind: 'obo' as const, appId: 'app', userId: '123' }, canProvision: true, provisioningMode: 3, managementMode: 1 };
      await store.putAgent(obo);
      expect(await store.listAgents()).toEqual([obo, agent]);
      await store.putAgent({ ...agent, userName: 'bot2' });
      expect((await store.getAgent('a1'))!.userName).toBe('bot2');

      await store.putChannel({ agentId: 'a1', channelId: 'room:b', state: 0, reason: 'not a member' });
      await store.putChannel({ agentId: 'a1', channelId: 'room:a', state: 2, streamId: 'sid', displayName: 'Room A' });
      expect(await store.listChannels('a1')).toEqual([
        { agentId: 'a1', channelId: 'room:a', state: 2, streamId: 'sid', displayName: 'Room A' },
        { agentId: 'a1', channelId: 'room:b', state: 0, reason: 'not a member' },
      ]);
      expect(await store.deleteChannel('a1', 'room:b')).toBe(true);
      expect(await store.deleteChannel('a1', 'room:b')).toBe(false);

      await store.setMetadata('a1', new Map([['k', 'v'], ['j', 'w']]));
      await store.putMetadataValue('a1', 'k', 'v2');
      expect(await store.getMetadata('a1')).toEqual(new Map([['j', 'w'], ['k', 'v2']]));
      expect(await store.deleteMetadataValue('a1', 'j')).toBe(true);
      expect(await store.deleteMetadataValue('a1', 'j')).toBe(false);
      await store.setMetadata('a1', new Map());
      expect(await store.getMetadata('a1')).toEqual(new Map());

      await store.putThrottle({ id: 't1', type: 1, threshold: 5, intervalMs: 60_000, agents: ['a1'] });
      expect(await store.listThrottles()).toEqual([{ id: 't1', type: 1, threshold: 5, intervalMs: 60_000, agents: ['a1'] }]);
      expect(await store.deleteThrottle('t1')).toBe(true);
      expect(await store.getThrottle('t1')).toBeUndefined();

      const expiresAt = Date.now() + 3_600_000;
      await store.putToken({ hash: 'th', username: 'App', agentId: 'a1', expiresAt });
      expect(await store.getToken('th')).toEqual({ hash: 'th', username: 'App', agentId: 'a1', expiresAt });

      const lease = (await store.claimAgent('a1', 'host-1', 10_000))!;
      expect(await store.getStatus('a1')).toBeUndefined();
      await store.setStatus(lease, { state: 1, instanceId: 'i1', lastError: 'HTTP 401', nextAttemptAt: 1234 });
      expect(await store.getStatus('a1')).toEqual({ state: 1, instanceId: 'i1', lastError: 'HTTP 401', nextAttemptAt: 1234 });
      await store.setStatus(lease, { state: 2, instanceId: 'i1' });
      expect(await store.getStatus('a1')).toEqual({ state: 2, instanceId: 'i1' });

      const stored = await store.appendEvents(lease, [event(1, 's1'), event(2)], { feedId: 'f', ackId: 'ack' });
      expect(stored).toEqual([{ ...event(1, 's1'), eventId: 1, instanceId: 'i1' }, { ...event(2), eventId: 2, instanceId: 'i1' }]);
      expect(await store.readEvents('a1', 0, 10)).toEqual({ events: stored, prunedThrough: 0, lastEventId: 2 });
      expect(await store.readEvents('a1', 1, 10)).toEqual({ events: stored.slice(1), prunedThrough: 0, lastEventId: 2 });
      expect(await store.readEvents('a1', 0, 1)).toEqual({ events: stored.slice(0, 1), prunedThrough: 0, lastEventId: 2 });
      expect(await store.readEvents('nobody', 0, 10)).toEqual({ events: [], prunedThrough: 0, lastEventId: 0 });
      expect(await store.getCursor('a1')).toEqual({ feedId: 'f', ackId: 'ack' });
      await store.setCursor(lease, { feedId: 'f2', ackId: 'ack2' });
      expect(await store.getCursor('a1')).toEqual({ feedId: 'f2', ackId: 'ack2' });
      await store.setCursor(lease, undefined);
      expect(await store.getCursor('a1')).toBeUndefined();
      // An append with no events still moves the cursor.
      expect(await store.appendEvents(lease, [], { feedId: 'f3', ackId: 'ack3' })).toEqual([]);
      expect(await store.getCursor('a1')).toEqual({ feedId: 'f3', ackId: 'ack3' });

      expect(await store.updateChannel(lease, { agentId: 'a1', channelId: 'room:a', state: 0, reason: 'removed' })).toBe(true);
      expect(await store.getChannel('a1', 'room:a')).toEqual({ agentId: 'a1', channelId: 'room:a', state: 0, reason: 'removed' });
      expect(await store.updateChannel(lease, { agentId: 'a1', channelId: 'room:none', state: 2 })).toBe(false);
      expect(await store.getChannel('a1', 'room:none')).toBeUndefined();
    });

    it('skips events whose source is already buffered, also within one batch', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const lease = (await store.claimAgent('a1', 'h', 10_000))!;
      await store.appendEvents(lease, [event(1, 's1'), event(2, 's2')]);
      const again = await store.appendEvents(lease, [event(1, 's1'), event(2, 's2'), event(3, 's3'), event(3, 's3'), event(4)]);
      expect(again.map((e) => e.eventId)).toEqual([3, 4]);
      expect((await store.readEvents('a1', 0, 10)).events.map((e) => e.sourceId)).toEqual(['s1', 's2', 's3', undefined]);
    });

    it('goes on numbering after the whole buffer was pruned, and prunes nothing of an unknown agent', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const lease = (await store.claimAgent('a1', 'h', 10_000))!;
      await store.appendEvents(lease, [event(1), event(2), event(3)]);
      expect([await store.pruneEvents('a1', 0), await store.pruneEvents('a1', 0), await store.pruneEvents('nobody', 0)]).toEqual([3, 0, 0]);
      expect(await store.readEvents('a1', 0, 10)).toEqual({ events: [], prunedThrough: 3, lastEventId: 3 });
      expect((await store.appendEvents(lease, [event(4)])).map((e) => e.eventId)).toEqual([4]);
      expect(await store.readEvents('a1', 0, 10)).toMatchObject({ events: [{ eventId: 4 }], prunedThrough: 3, lastEventId: 4 });
    });

    it('wakes watchers after an append commits (the events are readable then), and not after a refused or empty one', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const lease = (await store.claimAgent('a1', 'h', 10_000))!;
      const seen: number[][] = [];
      let pending = Promise.resolve();
      const stop = store.watchEvents('a1', () => {
        pending = pending.then(async () => { seen.push((await store.readEvents('a1', 0, 10)).events.map((e) => e.eventId)); });
      });
      const other = store.watchEvents('a2', () => seen.push([-1]));
      await store.appendEvents(lease, [event(1)]);
      await pending;
      expect(seen).toEqual([[1]]);
      await store.appendEvents(lease, []);
      await expect(store.appendEvents({ ...lease, generation: lease.generation - 1 }, [event(2)])).rejects.toBeInstanceOf(LeaseLostError);
      stop();
      await store.appendEvents(lease, [event(3)]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await pending;
      expect(seen).toEqual([[1]]);
      other();
    });

    it('grants a live lease to one owner only, fences stale generations, and hands over after release or expiry', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const first = (await store.claimAgent('a1', 'h1', 60_000))!;
      expect(first).toMatchObject({ agentId: 'a1', owner: 'h1' });
      expect(first.expiresAt).toBeGreaterThan(Date.now() + 50_000);
      expect(await store.claimAgent('a1', 'h2', 60_000)).toBeUndefined();
      const renewed = (await store.renewLease(first, 120_000))!;
      expect(renewed).toMatchObject({ agentId: 'a1', owner: 'h1', generation: first.generation });
      expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
      await store.releaseLease(first);
      const second = (await store.claimAgent('a1', 'h2', 60_000))!;
      expect(second.generation).toBeGreaterThan(first.generation);
      expect(await store.renewLease(first, 60_000)).toBeUndefined();
      await expect(store.setStatus(first, { state: 2, instanceId: 'x' })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.setCursor(first, undefined)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.updateChannel(first, { agentId: 'a1', channelId: 'room:a', state: 2 })).rejects.toBeInstanceOf(LeaseLostError);
      await store.setStatus(second, { state: 1, instanceId: 'y' });
      // A short lease expires by itself, and then another owner gets the agent.
      const short = (await store.claimAgent('a2', 'h1', 50))!;
      expect(await store.claimAgent('a2', 'h2', 50)).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 120));
      const taken = (await store.claimAgent('a2', 'h2', 60_000))!;
      expect(taken.generation).toBe(short.generation + 1);
      await expect(store.appendEvents(short, [event(1)])).rejects.toBeInstanceOf(LeaseLostError);
      // Its owner claiming again gets a new generation too, which fences its own older lease.
      const again = (await store.claimAgent('a2', 'h2', 60_000))!;
      expect(again.generation).toBe(taken.generation + 1);
      await expect(store.setStatus(taken, { state: 2, instanceId: 'z' })).rejects.toBeInstanceOf(LeaseLostError);
    });

    it('changes nothing when a write is refused', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const first = (await store.claimAgent('a1', 'h1', 60_000))!;
      await store.setStatus(first, { state: 2, instanceId: 'i1' });
      await store.appendEvents(first, [event(1, 's1')], { feedId: 'f', ackId: '1' });
      await store.releaseLease(first);
      const second = (await store.claimAgent('a1', 'h2', 60_000))!;
      await expect(store.appendEvents(first, [event(2, 's2')], { feedId: 'f', ackId: '2' })).rejects.toBeInstanceOf(LeaseLostError);
      expect(await store.readEvents('a1', 0, 10)).toMatchObject({ lastEventId: 1, events: [{ eventId: 1 }] });
      expect(await store.getCursor('a1')).toEqual({ feedId: 'f', ackId: '1' });
      // The new owner's ids go on from the last committed one; the refused event can be buffered by it.
      expect((await store.appendEvents(second, [event(2, 's2')]))[0]!.eventId).toBe(2);
      await store.putUser({ id: 'u1', userName: 'App', passwordHash: 'h' });
      await expect(store.putUser({ id: 'u2', userName: 'APP', passwordHash: 'h2' })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.listUsers()).toEqual([{ id: 'u1', userName: 'App', passwordHash: 'h' }]);
    });

    it('numbers concurrent appends without gaps or repeats', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      const lease = (await store.claimAgent('a1', 'h', 60_000))!;
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendEvents(lease, [event(2 * i), event(2 * i + 1)])));
      const ids = batches.flat().map((e) => e.eventId).sort((a, b) => a - b);
      expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      for (const batch of batches) expect(batch[1]!.eventId).toBe(batch[0]!.eventId + 1);
      const window = await store.readEvents('a1', 0, 100);
      expect(window.events.map((e) => e.eventId)).toEqual(ids);
    });

    it('keeps the event buffer consistent with a model under any sequence of appends, prunes and reads (property)', async () => {
      const store = await fresh();
      await store.putAgent(agent);
      let round = 0;
      type Op = { kind: 'append'; n: number } | { kind: 'prune'; keep: number } | { kind: 'read'; after: number; limit: number };
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 0, max: 4 }) }),
        fc.record({ kind: fc.constant('prune' as const), keep: fc.integer({ min: 0, max: 6 }) }),
        fc.record({ kind: fc.constant('read' as const), after: fc.integer({ min: 0, max: 20 }), limit: fc.integer({ min: 1, max: 5 }) }),
      );
      await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        const agentId = `p${++round}`;
        const lease = (await store.claimAgent(agentId, 'h', 60_000))!;
        let last = 0;
        let pruned = 0;
        for (const o of ops) {
          if (o.kind === 'append') {
            const stored = await store.appendEvents(lease, Array.from({ length: o.n }, (_, i) => event(last + i + 1)));
            expect(stored.map((e) => e.eventId)).toEqual(Array.from({ length: o.n }, (_, i) => last + i + 1));
            last += o.n;
          } else if (o.kind === 'prune') {
            const through = Math.max(pruned, last - o.keep);
            expect(await store.pruneEvents(agentId, o.keep)).toBe(through - pruned);
            pruned = through;
          } else {
            const from = Math.max(o.after, pruned);
            const expected = Array.from({ length: Math.max(0, Math.min(o.limit, last - from)) }, (_, i) => from + i + 1);
            const window = await store.readEvents(agentId, o.after, o.limit);
            expect(window).toMatchObject({ lastEventId: last, prunedThrough: pruned });
            expect(window.events.map((e) => e.eventId)).toEqual(expected);
            expect(window.events.map((e) => e.body)).toEqual(expected.map((n) => event(n).body));
          }
        }
      }), { numRuns: 25 });
    });

    it('unlinks deleted users and agents, and deletes everything of a deleted agent', async () => {
      const store = await fresh();
      await store.putUser({ id: 'u1', userName: 'App', passwordHash: 'h' });
      await store.putAgent(agent);
      await store.putAgent({ ...agent, id: 'a2', users: ['u1', 'u9'] });
      await store.putThrottle({ id: 't1', type: 0, threshold: 5, intervalMs: 1000, agents: ['a1', 'a2'] });
      expect(await store.deleteUser('u1')).toBe(true);
      expect(await store.deleteUser('u1')).toBe(false);
      expect((await store.getAgent('a1'))!.users).toEqual([]);
      expect((await store.getAgent('a2'))!.users).toEqual(['u9']);
      const lease: AgentLease = (await store.claimAgent('a1', 'h', 60_000))!;
      await store.putChannel({ agentId: 'a1', channelId: 'room:a', state: 2 });
      await store.putMetadataValue('a1', 'k', 'v');
      await store.setStatus(lease, { state: 2, instanceId: 'i' });
      await store.appendEvents(lease, [event(1)], { feedId: 'f', ackId: 'a' });
      expect(await store.deleteAgent('a1')).toBe(true);
      expect((await store.getThrottle('t1'))!.agents).toEqual(['a2']);
      expect(await store.deleteAgent('a1')).toBe(false);
      expect(await store.listChannels('a1')).toEqual([]);
      expect(await store.getMetadata('a1')).toEqual(new Map());
      expect(await store.getStatus('a1')).toBeUndefined();
      expect(await store.getCursor('a1')).toBeUndefined();
      expect(await store.readEvents('a1', 0, 10)).toEqual({ events: [], prunedThrough: 0, lastEventId: 0 });
      await expect(store.setStatus(lease, { state: 2, instanceId: 'i' })).rejects.toBeInstanceOf(LeaseLostError);
      // Its lease is gone with it: anyone may claim the id again.
      expect(await store.claimAgent('a1', 'other', 60_000)).toBeDefined();
    });

    it('forgets expired tokens', async () => {
      const store = await fresh();
      await store.putToken({ hash: 'old', username: 'x', agentId: '', expiresAt: 1000 });
      await store.putToken({ hash: 'new', username: 'x', agentId: '', expiresAt: 3000 });
      expect(await store.deleteExpiredTokens(2000)).toBe(1);
      expect(await store.getToken('old')).toBeUndefined();
      expect(await store.getToken('new')).toBeDefined();
    });

    it('rejects every call once closed', async () => {
      const store = await backend.open();
      await store.close();
      await expect(store.listAgents()).rejects.toThrow('closed');
      await expect(store.getToken('x')).rejects.toThrow('closed');
    });
  });
}
