/**
 * The sandbox the load benchmarks (sandbox, e2e, objects) measure: `allegro sandbox` started as a child process, so
 * that its work and the client's do not share one event loop, with a temporary data directory (every acknowledged
 * write fsync'd) or in memory. Loopback only; `stop()` ends the process and removes the directory.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A running sandbox: the fields of its ready line (docs/sandbox.md), and how to stop it. */
export interface SandboxProcess {
  podUrl: string;
  caCertPath: string;
  configPath: string;
  port: number;
  /** Stop the sandbox and remove its data directory. */
  stop(): Promise<void>;
}

/** Start `allegro sandbox` as a child process (with a temporary data directory unless `memory`), with `extraArgs` (`--control`). */
export async function spawnSandbox(memory: boolean, extraArgs: readonly string[] = []): Promise<SandboxProcess> {
  const dataDir = memory ? undefined : await mkdtemp(join(tmpdir(), 'allegro-bench-sandbox-'));
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'sandbox', ...(dataDir === undefined ? [] : ['--data', dataDir]), ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<Omit<SandboxProcess, 'stop'>>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => resolve(JSON.parse(line) as Omit<SandboxProcess, 'stop'>));
      child.once('exit', (code) => reject(new Error(`sandbox exited with ${code} before it was ready`)));
    });
    return { ...ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
