import {
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
} from 'node:crypto';
import { inspect } from 'node:util';
import { platform } from '#platform';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AesKey } from '../../../src/crypto/aes-key.js';
import {
  generateRsaKeyPair,
  RsaPrivateKey,
  RsaPublicKey,
  signJwtRs512,
  unwrapKey,
  verifyJwtRs512,
  type RsaPadding,
} from '../../../src/crypto/rsa.js';
import { decryptTransport, encryptTransport } from '../../../src/crypto/transport.js';
import { AllegroError } from '../../../src/errors.js';
import { codeOf } from '../../helpers/errors.js';
import { fromUtf8, toBase64Url, tryFromBase64, utf8 } from '../../../src/util/bytes.js';

const K = 256; // RSA-2048 modulus length in bytes
/** Node KeyObjects are keys only on the Node platform; the portable one (browsers) takes PEM. */
const keyObjects = platform.name === 'node';


/** The AllegroError that `run` throws or rejects with. */
async function errorOf(run: () => unknown): Promise<AllegroError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof AllegroError) return err;
    throw err;
  }
  throw new Error('expected an AllegroError');
}

let pemA: { privateKeyPem: string; publicKeyPem: string };
let pemB: { privateKeyPem: string; publicKeyPem: string };
let keyA: RsaPrivateKey;
let keyB: RsaPrivateKey;
let publicA: RsaPublicKey;

beforeAll(async () => {
  [pemA, pemB] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  keyA = new RsaPrivateKey(pemA.privateKeyPem);
  keyB = new RsaPrivateKey(pemB.privateKeyPem);
  publicA = new RsaPublicKey(pemA.publicKeyPem);
});

/** The implicit-rejection value the module comment specifies: HMAC-SHA256(SHA-256(I2OSP(d, k)), c)[0..length). */
function expectedRejection(privateKeyPem: string, ciphertext: Uint8Array, length = 32): Uint8Array {
  const d = Buffer.from(createPrivateKey(privateKeyPem).export({ format: 'jwk' }).d!, 'base64url');
  const paddedD = Buffer.concat([Buffer.alloc(K - d.length), d]);
  const secret = createHash('sha256').update(paddedD).digest();
  return new Uint8Array(createHmac('sha256', secret).update(ciphertext).digest().subarray(0, length));
}

/** Raw RSA public operation (no padding): the ciphertext whose decryption is exactly `em`. */
function rawEncrypt(em: Uint8Array): Uint8Array {
  expect(em.length).toBe(K);
  return new Uint8Array(publicEncrypt({ key: pemA.publicKeyPem, padding: constants.RSA_NO_PADDING }, em));
}

function nonZeroBytes(length: number): Uint8Array {
  const out = new Uint8Array(randomBytes(length));
  for (let i = 0; i < length; i++) if (out[i] === 0) out[i] = 1 + (i % 255);
  return out;
}

/** A PKCS#1 v1.5 encryption block 0x00 ‖ 0x02 ‖ PS ‖ 0x00 ‖ M for `message`, with a random non-zero PS. */
function validEm(message: Uint8Array): Uint8Array {
  const em = new Uint8Array(K);
  em[1] = 0x02;
  em.set(nonZeroBytes(K - message.length - 3), 2);
  em.set(message, K - message.length);
  return em;
}

