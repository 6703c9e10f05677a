/**
 * The Key Manager and the pod's keystore, as Allegro uses them (docs/protocol.md §3.1): the user's RSA key
 * pair (`GET /relay/keys/me`), the account key wrapped for the user with RSAES-PKCS1-v1_5
 * (`/webcontroller/keystore/wrappedAccountKeys/one`), per-(thread, rotation) content keys wrapped under the
 * account key in a CiphertextTransport v3 whose header names account-key rotation 0
 * (`/keystore/wrappedContentKeys/one`), the current rotation of threads (`/keystore/cryptoRotationInfo/multiple`)
 * and the entity key (`/relay/keys/entityKey`). A caller who is not a member of a thread gets 404, which Allegro
 * reports as "Not a member of this thread"; keys are only ever wrapped for the caller.
 */
import { AesKey, encryptTransport, RsaPublicKey } from '../../crypto/index.js';
import { toBase64 } from '../../util/bytes.js';
import { canonicalId, parseUserId, requireArray, requireQuery } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import { type Router } from '../http.js';
import type { User } from '../store/users.js';

const ACCOUNT_KEY_CACHE = 1024;

/**
 * The account keys of one pod as AesKeys, by user id: a small cache (account keys never change). One per sandbox:
 * two sandboxes in one process have users of the same ids with different keys.
 */
function accountKeyCache(): (user: User) => AesKey {
  const keys = new Map<number, AesKey>();
  return (user) => {
    let key = keys.get(user.id);
    if (key === undefined) {
      if (keys.size >= ACCOUNT_KEY_CACHE) keys.delete(keys.keys().next().value!);
      key = new AesKey(user.accountKey);
      keys.set(user.id, key);
    }
    return key;
  };
}

/**
 * The content key of a stream's rotation (the current one when `rotationId` is absent) as the Key Manager gives it
 * to `userId`: only to a member of the stream. The key routes and the Agent's encryptor (../agent/agent.ts) both
 * fetch keys through this rule.
 */
export function contentKeyFor(ctx: SandboxContext, userId: number, streamId: string, rotationId?: string): { rotationId: string; key: Buffer } | undefined {
  return ctx.store.streams.member(streamId, userId) === undefined ? undefined : streamContentKey(ctx, streamId, rotationId);
}

/** The content key of a stream's rotation (the current one when `rotationId` is absent), whoever asks. */
export function streamContentKey(ctx: SandboxContext, streamId: string, rotationId?: string): { rotationId: string; key: Buffer } | undefined {
  const rotation = rotationId ?? ctx.store.streams.get(streamId)?.currentRotation;
  const key = rotation === undefined ? undefined : ctx.store.streams.contentKey(streamId, rotation);
  return key === undefined ? undefined : { rotationId: rotation!, key };
}

function requireSelf(user: User, query: URLSearchParams): void {
  if (parseUserId(requireQuery(query, 'userId'), 'userId') !== user.id) {
    throw new HttpError(403, 'Keys can only be fetched for the authenticated user');
  }
}

function rotationParam(query: URLSearchParams): string {
  const raw = requireQuery(query, 'rotationId');
  if (!/^-?\d{1,19}$/.test(raw)) throw new HttpError(400, 'Query parameter "rotationId" must be an integer');
  return BigInt(raw).toString();
}

/** Register the Key Manager and keystore routes. */
export function keyRoutes(router: Router, ctx: SandboxContext): void {
  const accountKeyOf = accountKeyCache();
  /** Wrap 32 key bytes for `user`: transport v3 under their account key, rotation 0 in the header. */
  const wrapForUser = async (user: User, key: Uint8Array): Promise<string> => toBase64(await encryptTransport(accountKeyOf(user), key, { rotationId: 0 }));
  router
    .add('GET', '/relay/keys/me', (req) => {
      const user = ctx.kmUser(req);
      return { json: { status: 'OK', userId: user.id, publicKey: user.kmPublicKeyPem, privateKey: user.kmPrivateKeyPem } };
    })
    .add('GET', '/relay/keys/entityKey', async (req) => {
      const user = ctx.kmUser(req);
      return { json: { status: 'OK', entityKey: await wrapForUser(user, ctx.store.pod.require().entityKey) } };
    })
    .add('GET', '/webcontroller/keystore/wrappedAccountKeys/one', async (req) => {
      const user = ctx.sessionUser(req);
      requireSelf(user, req.query);
      if (rotationParam(req.query) !== '0') throw new HttpError(404, 'No account key of that rotation');
      const wrapped = await new RsaPublicKey(user.kmPublicKeyPem).wrap(user.accountKey, 'pkcs1-v1_5');
      return { json: { data: { wrappedAccountKey: toBase64(wrapped), rotationId: 0, userId: user.id, version: 1 } } };
    })
    .add('GET', '/keystore/wrappedContentKeys/one', async (req) => {
      const user = ctx.sessionUser(req);
      requireSelf(user, req.query);
      const threadId = canonicalId(requireQuery(req.query, 'threadId'), 'threadId');
      const rotationId = rotationParam(req.query);
      const found = contentKeyFor(ctx, user.id, threadId, rotationId);
      if (found === undefined) throw new HttpError(404, 'No content key: not a member of this thread, or no such rotation');
      return { json: { data: { wrappedContentKey: await wrapForUser(user, found.key), rotationId: Number(rotationId), userId: user.id, version: 1 } } };
    })
    .add('POST', '/keystore/cryptoRotationInfo/multiple', (req) => {
      const user = ctx.sessionUser(req);
      const ids = requireArray(req.json());
      if (ids.length > 1000) throw new HttpError(400, 'At most 1000 thread ids per request');
      const data = [];
      for (const raw of ids) {
        if (typeof raw !== 'string') throw new HttpError(400, 'Every thread id must be a string');
        const threadId = canonicalId(raw, 'threadId');
        const stream = ctx.store.streams.get(threadId);
        if (stream === undefined || ctx.store.streams.member(threadId, user.id) === undefined) continue;
        const rotations = ctx.store.streams.rotations(threadId).map(Number);
        data.push({
          streamId: raw,
          cryptoRotationInfo: {
            acceptedRotationId: Number(stream.currentRotation),
            acceptedRotationRange: { min: Math.min(...rotations), max: Math.max(...rotations) },
            retiredRotationId: rotations.length > 1 ? Math.max(...rotations.filter((r) => String(r) !== stream.currentRotation)) : null,
          },
        });
      }
      return { json: { data, offset: 0, totalMatched: data.length } };
    });
}
