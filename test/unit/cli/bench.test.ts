// Smoke tests of `allegro bench` through the built CLI (dist/, built by `npm test`'s pretest): tiny runs, no timing
// asserted; a fake openssl on the PATH stands in for the real one (test/helpers/fake-openssl.ts).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_SCHEMA, type BenchReport } from '../../../src/bench/report.js';
import { useFakeOpenssl } from '../../helpers/fake-openssl.js';

const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');
const TINY = ['--size', '64', '--backend', 'node', '--rounds', '1', '--round-ms', '2'];

function allegro(args: string[], path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, PATH: path }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe.skipIf(process.platform === 'win32')('allegro bench', () => {
  const openssl = useFakeOpenssl();
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'allegro-bench-cli-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('crypto --json --save --html: one JSON line on stdout, NAME.json and NAME.md saved, a page with charts', async () => {
    const html = join(dir, 'pages', 'crypto.html');
    const { code, stdout, stderr } = await allegro(['bench', 'crypto', ...TINY, '--json', '--save', join(dir, 'results'), '--html', html], `${openssl().dir}${delimiter}${process.env.PATH}`);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as BenchReport;
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.environment.openssl).toBe('OpenSSL 9.9.9 fake');
    expect(report.tables[0]!.rows.map((r) => r.implementation)).toEqual(expect.arrayContaining(['raw node:crypto', 'allegro-ts node', 'OpenSSL, 1 core']));
    expect((await readdir(join(dir, 'results'))).sort()).toEqual(['crypto.json', 'crypto.md']);
    expect((JSON.parse(await readFile(join(dir, 'results', 'crypto.json'), 'utf8')) as BenchReport).tables).toEqual(report.tables);
    expect(await readFile(join(dir, 'results', 'crypto.md'), 'utf8')).toMatch(/^# allegro bench crypto: /);
    const page = await readFile(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<svg ');
    expect(page).toContain('OpenSSL, 1 core');
  });

  it('sandbox --json with a tiny scale part: the operations, the three scale tables and the per-message note', async () => {
    const { code, stdout } = await allegro(['bench', 'sandbox', '--seconds', '0.2', '--concurrency', '2', '--stored', '0,300', '--idle-feeds', '2', '--stalled', '3', '--json'], process.env.PATH ?? '');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as BenchReport;
    expect(report.name).toBe('sandbox');
    expect(report.tables.map((t) => t.title)).toEqual([
      'operations', 'message submissions by stored messages and idle feeds', 'restart, disk and memory by stored messages',
      'a normal client while 3 stalled readers and 3 slowloris connections are open (300 stored messages)',
    ]);
    expect(report.tables[1]!.rows.map((r) => [r.stored, r.feeds])).toEqual([[0, 0], [0, 2], [300, 0], [300, 2]]);
    expect(report.tables[1]!.rows.every((r) => (r.opsPerSec as number) > 0)).toBe(true);
    expect(report.tables[2]!.rows.map((r) => r.stored)).toEqual([0, 300]);
    expect(report.notes.join('\n')).toMatch(/between 0 and 300 stored messages: -?\d+ bytes on disk/);
    expect(await allegro(['bench', 'sandbox', '--stored', '5,1'], process.env.PATH ?? '')).toMatchObject({ code: 2, stderr: expect.stringContaining('--stored must list ascending levels') });
  }, 120_000);

  it('several at once, without openssl on the PATH: Markdown reports in turn, the limit not measured, progress on stderr, one page', async () => {
    const html = join(dir, 'two.html');
    const { code, stdout, stderr } = await allegro(['bench', 'crypto', 'blob', ...TINY, '--mib', '1', '--html', html], join(dir, 'empty'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^# allegro bench crypto: [^]*\n# allegro bench blob: /);
    expect(stdout).toContain('| 64 B | allegro-ts node |');
    expect(stdout).toContain('- limit: not measured (openssl not found on the PATH); the × limit columns are empty');
    expect(stderr).toContain('measured encrypt 64 B: raw, node');
    const page = await readFile(html, 'utf8');
    expect(page).toContain('<section id="crypto">');
    expect(page).toContain('<section id="blob">');
  });

  it('refuses unknown benchmarks and out-of-range flags with exit code 2', async () => {
    const cases = [['bench'], ['bench', 'all', 'bogus'], ['bench', 'crypto', '--size', '1.5'], ['bench', 'objects', '--concurrency', '999']];
    const results = await Promise.all(cases.map((args) => allegro(args, '')));
    for (const [i, { code, stderr }] of results.entries()) {
      expect(code, cases[i]!.join(' ')).toBe(2);
      expect(stderr, cases[i]!.join(' ')).toMatch(/^allegro: /);
    }
  });
});
