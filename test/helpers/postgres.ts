// Test helper: a throwaway PostgreSQL server for the tests of the agent host's PostgreSQL store (docs/agent-host.md
// "Scale-out"). `startPostgres()` runs `initdb` into a fresh temp dir and starts `postgres` on 127.0.0.1 with a free
// port and its unix socket in that dir (durability settings left at their defaults); `stop()` ends it and removes the
// dir. PostgreSQL refuses to run as root, so when the tests run as root (CI does) both run as the `postgres` user
// that Debian's `postgresql` package creates. Without the server binaries, `postgresMissing` says what to install, and
// the suites skip themselves with that notice (`describePostgres`). `.ci/run` installs the package when missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import { openPostgresStore, type SharedAgentHostStore } from '../../src/agent-host/store/postgres.js';

/** The server binaries this helper runs. */
interface Binaries {
  initdb: string;
  postgres: string;
  psql: string;
}

/** A running throwaway server. */
export interface RunningPostgres {
  host: '127.0.0.1';
  port: number;
  /** The superuser `initdb` created (password `password`, required over TCP). */
  user: string;
  password: string;
  /** The connection URL of `database` (default `postgres`), password included. */
  url(database?: string): string;
  /** Creates an empty database and returns its name (a fresh one per call). */
  createDatabase(): Promise<string>;
  /** Empties `database` (default `postgres`): drops and recreates its `public` schema. */
  resetDatabase(database?: string): Promise<void>;
  /** Runs SQL statements in `database` (default `postgres`) with psql, as the superuser. */
  sql(statements: string, database?: string): Promise<void>;
  /** Stops the server (fast shutdown) and removes its directory. */
  stop(): Promise<void>;
}

const USER = 'allegro_test';
const PASSWORD = 'password';

/** The directory holding `initdb`, `postgres` and `psql`: `pg_config --bindir`, else Debian's newest, else PATH. */
function findBinaries(): Binaries | undefined {
  const dirs: string[] = [];
  try {
    dirs.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // no pg_config: try the other places
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  dirs.push(...(process.env.PATH ?? '').split(':').filter((d) => d !== ''));
  const dir = dirs.find((d) => ['initdb', 'postgres', 'psql'].every((name) => existsSync(join(d, name))));
  return dir === undefined ? undefined : { initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres'), psql: join(dir, 'psql') };
}

/** The uid and gid of the `postgres` user, when this process is root (PostgreSQL will not run as root). */
function serverUser(): { uid: number; gid: number } | undefined | 'missing' {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  } catch {
    return 'missing';
  }
}

const binaries = findBinaries();
const runAs = serverUser();

/**
 * Why the PostgreSQL tests cannot run here, or undefined when they can. Names what to install.
 */
export const postgresMissing: string | undefined =
  binaries === undefined
    ? 'no PostgreSQL server binaries (initdb, postgres, psql) found via pg_config, /usr/lib/postgresql/*/bin or PATH: install the Debian package `postgresql` (apt-get install -y postgresql)'
    : runAs === 'missing'
      ? 'running as root and there is no `postgres` user to run the server as: install the Debian package `postgresql` (apt-get install -y postgresql), which creates it'
      : undefined;

/** `describe`, skipped with a visible warning when PostgreSQL is missing. */
export function describePostgres(name: string, body: () => void): void {
  warnIfPostgresMissing(name);
  describe.skipIf(postgresMissing !== undefined)(name, body);
}

/** Print why the suite `name` skips its PostgreSQL tests, when it does. */
export function warnIfPostgresMissing(name: string): void {
  if (postgresMissing !== undefined) console.warn(`SKIPPED "${name}" on PostgreSQL: ${postgresMissing}`);
}

/**
 * In a suite: a throwaway server for the suite, emptied before each test, and the stores (host processes' views of
 * the database) a test opens with `open()` closed after it — after the suite's own `afterEach` hooks, which run first.
 */
export function usePostgresStores(): { server(): RunningPostgres; open(): Promise<SharedAgentHostStore> } {
  let server: RunningPostgres | undefined;
  const stores: SharedAgentHostStore[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    await server!.resetDatabase();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  return {
    server: () => server!,
    open: async () => {
      const store = await openPostgresStore({ url: server!.url() });
      stores.push(store);
      return store;
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs `command` as the server's user, failing with its output. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(typeof runAs === 'object' ? runAs : {}) });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

/** Starts `postgres` on `port` and resolves once it accepts connections (or rejects with its log). */
function startServer(bin: Binaries, dataDir: string, socketDir: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin.postgres, ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(typeof runAs === 'object' ? runAs : {}),
    });
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postgres did not start within 60 s:\n${log}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stderr?.removeAllListeners('data');
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited with ${code} before it was ready:\n${log}`));
    });
  });
}

/** Starts a throwaway server (call in `beforeAll`, and `stop()` in `afterAll`). */
export async function startPostgres(): Promise<RunningPostgres> {
  if (binaries === undefined || postgresMissing !== undefined) throw new Error(postgresMissing);
  const dir = mkdtempSync(join(tmpdir(), 'allegro-pg-'));
  const dataDir = join(dir, 'data');
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  if (typeof runAs === 'object') {
    chownSync(dir, runAs.uid, runAs.gid);
    chownSync(passwordFile, runAs.uid, runAs.gid);
  }
  let child: ChildProcess | undefined;
  try {
    await run(binaries.initdb, [
      '-D', dataDir, '-U', USER, `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale',
    ]);
    // A port found free can be taken before the server binds it: try a few.
    for (let attempt = 1; child === undefined; attempt++) {
      const port = await freePort();
      try {
        child = await startServer(binaries, dataDir, dir, port);
        return running(binaries, child, port, dir);
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
    throw new Error('unreachable');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function running(bin: Binaries, child: ChildProcess, port: number, dir: string): RunningPostgres {
  let databases = 0;
  const url = (database = 'postgres'): string => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    host: '127.0.0.1', port, user: USER, password: PASSWORD, url,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      await this.sql(`CREATE DATABASE ${name}`);
      return name;
    },
    resetDatabase(database = 'postgres') {
      return this.sql('DROP SCHEMA public CASCADE; CREATE SCHEMA public;', database);
    },
    sql(statements, database = 'postgres') {
      // Over the unix socket (trust), so no client library is needed here.
      return run(bin.psql, ['-q', '-h', dir, '-p', String(port), '-U', USER, '-d', database, '-v', 'ON_ERROR_STOP=1', '-c', statements]);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
