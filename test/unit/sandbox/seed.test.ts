import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/sandbox/http-error.js';
import { DEFAULT_SEED, parseSeed, readSeedFile, USERNAME, type Seed } from '../../../src/sandbox/seed.js';

function seedError(value: unknown): HttpError {
  try {
    parseSeed(value);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).message).toMatch(/^Invalid seed: /);
    return err as HttpError;
  }
  throw new Error(`parseSeed accepted ${JSON.stringify(value)}`);
}

const base = (): Record<string, unknown> => ({
  users: [{ username: 'bot', type: 'SYSTEM' }, { username: 'alice' }, { username: 'bob' }],
});

describe('parseSeed', () => {
  it('accepts DEFAULT_SEED unchanged, also after a JSON round trip', () => {
    expect(parseSeed(DEFAULT_SEED)).toEqual(DEFAULT_SEED);
    expect(parseSeed(JSON.parse(JSON.stringify(DEFAULT_SEED)))).toEqual(DEFAULT_SEED);
  });

  it('keeps every field of a full seed and drops unknown ones', () => {
    const seed = {
      pod: { podId: 131071, name: 'p', extra: 1 },
      entitlements: { objectStore: false },
      users: [
        { username: 'Bot.1@x-y_z', displayName: 'B', email: 'b@x', type: 'SYSTEM', publicKeyPem: 'PEM', certificate: false, color: 'red' },
        { username: 'alice', displayName: null },
      ],
      bot: 'BOT.1@X-Y_Z',
      rooms: [{ name: 'r', description: 'd', owner: 'alice', members: ['Bot.1@x-y_z'] }, { name: 'r2', owner: 'ALICE' }],
      ims: [['alice', 'Bot.1@x-y_z'], ['alice', 'Bot.1@x-y_z', 'alice']],
      unknown: true,
    };
    const expected: Seed = {
      pod: { podId: 131071, name: 'p' },
      entitlements: { objectStore: false },
      users: [
        { username: 'Bot.1@x-y_z', displayName: 'B', email: 'b@x', type: 'SYSTEM', publicKeyPem: 'PEM', certificate: false },
        { username: 'alice' },
      ],
      bot: 'BOT.1@X-Y_Z',
      rooms: [{ name: 'r', description: 'd', owner: 'alice', members: ['Bot.1@x-y_z'] }, { name: 'r2', owner: 'ALICE', members: [] }],
      ims: [['alice', 'Bot.1@x-y_z'], ['alice', 'Bot.1@x-y_z', 'alice']],
    };
    expect(parseSeed(seed)).toEqual(expected);
  });

  it('keeps OBO apps, the pod\'s IM policy and users\' file entitlement', () => {
    const seed = {
      pod: { imRequiresConnection: true },
      users: [{ username: 'alice', canSendFiles: false }, { username: 'bob' }],
      apps: [
        { appId: 'crm_1-x', name: 'CRM', publicKeyPem: 'PEM', certificate: false, permissions: ['SEND_MESSAGES', 'GET_PRESENCE', 'SEND_MESSAGES'], enabled: false,
          installedFor: ['ALICE', 'bob'], callback: { url: 'https://crm.example/cb', apiKey: 'k' }, extra: 1 },
        { appId: 'plain' },
      ],
    };
    expect(parseSeed(seed)).toEqual({
      pod: { imRequiresConnection: true },
      users: [{ username: 'alice', canSendFiles: false }, { username: 'bob' }],
      apps: [
        { appId: 'crm_1-x', name: 'CRM', publicKeyPem: 'PEM', certificate: false, permissions: ['SEND_MESSAGES', 'GET_PRESENCE'], enabled: false,
          installedFor: ['ALICE', 'bob'], callback: { url: 'https://crm.example/cb', apiKey: 'k' } },
        { appId: 'plain' },
      ],
    });
    expect(DEFAULT_SEED.apps).toEqual([expect.objectContaining({ appId: 'sandbox-crm', installedFor: ['alice', 'bob'] })]);
    expect(DEFAULT_SEED.apps![0]!.permissions).not.toContain('SUPPRESS_MESSAGES');
  });

  it('keeps directory fields and room attributes, in their canonical form', () => {
    const seed = parseSeed({
      users: [{ username: 'alice', profile: { title: 'T', location: 'L', marketCoverage: 'EMEA' } }],
      rooms: [{ name: 'r', owner: 'alice', attributes: { keywords: [{ key: 'k', value: 'v', extra: 1 }], readOnly: true, subType: 'EMAIL', unknown: 1 } }],
    });
    expect(seed.users[0]!.profile).toEqual({ title: 'T', location: 'L', marketCoverage: 'EMEA' });
    expect(seed.rooms![0]!.attributes).toEqual({ keywords: [{ key: 'k', value: 'v' }], readOnly: true, subType: 'EMAIL' });
  });

  it('accepts the pod id bounds 1 and 131071 and a seed with users only', () => {
    expect(parseSeed({ ...base(), pod: { podId: 1 } }).pod).toEqual({ podId: 1 });
    expect(parseSeed({ ...base(), pod: {} }).pod).toEqual({});
    expect(parseSeed({ users: [] })).toEqual({ users: [] });
  });

  it.each([
    [null, /seed must be a JSON object, not null/],
    [[], /seed must be a JSON object, not array/],
    ['seed', /seed must be a JSON object, not string/],
    [{}, /users: Field "users" is required/],
    [{ users: {} }, /users: Field "users" must be an array, not object/],
    [{ ...base(), pod: 196 }, /pod: Field "pod" must be an object/],
    [{ ...base(), pod: { podId: '196' } }, /pod: Field "podId" must be a number, not string/],
    [{ ...base(), pod: { podId: 0 } }, /pod\.podId must be an integer from 1 to 131071/],
    [{ ...base(), pod: { podId: -5 } }, /pod\.podId must be an integer from 1 to 131071/],
    [{ ...base(), pod: { podId: 131072 } }, /pod\.podId must be an integer from 1 to 131071/],
    [{ ...base(), pod: { podId: 2 ** 27 } }, /pod\.podId must be an integer from 1 to 131071/],
    [{ ...base(), pod: { podId: 1.5 } }, /pod\.podId must be an integer from 1 to 131071/],
    [{ ...base(), pod: { name: 5 } }, /pod: Field "name" must be a string/],
    [{ ...base(), entitlements: [] }, /entitlements: Field "entitlements" must be an object, not array/],
    [{ ...base(), entitlements: { objectStore: 'yes' } }, /entitlements: Field "objectStore" must be a boolean, not string/],
    [{ users: ['alice'] }, /users\[0\]: The users\[0\] must be a JSON object, not string/],
    [{ users: [{ username: 'a' }, {}] }, /users\[1\]: Field "username" is required/],
    [{ users: [{ username: 'a' }, { username: 7 }] }, /users\[1\]: Field "username" must be a string, not number/],
    [{ users: [{ username: 'a' }, { username: '' }] }, /users\[1\]\.username must be 1 to 64 letters/],
    [{ users: [{ username: 'a' }, { username: 'a b' }] }, /users\[1\]\.username must be 1 to 64 letters/],
    [{ users: [{ username: 'a' }, { username: 'x'.repeat(65) }] }, /users\[1\]\.username must be 1 to 64 letters/],
    [{ users: [{ username: 'a' }, { username: 'é' }] }, /users\[1\]\.username must be 1 to 64 letters/],
    [{ users: [{ username: 'alice' }, { username: 'Alice' }] }, /users\[1\]\.username Alice is not unique/],
    [{ users: [{ username: 'a' }, { username: 'b' }, { username: 'A' }] }, /users\[2\]\.username A is not unique/],
    [{ users: [{ username: 'a', displayName: 1 }] }, /users\[0\]: Field "displayName" must be a string/],
    [{ users: [{ username: 'a', email: {} }] }, /users\[0\]: Field "email" must be a string/],
    [{ users: [{ username: 'a', type: 'ADMIN' }] }, /users\[0\]\.type must be NORMAL or SYSTEM/],
    [{ users: [{ username: 'a', type: 'system' }] }, /users\[0\]\.type must be NORMAL or SYSTEM/],
    [{ users: [{ username: 'a', publicKeyPem: [] }] }, /users\[0\]: Field "publicKeyPem" must be a string/],
    [{ users: [{ username: 'a', certificate: 'true' }] }, /users\[0\]: Field "certificate" must be a boolean/],
    [{ users: [{ username: 'a', profile: 'x' }] }, /users\[0\]: Field "profile" must be an object/],
    [{ users: [{ username: 'a', profile: { title: 1 } }] }, /users\[0\]\.profile: Field "title" must be a string/],
    [{ users: [{ username: 'a', profile: { mood: 'x' } }] }, /users\[0\]\.profile: Field "mood" is not one of firstName/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice', attributes: { keywords: [{ key: 'k' }] } }] }, /rooms\[0\]\.attributes: Field "value" is required/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice', attributes: { readOnly: 'yes' } }] }, /rooms\[0\]\.attributes: Field "readOnly" must be a boolean/],
    [{ ...base(), bot: 'carol' }, /bot names an unknown user/],
    [{ ...base(), bot: 1 }, /bot: Field "bot" must be a string/],
    [{ ...base(), rooms: {} }, /rooms: Field "rooms" must be an array/],
    [{ ...base(), rooms: ['r'] }, /rooms\[0\]: The rooms\[0\] must be a JSON object, not string/],
    [{ ...base(), rooms: [{ owner: 'alice' }] }, /rooms\[0\]: Field "name" is required/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'carol' }] }, /rooms\[0\]\.owner names an unknown user/],
    [{ ...base(), rooms: [{ name: 'r' }] }, /rooms\[0\]\.owner names an unknown user/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice' }, { name: 'r2', owner: 5 }] }, /rooms\[1\]\.owner names an unknown user/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice', description: 3 }] }, /rooms\[0\]: Field "description" must be a string/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice', members: 'bob' }] }, /rooms\[0\]: Field "members" must be an array/],
    [{ ...base(), rooms: [{ name: 'r', owner: 'alice', members: ['bob', 'carol'] }] }, /rooms\[0\]\.members\[1\] names an unknown user/],
    [{ ...base(), ims: {} }, /ims: Field "ims" must be an array/],
    [{ ...base(), ims: ['alice'] }, /ims\[0\]: The ims\[0\] must be a JSON array, not string/],
    [{ ...base(), ims: [['alice', 'carol']] }, /ims\[0\]\[1\] names an unknown user/],
    [{ ...base(), ims: [['alice', 'bob'], ['alice']] }, /ims\[1\] needs at least two different users/],
    [{ ...base(), ims: [['alice', 'ALICE']] }, /ims\[0\] needs at least two different users/],
    [{ ...base(), ims: [[]] }, /ims\[0\] needs at least two different users/],
    [{ ...base(), pod: { imRequiresConnection: 1 } }, /pod: Field "imRequiresConnection" must be a boolean/],
    [{ users: [{ username: 'a', canSendFiles: 'no' }] }, /users\[0\]: Field "canSendFiles" must be a boolean/],
    [{ ...base(), apps: {} }, /apps: Field "apps" must be an array/],
    [{ ...base(), apps: [{}] }, /apps\[0\]: Field "appId" is required/],
    [{ ...base(), apps: [{ appId: 'a:b' }] }, /apps\[0\]\.appId must be 1 to 64 letters, digits, _ or -/],
    [{ ...base(), apps: [{ appId: 'Alice' }] }, /apps\[0\]\.appId Alice is the username of a user/],
    [{ ...base(), apps: [{ appId: 'x' }, { appId: 'x' }] }, /apps\[1\]\.appId x is not unique/],
    [{ ...base(), apps: [{ appId: 'x', permissions: ['SEND_MESSAGE'] }] }, /apps\[0\]\.permissions: "SEND_MESSAGE" is not one of/],
    [{ ...base(), apps: [{ appId: 'x', installedFor: ['carol'] }] }, /apps\[0\]\.installedFor\[0\] names an unknown user/],
    [{ ...base(), apps: [{ appId: 'x', enabled: 'yes' }] }, /apps\[0\]: Field "enabled" must be a boolean/],
    [{ ...base(), apps: [{ appId: 'x', callback: { url: 'ftp://x', apiKey: 'k' } }] }, /apps\[0\]\.callback\.url must be an http\(s\) URL/],
    [{ ...base(), apps: [{ appId: 'x', callback: { url: 'https://x' } }] }, /apps\[0\]\.callback: Field "apiKey" is required/],
  ])('rejects %j naming the entry', (value, message) => {
    expect(seedError(value).message).toMatch(message);
  });

  it('never throws anything but a 400 on arbitrary JSON, and what it accepts it accepts again unchanged', () => {
    const username = fc.constantFrom('alice', 'bob', 'Bot', 'ALICE', 'carol', '', 'a b');
    const seedish = fc.record({
      pod: fc.oneof(fc.jsonValue(), fc.record({ podId: fc.oneof(fc.integer({ min: -2, max: 2 ** 18 }), fc.jsonValue()), name: fc.jsonValue() }, { requiredKeys: [] })),
      users: fc.oneof(fc.jsonValue(), fc.array(fc.oneof(fc.jsonValue(), fc.record({ username, type: fc.constantFrom('NORMAL', 'SYSTEM', 'x') }, { requiredKeys: [] })), { maxLength: 4 })),
      bot: fc.oneof(username, fc.jsonValue()),
      rooms: fc.oneof(fc.jsonValue(), fc.array(fc.record({ name: fc.string(), owner: username, members: fc.array(username, { maxLength: 3 }) }, { requiredKeys: [] }), { maxLength: 3 })),
      ims: fc.oneof(fc.jsonValue(), fc.array(fc.array(username, { maxLength: 3 }), { maxLength: 3 })),
    }, { requiredKeys: [] });
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), seedish), (value) => {
      let seed: Seed;
      try {
        seed = parseSeed(value);
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
        return;
      }
      for (const u of seed.users) expect(u.username).toMatch(USERNAME);
      expect(new Set(seed.users.map((u) => u.username.toLowerCase())).size).toBe(seed.users.length);
      expect(parseSeed(JSON.parse(JSON.stringify(seed)))).toEqual(seed);
    }), { numRuns: 300 });
  });
});

describe('readSeedFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allegro-seed-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and checks a seed file', async () => {
    const path = join(dir, 'good.json');
    await writeFile(path, JSON.stringify(DEFAULT_SEED));
    expect(await readSeedFile(path)).toEqual(DEFAULT_SEED);
  });

  it('is a 400 naming the path for a missing file', async () => {
    const path = join(dir, 'missing.json');
    const err = await readSeedFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).message).toContain(`Cannot read seed file ${path}: `);
    expect((err as HttpError).message).toContain('ENOENT');
  });

  it('is a 400 naming the path for a file that is not JSON', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"users": [');
    const err = await readSeedFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).message).toContain(`Cannot read seed file ${path}: `);
  });

  it('passes on the check of a JSON file that is not a valid seed', async () => {
    const path = join(dir, 'invalid.json');
    await writeFile(path, JSON.stringify({ users: [{ username: 'a' }, { username: 'A' }] }));
    await expect(readSeedFile(path)).rejects.toThrow(/^Invalid seed: users\[1\]\.username A is not unique$/);
  });
});
