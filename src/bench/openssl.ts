/**
 * The "limit" reference of the crypto and blob benchmarks: OpenSSL's own AES-256-GCM speed on this machine at the
 * same sizes, measured by running `openssl speed` as a child process (one process, and one per core with
 * `-multi`), and parsed from its machine-readable (`-mr`) output. Unavailable, with the reason, when `openssl` is
 * not on the PATH, fails, or prints something unrecognised. docs/cli.md "Benchmarks" describes the flags and why.
 */
import { execFile } from 'node:child_process';
import { formatSize } from './report.js';

/** A direction and message size to measure OpenSSL at. */
export interface LimitPoint {
  direction: 'encrypt' | 'decrypt';
  /** Plaintext bytes per message (`-bytes`). */
  bytes: number;
}

/** OpenSSL's speed at one point, in plaintext bytes per second. */
export interface LimitValue extends LimitPoint {
  oneCore: number;
  /** With one process per core (`-multi`); null on a one-core machine. */
  allCores: number | null;
}

/** The limit of a benchmark run. */
export interface Limit {
  /** `openssl version`, or null when OpenSSL could not be run. */
  version: string | null;
  /** Why there are no values (OpenSSL absent, failed, or unrecognised output), or null. */
  skipped: string | null;
  /** Processes of the all-cores measurement. */
  cores: number;
  values: LimitValue[];
}

/** Options of {@link measureLimit}. */
export interface LimitOptions {
  /** The OpenSSL executable (default `openssl`, looked up on the PATH). */
  command?: string;
  /** Processes of the all-cores measurement (the CPUs available, say); 1 skips it. */
  cores: number;
  /** Seconds per measurement (`-seconds`, an integer ≥ 1; default 1). */
  seconds?: number;
  /** Called before each measurement, e.g. to print progress. */
  progress?: (line: string) => void;
}

/**
 * The arguments of one `openssl speed` run: AES-256-GCM through EVP in the TLS-like AEAD sequence (`-aead`: per
 * message a new IV, AAD, the data and the tag, as every allegro-ts message and frame does), one message size
 * (`-bytes`), wall-clock time as divisor (`-elapsed`, as the Node rows are timed), machine-readable output (`-mr`).
 */
export function speedArgs(point: LimitPoint, processes: number, seconds = 1): string[] {
  return [
    'speed', '-evp', 'aes-256-gcm', '-aead', '-bytes', String(point.bytes), '-seconds', String(seconds), '-elapsed', '-mr',
    ...(point.direction === 'decrypt' ? ['-decrypt'] : []),
    ...(processes > 1 ? ['-multi', String(processes)] : []),
  ];
}

/**
 * Bytes per second for `bytes`-long messages from the stdout of `openssl speed -mr`, or undefined when the output
 * holds no such figure. Reads the last `+F:<n>:<name>:<v1>:<v2>…` line (with `-multi`, the parent's sum of its
 * children; their own lines are prefixed `Got:`) and picks the value for `bytes` by the sizes of the last
 * `+H:<s1>:<s2>…` line (also accepted as `Got: +H:…`), or the only value when there is no such line.
 */
export function parseSpeedOutput(stdout: string, bytes: number): number | undefined {
  let sizes: number[] | undefined;
  let values: number[] | undefined;
  for (const line of stdout.split(/\r?\n/)) {
    const header = /^(?:Got: )?\+H((?::\d+)+)(?: from \d+)?\s*$/.exec(line);
    if (header !== null) sizes = header[1]!.slice(1).split(':').map(Number);
    const figures = /^\+F:\d+:[^:]+((?::[0-9.eE+-]+)+)\s*$/.exec(line);
    if (figures !== null) values = figures[1]!.slice(1).split(':').map(Number);
  }
  if (values === undefined) return undefined;
  const index = sizes === undefined ? (values.length === 1 ? 0 : -1) : sizes.indexOf(bytes);
  const value = values[index];
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

type Run = { ok: true; stdout: string } | { ok: false; reason: string };

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
      if (err === null) resolve({ ok: true, stdout });
      else if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve({ ok: false, reason: `${command} not found on the PATH` });
      else {
        const detail = String(stderr).split(/\r?\n/).find((l) => l.trim() !== '') ?? err.message;
        resolve({ ok: false, reason: `\`${command} ${args.join(' ')}\` failed: ${detail.trim()}` });
      }
    });
  });
}

/** The value measured at `point`, if any. */
export function limitAt(limit: Limit, point: LimitPoint): LimitValue | undefined {
  return limit.values.find((v) => v.direction === point.direction && v.bytes === point.bytes);
}

/**
 * Measure OpenSSL at every point, one after the other (so that nothing else of the benchmark runs meanwhile):
 * one process, then `cores` processes. Takes `seconds` × points × 2. Never throws: a missing or failing OpenSSL
 * gives a limit without values and the reason in `skipped`.
 */
export async function measureLimit(points: readonly LimitPoint[], options: LimitOptions): Promise<Limit> {
  const command = options.command ?? 'openssl';
  const seconds = options.seconds ?? 1;
  const cores = options.cores;
  const timeoutMs = seconds * 1000 + 30_000;
  const version = await run(command, ['version'], timeoutMs);
  if (!version.ok) return { version: null, skipped: version.reason, cores, values: [] };
  const limit: Limit = { version: version.stdout.trim(), skipped: null, cores, values: [] };
  for (const point of points) {
    const speeds: number[] = [];
    for (const processes of cores > 1 ? [1, cores] : [1]) {
      options.progress?.(`limit: openssl speed, AES-256-GCM ${point.direction} ${formatSize(point.bytes)}, ${processes === 1 ? '1 core' : `${processes} cores`}`);
      const args = speedArgs(point, processes, seconds);
      const result = await run(command, args, timeoutMs);
      if (!result.ok) return { ...limit, skipped: result.reason, values: [] };
      const speed = parseSpeedOutput(result.stdout, point.bytes);
      if (speed === undefined) return { ...limit, skipped: `unrecognised output of \`${command} ${args.join(' ')}\``, values: [] };
      speeds.push(speed);
    }
    limit.values.push({ ...point, oneCore: speeds[0]!, allCores: speeds[1] ?? null });
  }
  return limit;
}