describe('RsaPrivateKey and RsaPublicKey', () => {
  it('accept PKCS#8 and PKCS#1 private PEMs, SPKI and PKCS#1 public PEMs, and in Node KeyObjects', async () => {
    const pkcs1 = createPrivateKey(pemA.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pemA.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(pkcs1).toContain('-----BEGIN RSA PRIVATE KEY-----');
    const fromPkcs1 = new RsaPrivateKey(pkcs1);
    const fromKeyObject = keyObjects ? [new RsaPrivateKey(createPrivateKey(pemA.privateKeyPem))] : [];
    expect(fromPkcs1.modulusBytes).toBe(K);
    expect(keyA.modulusBytes).toBe(K);

    const publicPkcs1 = createPublicKey(pemA.publicKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(publicPkcs1).toContain('-----BEGIN RSA PUBLIC KEY-----');
    const key = randomBytes(32);
    const publicFromKeyObject = keyObjects ? [new RsaPublicKey(createPublicKey(pemA.publicKeyPem))] : [];
    for (const pub of [publicA, new RsaPublicKey(publicPkcs1), ...publicFromKeyObject, keyA.publicKey()]) {
      expect(pub.modulusBytes).toBe(K);
      const wrapped = await pub.wrap(key, 'oaep-sha256');
      for (const priv of [keyA, fromPkcs1, ...fromKeyObject]) {
        expect(await unwrapKey(priv, wrapped, 'oaep-sha256')).toEqual(new Uint8Array(key));
      }
    }
  });

  it('derive the same implicit-rejection secret from every encoding of one key', async () => {
    const pkcs1 = new RsaPrivateKey(createPrivateKey(pemA.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string);
    const garbage = rawEncrypt(new Uint8Array(K).fill(0x11));
    const expected = expectedRejection(pemA.privateKeyPem, garbage);
    expect(await unwrapKey(keyA, garbage, 'pkcs1-v1_5')).toEqual(expected);
    expect(await unwrapKey(pkcs1, garbage, 'pkcs1-v1_5')).toEqual(expected);
  });

  it('refuse anything but an RSA key of at least 2048 bits, without quoting the input', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    const encrypted = createPrivateKey(pemA.privateKeyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    }) as string;
    const body = pemA.privateKeyPem.split('\n')[1]!;
    const badPrivate: unknown[] = [
      '',
      'not a key',
      pemA.publicKeyPem,
      pemA.privateKeyPem.replace(body, body.split('').reverse().join('')),
      encrypted,
      ec.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      ec.privateKey,
      small.privateKey.export({ type: 'pkcs1', format: 'pem' }),
      small.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      pss.privateKey,
      pss.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      createPublicKey(pemA.publicKeyPem),
      new Uint8Array(32),
      undefined,
    ];
    for (const input of badPrivate) {
      const err = await errorOf(() => new RsaPrivateKey(input as string));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/^Invalid privateKey: expected /);
      expect(err.message).not.toContain(body.slice(0, 16));
    }
    expect((await errorOf(() => new RsaPrivateKey(pemA.publicKeyPem))).message).toContain(
      'a PEM-encoded RSA private key (PKCS#1 or PKCS#8)',
    );
    expect((await errorOf(() => new RsaPrivateKey(small.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string))).message)
      .toContain('at least 2048 bits');
    if (keyObjects) expect((await errorOf(() => new RsaPrivateKey(small.privateKey))).message).toContain('at least 2048 bits');

    const badPublic: unknown[] = [
      '',
      pemA.privateKeyPem,
      createPrivateKey(pemA.privateKeyPem),
      ec.publicKey.export({ type: 'spki', format: 'pem' }),
      small.publicKey,
      small.publicKey.export({ type: 'spki', format: 'pem' }),
      pss.publicKey.export({ type: 'spki', format: 'pem' }),
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      null,
    ];
    for (const input of badPublic) {
      const err = await errorOf(() => new RsaPublicKey(input as string));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/^Invalid publicKey: expected /);
    }
  });

  it('never reveal key material through JSON, String or inspect', async () => {
    for (const key of [keyA, publicA]) {
      const shown = [JSON.stringify({ key }), String(key), inspect(key, { showHidden: true, depth: 5 })].join(' ');
      expect(shown).not.toMatch(/BEGIN|[A-Za-z0-9+/]{40}/);
    }
    expect(inspect(keyA)).toBe('RsaPrivateKey [2048 bits]');
    expect(JSON.stringify(keyA)).toBe('"[RsaPrivateKey]"');
  });
});

