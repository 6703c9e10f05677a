import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partitionHashOf, partitionOwnerOf, prefixEnd, type ObjectRecord } from '../../../../src/sandbox/store/objects.js';
import type { SandboxStore } from '../../../../src/sandbox/store/store.js';
import { storeWithUsers, T0, U1, U2 } from '../../../helpers/sandbox-store.js';

function obj(baseHash: string, absoluteHash: string, version: number, sortKey: string, partitionHash = 'P', extra: Partial<ObjectRecord> = {}): ObjectRecord {
  return { absoluteHash, baseHash, version, partitionHash, sortKey, owner: U1, createdDate: T0 + version, body: { sortKey, v: version }, ...extra };
}

function tombstone(of: ObjectRecord, absoluteHash: string): ObjectRecord {
  return { ...of, absoluteHash, version: of.version + 1, deletionType: 'LOGICAL', body: { _type: 'deleted', deletionType: 'LOGICAL' } };
}

async function put(store: SandboxStore, ...objects: ObjectRecord[]): Promise<void> {
  await store.write((tx) => {
    for (const o of objects) store.objects.put(tx, o);
  });
}

/** Which object holds each sort key of partition P: the live one, else the latest tombstone. */
function index(store: SandboxStore, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const found = store.objects.bySortKey('P', k);
    if (found !== undefined) out[k] = `${found.baseHash}${found.deletionType === undefined ? '' : ' (deleted)'}`;
  }
  return out;
}

const live = (store: SandboxStore, prefix = '', forwards = true, after?: string) => [...store.objects.live('P', prefix, after, forwards)].map((o) => o.sortKey);

