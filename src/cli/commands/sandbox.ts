/**
 * `allegro sandbox [--port N] [--data DIR [--force]] [--seed FILE] [--host ADDR] [--control] [--cors-origin ORIGIN]...`: run the sandbox until SIGINT
 * or SIGTERM. Once it accepts connections it prints one line of JSON beginning `{"ready":true` with its URLs, the
 * CA certificate path, the generated client config path and the seeded OBO app's files (`oboApp`); background work
 * (partner callback deliveries) is logged on stderr; on a signal it shuts down cleanly and exits 0.
 */
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../sandbox/server.js';

/** The sandbox's ready object: `{"ready":true, podUrl, …, caCertPath, configPath, port, oboApp}` (`oboApp`: the seeded OBO app's files). */
export function sandboxReady(sandbox: RunningSandbox): Record<string, unknown> {
  const { podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port } = sandbox;
  const oboApp = [...sandbox.apps.values()][0];
  return { ready: true, podUrl, keyManagerUrl, sessionAuthUrl, keyAuthUrl, objectStoreUrl, agentUrl, caCertPath, configPath, port, ...(oboApp === undefined ? {} : { oboApp }) };
}

/**
 * Start a server, print its ready line, keep it running until SIGINT or SIGTERM, then close it; resolves 0. The
 * signals are listened for before anything is printed: a supervisor may signal as soon as it reads the ready line.
 */
export async function runUntilSignal<T extends { close(): Promise<void> }>(start: () => Promise<T>, ready: (server: T) => Record<string, unknown>, print: (line: string) => void): Promise<number> {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const server = await start();
    print(JSON.stringify(ready(server)));
    await stopped;
    await server.close();
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Start the sandbox and keep it running until a signal. */
export function runSandboxCommand(options: SandboxOptions, print: (line: string) => void): Promise<number> {
  return runUntilSignal(
    () => startSandbox({
      ...options,
      onError: (err) => process.stderr.write(`sandbox: internal error: ${(err as Error)?.stack ?? String(err)}\n`),
      onLog: (line) => process.stderr.write(`sandbox: ${line}\n`),
    }),
    sandboxReady, print,
  );
}
