/**
 * OBO authentication (docs/symphony-apis.md §1.7; login-api-public.yaml, authenticator-api-public-deprecated.yaml;
 * docs/sandbox.md "OBO apps"): an app authenticates with an RS512 JWT whose `sub` is its id
 * (`POST /login/pubkey/app/authenticate`) or with its client certificate, CN = its id
 * (`POST /sessionauth/v1/app/authenticate`), and gets an app session token — refused (401) when the app is unknown,
 * disabled, or its key or certificate is not the registered one. With that token in `sessionToken` it authenticates
 * on behalf of a user (`/login/pubkey/app/user/{userId}/authenticate`, `…/username/{username}/authenticate`, and the
 * `/sessionauth/v1/app/…` variants, which answer `{sessionToken}` instead of `Token`), refused (401) when the app is
 * not installed for the user. The user's token is an ordinary session token carrying the app's id: no Key Manager
 * token comes with it, and context.ts lets it through only on the OBO-enabled endpoints the app has permissions for.
 */
import { RsaPublicKey, verifyJwtRs512 } from '../../crypto/index.js';
import { AllegroError } from '../../errors.js';
import { parseUserId, requireObject, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest, SandboxResponse } from '../http.js';
import type { App } from '../store/apps.js';
import { authenticatedCommonName } from '../tls.js';
import { unverifiedSubject } from '../tokens.js';

/** The app of an app-authentication JWT, verified with its registered key. */
async function jwtApp(ctx: SandboxContext, req: SandboxRequest): Promise<App> {
  const token = requiredField(requireObject(req.json()), 'token', 'string');
  const appId = unverifiedSubject(token);
  const app = appId === undefined ? undefined : ctx.store.apps.get(appId);
  if (app === undefined) throw new HttpError(401, 'Invalid app: no app has the subject of this token');
  if (!app.enabled) throw new HttpError(401, 'The app is not enabled for this pod');
  if (app.publicKeyPem === undefined) throw new HttpError(401, 'Public key not imported for this app');
  try {
    await verifyJwtRs512(new RsaPublicKey(app.publicKeyPem), token);
  } catch (err) {
    if (err instanceof AllegroError) throw new HttpError(401, `Authentication failed: ${err.message}`);
    throw err;
  }
  return app;
}

/** The app of the client certificate (CN = app id, issued by the sandbox CA). */
function certificateApp(ctx: SandboxContext, req: SandboxRequest): App {
  const name = authenticatedCommonName(req.socket);
  if (name === undefined) throw new HttpError(401, 'A client certificate issued by the sandbox CA is required');
  const app = ctx.store.apps.get(name);
  if (app === undefined) throw new HttpError(401, 'The client certificate does not belong to an app of this pod');
  if (!app.enabled) throw new HttpError(401, 'The app is not enabled for this pod');
  return app;
}

function appToken(ctx: SandboxContext, app: App): SandboxResponse {
  return { json: { name: 'sessionToken', token: ctx.tokens.issue(0, 'app', ctx.config.sessionTtlSeconds, Date.now(), undefined, app.appId) } };
}

/**
 * A session token for the user the app acts for, by the path's user id or username: `missing` for an unknown user,
 * 401 when the app is not installed for them.
 */
function delegated(ctx: SandboxContext, req: SandboxRequest, by: 'id' | 'name', missing: 401 | 404): string {
  const { app } = ctx.appCaller(req);
  const user = by === 'id' ? ctx.store.users.get(parseUserId(req.params.uid, 'userId')) : ctx.store.users.byName(req.params.username!);
  if (user === undefined) throw new HttpError(missing, by === 'id' ? 'User id not found' : 'Username not found');
  if (!ctx.store.apps.isInstalled(app.appId, user.id)) throw new HttpError(401, `The app ${app.appId} is not installed for this user`);
  return ctx.tokens.issue(user.id, 'session', ctx.config.sessionTtlSeconds, Date.now(), undefined, app.appId);
}

/** Register the OBO authentication routes. */
export function oboRoutes(router: Router, ctx: SandboxContext): void {
  router
    .add('POST', '/login/pubkey/app/authenticate', async (req) => appToken(ctx, await jwtApp(ctx, req)))
    .add('POST', '/sessionauth/v1/app/authenticate', (req) => appToken(ctx, certificateApp(ctx, req)))
    .add('POST', '/login/pubkey/app/user/:uid/authenticate', (req) => ({ json: { name: 'sessionToken', token: delegated(ctx, req, 'id', 401) } }))
    .add('POST', '/login/pubkey/app/username/:username/authenticate', (req) => ({ json: { name: 'sessionToken', token: delegated(ctx, req, 'name', 401) } }))
    .add('POST', '/sessionauth/v1/app/user/:uid/authenticate', (req) => ({ json: { sessionToken: delegated(ctx, req, 'id', 404) } }))
    .add('POST', '/sessionauth/v1/app/username/:username/authenticate', (req) => ({ json: { sessionToken: delegated(ctx, req, 'name', 404) } }));
}
