/**
 * Authentication endpoints (login-api-public.yaml, authenticator-api-public.yaml; docs/symphony-apis.md §1):
 * RSA JWT login to the pod (`/login/pubkey/authenticate`) and the Key Manager (`/relay/pubkey/authenticate`),
 * certificate login over mutual TLS (`/sessionauth/v1/authenticate`, `/keyauth/v1/authenticate`), logout, the
 * Object Store bearer (`/login/idm/tokens`) and the Datafeed 2.0 service token (`/settings-web/api/v1/tokens`).
 * A JWT must be RS512, name a known user in `sub`, expire at most five minutes ahead and verify with the user's
 * registered key; anything else is 401. Each login starts a session; the datafeed and Object Store tokens obtained
 * with a session token belong to its session. Logout revokes the session (every token of it) and the user's Key
 * Manager tokens issued before it; the revocation is stored, so it survives a restart (docs/sandbox.md "Tokens").
 */
import { RsaPublicKey, verifyJwtRs512 } from '../../crypto/index.js';
import { AllegroError } from '../../errors.js';
import { requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import { type Router, type SandboxRequest, type SandboxResponse } from '../http.js';
import type { User } from '../store/users.js';
import { authenticatedCommonName } from '../tls.js';
import { unverifiedSubject, type TokenKind } from '../tokens.js';

const SERVICE_TOKEN_TTL_SECONDS = 300;

/**
 * Who a login JWT is from (a user, or an OBO app: routes/obo.ts): the holder its `sub` names, once the JWT verifies
 * with the holder's registered key; 401 otherwise.
 */
export async function jwtHolder<T>(req: SandboxRequest, what: 'user' | 'app', find: (sub: string) => T | undefined, keyOf: (holder: T) => string | undefined): Promise<T> {
  const token = requiredField(requireObject(req.json()), 'token', 'string');
  const sub = unverifiedSubject(token);
  const holder = sub === undefined ? undefined : find(sub);
  if (holder === undefined) throw new HttpError(401, `Invalid ${what}: no ${what} has the subject of this token`);
  const pem = keyOf(holder);
  if (pem === undefined) throw new HttpError(401, `Public key not imported for this ${what}`);
  try {
    await verifyJwtRs512(new RsaPublicKey(pem), token);
  } catch (err) {
    if (err instanceof AllegroError) throw new HttpError(401, `Authentication failed: ${err.message}`);
    throw err;
  }
  return holder;
}

/** Who a client certificate belongs to (a user, or an OBO app): the holder its CN names, if it chains to the sandbox CA; 401 otherwise. */
export function certificateHolder<T>(req: SandboxRequest, what: 'user' | 'app', find: (cn: string) => T | undefined): T {
  const name = authenticatedCommonName(req.socket);
  if (name === undefined) throw new HttpError(401, 'A client certificate issued by the sandbox CA is required');
  const holder = find(name);
  if (holder === undefined) throw new HttpError(401, `The client certificate does not belong to ${what === 'user' ? 'a user' : 'an app'} of this pod`);
  return holder;
}

const jwtUser = (ctx: SandboxContext, req: SandboxRequest): Promise<User> => jwtHolder(req, 'user', (sub) => ctx.store.users.byName(sub), (u) => u.loginPublicKeyPem);
const certificateUser = (ctx: SandboxContext, req: SandboxRequest): User => certificateHolder(req, 'user', (cn) => ctx.store.users.byName(cn));

/** Lifetime of a login's `authorizationToken`, seconds. */
const AUTHORIZATION_TOKEN_TTL_SECONDS = 300;

/**
 * A login's answer (`Token`): the token, and for a pod session an `authorizationToken` — a short-lived token of the
 * same session (login-api-public.yaml: "short lived access token built from a user session"), accepted wherever
 * the session token is (as `Authorization: Bearer` too) and revoked with it by a logout.
 */
function tokenResponse(ctx: SandboxContext, user: User, kind: TokenKind): SandboxResponse {
  if (kind !== 'session') return { json: { name: 'keyManagerToken', token: ctx.tokens.issue(user.id, kind, ctx.config.sessionTtlSeconds) } };
  return { json: { name: 'sessionToken', ...sessionTokens(ctx, user.id, 'session') } };
}

/**
 * A new session's token and its `authorizationToken`: a user's (`session`), or an OBO app's (`app`, user 0, with the
 * app's id: routes/obo.ts).
 */
export function sessionTokens(ctx: SandboxContext, userId: number, kind: 'session' | 'app', app?: string): { token: string; authorizationToken: string } {
  const now = Date.now();
  const token = ctx.tokens.issue(userId, kind, ctx.config.sessionTtlSeconds, now, undefined, app);
  const sid = ctx.tokens.verify(token, [kind], now)!.sid;
  const authorizationToken = ctx.tokens.issue(userId, kind, Math.min(AUTHORIZATION_TOKEN_TTL_SECONDS, ctx.config.sessionTtlSeconds), now, sid, app);
  return { token, authorizationToken };
}

/** Register the authentication routes. */
export function authRoutes(router: Router, ctx: SandboxContext): void {
  router
    .add('POST', '/login/pubkey/authenticate', async (req) => tokenResponse(ctx, await jwtUser(ctx, req), 'session'))
    .add('POST', '/relay/pubkey/authenticate', async (req) => tokenResponse(ctx, await jwtUser(ctx, req), 'km'))
    .add('POST', '/sessionauth/v1/authenticate', (req) => tokenResponse(ctx, certificateUser(ctx, req), 'session'))
    .add('POST', '/keyauth/v1/authenticate', (req) => tokenResponse(ctx, certificateUser(ctx, req), 'km'))
    .add('POST', '/sessionauth/v1/logout', async (req) => {
      if (typeof req.headers.sessiontoken !== 'string' && !req.cookies.has('skey')) throw new HttpError(401, 'Missing session token');
      const { user, claims } = ctx.session(req);
      const now = Date.now();
      const sessionEnds = now + ctx.config.sessionTtlSeconds * 1000;
      const fence = ctx.tokens.fence(now);
      await ctx.store.write((tx) => {
        ctx.store.revocations.prune(tx, now);
        // The session's own tokens live at most sessionTtlSeconds; the service tokens of it, less.
        ctx.store.revocations.revoke(tx, `session:${claims.sid}`, Number.MAX_SAFE_INTEGER, Math.max(claims.exp * 1000, sessionEnds));
        ctx.store.revocations.revoke(tx, `km:${user.id}`, fence, sessionEnds);
      });
      return { json: { format: 'TEXT', message: 'Logged out' } };
    })
    .add('POST', '/login/idm/tokens', (req) => {
      const { user, claims } = ctx.session(req);
      const accessToken = ctx.tokens.issue(user.id, 'api', SERVICE_TOKEN_TTL_SECONDS, Date.now(), claims.sid);
      return { json: { token_type: 'Bearer', expires_in: SERVICE_TOKEN_TTL_SECONDS, access_token: accessToken } };
    })
    .add('GET', '/settings-web/api/v1/tokens', (req) => {
      const { user, claims } = ctx.session(req);
      const token = ctx.tokens.issue(user.id, 'datafeed', SERVICE_TOKEN_TTL_SECONDS, Date.now(), claims.sid);
      return { json: [{ tokenContext: 'user', service: 'datafeed2', granted: true, token }] };
    });
}
