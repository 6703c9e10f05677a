#!/usr/bin/env node
/**
 * The `allegro` command line: argument parsing and dispatch only; each command lives in ./commands/, the benchmarks
 * in ../bench/.
 * Exit codes: 0 success, 1 a check or step failed, 2 usage error, 3 an AllegroError (its code is printed).
 */
import { existsSync } from 'node:fs';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AllegroError } from '../errors.js';
import type { AeadBackendName } from '../crypto/aead.js';
import { aeadBackendNames } from '../crypto/backends.js';
import { BENCH_NAMES, E2E_PATHS, runBench, saveReport, toHtml, toJson, toMarkdown, type BenchName, type BenchOptions, type BenchReport } from '../bench/index.js';
import { listenCommand, readCommand, sendCommand, streamsCommand } from './commands/chat.js';
import { runDemo } from './commands/demo.js';
import { blobGet, blobPut, objectsGet, objectsList, objectsPut, objectsRemove, objectsVersions } from './commands/objects.js';
import type { OboSession } from '../obo/session.js';
import { connections, im, presence, send, whoami, withOboSession } from './commands/obo.js';
import { hashPasswordCommand, runAgentHostCommand } from './commands/agent-host.js';
import { runSandboxCommand } from './commands/sandbox.js';
import { corsPolicy } from '../sandbox/cors.js';
import { checkVectors, formatVectorReport } from './commands/vectors.js';

