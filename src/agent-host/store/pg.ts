/**
 * The agent host's one door to PostgreSQL (`pg`, node-postgres 8): a connection pool, transactions, and a listening
 * connection for `NOTIFY` (docs/agent-host.md "Scale-out"). No other module imports `pg`.
 *
 * - {@link PgDatabase.transaction} runs a function in `BEGIN … COMMIT` on one pooled connection (`ROLLBACK` when it
 *   throws), and runs it again (up to 5 times) when PostgreSQL aborts it as a serialization failure or a deadlock.
 * - 64-bit integers (`bigint` columns, `count(*)`) are read as JavaScript numbers (the host's ids and epoch
 *   milliseconds stay far below 2^53); everything else as `pg` reads it.
 * - Connection failures become {@link AllegroError}s that name the server, the database and the user (never the
 *   password, never the URL): `NETWORK_ERROR` when the server cannot be reached, `AUTHENTICATION_FAILED` when it
 *   refuses the credentials, `INVALID_CONFIG` when the database does not exist.
 */
import pg from 'pg';
import { AllegroError, type NetworkFailureReason } from '../../errors.js';

/** Where the database is: a `postgresql://` URL, or its parts (the password always separately). */
export interface PgConnectionOptions {
  /** A `postgresql://user@host:port/database` URL; its parts below override it. */
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** The password (read by the caller from the environment variable the configuration names). */
  password?: string;
  /** At most this many pooled connections (default 10), plus one for `LISTEN`. */
  maxConnections?: number;
  /** How long to wait for a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Shown in `pg_stat_activity` (default `allegro agent-host`). */
  applicationName?: string;
}

/** A row as `pg` returns it. */
export type Row = Record<string, unknown>;

/** Runs statements on one connection (inside a transaction, or on any pooled connection). */
export interface Queryable {
  /** The rows of one statement with `$1`… parameters. */
  query<R = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

const INT8 = 20;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Serialization failure and deadlock: PostgreSQL asks to run the transaction again. */
const RETRY_CODES = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

/** The network failure reasons of Node's socket error codes. */
const NETWORK_CODES: Record<string, NetworkFailureReason> = {
  ECONNREFUSED: 'refused', ECONNRESET: 'lost', EPIPE: 'lost', ENOTFOUND: 'dns', EAI_AGAIN: 'dns', EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable', ETIMEDOUT: 'unreachable',
};

/** An open pool on one database. */
export class PgDatabase implements Queryable {
  readonly #pool: pg.Pool;
  readonly #config: pg.PoolConfig;
  /** `host:port/database as user`, for messages. */
  readonly #where: string;
  #closed = false;

  private constructor(config: pg.PoolConfig, where: string) {
    this.#config = config;
    this.#where = where;
    this.#pool = new pg.Pool(config);
    // An idle pooled connection that the server drops is discarded by the pool; without a listener it would crash.
    this.#pool.on('error', () => undefined);
  }

  /** A pool on the database `options` name (no connection is made until the first query). */
  static open(options: PgConnectionOptions): PgDatabase {
    const fromUrl = options.url === undefined ? {} : parseUrl(options.url);
    const config: pg.PoolConfig = {
      ...fromUrl,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.database === undefined ? {} : { database: options.database }),
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.password === undefined ? {} : { password: options.password }),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: options.applicationName ?? 'allegro agent-host',
      types,
    };
    const where = `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? config.user ?? ''} as ${config.user ?? '(default user)'}`;
    return new PgDatabase(config, where);
  }

  /** The server, database and user, for messages (no password). */
  get where(): string {
    return this.#where;
  }

  async query<R = Row>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const client = await this.#connect();
    try {
      return (await client.query(sql, params as unknown[])).rows as R[];
    } catch (err) {
      throw this.#translate(err);
    } finally {
      client.release();
    }
  }

  /**
   * Run `fn` in one transaction (`isolation` default READ COMMITTED): committed when it returns, rolled back when
   * it throws (the error passes through); run again when PostgreSQL reports a serialization failure or deadlock.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, isolation: 'read committed' | 'repeatable read' = 'read committed'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      let broken = false;
      try {
        await client.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
        const tx: Queryable = { query: async <R = Row>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[] };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: the server rolled back
        }
        if (attempt < MAX_ATTEMPTS && RETRY_CODES.has(codeOf(err))) continue;
        throw this.#translate(err);
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Open a connection that `LISTEN`s on `channel` and calls `onNotify` with each payload. When the connection fails
   * it calls `onLost` (notifications may have been missed) and tries again every `retryMs` until closed. Resolves once
   * the first `LISTEN` succeeded.
   */
  async listen(channel: string, onNotify: (payload: string) => void, onLost: () => void, retryMs = 1000): Promise<{ close(): Promise<void> }> {
    let client: pg.Client | undefined;
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const next = new pg.Client(this.#config);
      next.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      next.on('error', () => {
        if (client !== next || closed) return;
        client = undefined;
        void next.end().catch(() => undefined);
        onLost();
        schedule();
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        void next.end().catch(() => undefined);
        throw this.#translate(err);
      }
      if (closed) {
        await next.end();
        return;
      }
      client = next;
    };
    const schedule = (): void => {
      timer = setTimeout(() => {
        connect().then(() => onLost(), () => schedule());
      }, retryMs);
      timer.unref();
    };
    await connect();
    return {
      close: async () => {
        closed = true;
        clearTimeout(timer);
        const current = client;
        client = undefined;
        await current?.end().catch(() => undefined);
      },
    };
  }

  /** Close every connection; later queries reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #connect(): Promise<pg.PoolClient> {
    if (this.#closed) throw new AllegroError('UNSUPPORTED_OPERATION', `The PostgreSQL store (${this.#where}) is closed`);
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw this.#translate(err);
    }
  }

  /** A connection-level failure as an AllegroError naming the server; any other error unchanged. */
  #translate(err: unknown): unknown {
    const code = codeOf(err);
    const reason = NETWORK_CODES[code];
    if (reason !== undefined) return new AllegroError('NETWORK_ERROR', `Cannot reach PostgreSQL at ${this.#where} (${code})`, { reason });
    if (code === '28P01' || code === '28000') return new AllegroError('AUTHENTICATION_FAILED', `PostgreSQL at ${this.#where} refused the credentials`);
    if (code === '3D000') return new AllegroError('INVALID_CONFIG', `PostgreSQL at ${this.#where}: the database does not exist`);
    if (err instanceof Error && /timeout exceeded when trying to connect|Connection terminated/.test(err.message)) {
      return new AllegroError('NETWORK_ERROR', `Cannot reach PostgreSQL at ${this.#where} (${err.message})`, { reason: 'unreachable' });
    }
    return err;
  }
}

/** The connection parts of a `postgresql://user:password@host:port/database` URL (no query parameters). */
function parseUrl(url: string): pg.PoolConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AllegroError('INVALID_CONFIG', 'The PostgreSQL url is not a URL (expected postgresql://user@host:port/database)');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new AllegroError('INVALID_CONFIG', `The PostgreSQL url must start with postgresql:// (received ${parsed.protocol}//)`);
  }
  if (parsed.search !== '') throw new AllegroError('INVALID_CONFIG', 'The PostgreSQL url takes no query parameters (give host, port, database and user as its parts)');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    ...(parsed.hostname === '' ? {} : { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') }),
    ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
    ...(database === '' ? {} : { database }),
    ...(parsed.username === '' ? {} : { user: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
  };
}

/** The SQLSTATE or Node error code of `err` ('' when it has none). */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
