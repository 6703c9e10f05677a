import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SandboxStore } from '../../../../src/sandbox/store/store.js';

let store: SandboxStore;
beforeEach(() => {
  store = SandboxStore.open(undefined);
});
afterEach(() => store.close());

describe('MessageEditTable', () => {
  it('names a message\'s latest replacement', async () => {
    expect(store.edits.replacedBy('m1')).toBeUndefined();
    await store.write((tx) => store.edits.replace(tx, 'm1', 'm2'));
    expect(store.edits.replacedBy('m1')).toBe('m2');
    await store.write((tx) => store.edits.replace(tx, 'm1', 'm3'));
    expect(store.edits.replacedBy('m1')).toBe('m3');
    expect(store.edits.replacedBy('m2')).toBeUndefined();
  });

  it('keeps the first suppression of a message', async () => {
    expect(await store.write((tx) => store.edits.suppress(tx, { messageId: 'm1', by: 7, at: 100 }))).toBe(true);
    expect(await store.write((tx) => store.edits.suppress(tx, { messageId: 'm1', by: 8, at: 200 }))).toBe(false);
    expect(store.edits.suppression('m1')).toEqual({ messageId: 'm1', by: 7, at: 100 });
    expect(store.edits.suppression('m2')).toBeUndefined();
  });

  it('writes only inside a write closure', () => {
    let handle: Parameters<Parameters<SandboxStore['write']>[0]>[0] | undefined;
    return store.write((tx) => { handle = tx; }).then(() => {
      expect(() => store.edits.replace(handle!, 'a', 'b')).toThrow(/after its closure returned/);
    });
  });
});
