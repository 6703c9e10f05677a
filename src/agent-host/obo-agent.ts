/**
 * OBO-backed agents (docs/agent-host.md "Identities", "OBO agents"): the host's OBO apps, opened once from its
 * configuration (one `OboApp` per app — one cached app token and one connection pool shared by all its agents), and an
 * agent logged on through one of them as a user (`Kind: "obo"`), with the capabilities Symphony gives an on-behalf-of
 * session (docs/symphony-apis.md §1.7, §2.2): presence, its streams, joining rooms (add-member), IMs, user lookup, and
 * sending through the Agent, which encrypts for the user. An OBO session has no Key Manager token, no datafeed and no
 * message history, so such an agent holds no key, buffers no MessageEvent, and answers history with a 501.
 *
 * The app's key is read when the host starts, from the file or the environment variable its configuration names; it
 * is never stored, logged or answered. A refused app or user authentication (the app disabled, or uninstalled for the
 * user) on any call ends the agent's session, so that the runtime (./runtime.ts) re-activates it with backoff.
 */
import { AppNotInstalledError, AuthenticationError, InvalidConfigError, type AllegroConfigInput, type HistoryMessage, type PodUser, type Presence, type StreamInfo } from '../index.js';
import { OboApp, type OboSession } from '../obo/index.js';
import { HttpError } from '../sandbox/http-error.js';
import type { HostOboApp } from './config.js';
import type { IdentityRef } from './store/types.js';

/** What Collaboration answers when an OBO agent is asked for history. */
export const OBO_HISTORY_UNAVAILABLE = 'An OBO agent cannot read messages: Symphony gives on-behalf-of sessions no message history and no datafeed (docs/agent-host.md "OBO agents")';

/**
 * Open the host's OBO apps (no request is made: each app authenticates on its first agent). `settings` are the
 * host's Symphony settings every app shares (where the pod and its Agent are, trust, retries).
 * @throws InvalidConfigError (`INVALID_CONFIG`) naming `oboApps[i].privateKeyEnv` when that variable is not set, or
 *   the key when its file cannot be read or holds no key.
 */
export async function openOboApps(apps: readonly HostOboApp[], settings: AllegroConfigInput, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, OboApp>> {
  const opened = new Map<string, OboApp>();
  try {
    for (const [i, app] of apps.entries()) {
      let privateKey: { path: string } | { content: string };
      if (app.privateKeyPath !== undefined) privateKey = { path: app.privateKeyPath };
      else {
        const content = env[app.privateKeyEnv!];
        if (content === undefined || content === '') throw new InvalidConfigError(`oboApps[${i}].privateKeyEnv`, `the environment variable ${app.privateKeyEnv} is not set`);
        privateKey = { content };
      }
      opened.set(app.appId, await OboApp.create({ ...settings, app: { appId: app.appId, privateKey } }));
    }
    return opened;
  } catch (err) {
    await Promise.all([...opened.values()].map((a) => a.close()));
    throw err;
  }
}

/** The pod operations an agent's runtime and Collaboration call, as an OBO agent offers them. */
export interface OboAgentPod {
  setPresence(category: string): Promise<unknown>;
  streams(filter?: { types?: ReadonlyArray<StreamInfo['type']>; limit?: number }): Promise<StreamInfo[]>;
  addMember(streamId: string, userId: number): Promise<void>;
  createIm(userIds: readonly number[]): Promise<string>;
  users(query: { ids: readonly number[] }): Promise<PodUser[]>;
  streamInfo(streamId: string): Promise<StreamInfo>;
  userPresence(userId: number): Promise<Presence>;
  /** Through the Agent (SEND_MESSAGES), which encrypts for the user. */
  send(streamId: string, message: string, options?: { data?: Record<string, unknown> }): Promise<string>;
  /** Always refused: an HttpError 501 ({@link OBO_HISTORY_UNAVAILABLE}). */
  history(streamId: string, options?: { limit?: number; before?: number }): Promise<HistoryMessage[]>;
}

/** True for a failure that means the OBO session is gone: the app's or the user's authentication was refused. */
function sessionRefused(err: unknown): boolean {
  return err instanceof AppNotInstalledError || err instanceof AuthenticationError;
}

/** An agent logged on as an OBO user of one of the host's apps. */
export class OboAgent {
  /** The Symphony user the app acts for. */
  readonly userId: number;
  readonly pod: OboAgentPod;
  /** Resolves when the session ends: with the refusal that ended it, or undefined on {@link close}. */
  readonly ended: Promise<unknown>;
  #end!: (failure: unknown) => void;

  private constructor(session: OboSession, userId: number) {
    this.userId = userId;
    this.ended = new Promise((resolve) => {
      this.#end = resolve;
    });
    const guarded = <T>(call: () => Promise<T>): Promise<T> => call().catch((err: unknown) => {
      if (sessionRefused(err)) this.#end(err);
      throw err;
    });
    this.pod = {
      setPresence: (category) => guarded(() => session.setPresence(category)),
      streams: (filter) => guarded(() => session.streams(filter)),
      addMember: (streamId, userId) => guarded(() => session.addMember(streamId, userId)),
      createIm: (userIds) => guarded(() => session.createIm(userIds)),
      users: (query) => guarded(() => session.users(query)),
      streamInfo: (streamId) => guarded(() => session.streamInfo(streamId)),
      userPresence: (userId) => guarded(() => session.userPresence(userId)),
      send: (streamId, message, options = {}) => guarded(() => session.send(streamId, message, options.data === undefined ? {} : { data: options.data })),
      history: () => Promise.reject(new HttpError(501, OBO_HISTORY_UNAVAILABLE)),
    };
  }

  /**
   * Log `identity`'s user on through `app` (the app's cached token): a user id as given, a username resolved through
   * the session's own user (GET_BASIC_USER_INFO).
   * @throws AppNotInstalledError, AuthenticationError (`target: 'app'`), PermissionDeniedError, or the library's
   *   network errors: the runtime reports them as `LastError` and retries.
   */
  static async logOn(app: OboApp, identity: Extract<IdentityRef, { kind: 'obo' }>): Promise<OboAgent> {
    const session = await app.user(identity.userId !== undefined ? Number(identity.userId) : identity.username!);
    const userId = identity.userId !== undefined ? Number(identity.userId) : (await session.me()).id;
    return new OboAgent(session, userId);
  }

  /** End the session (its token is the app's to renew; nothing to release). */
  async close(): Promise<void> {
    this.#end(undefined);
  }
}