describe('unwrapKey with OAEP', () => {
  for (const padding of ['oaep-sha1', 'oaep-sha256'] as const) {
    it(`round-trips ${padding} keys wrapped by node and by RsaPublicKey.wrap`, async () => {
      const oaepHash = padding === 'oaep-sha1' ? 'sha1' : 'sha256';
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (key) => {
          const byNode = publicEncrypt({ key: pemA.publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, key);
          expect(await unwrapKey(keyA, byNode, padding)).toEqual(key);
          const ours = await publicA.wrap(key, padding);
          expect(ours.length).toBe(K);
          const back = privateDecrypt({ key: pemA.privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, ours);
          expect(new Uint8Array(back)).toEqual(key);
        }),
        { numRuns: 20 },
      );
    });
  }

  it('recovers shorter keys when told their length, and fails on any other length', async () => {
    const key16 = randomBytes(16);
    const wrapped = await publicA.wrap(key16, 'oaep-sha1');
    expect(await unwrapKey(keyA, wrapped, 'oaep-sha1', 16)).toEqual(new Uint8Array(key16));
    expect(await codeOf(() => unwrapKey(keyA, wrapped, 'oaep-sha1'))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(() => unwrapKey(keyA, wrapped, 'oaep-sha1', 17))).toBe('DECRYPTION_FAILED');
  });

  it('fails with DECRYPTION_FAILED for another padding, another key, or tampered bytes', async () => {
    const key = randomBytes(32);
    const sha1 = await publicA.wrap(key, 'oaep-sha1');
    const sha256 = await publicA.wrap(key, 'oaep-sha256');
    const pkcs1 = await publicA.wrap(key, 'pkcs1-v1_5');
    expect(await codeOf(() => unwrapKey(keyA, sha1, 'oaep-sha256'))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(() => unwrapKey(keyA, sha256, 'oaep-sha1'))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(() => unwrapKey(keyA, pkcs1, 'oaep-sha1'))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(() => unwrapKey(keyA, pkcs1, 'oaep-sha256'))).toBe('DECRYPTION_FAILED');
    expect(await codeOf(() => unwrapKey(keyB, sha256, 'oaep-sha256'))).toBe('DECRYPTION_FAILED');
    const tampered = sha256.slice();
    tampered[100]! ^= 1;
    expect(await codeOf(() => unwrapKey(keyA, tampered, 'oaep-sha256'))).toBe('DECRYPTION_FAILED');
  });
});

