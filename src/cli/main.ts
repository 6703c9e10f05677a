#!/usr/bin/env node
/**
 * The `allegro` command line: argument parsing and dispatch only; each command lives in ./commands/.
 * Exit codes: 0 success, 1 a check or step failed, 2 usage error, 3 an AllegroError (its code is printed).
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AllegroError } from '../errors.js';
import type { AeadBackendName } from '../crypto/aead.js';
import { aeadBackendNames } from '../crypto/backends.js';
import { formatBenchTable, runCryptoBench, type BenchCase } from './commands/bench-crypto.js';
import { formatE2eBench, runE2eBench } from './commands/bench-e2e.js';
import { formatSandboxBench, runSandboxBench } from './commands/bench-sandbox.js';
import { listenCommand, readCommand, sendCommand, streamsCommand } from './commands/chat.js';
import { runDemo } from './commands/demo.js';
import { runSandboxCommand } from './commands/sandbox.js';
import { checkVectors, formatVectorReport } from './commands/vectors.js';

const USAGE = `Usage: allegro <command>

Commands:
  demo                              run the end-to-end crypto demo
  streams [--config FILE]           list the bot's streams
  send STREAM TEXT [--config FILE]  send an encrypted message (MessageML or text)
  read STREAM [--limit N] [--config FILE]
                                    print a stream's last messages, decrypted
  listen [--config FILE]            print decrypted datafeed events until Ctrl-C
  sandbox [--port N] [--data DIR] [--seed FILE] [--host ADDR] [--control]
                                    run a local Symphony pod + Key Manager + Object Store over HTTPS
  vectors check FILE                check a Symphony known-answer vector file; ends with "N passed, N failed"
  bench crypto [--json] [--save DIR] [--backend NAME]...
                                    CiphertextTransport throughput per backend vs raw node:crypto
  bench sandbox [--json] [--save DIR] [--memory] [--seconds N] [--concurrency N]
                                    sandbox message submissions/s and content-key fetches/s on loopback
  bench e2e [--json] [--save DIR]   send → datafeed → decrypt: messages/s, p50/p99 latency, crypto share
  help                              show this text`;

class UsageError extends Error {}

async function vectorsCommand(args: string[]): Promise<number> {
  const [sub, file, ...rest] = args;
  if (sub !== 'check' || file === undefined || rest.length > 0) throw new UsageError('usage: allegro vectors check FILE');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const results = await checkVectors(parsed);
  console.log(formatVectorReport(results));
  return results.every((r) => r.failed === 0) ? 0 : 1;
}

async function benchCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' }, save: { type: 'string' }, backend: { type: 'string', multiple: true },
      memory: { type: 'boolean' }, seconds: { type: 'string' }, concurrency: { type: 'string' },
    },
  });
  if (positionals.length === 1 && positionals[0] === 'sandbox') return benchSandbox(values);
  if (positionals.length === 1 && positionals[0] === 'e2e') {
    const result = await runE2eBench();
    const table = formatE2eBench(result);
    console.log(values.json === true ? JSON.stringify(result) : table);
    if (values.save !== undefined) {
      await mkdir(values.save, { recursive: true });
      await writeFile(join(values.save, 'e2e.json'), `${JSON.stringify({ node: process.version, time: new Date().toISOString(), ...result }, null, 2)}\n`);
      await writeFile(join(values.save, 'e2e.md'), `# allegro bench e2e\n\n${table}\n`);
    }
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'crypto') throw new UsageError('usage: allegro bench crypto|sandbox|e2e [options]');
  const names = aeadBackendNames();
  for (const b of values.backend ?? []) {
    if (!names.includes(b as AeadBackendName)) throw new UsageError(`unknown backend ${b}; available: ${names.join(', ')}`);
  }
  const cases = await runCryptoBench({
    ...(values.backend === undefined ? {} : { backends: values.backend as AeadBackendName[] }),
    onCase: (c) => { if (values.json !== true) process.stderr.write(`  measured ${c.name} ${c.backend} ${c.size} B\n`); },
  });
  const environment = { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: (await import('node:os')).cpus().length, time: new Date().toISOString() };
  const table = formatBenchTable(cases);
  if (values.json === true) console.log(JSON.stringify({ cases: cases.map(roundCase) }));
  else console.log(`CiphertextTransport v3, ${environment.node}, ${environment.cpus} CPUs\n\n${table}`);
  if (values.save !== undefined) {
    await mkdir(values.save, { recursive: true });
    await writeFile(join(values.save, 'crypto.json'), `${JSON.stringify({ environment, cases: cases.map(roundCase) }, null, 2)}\n`);
    await writeFile(join(values.save, 'crypto.md'), `# allegro bench crypto\n\n${JSON.stringify(environment)}\n\n${table}\n`);
  }
  return 0;
}

async function benchSandbox(values: { json?: boolean | undefined; save?: string | undefined; memory?: boolean | undefined; seconds?: string | undefined; concurrency?: string | undefined }): Promise<number> {
  const seconds = Number(values.seconds ?? 3);
  const concurrency = Number(values.concurrency ?? 32);
  if (!(seconds > 0 && seconds <= 60)) throw new UsageError('--seconds must be from 1 to 60');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError('--concurrency must be an integer from 1 to 256');
  const result = await runSandboxBench({ seconds, concurrency, memory: values.memory === true });
  const table = formatSandboxBench(result);
  console.log(values.json === true ? JSON.stringify(result) : table);
  if (values.save !== undefined) {
    await mkdir(values.save, { recursive: true });
    const name = result.persistent ? 'sandbox' : 'sandbox-memory';
    await writeFile(join(values.save, `${name}.json`), `${JSON.stringify({ node: process.version, time: new Date().toISOString(), ...result }, null, 2)}\n`);
    await writeFile(join(values.save, `${name}.md`), `# allegro bench sandbox\n\n${table}\n`);
  }
  return 0;
}

function roundCase(c: BenchCase): BenchCase {
  return { ...c, opsPerSec: Math.round(c.opsPerSec), mbPerSec: Number(c.mbPerSec.toPrecision(4)), ratioToRawNode: Number(c.ratioToRawNode.toFixed(3)) };
}

async function sandboxCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, host: { type: 'string' }, control: { type: 'boolean' } },
  });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be an integer from 0 to 65535');
  return runSandboxCommand({
    port,
    ...(values.data === undefined ? {} : { dataDir: values.data }),
    ...(values.seed === undefined ? {} : { seed: values.seed }),
    ...(values.host === undefined ? {} : { host: values.host }),
    control: values.control === true,
  }, (line) => console.log(line));
}

/** The config file of the chat commands: --config, else $ALLEGRO_CONFIG, else ./config.json. */
function chatArgs(args: string[], extra: { limit?: boolean } = {}): { config: string; positionals: string[]; limit: number } {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: { config: { type: 'string' }, ...(extra.limit === true ? { limit: { type: 'string' } } : {}) },
  });
  const limit = Number((values as { limit?: string }).limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be an integer from 1 to 500');
  return { config: values.config ?? process.env.ALLEGRO_CONFIG ?? 'config.json', positionals, limit };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'demo':
      return (await runDemo((line) => console.log(line))) ? 0 : 1;
    case 'vectors':
      return vectorsCommand(args);
    case 'sandbox':
      return sandboxCommand(args);
    case 'streams': {
      const { config, positionals } = chatArgs(args);
      if (positionals.length !== 0) throw new UsageError('usage: allegro streams [--config FILE]');
      return streamsCommand(config, (line) => console.log(line));
    }
    case 'send': {
      const { config, positionals } = chatArgs(args);
      if (positionals.length !== 2) throw new UsageError('usage: allegro send STREAM TEXT [--config FILE]');
      return sendCommand(config, positionals[0]!, positionals[1]!, (line) => console.log(line));
    }
    case 'read': {
      const { config, positionals, limit } = chatArgs(args, { limit: true });
      if (positionals.length !== 1) throw new UsageError('usage: allegro read STREAM [--limit N] [--config FILE]');
      return readCommand(config, positionals[0]!, limit, (line) => console.log(line));
    }
    case 'listen': {
      const { config, positionals } = chatArgs(args);
      if (positionals.length !== 0) throw new UsageError('usage: allegro listen [--config FILE]');
      return listenCommand(config, (line) => console.log(line), (line) => console.error(line));
    }
    case 'bench':
      return benchCommand(args);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`allegro: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof AllegroError) {
      console.error(`allegro: ${err.code}: ${err.message}`);
      process.exitCode = 3;
    } else {
      console.error('allegro: unexpected failure:', err);
      process.exitCode = 1;
    }
  },
);
