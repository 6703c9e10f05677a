// The datafeed's options against the sandbox: a maxBackoffMs below the 200 ms initial backoff caps the first delay too,
// and options that are not positive integers are refused when the feed is made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { identityConfig } from '../../helpers/client.js';

let sandbox: RunningSandbox;
let bot: AllegroClient;

beforeAll(async () => {
  sandbox = await startSandbox({ config: { datafeedWaitMs: 200 } });
  // No HTTP-level retries: every injected failure reaches the datafeed loop.
  bot = await AllegroClient.create(identityConfig(sandbox, 'sandbox-bot', { retry: { maxAttempts: 1 } }));
});
afterAll(async () => {
  await bot?.close();
  await sandbox?.close();
});

describe('datafeed backoff', () => {
  it('never waits longer than maxBackoffMs, the first delay included', async () => {
    sandbox.faults.add({ path: '/datafeed2/', status: 503 });
    const delays: number[] = [];
    const feed = bot.datafeed({ maxBackoffMs: 50, onError: (_err, retryInMs) => {
      delays.push(retryInMs);
      if (delays.length === 4) feed.stop();
    } });
    await feed.listen(() => undefined);
    sandbox.faults.clear();
    expect(delays).toHaveLength(4);
    expect(Math.max(...delays)).toBeLessThanOrEqual(50);
  });

  it('refuses a maxBackoffMs or dedupEntries that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '5']) {
      expect(() => bot.datafeed({ maxBackoffMs: bad as number })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'options.maxBackoffMs' }));
      expect(() => bot.datafeed({ dedupEntries: bad as number })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', parameter: 'options.dedupEntries' }));
    }
  });
});
