/**
 * The pod's policies and the users' entitlements that OBO calls meet as every call does (docs/sandbox.md "OBO apps";
 * docs/symphony-apis.md §2.1): whether an IM or MIM needs the members to be connected, whether a user may send files,
 * and the URL of the Agent registered with the pod (what the partner callback announces).
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** The pod-wide settings. */
export interface PodPolicies {
  /** IMs and MIMs only between connected users (an accepted connection request). Default false. */
  imRequiresConnection: boolean;
  /** The Agent URL the pod announces to partner apps; undefined: the sandbox's own. */
  agentUrl?: string;
}

/** The `pod_policies` (one row) and `user_entitlements` tables. */
export class PolicyTable {
  readonly #get;
  readonly #set;
  readonly #canSendFiles;
  readonly #setCanSendFiles;

  constructor(db: Db) {
    this.#get = db.prepare<[], { im_requires_connection: number; agent_url: string | null }>('SELECT im_requires_connection, agent_url FROM pod_policies WHERE id = 1');
    this.#set = db.prepare(`INSERT INTO pod_policies (id, im_requires_connection, agent_url) VALUES (1, @im, @agent)
      ON CONFLICT (id) DO UPDATE SET im_requires_connection = @im, agent_url = @agent`);
    this.#canSendFiles = db.prepare<[number], { can_send_files: number }>('SELECT can_send_files FROM user_entitlements WHERE user_id = ?');
    this.#setCanSendFiles = db.prepare(`INSERT INTO user_entitlements (user_id, can_send_files) VALUES (?, ?)
      ON CONFLICT (user_id) DO UPDATE SET can_send_files = excluded.can_send_files`);
  }

  pod(): PodPolicies {
    const r = this.#get.get();
    return { imRequiresConnection: r?.im_requires_connection === 1, ...(r?.agent_url === null || r === undefined ? {} : { agentUrl: r.agent_url }) };
  }

  setPod(tx: Tx, policies: PodPolicies): void {
    Tx.check(tx);
    this.#set.run({ im: policies.imRequiresConnection ? 1 : 0, agent: policies.agentUrl ?? null });
  }

  /** Whether the user may send files (attachments); true unless switched off. */
  canSendFiles(userId: number): boolean {
    return this.#canSendFiles.get(userId)?.can_send_files !== 0;
  }

  setCanSendFiles(tx: Tx, userId: number, allowed: boolean): void {
    Tx.check(tx);
    this.#setCanSendFiles.run(userId, allowed ? 1 : 0);
  }
}
