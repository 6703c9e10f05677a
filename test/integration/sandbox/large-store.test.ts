// Defect 1 of issue 9: the wave-1 sandbox serialized its whole state in one JSON string when compacting, which threw
// once the state passed ~512 MiB and left every later start dying on its first write. The SQLite store never
// serializes the whole state: with more than that stored (ALLEGRO_SLOW=1; 16 MiB otherwise), the sandbox restarts,
// accepts writes and serves history. The messages are put in directly through the store (the fast path a
// benchmark would use), then everything else goes over HTTPS.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import { encryptText } from '../../../src/crypto/transport.js';
import { startSandbox } from '../../../src/sandbox/server.js';
import { SandboxStore } from '../../../src/sandbox/store/store.js';
import { accountKey, call, contentKey, login } from '../../helpers/sandbox.js';

const SLOW = process.env.ALLEGRO_SLOW === '1';
const MESSAGE_BYTES = 1024 * 1024;
const MESSAGES = SLOW ? 600 : 16;

describe(`a sandbox holding ${MESSAGES} MiB of messages (defect 1)`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-sandbox-large-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('restarts, accepts writes and serves history', async () => {
    const first = await startSandbox({ dataDir: dir });
    const bot = await login(first, 'sandbox-bot');
    const roomId = (await call(first, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'large' } })).json.roomSystemInfo.id as string;
    await first.close();

    const store = SandboxStore.open(join(dir, 'sandbox.db'));
    const botId = store.users.byName('sandbox-bot')!.id;
    const filler = 'A'.repeat(MESSAGE_BYTES);
    for (let batch = 0; batch < MESSAGES; batch += 50) {
      await store.write((tx) => {
        for (let i = batch; i < Math.min(MESSAGES, batch + 50); i++) {
          store.messages.insert(tx, { messageId: `filler${String(i).padStart(6, '0')}`, streamId: roomId, fromUserId: botId, ingestionDate: 1_000_000 + i, posted: { text: filler } });
        }
      });
    }
    store.close();
    expect((await stat(join(dir, 'sandbox.db'))).size).toBeGreaterThan(MESSAGES * MESSAGE_BYTES);

    for (let round = 0; round < 2; round++) {
      const sandbox = await startSandbox({ dataDir: dir });
      try {
        const who = await login(sandbox, 'sandbox-bot');
        const { accountKey: ak } = await accountKey(sandbox, who);
        const ck = await contentKey(sandbox, who, ak, roomId, 0) as AesKey;
        const text = await encryptText(ck, `after restart ${round}`, { rotationId: 0 });
        const posted = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', {
          headers: who.headers, form: { messagepayload: JSON.stringify({ threadId: Buffer.from(roomId, 'base64url').toString('base64'), text }) },
        });
        expect(posted.status).toBe(200);
        const history = await call(sandbox, 'GET', `/dataquery/api/v3/messages/thread?id=${roomId}&limit=3`, { headers: who.headers });
        expect(history.status).toBe(200);
        expect(history.json.map((m: { message: { text: string } }) => m.message.text).at(-1)).toBe(text);
        expect(sandbox.store.counts().messages).toBe(MESSAGES + round + 1);
      } finally {
        await sandbox.close();
      }
    }
  }, SLOW ? 600_000 : 60_000);
});
