import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Journal } from '../../../src/sandbox/journal.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'allegro-journal-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Open, and return the full state: the snapshot (an array of everything before it) then the records. */
async function reopen(dir: string, compactBytes?: number) {
  const opened = await Journal.open<number, number[]>(compactBytes === undefined ? { dir } : { dir, compactBytes });
  return { journal: opened.journal, state: [...(opened.snapshot ?? []), ...opened.records], opened };
}

describe('Journal', () => {
  it('replays appended records after close and reopen, and refuses work once closed', async () => {
    const dir = join(await tempDir(), 'nested', 'journal');
    const first = await Journal.open<{ n: number }, never>({ dir });
    expect(first.snapshot).toBeUndefined();
    expect(first.records).toEqual([]);
    await first.journal.append({ n: 1 });
    await Promise.all([first.journal.append({ n: 2 }), first.journal.append({ n: 3 })]);
    const closing = first.journal.close();
    expect(first.journal.close()).toBe(closing);
    await expect(first.journal.append({ n: 4 })).rejects.toThrow(/closed/);
    await closing;
    expect(existsSync(join(dir, 'lock'))).toBe(false);

    const second = await Journal.open<{ n: number }, never>({ dir });
    expect(second.records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await second.journal.close();
  });

  it('rejects a record or snapshot without a JSON form, and nothing else', async () => {
    const dir = await tempDir();
    const { journal } = await Journal.open<unknown, unknown>({ dir });
    const good = journal.append('kept');
    await expect(journal.append(undefined)).rejects.toThrow(TypeError);
    await expect(journal.append(10n)).rejects.toThrow(TypeError);
    await expect(journal.compact(() => 0)).rejects.toThrow(TypeError);
    await good;
    await journal.close();
    const reopened = await Journal.open({ dir });
    await reopened.journal.close();
    expect(reopened.records).toEqual(['kept']);
  });

  it('combines the snapshot and the current log across compactions, deleting old logs', async () => {
    const dir = await tempDir();
    let { journal } = await reopen(dir, 20);
    for (let i = 0; i < 10; i++) await journal.append(i);
    expect(journal.needsCompaction).toBe(false); // 20 bytes
    await journal.append(10);
    expect(journal.needsCompaction).toBe(true); // 23 bytes > 20
    await journal.compact([...Array(11).keys()]);
    expect(journal.needsCompaction).toBe(false);
    await journal.append(11);
    await journal.close();
    expect((await readdir(dir)).sort()).toEqual(['journal-1.log', 'snapshot.json']);

    let state;
    ({ journal, state } = await reopen(dir));
    expect(state).toEqual([...Array(12).keys()]);
    const pending = journal.append(12); // appended before the compaction call, so inside its snapshot
    const compacted = journal.compact([...Array(13).keys()]);
    const after = journal.append(13); // after the call: goes to the new log
    await Promise.all([pending, compacted, after]);
    await journal.close();
    expect((await readdir(dir)).sort()).toEqual(['journal-2.log', 'snapshot.json']);
    expect(JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8'))).toEqual({ generation: 2, snapshot: [...Array(13).keys()] });
    ({ journal, state } = await reopen(dir));
    expect(state).toEqual([...Array(14).keys()]);
    await journal.close();
  });

  it('ignores and truncates a torn last line, then keeps appending cleanly', async () => {
    const dir = await tempDir();
    let { journal } = await reopen(dir);
    await journal.append(1);
    await journal.append(2);
    await journal.close();
    const log = join(dir, 'journal-0.log');
    await appendFile(log, '{"torn":');
    let state;
    ({ journal, state } = await reopen(dir));
    expect(state).toEqual([1, 2]);
    expect((await stat(log)).size).toBe(4);
    await journal.append(3);
    await journal.close();
    expect(await readFile(log, 'utf8')).toBe('1\n2\n3\n');
  });

  it('refuses to open a log with a corrupt complete line, and releases the lock', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'journal-0.log'), '1\n{oops\n3\n');
    await expect(Journal.open({ dir })).rejects.toThrow(/journal-0\.log: line 2 \(bytes 2-7\) is corrupt/);
    // invalid UTF-8 is corruption too, not a string to decode loosely
    await writeFile(join(dir, 'journal-0.log'), Buffer.from([0x31, 0x0a, 0x22, 0xff, 0x22, 0x0a]));
    await expect(Journal.open({ dir })).rejects.toThrow(/line 2 .* is corrupt/);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it('recovers from every crash point of a compaction', async () => {
    const snapshot = (generation: number, state: number[]) => JSON.stringify({ generation, snapshot: state });
    const cases: { files: Record<string, string>; state: number[]; left: string[] }[] = [
      // crashed while writing the temporary snapshot
      { files: { 'journal-0.log': '1\n2\n', 'snapshot.json.tmp': '{"generation":1,"snap' }, state: [1, 2], left: ['journal-0.log'] },
      // crashed after the rename, before the new log exists
      { files: { 'snapshot.json': snapshot(1, [1, 2]), 'journal-0.log': '1\n2\n' }, state: [1, 2], left: ['journal-1.log', 'snapshot.json'] },
      // crashed after creating the new log, before deleting the old one
      { files: { 'snapshot.json': snapshot(2, [1, 2]), 'journal-1.log': '2\n', 'journal-2.log': '3\n' }, state: [1, 2, 3], left: ['journal-2.log', 'snapshot.json'] },
    ];
    for (const { files, state, left } of cases) {
      const dir = await tempDir();
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
      const opened = await reopen(dir);
      expect(opened.state).toEqual(state);
      await opened.journal.close();
      expect((await readdir(dir)).sort()).toEqual(left);
    }
  });

  it('refuses a log newer than the snapshot and a damaged snapshot', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'journal-3.log'), '1\n');
    await expect(Journal.open({ dir })).rejects.toThrow(/journal-3\.log is newer than the snapshot \(generation 0\)/);
    await writeFile(join(dir, 'snapshot.json'), '{"generation":1');
    await expect(Journal.open({ dir })).rejects.toThrow(/snapshot\.json is not valid JSON/);
    await writeFile(join(dir, 'snapshot.json'), '{"snapshot":[]}');
    await expect(Journal.open({ dir })).rejects.toThrow(/lacks a positive integer "generation"/);
  });

  it('keeps the order of concurrent appends and commits them in groups', async () => {
    const dir = await tempDir();
    const { journal } = await reopen(dir);
    const probe = await open(join(dir, 'probe'), 'w');
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync(): Promise<void> }, 'datasync');
    await probe.close();
    const writers = Array.from({ length: 50 }, async (_, w) => {
      for (let i = 0; i < 20; i++) await journal.append(w * 20 + i);
    });
    const burst = Array.from({ length: 1000 }, (_, i) => journal.append(1000 + i));
    await Promise.all([...writers, ...burst]);
    expect(datasync.mock.calls.length).toBeLessThan(100);
    await journal.close();
    const { state, journal: again } = await reopen(dir);
    expect(state).toHaveLength(2000);
    expect(state.filter((n) => n >= 1000)).toEqual([...Array(1000).keys()].map((i) => 1000 + i));
    for (let w = 0; w < 50; w++) {
      expect(state.filter((n) => n < 1000 && Math.floor(n / 20) === w)).toEqual([...Array(20).keys()].map((i) => w * 20 + i));
    }
    await again.close();
  });

  it('rejects the whole batch when fsync fails, then every later call, and recovers on reopen', async () => {
    const dir = await tempDir();
    const { journal } = await reopen(dir);
    await journal.append(1);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    vi.spyOn(proto, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    const batch = [journal.append(2), journal.append(3)];
    for (const append of batch) await expect(append).rejects.toThrow(/failed \(EIO: i\/o error, fsync\).*open the directory again/);
    await expect(journal.append(4)).rejects.toThrow(/failed/);
    await expect(journal.compact([1])).rejects.toThrow(/failed/);
    await journal.close();
    const { state, journal: again } = await reopen(dir);
    expect(state.slice(0, 1)).toEqual([1]); // 2 and 3 were never acknowledged: they may or may not be here
    await again.close();
  });

  it('allows one writer per directory and takes over the lock of a dead process', async () => {
    const dir = await tempDir();
    const { journal } = await reopen(dir);
    await expect(Journal.open({ dir })).rejects.toThrow(/locked by this process, which is still running/);
    await journal.close();

    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(join(dir, 'lock'), `${dead}\n`);
    const takeover = await reopen(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await takeover.journal.close();

    await writeFile(join(dir, 'lock'), ''); // its creator died before writing its pid
    const empty = await reopen(dir);
    await empty.journal.close();
    expect(await readdir(dir)).toEqual(['journal-0.log']);
  });

  it('returns exactly the appended sequence after any interleaving of appends, compactions and reopens', async () => {
    const dir = await tempDir();
    let next = 0;
    const action = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => ({ kind: 'append' as const, n })) },
      { weight: 2, arbitrary: fc.constant({ kind: 'compact' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 25 }), async (actions) => {
        await rm(dir, { recursive: true, force: true });
        let { journal } = await reopen(dir);
        const appended: number[] = [];
        let inFlight: Promise<void>[] = [];
        for (const step of actions) {
          if (step.kind === 'append') {
            for (let i = 0; i < step.n; i++) {
              appended.push(next);
              inFlight.push(journal.append(next++));
            }
          } else if (step.kind === 'compact') {
            inFlight.push(journal.compact([...appended]));
          } else if (step.kind === 'settle') {
            await Promise.all(inFlight);
            inFlight = [];
          } else {
            await journal.close();
            await Promise.all(inFlight);
            inFlight = [];
            const opened = await reopen(dir);
            expect(opened.state).toEqual(appended);
            journal = opened.journal;
          }
        }
        await journal.close();
        await Promise.all(inFlight);
        const opened = await reopen(dir);
        await opened.journal.close();
        expect(opened.state).toEqual(appended);
      }),
      { numRuns: 40 },
    );
  });
});

