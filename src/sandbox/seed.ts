/**
 * Seed files: the identities and conversations a new sandbox starts with (JSON; format in docs/sandbox.md).
 * A seed names the pod, its entitlements and policies, users and bots (with an RSA public key for JWT login, or none
 * to have the sandbox generate a key pair and write the private key next to the data; and their directory fields),
 * rooms with owners, members and attributes, IMs, and OBO apps (their keys or certificates, permissions, the users
 * they are installed for, their partner callback). Seeding runs once, on the first start of a data directory; later
 * starts read the database instead.
 */
import { readFile } from 'node:fs/promises';
import type { OboPermission } from '../errors.js';
import { isOboPermission, OBO_PERMISSIONS } from '../obo/index.js';
import { HttpError } from './http-error.js';
import { optionalField, requireArray, requireObject, requiredField } from './body.js';
import { roomFields } from './conversations.js';
import { PROFILE_FIELDS, type Profile } from './store/profiles.js';

/** One seeded user or bot. */
export interface SeedUser {
  username: string;
  displayName?: string;
  email?: string;
  /** SYSTEM for bots (service accounts), NORMAL for people. Default NORMAL. */
  type?: 'NORMAL' | 'SYSTEM';
  /** SPKI PEM of the key the user logs in with; when absent the sandbox generates a key pair. */
  publicKeyPem?: string;
  /** Issue a client certificate (PEM and PKCS#12) for certificate login. Default: true for SYSTEM users. */
  certificate?: boolean;
  /** Whether the user may send files (attachments). Default true. */
  canSendFiles?: boolean;
  /** Directory fields (UserV2 `title`, `department`, `location`, …; docs/sandbox.md "Seed file"). */
  profile?: Profile;
}

/** A seeded room. */
export interface SeedRoom {
  name: string;
  description?: string;
  owner: string;
  members?: string[];
  /** More V3RoomAttributes: `keywords`, `subType`, `pinnedMessageId` and the boolean flags. */
  attributes?: Record<string, unknown>;
}

/** One seeded OBO app (docs/sandbox.md "OBO apps"). */
export interface SeedApp {
  /** Letters, digits, `_` and `-`; not the username of a user. */
  appId: string;
  /** Default: the app id. */
  name?: string;
  /** SPKI PEM of the key its JWTs are signed with; when absent the sandbox generates a key pair. */
  publicKeyPem?: string;
  /** Issue a client certificate (CN = app id) for certificate authentication. Default true. */
  certificate?: boolean;
  /** Its permissions (`ACT_AS_USER` is implicit). Default: every permission. */
  permissions?: OboPermission[];
  /** Enabled for the pod. Default true. */
  enabled?: boolean;
  /** Usernames of the users it is installed for. Default none. */
  installedFor?: string[];
  /** Its partner callback: where it goes (http or https) and the key sent as `X-API-KEY`. */
  callback?: { url: string; apiKey: string };
}

/** A seed file. */
export interface Seed {
  /** `imRequiresConnection`: IMs and MIMs only between connected users (default false). */
  pod?: { podId?: number; name?: string; imRequiresConnection?: boolean };
  entitlements?: { objectStore?: boolean };
  users: SeedUser[];
  /** Username of the bot the generated config file is for. Default: the first SYSTEM user. */
  bot?: string;
  rooms?: SeedRoom[];
  ims?: string[][];
  apps?: SeedApp[];
}

/** The permissions of the default seed's app: every one but SUPPRESS_MESSAGES (so that one refusal can be seen). */
const DEFAULT_APP_PERMISSIONS: OboPermission[] = OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER' && p !== 'SUPPRESS_MESSAGES');

/**
 * The seed used when none is given: a bot, two people, a room with all three, an IM, and an OBO app installed for
 * the two people (not for the bot), with every permission but SUPPRESS_MESSAGES.
 */
export const DEFAULT_SEED: Seed = {
  pod: { podId: 196, name: 'allegro-ts sandbox' },
  entitlements: { objectStore: true },
  users: [
    { username: 'sandbox-bot', displayName: 'Sandbox Bot', type: 'SYSTEM' },
    { username: 'alice', displayName: 'Alice Archer', profile: { title: 'Sales Trader', department: 'Equities', location: 'London', jobFunction: 'Trader' } },
    { username: 'bob', displayName: 'Bob Baker', profile: { title: 'Research Analyst', department: 'Research', location: 'New York', jobFunction: 'Analyst' } },
  ],
  bot: 'sandbox-bot',
  rooms: [{ name: 'Sandbox room', description: 'Everyone in the sandbox', owner: 'sandbox-bot', members: ['alice', 'bob'] }],
  ims: [['sandbox-bot', 'alice']],
  apps: [{ appId: 'sandbox-crm', name: 'Sandbox CRM', permissions: DEFAULT_APP_PERMISSIONS, installedFor: ['alice', 'bob'] }],
};

