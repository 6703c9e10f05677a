/**
 * The Authentication service (docs/agent-host.md "Authentication"; MindLink `/Authentication/V1`): `POST
 * /Authentication/V1/Tokens {Username, Password, AgentId}` issues an opaque token (a JSON string, valid for the
 * configured lifetime, 1 hour by default) for a web user listed on the agent, or — with an empty `AgentId` — for the
 * super user; `GET /Authentication/V1/Tokens/{token}` describes one (400 when unknown or expired). Requests carry
 * the token as `Authorization: FCF <token>` or `Bearer <token>`. Tokens are 32 random bytes; the store keeps only
 * their SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HttpError } from '../sandbox/http-error.js';
import type { Router, SandboxRequest } from '../sandbox/http.js';
import type { AgentHost } from './host.js';
import { LoginLimits } from './login-limit.js';
import { verifyPassword } from './password.js';
import type { StoredToken } from './store/types.js';

/** A scrypt hash no password matches, checked when the user is unknown (the answer takes as long either way). */
const NO_USER_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** Who a request is from. */
export type Caller = { kind: 'super'; username: string } | { kind: 'agent'; username: string; agentId: string };

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function tokenOf(req: Pick<SandboxRequest, 'headers'>): string | undefined {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^(?:FCF|Bearer)\s+([A-Za-z0-9_-]{16,128})\s*$/i.exec(header) : null;
  return m?.[1];
}

/** The agent a live token in an `Authorization` header was issued for (undefined for none, or the super user's). */
export async function agentOfToken(host: AgentHost, authorization: string | undefined): Promise<string | undefined> {
  const token = tokenOf({ headers: { authorization } });
  const stored = token === undefined ? undefined : await host.store.getToken(hashToken(token));
  return stored === undefined || stored.expiresAt <= Date.now() || stored.agentId === '' ? undefined : stored.agentId;
}

/** The caller of a request. @throws HttpError 401 for a missing, unknown or expired token. */
export async function authenticate(host: AgentHost, req: SandboxRequest): Promise<Caller> {
  const token = tokenOf(req);
  const stored = token === undefined ? undefined : await host.store.getToken(hashToken(token));
  if (stored === undefined || stored.expiresAt <= Date.now()) throw new HttpError(401, 'A valid token is needed: Authorization: FCF <token> (POST /Authentication/V1/Tokens)');
  return stored.agentId === '' ? { kind: 'super', username: stored.username } : { kind: 'agent', username: stored.username, agentId: stored.agentId };
}

function requireString(body: Record<string, unknown>, name: string, optional = false): string {
  const v = body[name];
  if ((v === undefined || v === null) && optional) return '';
  if (typeof v !== 'string') throw new HttpError(400, `${name} must be a string`);
  return v;
}

/** The body as a JSON object. @throws HttpError 400. */
export function jsonObject(req: SandboxRequest): Record<string, unknown> {
  const body = req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'The request body must be a JSON object');
  return body as Record<string, unknown>;
}

async function issue(host: AgentHost, username: string, agentId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const record: StoredToken = { hash: hashToken(token), username, agentId, expiresAt: Date.now() + host.config.tunables.tokenLifetimeMs };
  await host.store.putToken(record);
  return token;
}

/**
 * Check a login: the super user's (empty `agentId`) or a web user's on an agent that lists it. The password is
 * verified against a hash no password matches when the name is unknown, so that the answer takes as long either way.
 */
async function verifyLogin(host: AgentHost, username: string, password: string, agentId: string): Promise<{ userName: string; agentId: string } | false> {
  if (agentId === '') {
    const su = await host.store.getSuperUser();
    const nameMatches = su !== undefined && su.userName.toLowerCase() === username.toLowerCase();
    const ok = await verifyPassword(password, nameMatches ? su.passwordHash : NO_USER_HASH);
    return ok && nameMatches ? { userName: su.userName, agentId: '' } : false;
  }
  const user = await host.store.findUserByName(username);
  const ok = await verifyPassword(password, user?.passwordHash ?? NO_USER_HASH);
  if (!ok || user === undefined) return false;
  const agent = await host.store.getAgent(agentId);
  return agent !== undefined && agent.users.includes(user.id) ? { userName: user.userName, agentId: agent.id } : false;
}

/** Register the Authentication routes. */
export function authRoutes(router: Router, host: AgentHost): void {
  const limits = new LoginLimits();
  router.add('POST', '/Authentication/V1/Tokens', async (req) => {
    const body = jsonObject(req);
    const username = requireString(body, 'Username');
    const password = requireString(body, 'Password');
    const agentId = requireString(body, 'AgentId', true);
    const address = req.socket.remoteAddress ?? '';
    // Failed attempts back off, and scrypt runs a bounded number of times at once (./login-limit.ts).
    const waitMs = limits.waitMs(username, address);
    if (waitMs > 0) throw new HttpError(429, 'Too many failed logins: try again later', { 'retry-after': String(Math.ceil(waitMs / 1000)) });
    const verified = await limits.run(() => verifyLogin(host, username, password, agentId), req.signal);
    if (verified === undefined) throw new HttpError(503, 'The host is busy verifying other logins: try again shortly', { 'retry-after': '1' });
    if (verified === false) {
      limits.failed(username, address);
      throw new HttpError(401, 'Unknown username, password or agent');
    }
    limits.succeeded(username);
    return { json: await issue(host, verified.userName, verified.agentId) };
  });

  router.add('GET', '/Authentication/V1/Tokens/:token', async (req) => {
    const stored = /^[A-Za-z0-9_-]{16,128}$/.test(req.params.token!) ? await host.store.getToken(hashToken(req.params.token!)) : undefined;
    if (stored === undefined || stored.expiresAt <= Date.now()) throw new HttpError(400, 'The token is unknown or expired');
    return { json: { Username: stored.username, AgentId: stored.agentId, ExpiresTimestamp: stored.expiresAt } };
  });
}
