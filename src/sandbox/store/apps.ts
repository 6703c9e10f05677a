/**
 * OBO apps (docs/sandbox.md "OBO apps"): each app's id and name, its RSA public key (for JWT authentication; its
 * certificate authenticates by CN = app id), its permissions, whether it is enabled for the pod, its partner callback
 * (URL and API key), and the users it is installed for.
 */
import type { OboPermission } from '../../errors.js';
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** An OBO app of the pod. */
export interface App {
  appId: string;
  name: string;
  /** SPKI PEM of the key its JWTs are signed with; undefined: certificate authentication only. */
  publicKeyPem?: string;
  /** Its permissions; `ACT_AS_USER` is implicit. */
  permissions: OboPermission[];
  enabled: boolean;
  /** Where the partner callback goes, with the key sent as `X-API-KEY`. */
  callback?: { url: string; apiKey: string };
  createdAt: number;
}

interface AppRow {
  app_id: string;
  name: string;
  public_key: string | null;
  permissions: string;
  enabled: number;
  callback_url: string | null;
  callback_api_key: string | null;
  created_at: number;
}

function app(r: AppRow): App {
  return {
    appId: r.app_id, name: r.name, ...(r.public_key === null ? {} : { publicKeyPem: r.public_key }),
    permissions: JSON.parse(r.permissions) as OboPermission[], enabled: r.enabled === 1,
    ...(r.callback_url === null || r.callback_api_key === null ? {} : { callback: { url: r.callback_url, apiKey: r.callback_api_key } }),
    createdAt: r.created_at,
  };
}

/** The `apps` and `app_installs` tables. */
export class AppTable {
  readonly #get;
  readonly #all;
  readonly #insert;
  readonly #enabled;
  readonly #permissions;
  readonly #callback;
  readonly #installed;
  readonly #install;
  readonly #uninstall;
  readonly #installedFor;

  constructor(db: Db) {
    this.#get = db.prepare<[string], AppRow>('SELECT * FROM apps WHERE app_id = ?');
    this.#all = db.prepare<[], AppRow>('SELECT * FROM apps ORDER BY app_id');
    this.#insert = db.prepare(`INSERT INTO apps (app_id, name, public_key, permissions, enabled, callback_url, callback_api_key, created_at)
      VALUES (@appId, @name, @publicKey, @permissions, @enabled, @callbackUrl, @callbackApiKey, @createdAt)`);
    this.#enabled = db.prepare('UPDATE apps SET enabled = ? WHERE app_id = ?');
    this.#permissions = db.prepare('UPDATE apps SET permissions = ? WHERE app_id = ?');
    this.#callback = db.prepare('UPDATE apps SET callback_url = ?, callback_api_key = ? WHERE app_id = ?');
    this.#installed = db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM app_installs WHERE app_id = ? AND user_id = ?');
    this.#install = db.prepare('INSERT OR IGNORE INTO app_installs (app_id, user_id) VALUES (?, ?)');
    this.#uninstall = db.prepare('DELETE FROM app_installs WHERE app_id = ? AND user_id = ?');
    this.#installedFor = db.prepare<[string], { user_id: number }>('SELECT user_id FROM app_installs WHERE app_id = ? ORDER BY user_id');
  }

  get(appId: string): App | undefined {
    const r = this.#get.get(appId);
    return r === undefined ? undefined : app(r);
  }

  /** Every app, by id. */
  all(): App[] {
    return this.#all.all().map(app);
  }

  insert(tx: Tx, a: App): void {
    Tx.check(tx);
    this.#insert.run({
      appId: a.appId, name: a.name, publicKey: a.publicKeyPem ?? null, permissions: JSON.stringify(a.permissions), enabled: a.enabled ? 1 : 0,
      callbackUrl: a.callback?.url ?? null, callbackApiKey: a.callback?.apiKey ?? null, createdAt: a.createdAt,
    });
  }

  setEnabled(tx: Tx, appId: string, enabled: boolean): void {
    Tx.check(tx);
    this.#enabled.run(enabled ? 1 : 0, appId);
  }

  setPermissions(tx: Tx, appId: string, permissions: readonly OboPermission[]): void {
    Tx.check(tx);
    this.#permissions.run(JSON.stringify(permissions), appId);
  }

  setCallback(tx: Tx, appId: string, callback: { url: string; apiKey: string } | undefined): void {
    Tx.check(tx);
    this.#callback.run(callback?.url ?? null, callback?.apiKey ?? null, appId);
  }

  /** Whether the app is installed for the user. */
  isInstalled(appId: string, userId: number): boolean {
    return this.#installed.get(appId, userId)!.n > 0;
  }

  /** The users the app is installed for, by id. */
  installedFor(appId: string): number[] {
    return this.#installedFor.all(appId).map((r) => r.user_id);
  }

  install(tx: Tx, appId: string, userId: number): void {
    Tx.check(tx);
    this.#install.run(appId, userId);
  }

  uninstall(tx: Tx, appId: string, userId: number): void {
    Tx.check(tx);
    this.#uninstall.run(appId, userId);
  }
}