describe('unwrapKey with PKCS#1 v1.5', () => {
  it('round-trips 32-byte keys wrapped by node publicEncrypt(RSA_PKCS1_PADDING)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (key) => {
        const wrapped = publicEncrypt({ key: pemA.publicKeyPem, padding: constants.RSA_PKCS1_PADDING }, key);
        expect(await unwrapKey(keyA, wrapped, 'pkcs1-v1_5')).toEqual(key);
      }),
      { numRuns: 50 },
    );
  });

  it('round-trips keys wrapped by RsaPublicKey.wrap', async () => {
    const key = new Uint8Array(randomBytes(32));
    expect(await unwrapKey(keyA, await publicA.wrap(key, 'pkcs1-v1_5'), 'pkcs1-v1_5')).toEqual(key);
    const key20 = key.subarray(0, 20);
    expect(await unwrapKey(keyA, await publicA.wrap(key20, 'pkcs1-v1_5'), 'pkcs1-v1_5', 20)).toEqual(key20);
  });

  it('answers a tampered or random ciphertext with a deterministic pseudo-random key, not an error', async () => {
    const key = new Uint8Array(randomBytes(32));
    const wrapped = await publicA.wrap(key, 'pkcs1-v1_5');
    const tampered = wrapped.slice();
    tampered[K - 1]! ^= 0x80;
    const random = new Uint8Array(randomBytes(K));
    random[0] = 0; // below the modulus
    for (const c of [tampered, random]) {
      const first = await unwrapKey(keyA, c, 'pkcs1-v1_5');
      expect(first.length).toBe(32);
      expect(first).not.toEqual(key);
      expect(await unwrapKey(keyA, c, 'pkcs1-v1_5')).toEqual(first);
      expect(first).toEqual(expectedRejection(pemA.privateKeyPem, c));
    }
    // Another private key, or an OAEP ciphertext read as PKCS#1 v1.5, is rejected the same way. The ciphertext
    // must be below key B's modulus too (else it is refused outright), so re-wrap until it is.
    const modulusB = BigInt(`0x${Buffer.from(createPublicKey(pemB.publicKeyPem).export({ format: 'jwk' }).n!, 'base64url').toString('hex')}`);
    let forB = wrapped;
    while (BigInt(`0x${Buffer.from(forB).toString('hex')}`) >= modulusB) forB = await publicA.wrap(key, 'pkcs1-v1_5');
    expect(await unwrapKey(keyB, forB, 'pkcs1-v1_5')).toEqual(expectedRejection(pemB.privateKeyPem, forB));
    const oaep = await publicA.wrap(key, 'oaep-sha1');
    expect(await unwrapKey(keyA, oaep, 'pkcs1-v1_5')).toEqual(expectedRejection(pemA.privateKeyPem, oaep));
  });

  it('makes a rejected key fail later exactly as any wrong key does', async () => {
    const key = new Uint8Array(randomBytes(32));
    const transport = await encryptTransport(new AesKey(key), utf8('hello'), { rotationId: 0 });
    const tampered = await publicA.wrap(key, 'pkcs1-v1_5');
    tampered[5]! ^= 1;
    const rejected = new AesKey(await unwrapKey(keyA, tampered, 'pkcs1-v1_5'));
    const wrong = new AesKey(new Uint8Array(randomBytes(32)));
    const rejectedCode = await codeOf(() => decryptTransport(rejected, transport));
    expect(rejectedCode).toBe(await codeOf(() => decryptTransport(wrong, transport)));
    expect(rejectedCode).toBe('KEY_ID_MISMATCH');
  });

  describe('padding check on hand-built encryption blocks', () => {
    const message = new Uint8Array(32).map((_, i) => 0xa0 + i);
    const separator = K - 33;

    it('accepts valid blocks with any non-zero padding and any message', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (m) => {
          expect(await unwrapKey(keyA, rawEncrypt(validEm(m)), 'pkcs1-v1_5')).toEqual(m);
        }),
        { numRuns: 20 },
      );
      const allOnes = validEm(message);
      allOnes.fill(0xff, 2, separator);
      expect(await unwrapKey(keyA, rawEncrypt(allOnes), 'pkcs1-v1_5')).toEqual(message);
    });

    it('accepts a block for a shorter message only when told its length', async () => {
      const m31 = message.subarray(1);
      const c = rawEncrypt(validEm(m31));
      expect(await unwrapKey(keyA, c, 'pkcs1-v1_5', 31)).toEqual(m31);
      expect(await unwrapKey(keyA, c, 'pkcs1-v1_5')).toEqual(expectedRejection(pemA.privateKeyPem, c));
    });

    const invalid: Array<[string, (em: Uint8Array) => Uint8Array]> = [
      ['first byte 0x01', (em) => ((em[0] = 0x01), em)],
      ['first byte 0x7f', (em) => ((em[0] = 0x7f), em)],
      ['second byte 0x00', (em) => ((em[1] = 0x00), em)],
      ['second byte 0x01 (signature block type)', (em) => ((em[1] = 0x01), em)],
      ['second byte 0x03', (em) => ((em[1] = 0x03), em)],
      ['second byte 0x82', (em) => ((em[1] = 0x82), em)],
      ...Array.from({ length: 8 }, (_, i): [string, (em: Uint8Array) => Uint8Array] => [
        `a zero at padding byte ${i}`,
        (em) => ((em[2 + i] = 0), em),
      ]),
      ['a zero in the middle of the padding', (em) => ((em[120] = 0), em)],
      ['a zero just before the separator', (em) => ((em[separator - 1] = 0), em)],
      ['a non-zero separator', (em) => ((em[separator] = 0x01), em)],
      ['no zero byte at all', (em) => ((em[separator] = 0xff), em)],
      ['a 31-byte message', () => validEm(message.subarray(1))],
      ['a 33-byte message', () => validEm(new Uint8Array([0x55, ...message]))],
      ['a 33-byte message starting with zero', () => validEm(new Uint8Array([0x00, ...message]))],
      ['a 16-byte message', () => validEm(message.subarray(16))],
      ['an all-zero block', () => new Uint8Array(K)],
    ];
    for (const [name, corrupt] of invalid) {
      it(`rejects ${name}`, async () => {
        const c = rawEncrypt(corrupt(validEm(message)));
        const out = await unwrapKey(keyA, c, 'pkcs1-v1_5');
        expect(out).toEqual(expectedRejection(pemA.privateKeyPem, c));
        expect(out).not.toEqual(message);
      });
    }
  });

  it('fails with DECRYPTION_FAILED for a ciphertext of the wrong size or not below the modulus', async () => {
    const wrapped = await publicA.wrap(new Uint8Array(32), 'pkcs1-v1_5');
    for (const c of [new Uint8Array(0), wrapped.subarray(1), new Uint8Array([...wrapped, 0]), new Uint8Array(K).fill(0xff)]) {
      for (const padding of ['pkcs1-v1_5', 'oaep-sha1', 'oaep-sha256'] as const) {
        expect(await codeOf(() => unwrapKey(keyA, c, padding))).toBe('DECRYPTION_FAILED');
      }
    }
  });
});