/** What an app id may look like (Symphony's `appGroupId`: letters, digits, `_` and `-`). */
export const APP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What a username may look like. */
export const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

function fail(message: string): never {
  throw new HttpError(400, `Invalid seed: ${message}`);
}

/** Directory fields: strings, of {@link PROFILE_FIELDS} only. */
export function parseProfile(o: Record<string, unknown>): Profile {
  const profile: Profile = {};
  for (const key of Object.keys(o)) {
    if (!(PROFILE_FIELDS as readonly string[]).includes(key)) throw new HttpError(400, `Field "${key}" is not one of ${PROFILE_FIELDS.join(', ')}`);
  }
  for (const f of PROFILE_FIELDS) {
    const v = optionalField(o, f, 'string');
    if (v !== undefined) profile[f] = v;
  }
  return profile;
}

/** Check a parsed seed; throws with a message naming the bad entry. */
export function parseSeed(value: unknown): Seed {
  let o: Record<string, unknown>;
  try {
    o = requireObject(value, 'seed');
  } catch (err) {
    fail((err as Error).message);
  }
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      return fail(`${what}: ${(err as Error).message}`);
    }
  };
  const seed: Seed = { users: [] };
  const pod = wrap('pod', () => optionalField(o, 'pod', 'object'));
  if (pod !== undefined) {
    const podId = wrap('pod', () => optionalField(pod, 'podId', 'number'));
    // Symphony allows 27 bits; user ids (pod id × 2^36 + n) stay exact JavaScript numbers only below 2^17.
    if (podId !== undefined && (!Number.isInteger(podId) || podId < 1 || podId >= 2 ** 17)) fail('pod.podId must be an integer from 1 to 131071');
    const name = wrap('pod', () => optionalField(pod, 'name', 'string'));
    const imRequiresConnection = wrap('pod', () => optionalField(pod, 'imRequiresConnection', 'boolean'));
    seed.pod = {
      ...(podId === undefined ? {} : { podId }), ...(name === undefined ? {} : { name }),
      ...(imRequiresConnection === undefined ? {} : { imRequiresConnection }),
    };
  }
  const entitlements = wrap('entitlements', () => optionalField(o, 'entitlements', 'object'));
  if (entitlements !== undefined) {
    const objectStore = wrap('entitlements', () => optionalField(entitlements, 'objectStore', 'boolean'));
    seed.entitlements = objectStore === undefined ? {} : { objectStore };
  }
  const names = new Set<string>();
  for (const [i, raw] of wrap('users', () => requireArray(requiredField(o, 'users', 'array'), 'users')).entries()) {
    const u = wrap(`users[${i}]`, () => requireObject(raw, `users[${i}]`));
    const username = wrap(`users[${i}]`, () => requiredField(u, 'username', 'string'));
    if (!USERNAME.test(username)) fail(`users[${i}].username must be 1 to 64 letters, digits or . _ @ -`);
    if (names.has(username.toLowerCase())) fail(`users[${i}].username ${username} is not unique`);
    names.add(username.toLowerCase());
    const user: SeedUser = { username };
    const displayName = wrap(`users[${i}]`, () => optionalField(u, 'displayName', 'string'));
    if (displayName !== undefined) user.displayName = displayName;
    const email = wrap(`users[${i}]`, () => optionalField(u, 'email', 'string'));
    if (email !== undefined) user.email = email;
    const type = wrap(`users[${i}]`, () => optionalField(u, 'type', 'string'));
    if (type !== undefined && type !== 'NORMAL' && type !== 'SYSTEM') fail(`users[${i}].type must be NORMAL or SYSTEM`);
    if (type !== undefined) user.type = type;
    const publicKeyPem = wrap(`users[${i}]`, () => optionalField(u, 'publicKeyPem', 'string'));
    if (publicKeyPem !== undefined) user.publicKeyPem = publicKeyPem;
    const certificate = wrap(`users[${i}]`, () => optionalField(u, 'certificate', 'boolean'));
    if (certificate !== undefined) user.certificate = certificate;
    const canSendFiles = wrap(`users[${i}]`, () => optionalField(u, 'canSendFiles', 'boolean'));
    if (canSendFiles !== undefined) user.canSendFiles = canSendFiles;
    const profile = wrap(`users[${i}]`, () => optionalField(u, 'profile', 'object'));
    if (profile !== undefined) user.profile = wrap(`users[${i}].profile`, () => parseProfile(profile));
    seed.users.push(user);
  }
  const known = (name: unknown, where: string): string => {
    if (typeof name !== 'string' || !names.has(name.toLowerCase())) fail(`${where} names an unknown user`);
    return name;
  };
  const bot = wrap('bot', () => optionalField(o, 'bot', 'string'));
  if (bot !== undefined) seed.bot = known(bot, 'bot');
  const rooms = wrap('rooms', () => optionalField(o, 'rooms', 'array'));
  if (rooms !== undefined) {
    seed.rooms = rooms.map((raw, i) => {
      const r = wrap(`rooms[${i}]`, () => requireObject(raw, `rooms[${i}]`));
      const name = wrap(`rooms[${i}]`, () => requiredField(r, 'name', 'string'));
      const description = wrap(`rooms[${i}]`, () => optionalField(r, 'description', 'string'));
      const owner = known(r.owner, `rooms[${i}].owner`);
      const members = (wrap(`rooms[${i}]`, () => optionalField(r, 'members', 'array')) ?? []).map((m, j) => known(m, `rooms[${i}].members[${j}]`));
      const attributes = wrap(`rooms[${i}]`, () => optionalField(r, 'attributes', 'object'));
      return {
        name, owner, members, ...(description === undefined ? {} : { description }),
        ...(attributes === undefined ? {} : { attributes: wrap(`rooms[${i}].attributes`, () => roomFields(attributes, true)) }),
      };
    });
  }
  const ims = wrap('ims', () => optionalField(o, 'ims', 'array'));
  if (ims !== undefined) {
    seed.ims = ims.map((raw, i) => {
      const pair = wrap(`ims[${i}]`, () => requireArray(raw, `ims[${i}]`)).map((m, j) => known(m, `ims[${i}][${j}]`));
      if (new Set(pair.map((m) => m.toLowerCase())).size < 2) fail(`ims[${i}] needs at least two different users`);
      return pair;
    });
  }
  const apps = wrap('apps', () => optionalField(o, 'apps', 'array'));
  if (apps !== undefined) {
    const ids = new Set<string>();
    seed.apps = apps.map((raw, i) => parseSeedApp(raw, `apps[${i}]`, wrap, known, (appId) => {
      if (names.has(appId.toLowerCase())) fail(`apps[${i}].appId ${appId} is the username of a user`);
      if (ids.has(appId)) fail(`apps[${i}].appId ${appId} is not unique`);
      ids.add(appId);
    }));
  }
  return seed;
}

