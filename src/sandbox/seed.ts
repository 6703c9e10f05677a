/**
 * Seed files: the identities and conversations a new sandbox starts with (JSON; format in docs/sandbox.md).
 * A seed names the pod, its entitlements, users and bots (with an RSA public key for JWT login, or none to have
 * the sandbox generate a key pair and write the private key next to the data), rooms with owners and members,
 * and IMs. Seeding runs once, on the first start of a data directory; later starts read the database instead.
 */
import { readFile } from 'node:fs/promises';
import { HttpError } from './http-error.js';
import { optionalField, requireArray, requireObject, requiredField } from './body.js';

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
}

/** A seed file. */
export interface Seed {
  pod?: { podId?: number; name?: string };
  entitlements?: { objectStore?: boolean };
  users: SeedUser[];
  /** Username of the bot the generated config file is for. Default: the first SYSTEM user. */
  bot?: string;
  rooms?: Array<{ name: string; description?: string; owner: string; members?: string[] }>;
  ims?: string[][];
}

/** The seed used when none is given: a bot, two people, a room with all three, and an IM. */
export const DEFAULT_SEED: Seed = {
  pod: { podId: 196, name: 'allegro-ts sandbox' },
  entitlements: { objectStore: true },
  users: [
    { username: 'sandbox-bot', displayName: 'Sandbox Bot', type: 'SYSTEM' },
    { username: 'alice', displayName: 'Alice Archer' },
    { username: 'bob', displayName: 'Bob Baker' },
  ],
  bot: 'sandbox-bot',
  rooms: [{ name: 'Sandbox room', description: 'Everyone in the sandbox', owner: 'sandbox-bot', members: ['alice', 'bob'] }],
  ims: [['sandbox-bot', 'alice']],
};

/** What a username may look like. */
export const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

function fail(message: string): never {
  throw new HttpError(400, `Invalid seed: ${message}`);
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
    seed.pod = { ...(podId === undefined ? {} : { podId }), ...(name === undefined ? {} : { name }) };
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
      return { name, owner, members, ...(description === undefined ? {} : { description }) };
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
  return seed;
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
