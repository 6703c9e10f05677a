import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POD_WIDE } from '../../../../src/sandbox/store/agent-feeds.js';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';

let store: SandboxStore;
beforeEach(() => {
  store = SandboxStore.open(undefined);
});
afterEach(() => store.close());

describe('AgentFeedTable', () => {
  it('a feed is a Datafeed 2.0 feed of kind datafeed until marked; marks set kind, tag, owner and a datahose filter', async () => {
    await store.write((tx) => {
      store.events.createFeed(tx, 'plain_f', 7, 1000);
      store.events.createFeed(tx, 'tagged_f', 7, 1001);
      store.agentFeeds.mark(tx, 'tagged_f', { kind: 'datafeed', tag: 'bot' });
      store.events.createFeed(tx, 'legacy_f', 7, 1002);
      store.agentFeeds.mark(tx, 'legacy_f', { kind: 'legacy' });
      store.events.createFeed(tx, 'hose_f', POD_WIDE, 1003);
      store.agentFeeds.mark(tx, 'hose_f', { kind: 'datahose', tag: 'compliance', owner: 7, filter: ['MESSAGESENT', 'ROOMCREATED'] });
    });
    expect(store.agentFeeds.get('plain_f')).toMatchObject({ id: 'plain_f', userId: 7, kind: 'datafeed' });
    expect(store.agentFeeds.get('plain_f')).not.toHaveProperty('tag');
    expect(store.agentFeeds.live(7, 'datafeed', 0).map((f) => [f.id, f.tag])).toEqual([['plain_f', undefined], ['tagged_f', 'bot']]);
    expect(store.agentFeeds.live(7, 'legacy', 0).map((f) => f.id)).toEqual(['legacy_f']);
    expect(store.agentFeeds.live(7, 'datafeed', 2000)).toEqual([]); // not read since 2000: expired
    expect(store.agentFeeds.datahose(7, 'compliance', ['MESSAGESENT', 'ROOMCREATED'], 0)).toMatchObject({ id: 'hose_f', userId: POD_WIDE, owner: 7 });
    expect(store.agentFeeds.datahose(7, 'compliance', ['MESSAGESENT'], 0)).toBeUndefined();
    expect(store.agentFeeds.datahose(7, 'compliance', undefined, 0)).toBeUndefined();
    expect(store.agentFeeds.datahose(8, 'compliance', ['MESSAGESENT', 'ROOMCREATED'], 0)).toBeUndefined();
    // Every kind counts as a feed of its user (the per-user limit), but a datahose is the pod-wide recipient's.
    expect(store.events.liveFeeds(7, 0).map((f) => f.id)).toEqual(['plain_f', 'tagged_f', 'legacy_f']);
  });

  it('while a datahose feed is live every event is also addressed to the pod-wide recipient, and only then', async () => {
    const log = () => store.write((tx) => store.events.append(tx, { kind: 'CREATE_ROOM', initiator: 7, timestamp: Date.now(), streamId: 'nobody-is-a-member' }, 0));
    expect(await log()).toBeUndefined(); // no recipient has a feed: nothing kept
    await store.write((tx) => store.events.createFeed(tx, 'hose_f', POD_WIDE, Date.now()));
    const seq = await log();
    expect(seq).toBeGreaterThan(0);
    expect(store.events.forUser(POD_WIDE, 0, 10).map((e) => [e.seq, e.kind])).toEqual([[seq, 'CREATE_ROOM']]);
    expect(await store.write((tx) => store.events.append(tx, { kind: 'CONNECTION_REQUESTED', initiator: 7, timestamp: 1, affectedUserId: 8 }, 0, [8]))).toBeGreaterThan(seq!);
    expect(store.events.forUser(POD_WIDE, seq!, 10).map((e) => e.kind)).toEqual(['CONNECTION_REQUESTED']);
  });
});