describe('unwrapKey arguments', () => {
  it('raises INVALID_ARGUMENT for a bad key, ciphertext, padding or expected length', async () => {
    const wrapped = await publicA.wrap(new Uint8Array(32), 'oaep-sha1');
    const cases: Array<[unknown, unknown, unknown, unknown]> = [
      [pemA.privateKeyPem, wrapped, 'oaep-sha1', 32],
      [Object.create(RsaPrivateKey.prototype), wrapped, 'oaep-sha1', 32],
      [keyA, Array.from(wrapped), 'oaep-sha1', 32],
      [keyA, wrapped, 'oaep', 32],
      [keyA, wrapped, 'toString', 32],
      [keyA, wrapped, 'oaep-sha1', 0],
      [keyA, wrapped, 'oaep-sha1', 33],
      [keyA, wrapped, 'oaep-sha1', 1.5],
      [keyA, wrapped, 'oaep-sha1', '32'],
    ];
    for (const [key, c, padding, length] of cases) {
      expect(
        await codeOf(() => unwrapKey(key as RsaPrivateKey, c as Uint8Array, padding as RsaPadding, length as number)),
      ).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(() => publicA.wrap(new Uint8Array(33), 'oaep-sha1'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => publicA.wrap(new Uint8Array(0), 'oaep-sha1'))).toBe('INVALID_ARGUMENT');
  });
});

describe('RS512 JWT', () => {
  const now = 1_764_000_000_123;
  const nowSeconds = Math.floor(now / 1000);

  function decode(segment: string): unknown {
    return JSON.parse(fromUtf8(tryFromBase64(segment)!));
  }

  it('signs a header and payload with exactly alg/typ and sub/exp, verifiable by node and by verifyJwtRs512', async () => {
    const token = await signJwtRs512(keyA, { sub: 'bot.user' }, now);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(fromUtf8(tryFromBase64(header)!)).toBe('{"alg":"RS512","typ":"JWT"}');
    expect(decode(payload)).toEqual({ sub: 'bot.user', exp: nowSeconds + 240 });
    expect(tryFromBase64(signature)!.length).toBe(K);
    const verifier = createVerify('RSA-SHA512');
    verifier.update(`${header}.${payload}`);
    expect(verifier.verify(pemA.publicKeyPem, Buffer.from(signature, 'base64url'))).toBe(true);
    expect(await verifyJwtRs512(publicA, token, { now })).toEqual({ sub: 'bot.user', exp: nowSeconds + 240 });
    expect((await verifyJwtRs512(publicA, token, { now: now + 239_000 })).sub).toBe('bot.user');
  });

  it('takes an explicit exp or lifetime of at most five minutes, and nothing else', async () => {
    expect(decode((await signJwtRs512(keyA, { sub: 'a', lifetimeSeconds: 240 }, now)).split('.')[1]!)).toEqual({ sub: 'a', exp: nowSeconds + 240 });
    expect(decode((await signJwtRs512(keyA, { sub: 'a', exp: nowSeconds + 300 }, now)).split('.')[1]!)).toEqual({ sub: 'a', exp: nowSeconds + 300 });
    expect(decode((await signJwtRs512(keyA, { sub: 'ü 😀' }, now)).split('.')[1]!)).toEqual({ sub: 'ü 😀', exp: nowSeconds + 240 });
    const refused: unknown[] = [
      { sub: 'a', exp: nowSeconds + 301 },
      { sub: 'a', exp: nowSeconds },
      { sub: 'a', exp: nowSeconds - 10 },
      { sub: 'a', exp: nowSeconds + 10.5 },
      { sub: 'a', lifetimeSeconds: 301 },
      { sub: 'a', lifetimeSeconds: 0 },
      { sub: 'a', exp: nowSeconds + 60, lifetimeSeconds: 60 },
      { sub: '' },
      { sub: 42 },
      {},
      undefined,
    ];
    for (const claims of refused) {
      expect((await errorOf(() => signJwtRs512(keyA, claims as { sub: string }, now))).code).toBe('INVALID_ARGUMENT');
    }
    expect((await errorOf(() => signJwtRs512(keyA, { sub: 'a' }, Number.NaN))).code).toBe('INVALID_ARGUMENT');
    expect((await errorOf(() => signJwtRs512(publicA as unknown as RsaPrivateKey, { sub: 'a' }, now))).code).toBe('INVALID_ARGUMENT');
  });

  it('refuses expired tokens, tokens too far ahead, and tokens signed by another key', async () => {
    const token = await signJwtRs512(keyA, { sub: 'bot', lifetimeSeconds: 60 }, now);
    expect(await errorOf(() => verifyJwtRs512(publicA, token, { now: now + 60_000 }))).toMatchObject({ code: 'INVALID_TOKEN', reason: 'expired' });
    expect(await errorOf(() => verifyJwtRs512(publicA, token, { now, maxLifetimeSeconds: 59 }))).toMatchObject({ reason: 'lifetime-too-long' });
    expect((await errorOf(() => verifyJwtRs512(publicA, token, { now, maxLifetimeSeconds: 59 }))).message).toContain('60 s ahead');
    const other = await signJwtRs512(keyB, { sub: 'bot' }, now);
    const err = await errorOf(() => verifyJwtRs512(publicA, other, { now }));
    expect(err).toMatchObject({ code: 'INVALID_TOKEN', reason: 'bad-signature' });
    expect(err.message).toContain('signature');
    expect(err.message).not.toContain(other.slice(0, 20));
    expect((await verifyJwtRs512(keyB.publicKey(), other, { now })).sub).toBe('bot');
  });

  it('refuses tampered payloads, other headers, non-canonical encodings and bad claims', async () => {
    const token = await signJwtRs512(keyA, { sub: 'bot' }, now);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const encode = (value: unknown) => toBase64Url(utf8(typeof value === 'string' ? value : JSON.stringify(value)));
    // Correctly signed by key A, so that the checks after the signature are reached.
    const signed = (h: unknown, p: unknown) => {
      const input = `${encode(h)}.${encode(p)}`;
      return `${input}.${toBase64Url(sign('sha512', utf8(input), pemA.privateKeyPem))}`;
    };
    const jwtHeader = { alg: 'RS512', typ: 'JWT' };
    const cases: Array<[string, string]> = [
      [`${header}.${encode({ sub: 'admin', exp: nowSeconds + 300 })}.${signature}`, 'bad-signature'],
      [`${encode({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'malformed'],
      [`${encode({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`, 'unsupported-header'],
      [`${encode({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`, 'unsupported-header'],
      [`${encode({ alg: 'RS512', typ: 'JWT', crit: ['b64'] })}.${payload}.${signature}`, 'unsupported-header'],
      [`${header}.${payload}.${signature}=`, 'malformed'],
      [`${header}.${payload}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`, 'bad-signature'],
      [`${header}.${payload}`, 'malformed'],
      [`${header}.${payload}.${signature}.`, 'malformed'],
      [` ${token}`, 'malformed'],
      [signed({ alg: 'RS512', typ: 'JOSE' }, { sub: 'bot', exp: nowSeconds + 60 }), 'unsupported-header'],
      [signed([], { sub: 'bot', exp: nowSeconds + 60 }), 'unsupported-header'],
      [signed(jwtHeader, { sub: 'bot' }), 'bad-claims'],
      [signed(jwtHeader, { exp: nowSeconds + 60 }), 'bad-claims'],
      [signed(jwtHeader, { sub: '', exp: nowSeconds + 60 }), 'bad-claims'],
      [signed(jwtHeader, { sub: 'bot', exp: String(nowSeconds + 60) }), 'bad-claims'],
      [signed(jwtHeader, [{ sub: 'bot', exp: nowSeconds + 60 }]), 'bad-claims'],
      [signed(jwtHeader, '{"sub":"bot",'), 'bad-claims'],
    ];
    for (const [bad, reason] of cases) {
      const err = await errorOf(() => verifyJwtRs512(publicA, bad, { now }));
      expect(err).toMatchObject({ code: 'INVALID_TOKEN', reason });
      expect(err.message).not.toContain(bad.slice(0, 30));
    }
    // Without typ the header is still accepted.
    expect((await verifyJwtRs512(publicA, signed({ alg: 'RS512' }, { sub: 'bot', exp: nowSeconds + 60 }), { now })).sub).toBe('bot');
  });

  it('raises only AllegroError for arbitrary malformed tokens', async () => {
    const segment = fc.oneof(fc.base64String(), fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/), fc.string());
    const token = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc.tuple(fc.json(), fc.json(), segment).map(([h, p, sig]) => `${encodeText(h)}.${encodeText(p)}.${sig}`),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        expect((await errorOf(() => verifyJwtRs512(publicA, t, { now }))).code).toBe('INVALID_TOKEN');
      }),
      { numRuns: 300 },
    );
    for (const notAString of [undefined, null, 42, new Uint8Array(3), {}]) {
      expect((await errorOf(() => verifyJwtRs512(publicA, notAString as string))).code).toBe('INVALID_ARGUMENT');
    }
  });
});

function encodeText(text: string): string {
  return toBase64Url(utf8(text));
}
