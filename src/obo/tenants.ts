/**
 * The tenant registry of a partner OBO app (docs/symphony-apis.md §1.11): one record per customer pod, keyed by the
 * `companyId` of the partner callback, with the URLs the callback gave (pod, session auth, Agent, base and login
 * URLs), the app id and the times; persisted in SQLite (obo/sqlite.ts), so a restarted app still knows every tenant.
 *
 * Recording an event is idempotent: the same event again changes nothing (not even `updatedAt`). `appEnabled`
 * (re)sets every URL; `agentRegistered` changes only the Agent URL of a known tenant (the pod's other URLs do not move
 * when an Agent registers); either event for an unknown company creates its record.
 */
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { describeValue } from '../util/validate.js';
import { openDatabase, type Database } from './sqlite.js';

/** The two events of the partner callback. */
export type PartnerEventType = 'appEnabled' | 'agentRegistered';

/** A partner callback's body, checked (obo/partner-callback.ts). */
export interface PartnerEvent {
  appId: string;
  companyId: string;
  eventType: PartnerEventType;
  payload: {
    podUrl: string;
    sessionAuthUrl: string;
    /** Present once an Agent is registered with the pod. */
    agentUrl?: string;
    baseUrl?: string;
    loginUrl?: string;
  };
}

/** One customer pod, as the registry knows it. */
export interface Tenant {
  companyId: string;
  appId: string;
  podUrl: string;
  sessionAuthUrl: string;
  agentUrl?: string;
  baseUrl?: string;
  loginUrl?: string;
  /** When the first event of this company was recorded, ms since the epoch. */
  createdAt: number;
  /** When an event last changed the record, ms since the epoch. */
  updatedAt: number;
}

interface Row {
  company_id: string;
  app_id: string;
  pod_url: string;
  session_auth_url: string;
  agent_url: string | null;
  base_url: string | null;
  login_url: string | null;
  created_at: number;
  updated_at: number;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS tenants (
  company_id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  pod_url TEXT NOT NULL,
  session_auth_url TEXT NOT NULL,
  agent_url TEXT,
  base_url TEXT,
  login_url TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT`;

function tenantOf(row: Row): Tenant {
  return {
    companyId: row.company_id, appId: row.app_id, podUrl: row.pod_url, sessionAuthUrl: row.session_auth_url,
    ...(row.agent_url === null ? {} : { agentUrl: row.agent_url }),
    ...(row.base_url === null ? {} : { baseUrl: row.base_url }),
    ...(row.login_url === null ? {} : { loginUrl: row.login_url }),
    createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

/** The record `event` makes of `current` (or of nothing), ignoring times. */
function applied(current: Tenant | undefined, event: PartnerEvent): Omit<Tenant, 'createdAt' | 'updatedAt'> {
  const p = event.payload;
  if (current !== undefined && event.eventType === 'agentRegistered') {
    const { createdAt: _c, updatedAt: _u, agentUrl: _a, ...rest } = current;
    return { ...rest, ...(p.agentUrl === undefined ? {} : { agentUrl: p.agentUrl }) };
  }
  return {
    companyId: event.companyId, appId: event.appId, podUrl: p.podUrl, sessionAuthUrl: p.sessionAuthUrl,
    ...(p.agentUrl === undefined ? {} : { agentUrl: p.agentUrl }),
    ...(p.baseUrl === undefined ? {} : { baseUrl: p.baseUrl }),
    ...(p.loginUrl === undefined ? {} : { loginUrl: p.loginUrl }),
  };
}

function same(a: Omit<Tenant, 'createdAt' | 'updatedAt'>, b: Tenant): boolean {
  return a.appId === b.appId && a.podUrl === b.podUrl && a.sessionAuthUrl === b.sessionAuthUrl && a.agentUrl === b.agentUrl &&
    a.baseUrl === b.baseUrl && a.loginUrl === b.loginUrl;
}

/** The tenants of a partner app, on disk. */
export class TenantRegistry {
  readonly #db: Database;
  #closed = false;

  private constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Open the registry in the SQLite file at `path` (created, mode 0600, if missing), or in memory for `:memory:`.
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an empty path; the database's own error when the file
   *   cannot be opened.
   */
  static async open(path: string): Promise<TenantRegistry> {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('path', 'the path of a SQLite file, or ":memory:"', describeValue(path));
    const db = await openDatabase(path);
    try {
      db.exec(SCHEMA);
    } catch (err) {
      db.close();
      throw err;
    }
    return new TenantRegistry(db);
  }

  /** The tenant of `companyId`, if known. */
  get(companyId: string): Tenant | undefined {
    const row = this.#live().prepare('SELECT * FROM tenants WHERE company_id = ?').get(String(companyId)) as Row | undefined;
    return row === undefined ? undefined : tenantOf(row);
  }

  /** Every tenant, by company id. */
  list(): Tenant[] {
    return (this.#live().prepare('SELECT * FROM tenants ORDER BY company_id').all() as Row[]).map(tenantOf);
  }

  /**
   * Record a partner callback's event (idempotent; see the module's rules), in one transaction.
   * @returns the tenant as it now is, and whether the event changed it.
   */
  record(event: PartnerEvent, now: number = Date.now()): { tenant: Tenant; changed: boolean } {
    const db = this.#live();
    return db.transaction(() => {
      const current = this.get(event.companyId);
      const next = applied(current, event);
      if (current !== undefined && same(next, current)) return { tenant: current, changed: false };
      const tenant: Tenant = { ...next, createdAt: current?.createdAt ?? now, updatedAt: now };
      db.prepare(`INSERT INTO tenants (company_id, app_id, pod_url, session_auth_url, agent_url, base_url, login_url, created_at, updated_at)
        VALUES (@companyId, @appId, @podUrl, @sessionAuthUrl, @agentUrl, @baseUrl, @loginUrl, @createdAt, @updatedAt)
        ON CONFLICT (company_id) DO UPDATE SET app_id = excluded.app_id, pod_url = excluded.pod_url, session_auth_url = excluded.session_auth_url,
          agent_url = excluded.agent_url, base_url = excluded.base_url, login_url = excluded.login_url, updated_at = excluded.updated_at`)
        .run({ agentUrl: null, baseUrl: null, loginUrl: null, ...tenant });
      return { tenant, changed: true };
    }).immediate();
  }

  /** Close the database; later calls fail with AbortedError (`ABORTED`). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #live(): Database {
    if (this.#closed) throw new AbortedError('A call to the closed tenant registry');
    return this.#db;
  }
}
