/**
 * `allegro sandbox [--port N] [--data DIR [--force]] [--seed FILE] [--host ADDR] [--control] [--cors-origin ORIGIN]...`: run the sandbox until SIGINT
 * or SIGTERM. Once it accepts connections it prints one line of JSON beginning `{"ready":true` with its URLs, the
 * CA certificate path and the generated client config path; on a signal it shuts down cleanly and exits 0.
 */
import { startSandbox, type SandboxOptions } from '../../sandbox/server.js';

/** Start the sandbox and keep it running until a signal. */
export async function runSandboxCommand(options: SandboxOptions, print: (line: string) => void): Promise<number> {
  // Listen for the signals before anything is printed: a supervisor may signal as soon as it reads the ready line.
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const sandbox = await startSandbox({ ...options, onError: (err) => process.stderr.write(`sandbox: internal error: ${(err as Error)?.stack ?? String(err)}\n`) });
    const { podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port } = sandbox;
    print(JSON.stringify({ ready: true, podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port }));
    await stopped;
    await sandbox.close();
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
