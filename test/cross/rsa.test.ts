// Cross test: RSA on the Node platform (node:crypto) and on the portable platform (WebCrypto, node-forge, our DER
// reader) accepts and refuses the same keys, gives identical bytes where RSA is deterministic (RS512 signatures,
// PKCS#1 v1.5 implicit rejection) and reads what the other writes (wrapped keys, JWTs, generated key pairs).
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RsaKeyPairPem, RsaPadding } from '../../src/crypto/rsa.js';
import { AllegroError } from '../../src/errors.js';
import { toBase64Url, tryFromBase64 } from '../../src/util/bytes.js';
import { onPlatform, PLATFORMS, type PlatformName } from '../helpers/platforms.js';

type Rsa = typeof import('../../src/crypto/rsa.js');
const rsa = Object.fromEntries(
  await Promise.all(PLATFORMS.map(async (name) => [name, await onPlatform(name, () => import('../../src/crypto/rsa.js'))] as const)),
) as Record<PlatformName, Rsa>;
const PAIRS = PLATFORMS.flatMap((writer) => PLATFORMS.map((reader) => [writer, reader] as const));
const PADDINGS: readonly RsaPadding[] = ['oaep-sha1', 'oaep-sha256', 'pkcs1-v1_5'];
const NOW = 1_764_000_000_000;

/** What constructing a key from `input` gives on one platform: its size, or the error's code and message. */
function outcome(make: () => { modulusBytes: number }): string {
  try {
    return `ok ${make().modulusBytes}`;
  } catch (err) {
    if (err instanceof AllegroError) return `${err.code} ${err.message}`;
    throw err;
  }
}

let pair: RsaKeyPairPem;

beforeAll(async () => {
  pair = await rsa.node.generateRsaKeyPair();
});

describe('key parsing', () => {
  it('accepts and refuses the same PEM inputs with the same outcome on both platforms', () => {
    const node = createPrivateKey(pair.privateKeyPem);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const big = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = pair.privateKeyPem.split('\n').slice(1, -2).join('\n');
    const der = Buffer.from(body.replace(/\s/g, ''), 'base64');
    const pem = (label: string, bytes: Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(bytes).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
    const privateInputs: string[] = [
      pair.privateKeyPem,
      node.export({ type: 'pkcs1', format: 'pem' }) as string,
      big.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      `some text before\n${pair.privateKeyPem}and after`,
      pair.privateKeyPem.replace(/\n/g, '\r\n'),
      small.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      small.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
      pss.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      node.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string,
      node.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string,
      pair.publicKeyPem,
      pem('PRIVATE KEY', der.subarray(0, der.length - 1)),
      pem('PRIVATE KEY', Buffer.concat([der, Buffer.from([0])])),
      pem('RSA PRIVATE KEY', der),
      `${createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'pem' }) as string}${pair.privateKeyPem}`,
      pem('PRIVATE KEY', Buffer.from(der).fill(0x41, 40, 60)),
      '',
      'not a key',
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
    ];
    for (const input of privateInputs) {
      const [onNode, onPortable] = PLATFORMS.map((name) => outcome(() => new rsa[name].RsaPrivateKey(input)));
      expect(onPortable, input.slice(0, 60)).toBe(onNode);
    }
    const publicInputs: string[] = [
      pair.publicKeyPem,
      createPublicKey(pair.publicKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string,
      big.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      small.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      pss.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      ec.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      pair.privateKeyPem,
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
    ];
    for (const input of publicInputs) {
      const [onNode, onPortable] = PLATFORMS.map((name) => outcome(() => new rsa[name].RsaPublicKey(input)));
      expect(onPortable, input.slice(0, 60)).toBe(onNode);
    }
  });

  it('refuses Node KeyObjects on the portable platform only', () => {
    const keyObject = createPrivateKey(pair.privateKeyPem);
    expect(outcome(() => new rsa.node.RsaPrivateKey(keyObject))).toBe('ok 256');
    expect(outcome(() => new rsa.portable.RsaPrivateKey(keyObject))).toMatch(/^INVALID_ARGUMENT Invalid privateKey: expected a PEM-encoded/);
  });
});

describe('key wrapping', () => {
  it('unwraps on each platform what either platform wrapped, with every padding', async () => {
    for (const padding of PADDINGS) {
      for (const [writer, reader] of PAIRS) {
        const key = new Uint8Array(randomBytes(32));
        const wrapped = await new rsa[writer].RsaPublicKey(pair.publicKeyPem).wrap(key, padding);
        expect(await rsa[reader].unwrapKey(new rsa[reader].RsaPrivateKey(pair.privateKeyPem), wrapped, padding), `${padding} ${writer} → ${reader}`).toEqual(key);
      }
    }
  });

  it('gives the same implicit-rejection key for any ciphertext whose PKCS#1 v1.5 padding is invalid', async () => {
    const keys = PLATFORMS.map((name) => new rsa[name].RsaPrivateKey(pair.privateKeyPem));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 256, maxLength: 256 }), fc.integer({ min: 1, max: 32 }), async (c, length) => {
        c[0] = 0; // below the modulus
        const [onNode, onPortable] = await Promise.all(PLATFORMS.map((name, i) => rsa[name].unwrapKey(keys[i]!, c, 'pkcs1-v1_5', length)));
        expect(onPortable).toEqual(onNode);
      }),
      { numRuns: 30 },
    );
    // A valid block for one length, read as another: rejected identically.
    const valid = publicEncrypt({ key: pair.publicKeyPem, padding: constants.RSA_PKCS1_PADDING }, randomBytes(20));
    const [onNode, onPortable] = await Promise.all(PLATFORMS.map((name, i) => rsa[name].unwrapKey(keys[i]!, valid, 'pkcs1-v1_5')));
    expect(onPortable).toEqual(onNode);
  });

  it('fails with DECRYPTION_FAILED on both for a ciphertext not below the modulus or of the wrong length', async () => {
    for (const name of PLATFORMS) {
      const key = new rsa[name].RsaPrivateKey(pair.privateKeyPem);
      for (const c of [new Uint8Array(256).fill(0xff), new Uint8Array(255), new Uint8Array(257)]) {
        for (const padding of PADDINGS) {
          await expect(rsa[name].unwrapKey(key, c, padding)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
        }
      }
    }
  });
});