const USAGE = `Usage: allegro <command>

Commands:
  demo [--small]                    the whole library on an embedded sandbox (--small: a 4 MiB blob instead of 100 MiB)
  streams [--config FILE]           list the bot's streams
  send STREAM TEXT [--config FILE]  send an encrypted message (MessageML or text)
  read STREAM [--limit N] [--config FILE]
                                    print a stream's last messages, decrypted
  listen [--config FILE]            print decrypted datafeed events until Ctrl-C
  objects put PARTITION SORTKEY (VALUE | --file F) --thread STREAM [--type T]
  objects get (PARTITION SORTKEY | --hash HASH)
  objects ls PARTITION [--prefix P] | objects rm PARTITION SORTKEY [--physical] | objects versions PARTITION SORTKEY
                                    encrypted objects in the Object Store (partitions are the bot's, by name)
  blob put FILE --thread STREAM | blob get BLOB_REF FILE
                                    stream a file through the Object Store, encrypted, with a progress bar
  obo whoami | im USER... | send STREAM TEXT [--file F]... | presence [CATEGORY] | connections [--status S]
      --as USER [--config FILE]     act as USER (an id or a username) through the config's OBO app (its app section)
  sandbox [--port N] [--data DIR [--force]] [--seed FILE] [--host ADDR] [--control] [--cors-origin ORIGIN]...
                                    run a local Symphony pod + Key Manager + Object Store over HTTPS
  agent-host --config FILE [--data DIR] [--port N] | agent-host --sandbox [--data DIR] [--port N]
                                    run the agent host (MindLink-style REST for many Symphony identities); with
                                    --sandbox, against an embedded sandbox with a demo agent
  agent-host hash-password          read a password on stdin, print its scrypt hash (for superUser.passwordHash)
  vectors check FILE                check a Symphony known-answer vector file; ends with "N passed, N failed"
  bench NAME... [--json] [--save DIR] [--html FILE]
                                    benchmarks; NAME is one or more of (or all):
      crypto [--backend NAME]... [--size BYTES]... [--rounds N] [--round-ms N] [--no-limit]
                                    CiphertextTransport throughput per backend vs raw node:crypto and OpenSSL
      sandbox [--memory] [--seconds N] [--concurrency N] [--stored N,N,...] [--idle-feeds N] [--stalled N]
                                    sandbox message submissions/s and content-key fetches/s on loopback; at scale:
                                    by stored messages and idle feeds, restart, disk and RSS, stalled clients
      e2e [--messages N] [--seconds N] [--path native|agent|both]
                                    send → datafeed → read, natively and/or through the Agent: messages/s,
                                    p50/p99 latency, native ÷ agent, crypto share
      blob [--mib N] [--rounds N] [--no-limit]
                                    blob v1 MB/s on 1 thread and all cores vs raw node:crypto and OpenSSL, RSS
      objects [--mib N] [--seconds N] [--concurrency N]
                                    Object Store via the sandbox: object put/get ops/s, blob MB/s, RSS for 4 × N MiB up
      browser [--mib N] [--rounds N] [--round-ms N]
                                    transport and blob decrypt in headless Chromium (WebCrypto, noble) vs Node
      obo [--users N] [--seconds N] [--concurrency N]
                                    OBO user sessions/s with the app token cached vs re-authenticated per user; ops/s
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
  let results: Awaited<ReturnType<typeof checkVectors>>;
  try {
    results = await checkVectors(parsed);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  console.log(formatVectorReport(results));
  return results.every((r) => r.failed === 0) ? 0 : 1;
}

async function benchCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' }, save: { type: 'string' }, html: { type: 'string' },
      backend: { type: 'string', multiple: true }, size: { type: 'string', multiple: true }, rounds: { type: 'string' },
      'round-ms': { type: 'string' }, 'no-limit': { type: 'boolean' }, memory: { type: 'boolean' }, seconds: { type: 'string' },
      concurrency: { type: 'string' }, mib: { type: 'string' }, messages: { type: 'string' }, path: { type: 'string' }, users: { type: 'string' },
      stored: { type: 'string' }, 'idle-feeds': { type: 'string' }, stalled: { type: 'string' },
    },
  });
  const names = positionals.length === 1 && positionals[0] === 'all' ? [...BENCH_NAMES] : positionals;
  const unknown = names.find((n) => !(BENCH_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown !== undefined) {
    throw new UsageError(`${unknown === undefined ? '' : `unknown benchmark ${JSON.stringify(unknown)}; `}usage: allegro bench ${BENCH_NAMES.join('|')}|all [more names] [options]`);
  }
  const backends = aeadBackendNames();
  for (const b of values.backend ?? []) {
    if (!backends.includes(b as AeadBackendName)) throw new UsageError(`unknown backend ${b}; available: ${backends.join(', ')}`);
  }
  const options: BenchOptions = {
    ...(values.backend === undefined ? {} : { backends: values.backend as AeadBackendName[] }),
    ...(values.size === undefined ? {} : { sizes: values.size.map((v) => integerOption('--size', v, 1, 16 * 1024 * 1024)) }),
    ...(values.rounds === undefined ? {} : { rounds: integerOption('--rounds', values.rounds, 1, 100) }),
    ...(values['round-ms'] === undefined ? {} : { roundMs: integerOption('--round-ms', values['round-ms'], 1, 10_000) }),
    ...(values['no-limit'] === true ? { limit: false } : {}),
    ...(values.memory === true ? { memory: true } : {}),
    ...(values.seconds === undefined ? {} : { seconds: secondsOption(values.seconds) }),
    ...(values.concurrency === undefined ? {} : { concurrency: integerOption('--concurrency', values.concurrency, 1, 256) }),
    ...(values.mib === undefined ? {} : { mib: integerOption('--mib', values.mib, 1, 4096) }),
    ...(values.messages === undefined ? {} : { messages: integerOption('--messages', values.messages, 1, 100_000) }),
    ...(values.users === undefined ? {} : { users: integerOption('--users', values.users, 1, 1000) }),
    ...(values.path === undefined ? {} : { path: choiceOption('--path', values.path, E2E_PATHS) }),
    ...(values.stored === undefined ? {} : { stored: storedOption(values.stored) }),
    ...(values['idle-feeds'] === undefined ? {} : { idleFeeds: integerOption('--idle-feeds', values['idle-feeds'], 0, 20) }),
    ...(values.stalled === undefined ? {} : { stalled: integerOption('--stalled', values.stalled, 0, 5000) }),
    ...(values.json === true ? {} : { progress: (line: string) => { process.stderr.write(`  ${line}\n`); } }),
  };
  const reports: BenchReport[] = [];
  for (const name of names as BenchName[]) {
    const report = await runBench(name, options);
    reports.push(report);
    console.log(values.json === true ? toJson(report) : `${toMarkdown(report)}\n`);
    if (values.save !== undefined) await saveReport(values.save, report);
  }
  if (values.html !== undefined) {
    await mkdir(dirname(resolve(values.html)), { recursive: true });
    await writeFile(values.html, toHtml(reports));
  }
  return 0;
}

/** A flag value that must be one of `choices`. */
function choiceOption<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, not ${JSON.stringify(value)}`);
  return value as T;
}

/** An integer flag value from `min` to `max`. */
function integerOption(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return n;
}

/** --stored: ascending levels of stored messages, comma-separated, each from 0 to 10,000,000; empty: none. */
function storedOption(value: string): number[] {
  const levels = value === '' ? [] : value.split(',').map((v) => integerOption('--stored', v.trim(), 0, 10_000_000));
  if (levels.some((n, i) => i > 0 && n <= levels[i - 1]!)) throw new UsageError(`--stored must list ascending levels, not ${JSON.stringify(value)}`);
  return levels;
}