describe('Journal under kill -9', () => {
  const built = fileURLToPath(new URL('../../../dist/sandbox/journal.js', import.meta.url));
  const source = fileURLToPath(new URL('../../../src/sandbox/journal.ts', import.meta.url));

  beforeAll(() => {
    // `npm test` builds first; a direct `vitest run` may find no build, or one older than the source.
    if (existsSync(built) && statSync(built).mtimeMs >= statSync(source).mtimeMs) return;
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  });

  /** A writer that continues the sequence it recovers, 20 appenders at a time, compacting every 250 records. */
  const CHILD = `
    import { Journal } from ${JSON.stringify(new URL('../../../dist/sandbox/journal.js', import.meta.url).href)};
    const { journal, snapshot, records } = await Journal.open({ dir: process.argv[2] });
    const state = [...(snapshot ?? []), ...records];
    let next = state.length;
    const fail = (error) => { console.error(error); process.exit(1); };
    await Promise.all(Array.from({ length: 20 }, async () => {
      for (;;) {
        const n = next++;
        state.push(n);
        const acknowledged = journal.append(n);
        if (n % 250 === 249) journal.compact([...state]).catch(fail);
        await acknowledged;
        process.stdout.write(n + '\\n');
      }
    })).catch(fail);
  `;

  /** Run the writer until it has acknowledged `count` records, SIGKILL it, and return what it acknowledged. */
  async function runAndKill(script: string, dir: string, count: number): Promise<number[]> {
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<void>((resolveExit) => child.on('exit', () => resolveExit()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').length > count) child.kill('SIGKILL');
    });
    await exited;
    expect(err).toBe('');
    expect(child.signalCode).toBe('SIGKILL');
    return out.split('\n').slice(0, -1).map(Number); // a last line without newline was not fully printed
  }

  it('keeps every acknowledged record across repeated crashes', async () => {
    const dir = await tempDir();
    const script = join(dir, 'writer.mjs');
    await writeFile(script, CHILD);
    const journalDir = join(dir, 'journal');
    for (const count of [300, 1100, 700]) {
      const acknowledged = await runAndKill(script, journalDir, count);
      expect(acknowledged.length).toBeGreaterThanOrEqual(count);
      const { state, journal } = await reopen(journalDir);
      await journal.close();
      expect(state).toEqual([...state.keys()]);
      expect(state.length).toBeGreaterThan(Math.max(...acknowledged));
    }
  });
});
