// The lease keeper (src/agent-host/lease.ts) and the leases it relies on, against a real PostgreSQL server (a
// throwaway one, test/helpers/postgres.ts) with several store instances standing for several host processes:
// exclusive acquisition under contention (a property over interleavings), renewal, balancing, takeover after a
// host dies, local give-up when renewals cannot be confirmed, and fencing of the stale owner's writes. The last test
// runs the keeper on the embedded SQLite store, where one process takes every agent.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseKeeper, type LeaseLossReason } from '../../../src/agent-host/lease.js';
import type { SharedAgentHostStore } from '../../../src/agent-host/store/postgres.js';
import { openSqliteStore } from '../../../src/agent-host/store/sqlite.js';
import { LeaseLostError, type AgentLease, type StoredAgent } from '../../../src/agent-host/store/types.js';
import { describePostgres, usePostgresStores } from '../../helpers/postgres.js';

const agentOf = (id: string): StoredAgent => ({ id, userName: id, identity: { kind: 'rsa', username: id, privateKeyEnv: 'KEY' }, users: [], canProvision: false, provisioningMode: 0, managementMode: 0 });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms until it holds or `ms` pass; resolves with the time it took. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await sleep(20);
  }
  return Date.now() - start;
}

/** A keeper and what it was told, standing for one host process. */
class Host {
  readonly running = new Set<string>();
  readonly events: string[] = [];
  readonly keeper: LeaseKeeper;
  readonly store: SharedAgentHostStore;
  constructor(store: SharedAgentHostStore, owner: string, ttlMs: number, intervalMs?: number) {
    this.store = store;
    this.keeper = new LeaseKeeper({
      store, registry: store, owner, url: `http://${owner}.invalid`, ttlMs, ...(intervalMs === undefined ? {} : { intervalMs }),
      onAcquired: (lease) => {
        expect(this.running.has(lease.agentId)).toBe(false);
        this.running.add(lease.agentId);
        this.events.push(`+${lease.agentId}`);
      },
      onLost: (agentId, reason: LeaseLossReason) => {
        expect(this.running.delete(agentId)).toBe(true);
        this.events.push(`-${agentId}:${reason}`);
      },
    });
  }
}