describe('ObjectTable', () => {
  it('put creates version 1, findable by hash, base hash and sort key', async () => {
    const store = await storeWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    await put(store, a1);
    expect(store.objects.version('A')).toEqual(a1);
    expect(store.objects.current('A')).toEqual(a1);
    expect(store.objects.current('B')).toBeUndefined();
    expect(store.objects.liveHolder('P', 'k1')).toBe('A');
    expect(index(store, ['k1'])).toEqual({ k1: 'A' });
    expect(store.objects.countVersions()).toBe(1);
  });

  it('an update chain keeps every version, oldest first, and moves a changed sort key', async () => {
    const store = await storeWithUsers();
    const a3 = obj('A', 'A3', 3, 'k2');
    await put(store, obj('A', 'A', 1, 'k1'));
    await put(store, obj('A', 'A2', 2, 'k1'));
    await put(store, a3);
    expect([...store.objects.versions('A', undefined, true)].map((o) => o.absoluteHash)).toEqual(['A', 'A2', 'A3']);
    expect([...store.objects.versions('A', undefined, false)].map((o) => o.absoluteHash)).toEqual(['A3', 'A2', 'A']);
    expect([...store.objects.versions('A', 1, true)].map((o) => o.version)).toEqual([2, 3]);
    expect(store.view().objectVersions().map((o) => o.absoluteHash)).toEqual(['A', 'A2', 'A3']);
    expect(store.objects.current('A')).toEqual(a3);
    expect(index(store, ['k1', 'k2'])).toEqual({ k2: 'A' });
  });

  it('a logical delete adds a tombstone version that keeps the sort key, but frees it for another object', async () => {
    const store = await storeWithUsers();
    const a1 = obj('A', 'A', 1, 'k1');
    const dead = tombstone(a1, 'A2');
    await put(store, a1, obj('B', 'B', 1, 'k2'));
    await put(store, dead);
    expect(store.objects.version('A')).toEqual(a1);
    expect(store.objects.current('A')).toEqual(dead);
    expect(index(store, ['k1', 'k2'])).toEqual({ k1: 'A (deleted)', k2: 'B' });
    expect(store.objects.liveHolder('P', 'k1')).toBeUndefined();
    expect(live(store)).toEqual(['k2']);
  });

  it('a physical delete removes every version', async () => {
    const store = await storeWithUsers();
    await put(store, obj('A', 'A', 1, 'k1'), obj('B', 'B', 1, 'k2'));
    await put(store, obj('A', 'A2', 2, 'k1'));
    await store.write((tx) => store.objects.deletePhysically(tx, 'A'));
    expect(store.objects.version('A')).toBeUndefined();
    expect(store.objects.version('A2')).toBeUndefined();
    expect(store.objects.current('A')).toBeUndefined();
    expect(index(store, ['k1', 'k2'])).toEqual({ k2: 'B' });
    // Physically deleting a logically deleted object removes its tombstone too.
    await put(store, tombstone(obj('B', 'B', 1, 'k2'), 'B2'));
    await store.write((tx) => store.objects.deletePhysically(tx, 'B'));
    expect(store.objects.countVersions()).toBe(0);
    expect(index(store, ['k1', 'k2'])).toEqual({});
  });

  it('deleting an object whose sort key another object has since taken leaves that object findable', async () => {
    const store = await storeWithUsers();
    const a1 = obj('A', 'A', 1, 'k');
    await put(store, a1);
    await put(store, tombstone(a1, 'A2'));
    await put(store, obj('B', 'B', 1, 'k'));
    expect(index(store, ['k'])).toEqual({ k: 'B' });
    await store.write((tx) => store.objects.deletePhysically(tx, 'A'));
    expect(index(store, ['k'])).toEqual({ k: 'B' });
  });

  it('finds the live object, not the tombstone of an older one, under a shared sort key', async () => {
    const store = await storeWithUsers();
    const b1 = obj('B', 'B', 1, 'k');
    await put(store, obj('A', 'A', 1, 'k1'), b1);
    await put(store, tombstone(b1, 'B2'));
    await put(store, obj('A', 'A2', 2, 'k'));
    expect(index(store, ['k', 'k1'])).toEqual({ k: 'A' });
  });

  it('refuses a second live object under one sort key (unique index), whatever the route checked', async () => {
    const store = await storeWithUsers();
    await put(store, obj('A', 'A', 1, 'k'));
    await expect(put(store, obj('B', 'B', 1, 'k'))).rejects.toThrow(/UNIQUE/);
    expect(store.objects.version('B')).toBeUndefined();
  });

  it('lists live objects by prefix, in code-point order either way, resuming after a key, in batches', async () => {
    const store = await storeWithUsers();
    const keys = ['a', 'ab', 'abc', 'b', 'é', '\u{1F600}', 'a\u{10FFFF}', ...Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, '0')}`)];
    await put(store, ...keys.map((k, i) => obj(`H${i}`, `H${i}`, 1, k)), obj('Q', 'Q', 1, 'a', 'other'));
    const sorted = [...keys].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));
    expect(live(store)).toEqual(sorted);
    expect(live(store, '', false)).toEqual([...sorted].reverse());
    expect(live(store, 'a')).toEqual(['a', 'ab', 'abc', 'a\u{10FFFF}']);
    expect(live(store, 'a', true, 'ab')).toEqual(['abc', 'a\u{10FFFF}']);
    expect(live(store, 'a', false, 'ab')).toEqual(['a']);
    expect(live(store, 'n')).toHaveLength(40);
    expect(live(store, 'zz')).toEqual([]);
  });

  it('stores partitions and finds one by owner and name', async () => {
    const store = await storeWithUsers();
    const partition = { hash: 'P', name: 'notes', owner: U1, permissions: { [String(U2)]: ['READ' as const] } };
    await store.write((tx) => store.objects.setPartition(tx, partition));
    expect(store.objects.partition('P')).toEqual(partition);
    expect(store.objects.partitionNamed(U1, 'notes')).toEqual(partition);
    expect(store.objects.partitionNamed(U2, 'notes')).toBeUndefined();
    await store.write((tx) => store.objects.setPartition(tx, { ...partition, permissions: {} }));
    expect(store.objects.partition('P')!.permissions).toEqual({});
    expect(store.objects.countPartitions()).toBe(1);
  });
});

describe('partition hashes', () => {
  it('name their owner, and differ by owner and name', () => {
    expect(partitionOwnerOf(partitionHashOf('notes', U1))).toBe(U1);
    expect(partitionOwnerOf(partitionHashOf('', U2))).toBe(U2);
    expect(partitionHashOf('notes', U1)).not.toBe(partitionHashOf('notes', U2));
    expect(partitionHashOf('notes', U1)).not.toBe(partitionHashOf('notes2', U1));
    expect(partitionHashOf('notes', U1)).toMatch(/^[A-Za-z0-9_-]{54}$/);
  });

  it('a hash of another form names no owner', () => {
    for (const hash of ['', 'cGFydGl0aW9u', 'not base64!', Buffer.alloc(40).toString('base64url'), Buffer.alloc(41, 1).toString('base64url')]) {
      expect(partitionOwnerOf(hash)).toBeUndefined();
    }
  });
});

describe('prefixEnd', () => {
  it('is the least string above every string with the prefix (property)', () => {
    const codePoints = (s: string) => [...s].map((c) => c.codePointAt(0)!);
    const less = (a: string, b: string) => {
      const x = codePoints(a);
      const y = codePoints(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
      return x.length < y.length;
    };
    const strings = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\u{D7FF}', '\u{E000}', '\u{10FFFF}'), maxLength: 4 });
    fc.assert(fc.property(strings, strings, strings, (prefix, rest, other) => {
      const end = prefixEnd(prefix);
      if (end === undefined) {
        expect(codePoints(prefix).every((c) => c === 0x10ffff)).toBe(true);
        return;
      }
      // Above every string with the prefix…
      expect(less(prefix + rest, end)).toBe(true);
      // …and the least such: a string above the prefix without it is not below the end.
      if (!other.startsWith(prefix) && less(prefix, other)) expect(less(other, end)).toBe(false);
    }), { numRuns: 500 });
    expect(prefixEnd('ab')).toBe('ac');
    expect(prefixEnd('a\u{10FFFF}')).toBe('b');
    expect(prefixEnd('\u{D7FF}')).toBe('\u{E000}');
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined();
    expect(prefixEnd('')).toBeUndefined();
  });
});
