/**
 * `allegro demo` (`npm run demo`, the README's first command): the whole library on one machine with no account
 * anywhere. It starts the sandbox in-process, connects a bot and a second identity, creates a room, stores the
 * bot's state as encrypted objects and reads it back, exchanges encrypted messages through the datafeed, has a
 * plain-REST bot with no crypto of its own talk to Alice through the sandbox's Agent, runs an agent host
 * (./demo-agent-host.ts: MindLink's REST API, provisioning, parts, /Events, 403 and 503), streams a
 * 100 MiB blob through the Object Store with a progress bar, shows that a non-member and a pod without the Object
 * Store entitlement are refused with clear errors, runs an OBO app for two users (./demo-obo.ts), and ends with a
 * summary of timings and throughput. Every step
 * checks what it claims; the exit code is 0 only if all of them did.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { presentationText, RestBot } from '../../bench/rest-bot.js';
import { AllegroClient } from '../../client.js';
import { AllegroError } from '../../errors.js';
import { parseTransport, transportFromBase64 } from '../../crypto/transport.js';
import type { AllegroConfigInput } from '../../config.js';
import type { DatafeedEvent } from '../../pod/datafeed.js';
import { startSandbox, type RunningSandbox } from '../../sandbox/server.js';
import { toHex } from '../../util/bytes.js';
import { formatBytes, ProgressBar } from '../progress.js';
import { oboSteps, type DemoStep } from './demo-obo.js';
import { agentHostSteps } from './demo-agent-host.js';

interface Step {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

/** Options of the demo. */
export interface DemoOptions {
  /** Size of the streamed blob. Default 100 MiB. */
  blobBytes?: number;
  /** Show progress bars. Default: when stderr is a terminal. */
  progress?: boolean;
}

function identity(sandbox: RunningSandbox, username: string): AllegroConfigInput {
  const files = sandbox.identities.get(username)!;
  return { host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } }, bot: { username, privateKey: { path: files.privateKeyPath! } } };
}

/** A deterministic stream of `total` bytes in 1 MiB chunks (constant memory). */
async function* generated(total: number, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  const chunk = new Uint8Array(1024 * 1024);
  for (let offset = 0; offset < total; offset += chunk.length) {
    const n = Math.min(chunk.length, total - offset);
    for (let i = 0; i < n; i += 4096) chunk[i] = (offset + i) & 0xff;
    const piece = chunk.subarray(0, n).slice();
    hash.update(piece);
    yield piece;
  }
}