describePostgres('leases on PostgreSQL', () => {
  const pg = usePostgresStores();
  const openStore = pg.open;
  const keepers: LeaseKeeper[] = [];
  const host = async (owner: string, ttlMs: number, intervalMs?: number): Promise<Host> => {
    const h = new Host(await openStore(), owner, ttlMs, intervalMs);
    keepers.push(h.keeper);
    return h;
  };
  afterEach(async () => {
    for (const keeper of keepers.splice(0)) await keeper.stop();
  });

  it('grants a lease to exactly one of many concurrent claimers, whatever the lease held before (property)', async () => {
    const stores3 = [await openStore(), await openStore(), await openStore()];
    let round = 0;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('none', 'live', 'expired', 'released'),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 8 }),
      async (before, claimers) => {
        const agentId = `c${++round}`;
        let previous: AgentLease | undefined;
        if (before !== 'none') {
          previous = (await stores3[0]!.claimAgent(agentId, 'old', before === 'expired' ? 1 : 60_000))!;
          if (before === 'released') await stores3[0]!.releaseLease(previous);
          if (before === 'expired') await sleep(5);
        }
        const results = await Promise.all(claimers.map((s, i) => stores3[s]!.claimAgent(agentId, `h${i}`, 60_000)));
        const winners = results.filter((r) => r !== undefined);
        if (before === 'live') {
          expect(winners).toEqual([]);
          return;
        }
        expect(winners).toHaveLength(1);
        expect(winners[0]!.generation).toBe((previous?.generation ?? 0) + 1);
        const leases = await stores3[1]!.listLeases();
        expect(leases.find((l) => l.agentId === agentId)).toMatchObject({ owner: winners[0]!.owner, generation: winners[0]!.generation });
        if (previous !== undefined) await expect(stores3[2]!.setCursor(previous, { feedId: 'f', ackId: 'x' })).rejects.toBeInstanceOf(LeaseLostError);
      },
    ), { numRuns: 30 });
  });

  it('fences interleaved writes of two owners: a write lands only with the lease current when it commits (property)', async () => {
    const [a, b] = [await openStore(), await openStore()];
    await a.putAgent(agentOf('f1'));
    let round = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(0, 1), fc.constantFrom('claim', 'write', 'release')), { minLength: 1, maxLength: 12 }), async (steps) => {
      const agentId = `f${++round}`;
      const stores2 = [a, b];
      const leases: (AgentLease | undefined)[] = [undefined, undefined];
      let current: AgentLease | undefined;
      let written = 0;
      // Each step starts at once, not waiting for the previous one: claims, writes and releases interleave in the server.
      await Promise.all(steps.map(async ([who, what], i) => {
        await sleep(i % 3);
        const store = stores2[who]!;
        if (what === 'claim') {
          const lease = await store.claimAgent(agentId, `o${who}`, 60_000);
          if (lease !== undefined) {
            leases[who] = lease;
            if (current === undefined || lease.generation > current.generation) current = lease;
          }
        } else if (what === 'release') {
          if (leases[who] !== undefined) await store.releaseLease(leases[who]!);
        } else if (leases[who] !== undefined) {
          const lease = leases[who]!;
          try {
            await store.appendEvents(lease, [{ type: 'message', local: false, time: i, body: { by: lease.owner, generation: lease.generation } }]);
            written++;
          } catch (err) {
            expect(err).toBeInstanceOf(LeaseLostError);
          }
        }
      }));
      // Every event that landed was written with a generation that was current then: generations never go down.
      const { events } = await a.readEvents(agentId, 0, 100);
      expect(events).toHaveLength(written);
      const generations = events.map((e) => e.body.generation as number);
      expect([...generations].sort((x, y) => x - y)).toEqual(generations);
      const row = (await a.listLeases()).find((l) => l.agentId === agentId);
      if (current !== undefined) expect(row?.generation).toBe(current.generation);
      for (const g of generations) expect(g).toBeLessThanOrEqual(current!.generation);
    }), { numRuns: 30 });
  });

  it('renews held leases past their lease time: another owner\'s claims fail throughout', async () => {
    const seed = await openStore();
    for (const id of ['a1', 'a2']) await seed.putAgent(agentOf(id));
    const one = await host('one', 600, 150);
    await one.keeper.start();
    expect([...one.running].sort()).toEqual(['a1', 'a2']);
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      expect(await seed.claimAgent('a1', 'other', 600)).toBeUndefined();
      await sleep(100);
    }
    expect((await seed.listLeases()).map((l) => [l.agentId, l.owner, l.generation])).toEqual([['a1', 'one', 1], ['a2', 'one', 1]]);
    expect(one.events.filter((e) => e.startsWith('-'))).toEqual([]);
  });

  it('balances agents over live hosts, hands them back on a clean stop, and takes a dead host\'s agents over within the lease time', async () => {
    const seed = await openStore();
    for (const id of ['a1', 'a2', 'a3', 'a4']) await seed.putAgent(agentOf(id));
    const ttl = 1000;
    const [one, two, three] = [await host('one', ttl, 200), await host('two', ttl, 200), await host('three', ttl, 200)];
    await one.keeper.start();
    expect(one.running.size).toBe(4);
    await Promise.all([two.keeper.start(), three.keeper.start()]);
    // ⌈4 / 3⌉ = 2 at most each; one hands back one agent per round until it holds its share.
    await within(5000, () => one.running.size <= 2 && one.running.size + two.running.size + three.running.size === 4);
    for (const h of [one, two, three]) expect(h.running.size).toBeLessThanOrEqual(2);
    const all = [...one.running, ...two.running, ...three.running].sort();
    expect(all).toEqual(['a1', 'a2', 'a3', 'a4']);

    // The host holding the most agents dies: its keeper stops without handing anything back, its connections close.
    const [victim, survivor, other] = [one, two, three].sort((x, y) => y.running.size - x.running.size) as [Host, Host, Host];
    const orphans = [...victim.running];
    expect(orphans.length).toBeGreaterThan(0);
    const died = Date.now();
    await victim.keeper.stop();
    await victim.store.close();
    // Taken over once the dead host's leases expired (the lease time) and a round of another host ran (200 ms).
    await within(ttl * 3, () => orphans.every((id) => survivor.running.has(id) || other.running.has(id)));
    console.log(`takeover of ${orphans.length} agent(s) after ${Date.now() - died} ms (lease time ${ttl} ms, rounds every 200 ms)`);
    expect([...survivor.running, ...other.running].sort()).toEqual(['a1', 'a2', 'a3', 'a4']);

    // A clean stop hands the leases back: the other host has them at its next round, before they would expire.
    const handed = [...other.running];
    const stopped = Date.now();
    await other.keeper.stop({ release: true });
    await within(ttl, () => handed.every((id) => survivor.running.has(id)));
    expect(Date.now() - stopped).toBeLessThan(ttl);
    expect(survivor.running.size).toBe(4);
  });

  it('gives a lease up locally before it expires when renewals cannot be confirmed, and the stale owner\'s writes are refused', async () => {
    const seed = await openStore();
    await seed.putAgent(agentOf('a1'));
    const ttl = 800;
    const one = await host('one', ttl, 200);
    await one.keeper.start();
    const stale = one.keeper.leaseOf('a1')!;
    expect(stale).toBeDefined();
    // The database becomes unreachable for "one": its store is closed under it, every renewal fails.
    const gaveUp = Date.now();
    await one.store.close();
    await within(ttl + 400, () => !one.running.has('a1'));
    expect(one.events).toEqual(['+a1', '-a1:expired']);
    // It gave up before the lease expired in the database (the poll above adds up to 20 ms).
    const row = (await seed.listLeases())[0]!;
    expect(Date.now()).toBeLessThanOrEqual(row.expiresAt + 20);
    console.log(`gave the lease up ${Date.now() - gaveUp} ms after the database became unreachable, ${row.expiresAt - Date.now()} ms before it expired there`);

    const two = await host('two', ttl, 200);
    await two.keeper.start();
    await within(ttl * 2, () => two.running.has('a1'));
    const current = two.keeper.leaseOf('a1')!;
    expect(current.generation).toBe(stale.generation + 1);
    await expect(seed.appendEvents(stale, [{ type: 'message', local: false, time: 1, body: {} }], { feedId: 'f', ackId: 'old' })).rejects.toBeInstanceOf(LeaseLostError);
    await seed.appendEvents(current, [{ type: 'message', local: false, time: 2, body: {} }], { feedId: 'f', ackId: 'new' });
    expect(await seed.getCursor('a1')).toEqual({ feedId: 'f', ackId: 'new' });
  });

  it('stops running a deleted agent and reports a lease lost to another owner', async () => {
    const seed = await openStore();
    await seed.putAgent(agentOf('a1'));
    await seed.putAgent(agentOf('a2'));
    const one = await host('one', 60_000, 100);
    await one.keeper.start();
    await seed.deleteAgent('a1');
    await within(2000, () => !one.running.has('a1'));
    // An operator forcing the lease to another owner (its generation moves on): the keeper's next renewal sees it.
    await seed.releaseLease(one.keeper.leaseOf('a2')!);
    expect(await seed.claimAgent('a2', 'intruder', 60_000)).toBeDefined();
    await within(2000, () => !one.running.has('a2'));
    expect([...one.events.slice(0, 2)].sort()).toEqual(['+a1', '+a2']);
    expect(one.events.slice(2)).toEqual(['-a1:deleted', '-a2:lost']);
  });
});

describe('the lease keeper on the embedded SQLite store', () => {
  it('takes every agent (one process), and a lease interval not shorter than the lease time is refused', async () => {
    const store = openSqliteStore();
    for (const id of ['a1', 'a2', 'a3']) await store.putAgent(agentOf(id));
    const running = new Set<string>();
    const keeper = new LeaseKeeper({ store, owner: 'solo', ttlMs: 60_000, onAcquired: (l) => void running.add(l.agentId), onLost: (id) => void running.delete(id) });
    await keeper.start();
    await within(1000, () => running.size === 3);
    expect(keeper.held().sort()).toEqual(['a1', 'a2', 'a3']);
    await keeper.stop({ release: true });
    expect(running.size).toBe(0);
    expect(await store.claimAgent('a1', 'next', 1000)).toBeDefined();
    await store.close();
    expect(() => new LeaseKeeper({ store, owner: 'x', ttlMs: 100, intervalMs: 100, onAcquired: () => undefined, onLost: () => undefined })).toThrow(RangeError);
  });
});