/** --seconds of the load benchmarks: more than 0, at most 60. */
function secondsOption(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 60)) throw new UsageError(`--seconds must be more than 0 and at most 60, not ${JSON.stringify(value)}`);
  return n;
}

async function sandboxCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, host: { type: 'string' }, control: { type: 'boolean' },
      force: { type: 'boolean' }, 'cors-origin': { type: 'string', multiple: true },
    },
  });
  const corsOrigins = values['cors-origin'];
  if (corsOrigins !== undefined) {
    try {
      corsPolicy(corsOrigins);
    } catch (err) {
      throw new UsageError(`--cors-origin: ${(err as Error).message.replace(/^corsOrigins: /, '')}`);
    }
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be an integer from 0 to 65535');
  if (values.data !== undefined && values.force !== true && isGitWorkTreeRoot(values.data)) {
    throw new UsageError(`--data ${values.data} is the root of a git work tree: the sandbox would write private keys, TLS material and its database there, where they are easily committed. Use a directory of its own (say --data .sandbox, ignored by git), or add --force`);
  }
  return runSandboxCommand({
    port,
    ...(values.data === undefined ? {} : { dataDir: values.data }),
    ...(values.seed === undefined ? {} : { seed: values.seed }),
    ...(values.host === undefined ? {} : { host: values.host }),
    control: values.control === true,
    ...(corsOrigins === undefined ? {} : { corsOrigins }),
  }, (line) => console.log(line));
}

async function agentHostCommand(args: string[]): Promise<number> {
  if (args[0] === 'hash-password') {
    if (args.length !== 1) throw new UsageError('usage: allegro agent-host hash-password (the password on stdin)');
    return hashPasswordCommand((line) => console.log(line));
  }
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, data: { type: 'string' }, port: { type: 'string' }, sandbox: { type: 'boolean' } } });
  if ((values.config === undefined) === (values.sandbox !== true)) throw new UsageError('usage: allegro agent-host --config FILE [--data DIR] [--port N] | --sandbox [--data DIR] [--port N]');
  const port = values.port === undefined ? undefined : integerOption('--port', values.port, 0, 65535);
  if (values.data !== undefined && isGitWorkTreeRoot(values.data)) throw new UsageError(`--data ${values.data} is the root of a git work tree: the host would write its database (and with --sandbox, keys) there. Use a directory of its own`);
  return runAgentHostCommand({
    sandbox: values.sandbox === true, ...(values.config === undefined ? {} : { config: values.config }),
    ...(values.data === undefined ? {} : { dataDir: values.data }), ...(port === undefined ? {} : { port }),
  }, (line) => console.log(line));
}

async function objectsCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: {
      config: { type: 'string' }, thread: { type: 'string' }, type: { type: 'string' }, file: { type: 'string' },
      hash: { type: 'string' }, prefix: { type: 'string' }, physical: { type: 'boolean' },
    },
  });
  const config = configFile(values.config);
  const [sub, ...rest] = positionals;
  const print = (line: string) => console.log(line);
  switch (sub) {
    case 'put': {
      if (rest.length < 2 || rest.length > 3 || values.thread === undefined || (rest.length === 3) === (values.file !== undefined)) {
        throw new UsageError('usage: allegro objects put PARTITION SORTKEY (VALUE | --file F) --thread STREAM [--type T]');
      }
      return objectsPut(config, rest[0]!, rest[1]!, values.file !== undefined ? { file: values.file } : { text: rest[2]! }, values.thread, values.type, print);
    }
    case 'get':
      if (values.hash !== undefined && rest.length === 0) return objectsGet(config, { hash: values.hash }, (b) => process.stdout.write(b));
      if (rest.length !== 2) throw new UsageError('usage: allegro objects get (PARTITION SORTKEY | --hash HASH)');
      return objectsGet(config, { partition: rest[0]!, sortKey: rest[1]! }, (b) => process.stdout.write(b));
    case 'ls':
      if (rest.length !== 1) throw new UsageError('usage: allegro objects ls PARTITION [--prefix P]');
      return objectsList(config, rest[0]!, values.prefix, print);
    case 'rm':
      if (rest.length !== 2) throw new UsageError('usage: allegro objects rm PARTITION SORTKEY [--physical]');
      return objectsRemove(config, rest[0]!, rest[1]!, values.physical === true);
    case 'versions':
      if (rest.length !== 2) throw new UsageError('usage: allegro objects versions PARTITION SORTKEY');
      return objectsVersions(config, rest[0]!, rest[1]!, print);
    default:
      throw new UsageError('usage: allegro objects put|get|ls|rm|versions ...');
  }
}