/** Run the demo, writing its narrative to `out`. Resolves to true when every step succeeded. */
export async function runDemo(out: (line: string) => void, options: DemoOptions = {}): Promise<boolean> {
  const steps: Step[] = [];
  const blobBytes = options.blobBytes ?? 100 * 1024 * 1024;
  const step: DemoStep = async <T>(name: string, run: () => Promise<T>, check: (value: T) => boolean | string, detail?: (value: T) => string): Promise<T | undefined> => {
    const start = performance.now();
    let value: T | undefined;
    let ok = false;
    let why = '';
    try {
      value = await run();
      const verdict = check(value);
      ok = verdict === true;
      if (typeof verdict === 'string') why = verdict;
    } catch (err) {
      why = err instanceof AllegroError ? `${err.code}: ${err.message}` : `unexpected ${err instanceof Error ? err.name : 'error'}`;
    }
    const ms = performance.now() - start;
    const extra = ok && value !== undefined && detail !== undefined ? detail(value) : why;
    steps.push({ name, ok, ms, ...(extra === '' ? {} : { detail: extra }) });
    out(`${ok ? '✔' : '✘'} ${name} (${ms.toFixed(0)} ms)${extra === '' ? '' : `\n    ${extra}`}`);
    return value;
  };

  const sandbox = await startSandbox({ config: { datafeedWaitMs: 1000 } });
  const clients: AllegroClient[] = [];
  try {
    out(`Sandbox (pod + Key Manager + Agent + Object Store) on ${sandbox.podUrl}; nothing leaves this machine.\n`);
    const bot = await step('Bot connects: RSA JWT login, pod info, account', () => AllegroClient.create(identity(sandbox, 'sandbox-bot')), (c) => c.userId > 0,
      (c) => `${c.username}, user id ${c.userId}, pod ${c.podId}`);
    const alice = await step('Alice connects', () => AllegroClient.create(identity(sandbox, 'alice')), (c) => c.userId > 0);
    if (bot === undefined || alice === undefined) return false;
    clients.push(bot, alice);

    const room = await step('Bot creates a room and adds Alice', async () => {
      const id = await bot.pod.createRoom({ name: 'allegro-ts demo', description: 'end-to-end encrypted' });
      await bot.pod.addMember(id, alice.userId);
      return id;
    }, (id) => id.length > 10, (id) => `stream ${id}`);
    if (room === undefined) return false;

    const partition = await step('Bot stores its state as encrypted objects (envelope v1) and updates one', async () => {
      const hash = await bot.objects.partition('demo-bot-state');
      const settings = await bot.objects.put({ partition: hash, sortKey: 'settings', threadId: room, objectType: 'settings', payload: { greeting: 'hello', volume: 7 } });
      await bot.objects.put({ partition: hash, sortKey: 'counter', threadId: room, objectType: 'counter', payload: { count: 1 } });
      await bot.objects.put({ partition: hash, sortKey: 'legacy', threadId: room, objectType: 'note', payload: { format: 'Allegro Format B' }, format: 'allegro' });
      await bot.objects.update(settings, { payload: { greeting: 'hello again', volume: 8 } });
      return hash;
    }, (hash) => hash.length > 0);
    if (partition === undefined) return false;
    await step('Bot reads its state back, decrypted (3 objects, 2 versions of settings)', async () => {
      const all = [];
      for await (const o of bot.objects.list(partition)) all.push(o);
      const settings = all.find((o) => o.sortKey === 'settings')!;
      const versions = [];
      for await (const v of bot.objects.versions(settings.baseHash)) versions.push(v.json<{ greeting: string }>().greeting);
      return { all, settings: settings.json<{ greeting: string }>(), versions };
    }, (r) => r.all.length === 3 && r.settings.greeting === 'hello again' && r.versions.join() === 'hello,hello again',
    (r) => `sort keys ${r.all.map((o) => o.sortKey).join(', ')}; settings versions: ${r.versions.join(' → ')}`);
    await step('The store holds only ciphertext', async () => JSON.stringify(sandbox.store.objectVersions().map((o) => o.body)),
      (stored) => !stored.includes('hello again') && !stored.includes('Allegro Format B'));

    const exchanged = await step('Bot and Alice exchange encrypted messages through the datafeed', async () => {
      const received: DatafeedEvent[] = [];
      const feed = alice.datafeed();
      const done = new Promise<void>((resolve) => {
        void feed.listen((e) => {
          if (e.message !== undefined) received.push(e);
          if (received.length >= 2) resolve();
        });
      });
      while (feed.feedId === undefined) await new Promise((r) => setTimeout(r, 20));
      await bot.pod.send(room, '<messageML>Hello Alice, this is <b>encrypted</b> #demo</messageML>');
      await alice.pod.send(room, 'Hi bot! Only we can read this.');
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([done, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('no messages within 10 s')), 10_000); })]);
      } finally {
        clearTimeout(timer);
        feed.stop();
      }
      return received;
    }, (events) => events.length >= 2 && events.every((e) => e.error === undefined),
    (events) => events.map((e) => `"${e.message!.text}"`).join(' / '));
    if (exchanged !== undefined) {
      const stored = sandbox.store.messages(room)[0]!.posted;
      const t = parseTransport(transportFromBase64(String(stored.text)));
      out(`    what the pod stored: CiphertextTransport v${t.version}, rotation ${t.rotationId}, IV ${toHex(t.iv)}, ${t.ciphertext.length} bytes + tag, key id ${toHex(t.keyId!).slice(0, 16)}…`);
    }

    await step('A plain-REST bot with no crypto of its own sends through the Agent; Alice decrypts it natively, and back', async () => {
      const account = await sandbox.admin.createUser({ username: 'rest-bot', displayName: 'REST Bot', type: 'SYSTEM' });
      await bot.pod.addMember(room, account.userId);
      const rest = await RestBot.login({ baseUrl: sandbox.podUrl, caPem: await readFile(sandbox.caCertPath, 'utf8'), username: 'rest-bot', privateKeyPem: account.privateKeyPem! });
      const stop = new AbortController();
      try {
        let resolveHeard: (text: string) => void = () => undefined;
        const heard = new Promise<string>((resolve) => { resolveHeard = resolve; });
        await rest.listen((e) => {
          const m = e.payload.messageSent?.message;
          if (m !== undefined && m.user.userId === alice.userId) resolveHeard(presentationText(m.message));
        }, stop.signal);
        const sent = await rest.send(room, '<messageML>Hello Alice, the <i>Agent</i> encrypted this for me</messageML>');
        const read = await alice.pod.message(sent.messageId);
        await alice.pod.send(room, '<messageML>Hello REST bot, the Agent decrypts this for you</messageML>');
        let timer: NodeJS.Timeout | undefined;
        try {
          const answer = await Promise.race([heard, new Promise<string>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000); })]);
          return { read: read.text, answer };
        } finally {
          clearTimeout(timer);
        }
      } finally {
        stop.abort();
        rest.close();
      }
    }, (r) => r.read === 'Hello Alice, the Agent encrypted this for me' && r.answer === 'Hello REST bot, the Agent decrypts this for you',
    (r) => `Alice read "${r.read}"; the REST bot's Agent datafeed read "${r.answer}"`);

    await agentHostSteps(step, sandbox, bot, alice, room);

    const hash = createHash('sha256');
    const blob = await step(`Bot streams a ${formatBytes(blobBytes)} blob through the Object Store (64 KiB frames)`, async () => {
      const bar = new ProgressBar('  upload  ', blobBytes, options.progress === false ? { write: () => undefined } : {});
      const start = performance.now();
      const result = await bot.objects.putBlob(generated(blobBytes, hash), { threadId: room, size: blobBytes, onProgress: (n) => bar.advance(n) });
      bar.finish();
      return { ...result, seconds: (performance.now() - start) / 1000 };
    }, (r) => r.size === blobBytes, (r) => `blob ${r.blobId}: ${(blobBytes / 1e6 / r.seconds).toFixed(0)} MB/s`);
    const uploadedDigest = hash.digest('hex');
    if (blob !== undefined) {
      await step('Alice streams it back and decrypts it: same SHA-256', async () => {
        const download = await alice.objects.getBlob(blob.ref);
        const bar = new ProgressBar('  download', download.size, options.progress === false ? { write: () => undefined } : {});
        const digest = createHash('sha256');
        const start = performance.now();
        for await (const chunk of download.content) {
          digest.update(chunk);
          bar.advance(chunk.length);
        }
        bar.finish();
        return { digest: digest.digest('hex'), seconds: (performance.now() - start) / 1000 };
      }, (r) => r.digest === uploadedDigest, (r) => `sha256 ${r.digest.slice(0, 16)}…, ${(blobBytes / 1e6 / r.seconds).toFixed(0)} MB/s`);
    }

    await step('Bob, not in the room, cannot read the bot\'s objects: CONTENT_KEY_UNAVAILABLE naming the thread', async () => {
      const bob = await AllegroClient.create(identity(sandbox, 'bob'));
      clients.push(bob);
      const settings = await bot.objects.getBySortKey(partition, 'settings');
      await bot.objects.partition('demo-bot-state', { readers: [bob.userId] });
      return bob.objects.get(settings.absoluteHash).then(() => 'read it', (err: unknown) => err);
    }, (err) => err instanceof AllegroError && err.code === 'CONTENT_KEY_UNAVAILABLE' && err.message.includes(room), (err) => (err as Error).message);

    await step('A pod without the Object Store entitlement refuses every call: ENTITLEMENT_DISABLED', async () => {
      await sandbox.admin.setObjectStoreEntitlement(false);
      try {
        return await bot.objects.put({ partition, sortKey: 'refused', threadId: room, payload: {} }).then(() => 'stored', (err: unknown) => err);
      } finally {
        await sandbox.admin.setObjectStoreEntitlement(true);
      }
    }, (err) => err instanceof AllegroError && err.code === 'ENTITLEMENT_DISABLED', (err) => (err as Error).message);

    await oboSteps(sandbox, step, (username) => AllegroClient.create(identity(sandbox, username)));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox.close();
  }

  const failed = steps.filter((s) => !s.ok);
  const total = steps.reduce((sum, s) => sum + s.ms, 0);
  out('');
  out(`Summary: ${steps.length - failed.length}/${steps.length} steps succeeded in ${(total / 1000).toFixed(1)} s`);
  for (const s of steps) out(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.ms.toFixed(0).padStart(6)} ms  ${s.name}`);
  return failed.length === 0 && steps.length >= 10;
}
