/**
 * OBO authentication (docs/symphony-apis.md §1.7; login-api-public.yaml, authenticator-api-public-deprecated.yaml;
 * docs/sandbox.md "OBO apps"): an app authenticates with an RS512 JWT whose `sub` is its id
 * (`POST /login/pubkey/app/authenticate`) or with its client certificate, CN = its id
 * (`POST /sessionauth/v1/app/authenticate`), and gets an app session token with a short-lived `authorizationToken`
 * of the same session — refused (401) when the app is unknown, disabled, or its key or certificate is not the
 * registered one. With that token in `sessionToken` it authenticates
 * on behalf of a user (`/login/pubkey/app/user/{userId}/authenticate`, `…/username/{username}/authenticate`, and the
 * `/sessionauth/v1/app/…` variants, which answer `{sessionToken}` instead of `Token`), refused (401) when the app is
 * not installed for the user. The user's token is an ordinary session token carrying the app's id: no Key Manager
 * token comes with it, and context.ts lets it through only on the OBO-enabled endpoints the app has permissions for.
 */
import { parseUserId } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest, SandboxResponse } from '../http.js';
import type { App } from '../store/apps.js';
import { certificateHolder, jwtHolder, sessionTokens } from './auth.js';

/** The app an app-authentication JWT or client certificate proves, if it is enabled; 401 otherwise. */
function enabled(app: App): App {
  if (!app.enabled) throw new HttpError(401, 'The app is not enabled for this pod');
  return app;
}

/** An app login's answer (`Token`): the app token, and its `authorizationToken`, an app token of the same session. */
function appToken(ctx: SandboxContext, app: App): SandboxResponse {
  return { json: { name: 'sessionToken', ...sessionTokens(ctx, 0, 'app', app.appId) } };
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
    .add('POST', '/login/pubkey/app/authenticate', async (req) => appToken(ctx, enabled(await jwtHolder(req, 'app', (sub) => ctx.store.apps.get(sub), (a) => a.publicKeyPem))))
    .add('POST', '/sessionauth/v1/app/authenticate', (req) => appToken(ctx, enabled(certificateHolder(req, 'app', (cn) => ctx.store.apps.get(cn)))))
    .add('POST', '/login/pubkey/app/user/:uid/authenticate', (req) => ({ json: { name: 'sessionToken', token: delegated(ctx, req, 'id', 401) } }))
    .add('POST', '/login/pubkey/app/username/:username/authenticate', (req) => ({ json: { name: 'sessionToken', token: delegated(ctx, req, 'name', 401) } }))
    .add('POST', '/sessionauth/v1/app/user/:uid/authenticate', (req) => ({ json: { sessionToken: delegated(ctx, req, 'id', 404) } }))
    .add('POST', '/sessionauth/v1/app/username/:username/authenticate', (req) => ({ json: { sessionToken: delegated(ctx, req, 'name', 404) } }));
}
