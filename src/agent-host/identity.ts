/**
 * An agent's Symphony identity (docs/agent-host.md "Identities"): the `Identity` field of `PUT
 * /Provisioning/V1/Agents/{id}` parsed into an {@link IdentityRef} (a reference to a key file or an environment
 * variable, never the key), and turned into the client configuration an agent logs on with. Kinds: `rsa` (a service
 * account's RSA key), `certificate` (a client certificate: PKCS#12 with its password, or PEM), and `obo` (an OBO user
 * of an app the host's configuration names, by user id or username: the app's key is the configuration's, so the
 * reference holds only the app id and the user; runtime.ts logs it on through ./obo-agent.ts).
 */
import type { AllegroConfigInput } from '../config.js';
import { AllegroError } from '../errors.js';
import { HttpError } from '../sandbox/http-error.js';
import type { IdentityRef } from './store/types.js';

function optionalText(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw new HttpError(400, `Identity.${name} must be a non-empty string`);
  return v;
}

function exactlyOne(o: Record<string, unknown>, a: string, b: string): void {
  if ((optionalText(o, a) === undefined) === (optionalText(o, b) === undefined)) throw new HttpError(400, `Identity needs exactly one of ${a} and ${b}`);
}

/** An OBO identity's `UserId`: a Symphony user id, as a number or its decimal string; kept as the decimal string. */
function oboUserId(o: Record<string, unknown>): string | undefined {
  const v = o.UserId;
  if (v === undefined || v === null) return undefined;
  const id = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw new HttpError(400, `Identity.UserId must be a Symphony user id (a positive integer); received ${JSON.stringify(v).slice(0, 40)}`);
  return String(id);
}

/**
 * Parse a PUT's `Identity` (`userName` is the agent's `UserName`, the default `Username` of `rsa` and `certificate`;
 * `oboAppIds` are the apps of the host's configuration, the only ones an `obo` identity may name).
 * @throws HttpError 400 naming the field.
 */
export function parseIdentity(value: unknown, userName: string, oboAppIds: readonly string[] = []): IdentityRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'Identity must be an object {Kind, …}');
  const o = value as Record<string, unknown>;
  const kind = o.Kind;
  const username = optionalText(o, 'Username') ?? userName;
  const allowed = (names: string[]) => {
    for (const k of Object.keys(o)) if (!['Kind', 'Username', ...names].includes(k)) throw new HttpError(400, `Identity.${k} is not a field of a ${String(kind)} identity (key material is never accepted; give a file or an environment variable)`);
  };
  switch (kind) {
    case 'rsa':
      allowed(['PrivateKeyPath', 'PrivateKeyEnv']);
      exactlyOne(o, 'PrivateKeyPath', 'PrivateKeyEnv');
      return { kind, username, ...pick(o, { PrivateKeyPath: 'privateKeyPath', PrivateKeyEnv: 'privateKeyEnv' }) };
    case 'certificate':
      allowed(['CertificatePath', 'CertificateEnv', 'PasswordEnv']);
      exactlyOne(o, 'CertificatePath', 'CertificateEnv');
      return { kind, username, ...pick(o, { CertificatePath: 'certificatePath', CertificateEnv: 'certificateEnv', PasswordEnv: 'passwordEnv' }) };
    case 'obo': {
      allowed(['AppId', 'UserId']);
      const appId = optionalText(o, 'AppId');
      if (appId === undefined) throw new HttpError(400, 'Identity.AppId is required for an obo identity (the id of an OBO app of the host\'s configuration)');
      if (!oboAppIds.includes(appId)) {
        const known = oboAppIds.length === 0 ? 'this host has none: add it under oboApps in its configuration' : `configured: ${oboAppIds.join(', ')}`;
        throw new HttpError(400, `Identity.AppId ${JSON.stringify(appId)} is not an OBO app of this host (${known})`);
      }
      const userId = oboUserId(o);
      const oboUsername = optionalText(o, 'Username');
      if ((userId === undefined) === (oboUsername === undefined)) throw new HttpError(400, 'Identity needs exactly one of UserId and Username (the user the app acts for)');
      return { kind, appId, ...(userId === undefined ? {} : { userId }), ...(oboUsername === undefined ? {} : { username: oboUsername }) };
    }
    default:
      throw new HttpError(400, `Identity.Kind must be one of rsa, certificate, obo; received ${JSON.stringify(kind ?? null)}`);
  }
}

function pick<K extends string>(o: Record<string, unknown>, names: Record<string, K>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [from, to] of Object.entries(names)) {
    const v = optionalText(o, from);
    if (v !== undefined) out[to] = v;
  }
  return out;
}

/** The `Identity` of an agent resource (references only). */
export function identityJson(identity: IdentityRef): Record<string, unknown> {
  switch (identity.kind) {
    case 'rsa':
      return { Kind: 'rsa', Username: identity.username, ...(identity.privateKeyPath === undefined ? {} : { PrivateKeyPath: identity.privateKeyPath }), ...(identity.privateKeyEnv === undefined ? {} : { PrivateKeyEnv: identity.privateKeyEnv }) };
    case 'certificate':
      return {
        Kind: 'certificate', Username: identity.username, ...(identity.certificatePath === undefined ? {} : { CertificatePath: identity.certificatePath }),
        ...(identity.certificateEnv === undefined ? {} : { CertificateEnv: identity.certificateEnv }), ...(identity.passwordEnv === undefined ? {} : { PasswordEnv: identity.passwordEnv }),
      };
    case 'obo':
      return { Kind: 'obo', AppId: identity.appId, ...(identity.userId === undefined ? {} : { UserId: Number(identity.userId) }), ...(identity.username === undefined ? {} : { Username: identity.username }) };
  }
}

/**
 * An identity that cannot log on as configured (an unset environment variable): the activation error it reports, an
 * `INVALID_CONFIG` (the admin fixes the identity or the environment).
 */
export class IdentityUnavailableError extends AllegroError {
  declare readonly code: 'INVALID_CONFIG';
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

function fromEnv(name: string, env: NodeJS.ProcessEnv): string {
  const v = env[name];
  if (v === undefined || v === '') throw new IdentityUnavailableError(`The environment variable ${name} is not set`);
  return v;
}

/**
 * The client configuration of a service account's identity: the host's shared Symphony settings with its `bot`.
 * (An `obo` identity logs on through its app instead: ./obo-agent.ts.)
 * @throws IdentityUnavailableError when a named environment variable is not set.
 */
export function clientConfig(identity: Exclude<IdentityRef, { kind: 'obo' }>, symphony: AllegroConfigInput, env: NodeJS.ProcessEnv = process.env): AllegroConfigInput {
  switch (identity.kind) {
    case 'rsa':
      return { ...symphony, bot: { username: identity.username, privateKey: identity.privateKeyPath !== undefined ? { path: identity.privateKeyPath } : { content: fromEnv(identity.privateKeyEnv!, env) } } };
    case 'certificate':
      return {
        ...symphony,
        bot: {
          username: identity.username,
          certificate: {
            ...(identity.certificatePath !== undefined ? { path: identity.certificatePath } : { content: fromEnv(identity.certificateEnv!, env) }),
            ...(identity.passwordEnv === undefined ? {} : { password: fromEnv(identity.passwordEnv, env) }),
          },
        },
      };
  }
}