describe('RS512 login JWTs', () => {
  it('are byte-identical on both platforms and verify on either', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 300 }), async (sub, lifetimeSeconds) => {
        const tokens = await Promise.all(PLATFORMS.map((name) =>
          rsa[name].signJwtRs512(new rsa[name].RsaPrivateKey(pair.privateKeyPem), { sub, lifetimeSeconds }, NOW)));
        expect(tokens[1]).toBe(tokens[0]);
        for (const name of PLATFORMS) {
          const claims = await rsa[name].verifyJwtRs512(new rsa[name].RsaPublicKey(pair.publicKeyPem), tokens[0]!, { now: NOW });
          expect(claims).toEqual({ sub, exp: Math.floor(NOW / 1000) + lifetimeSeconds });
        }
      }),
      { numRuns: 10 },
    );
  });

  it('refuse a tampered signature, or one of another length, the same way on both', async () => {
    const token = await rsa.node.signJwtRs512(new rsa.node.RsaPrivateKey(pair.privateKeyPem), { sub: 'bot' }, NOW);
    const [head, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${head}.${payload}.${signature.slice(0, 20)}${signature[20] === 'A' ? 'B' : 'A'}${signature.slice(21)}`;
    const short = `${head}.${payload}.${toBase64Url(tryFromBase64(signature)!.subarray(3))}`;
    for (const bad of [flipped, short]) {
      for (const name of PLATFORMS) {
        await expect(rsa[name].verifyJwtRs512(new rsa[name].RsaPublicKey(pair.publicKeyPem), bad, { now: NOW }))
          .rejects.toMatchObject({ code: 'INVALID_TOKEN', reason: 'bad-signature' });
      }
    }
  });
});

describe('key generation', () => {
  it('gives PEM key pairs that the other platform reads and uses', async () => {
    for (const [writer, reader] of PAIRS) {
      const generated = await rsa[writer].generateRsaKeyPair();
      expect(generated.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END PRIVATE KEY-----\n$/);
      expect(generated.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      expect(createPublicKey(generated.publicKeyPem).asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
      const r = rsa[reader];
      const privateKey = new r.RsaPrivateKey(generated.privateKeyPem);
      const token = await r.signJwtRs512(privateKey, { sub: 'x' }, NOW);
      expect((await r.verifyJwtRs512(new r.RsaPublicKey(generated.publicKeyPem), token, { now: NOW })).sub).toBe('x');
      const key = new Uint8Array(randomBytes(32));
      expect(await r.unwrapKey(privateKey, await privateKey.publicKey().wrap(key, 'pkcs1-v1_5'), 'pkcs1-v1_5')).toEqual(key);
    }
  });
});
