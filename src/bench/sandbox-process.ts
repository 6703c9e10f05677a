/**
 * The sandbox the load benchmarks (sandbox, e2e, objects, obo) measure: `allegro sandbox` started as a child process, so
 * that its work and the client's do not share one event loop, with a data directory (every acknowledged write
 * committed synchronously; a temporary one unless given) or in memory. Loopback only; `stop()` ends the process and
 * removes a temporary directory.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A running sandbox: the fields of its ready line (docs/sandbox.md), its process id, and how to stop it. */
export interface SandboxProcess {
  podUrl: string;
  caCertPath: string;
  configPath: string;
  port: number;
  pid: number;
  /** Stop the sandbox (SIGTERM: it finishes its queued writes) and remove its data directory if temporary. */
  stop(): Promise<void>;
}

/**
 * Start `allegro sandbox` as a child process: in memory with `memory`, else on `dataDir` (kept at stop) or on a
 * temporary data directory (removed at stop); with `extraArgs` (`--control`).
 */
export async function spawnSandbox(memory: boolean, dataDir?: string, extraArgs: readonly string[] = []): Promise<SandboxProcess> {
  const temporary = memory || dataDir !== undefined ? undefined : await mkdtemp(join(tmpdir(), 'allegro-bench-sandbox-'));
  const dir = memory ? undefined : dataDir ?? temporary;
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'sandbox', ...(dir === undefined ? [] : ['--data', dir]), ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<Omit<SandboxProcess, 'stop' | 'pid'>>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => resolve(JSON.parse(line) as Omit<SandboxProcess, 'stop' | 'pid'>));
      child.once('exit', (code) => reject(new Error(`sandbox exited with ${code} before it was ready`)));
    });
    return { ...ready, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The resident set size of process `pid` in bytes (Linux `/proc`), or undefined where it cannot be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