/** One app of a seed; `claim` refuses an id that is taken. */
function parseSeedApp(raw: unknown, where: string, wrap: <T>(what: string, f: () => T) => T, known: (name: unknown, where: string) => string, claim: (appId: string) => void): SeedApp {
  const a = wrap(where, () => requireObject(raw, where));
  const appId = wrap(where, () => requiredField(a, 'appId', 'string'));
  if (!APP_ID.test(appId)) fail(`${where}.appId must be 1 to 64 letters, digits, _ or -`);
  claim(appId);
  const app: SeedApp = { appId };
  const name = wrap(where, () => optionalField(a, 'name', 'string'));
  if (name !== undefined) app.name = name;
  const publicKeyPem = wrap(where, () => optionalField(a, 'publicKeyPem', 'string'));
  if (publicKeyPem !== undefined) app.publicKeyPem = publicKeyPem;
  for (const flag of ['certificate', 'enabled'] as const) {
    const value = wrap(where, () => optionalField(a, flag, 'boolean'));
    if (value !== undefined) app[flag] = value;
  }
  const permissions = wrap(where, () => optionalField(a, 'permissions', 'array'));
  if (permissions !== undefined) {
    const bad = permissions.find((p) => !isOboPermission(p));
    if (bad !== undefined) fail(`${where}.permissions: ${JSON.stringify(bad)} is not one of ${OBO_PERMISSIONS.join(', ')}`);
    app.permissions = [...new Set(permissions as OboPermission[])];
  }
  const installedFor = wrap(where, () => optionalField(a, 'installedFor', 'array'));
  if (installedFor !== undefined) app.installedFor = installedFor.map((u, j) => known(u, `${where}.installedFor[${j}]`));
  const callback = wrap(where, () => optionalField(a, 'callback', 'object'));
  if (callback !== undefined) {
    const url = wrap(`${where}.callback`, () => requiredField(callback, 'url', 'string'));
    if (!isCallbackUrl(url)) fail(`${where}.callback.url must be an http(s) URL`);
    app.callback = { url, apiKey: wrap(`${where}.callback`, () => requiredField(callback, 'apiKey', 'string')) };
  }
  return app;
}

/** Whether `url` can be a partner callback URL: absolute http(s), without credentials. */
export function isCallbackUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

/** Read and check a seed file (JSON). */
export async function readSeedFile(path: string): Promise<Seed> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new HttpError(400, `Cannot read seed file ${path}: ${(err as Error).message}`);
  }
  return parseSeed(parsed);
}
