/**
 * `allegro sandbox [--port N] [--data DIR [--force]] [--seed FILE] [--host ADDR] [--control] [--cors-origin ORIGIN]...`: run the sandbox until SIGINT
 * or SIGTERM. Once it accepts connections it prints one line of JSON beginning `{"ready":true` with its URLs, the
 * CA certificate path, the generated client config path and the seeded OBO app's files (`oboApp`); background work
 * (partner callback deliveries) is logged on stderr; on a signal it shuts down cleanly and exits 0.
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
    const sandbox = await startSandbox({
      ...options,
      onError: (err) => process.stderr.write(`sandbox: internal error: ${(err as Error)?.stack ?? String(err)}\n`),
      onLog: (line) => process.stderr.write(`sandbox: ${line}\n`),
    });
    const { podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port } = sandbox;
    const oboApp = [...sandbox.apps.values()][0];
    print(JSON.stringify({ ready: true, podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port, ...(oboApp === undefined ? {} : { oboApp }) }));
    await stopped;
    await sandbox.close();
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
