/**
 * Password hashes of the agent host (docs/agent-host.md "Users and the super user"): scrypt from node:crypto with a
 * random 16-byte salt, encoded `scrypt$N$r$p$salt$hash` (base64url), checked in constant time. The super user's hash
 * is written into the configuration file; web users' hashes are stored. A password never prints.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt's cost parameters (N = 2^14, r = 8, p = 1: about 16 MiB and a few tens of milliseconds). */
const COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Largest N a stored hash may ask for (a tampered hash must not make a login take minutes). */
const MAX_N = 2 ** 20;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { ...options, maxmem: 256 * (options.N ?? COST.N) * (options.r ?? COST.r) + 1024 * 1024 }, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** Hash `password` for storage. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `hash` has the form {@link hashPassword} writes. */
export function isPasswordHash(hash: string): boolean {
  return parseHash(hash) !== undefined;
}

function parseHash(hash: string): { N: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/.exec(hash);
  if (m === null) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64url'), key: Buffer.from(m[5]!, 'base64url') };
}

/** Whether `password` matches `hash` (false for a hash of another form). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, { N: parsed.N, r: parsed.r, p: parsed.p });
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}
