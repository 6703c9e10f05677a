// AllegroClient's life: connect refuses an account without a wall thread (with a typed error, not at the first send),
// and the client forgets its datafeeds once they are stopped, while close() still stops the running ones.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { MalformedResponseError } from '../../../src/errors.js';
import type { Datafeed } from '../../../src/pod/datafeed.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';
import { startRelay } from '../../helpers/relay.js';

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 200 } });
});
afterAll(async () => {
  await sandbox?.close();
});

describe('connect', () => {
  for (const [what, value] of [['no', undefined], ['an empty', ''], ['a non-base64', '***'], ['a numeric', 42]] as const) {
    it(`fails with MALFORMED_RESPONSE when the account answer has ${what} myCurrentThreadId (the wall thread)`, async () => {
      const relay = await startRelay(sandbox, (_method, path, answer, res) => {
        if (!path.startsWith('/webcontroller/maestro/Account')) return false;
        const account = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
        if (value === undefined) delete account.myCurrentThreadId;
        else account.myCurrentThreadId = value;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(account));
        return true;
      });
      try {
        const err = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { pod: relay.component })).then(
          async (client) => { await client.close(); return undefined; }, (e: unknown) => e);
        expect(err).toBeInstanceOf(MalformedResponseError);
        expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', route: 'GET /webcontroller/maestro/Account' });
        expect((err as Error).message).toContain('myCurrentThreadId');
      } finally {
        await relay.close();
      }
    });
  }

  it('connects through the relay when the answer is left alone (the relay itself is transparent)', async () => {
    const relay = await startRelay(sandbox, () => false);
    try {
      const client = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { pod: relay.component }));
      const room = (await client.pod.streams({ types: ['ROOM'] }))[0]!.id;
      expect(await client.pod.send(room, 'through the relay')).toMatch(/^[A-Za-z0-9_-]+$/);
      await client.close();
    } finally {
      await relay.close();
    }
  });
});

describe('datafeeds', () => {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;

  async function collected(ref: WeakRef<Datafeed>): Promise<boolean> {
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    return ref.deref() === undefined;
  }

  it('a stopped datafeed is no longer held by the client; one not stopped is, until close()', async () => {
    const client = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
    let stopped!: WeakRef<Datafeed>;
    let kept!: WeakRef<Datafeed>;
    (() => {
      const feed = client.datafeed();
      stopped = new WeakRef(feed);
      feed.stop();
      kept = new WeakRef(client.datafeed());
    })();
    expect(await collected(stopped)).toBe(true);
    expect(await collected(kept)).toBe(false);
    await client.close();
  });

  it('close() stops a running datafeed', async () => {
    const client = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot'));
    const feed = client.datafeed();
    const listening = feed.listen(() => undefined);
    for (let i = 0; i < 200 && feed.feedId === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    await client.close();
    await expect(listening).resolves.toBeUndefined();
  });
});