const CONNECTION_STATUSES = ['PENDING_INCOMING', 'PENDING_OUTGOING', 'ACCEPTED', 'REJECTED', 'ALL'] as const;

async function oboCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: { config: { type: 'string' }, as: { type: 'string' }, status: { type: 'string' }, file: { type: 'string', multiple: true } },
  });
  const usage = 'usage: allegro obo whoami | im USER... | send STREAM TEXT [--file F]... | presence [CATEGORY] | connections [--status S] --as USER [--config FILE]';
  const [sub, ...rest] = positionals;
  if (values.as === undefined || values.as === '') throw new UsageError(`--as USER is required; ${usage}`);
  const status = values.status;
  if (status !== undefined && !(CONNECTION_STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status must be one of ${CONNECTION_STATUSES.join(', ')}`);
  if ((values.file !== undefined && sub !== 'send') || (status !== undefined && sub !== 'connections')) throw new UsageError(usage);
  const print = (line: string) => console.log(line);
  let action: ((session: OboSession) => Promise<void>) | undefined;
  if (sub === 'whoami' && rest.length === 0) action = (s) => whoami(s, print);
  else if (sub === 'im' && rest.length > 0) action = (s) => im(s, rest, print);
  else if (sub === 'send' && rest.length === 2) action = (s) => send(s, rest[0]!, rest[1]!, values.file ?? [], print);
  else if (sub === 'presence' && rest.length <= 1) action = (s) => presence(s, rest[0], print);
  else if (sub === 'connections' && rest.length === 0) action = (s) => connections(s, status as (typeof CONNECTION_STATUSES)[number] | undefined, print);
  if (action === undefined) throw new UsageError(usage);
  return withOboSession(configFile(values.config), values.as, action, (line) => console.error(line));
}

async function blobCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' }, thread: { type: 'string' } } });
  const config = configFile(values.config);
  const [sub, ...rest] = positionals;
  if (sub === 'put' && rest.length === 1 && values.thread !== undefined) return blobPut(config, rest[0]!, values.thread, (line) => console.log(line));
  if (sub === 'get' && rest.length === 2) return blobGet(config, rest[0]!, rest[1]!);
  throw new UsageError('usage: allegro blob put FILE --thread STREAM | allegro blob get BLOB_REF FILE (the reference blob put printed)');
}

/**
 * The client config file of a command: --config, else $ALLEGRO_CONFIG. There is no default file: a stale
 * ./config.json from an old sandbox run would otherwise be used silently.
 */
function configFile(given: string | undefined): string {
  const config = given ?? process.env.ALLEGRO_CONFIG;
  if (config === undefined || config === '') {
    throw new UsageError('no client config: give --config FILE or set ALLEGRO_CONFIG (`allegro sandbox` prints a configPath)');
  }
  return config;
}

/** Whether `dir` is the top of a git work tree (it holds a `.git` directory or file). */
function isGitWorkTreeRoot(dir: string): boolean {
  return existsSync(join(dir, '.git'));
}

/** The arguments of the chat commands; the config file as {@link configFile}. */
function chatArgs(args: string[], extra: { limit?: boolean } = {}): { config: string; positionals: string[]; limit: number } {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: { config: { type: 'string' }, ...(extra.limit === true ? { limit: { type: 'string' } } : {}) },
  });
  const limit = Number((values as { limit?: string }).limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be an integer from 1 to 500');
  return { config: configFile(values.config), positionals, limit };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({ args, options: { small: { type: 'boolean' } } });
      return (await runDemo((line) => console.log(line), values.small === true ? { blobBytes: 4 * 1024 * 1024 } : {})) ? 0 : 1;
    }
    case 'vectors':
      return vectorsCommand(args);
    case 'sandbox':
      return sandboxCommand(args);
    case 'agent-host':
      return agentHostCommand(args);
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
    case 'objects':
      return objectsCommand(args);
    case 'blob':
      return blobCommand(args);
    case 'obo':
      return oboCommand(args);
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
    if (err instanceof UsageError || String((err as { code?: unknown } | null)?.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      console.error(`allegro: ${(err as Error).message}\n\n${USAGE}`);
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
