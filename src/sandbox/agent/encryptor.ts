/**
 * The sandbox Agent's server-side encryptor (docs/sandbox.md "Agent API"). A real Agent is a client of the pod and
 * the Key Manager that encrypts for bots that have no crypto of their own; this one does the same in process. It
 * holds no plaintext at rest and no keys of its own: every key comes from the sandbox's Key Manager state, fetched
 * as the session's user under the Key Manager's own rule (a member of the stream gets the stream's keys, anyone
 * else nothing), and it writes and reads exactly the CiphertextTransport v3 SocialMessages the native path does,
 * with the library's own codec (`encodeMessage`, `decodeMessage`; docs/protocol.md §5.1–5.2). So a message sent
 * through the Agent is read natively by any allegro-ts client, and a native message is read through the Agent.
 * Attachments are sealed the way `pod.uploadAttachment` seals them: one CiphertextTransport under the stream's
 * current content key.
 */
import { AesKey, decryptTransport, encryptTransport } from '../../crypto/index.js';
import { decodeMessage, encodeMessage, type DecodedMessage, type MentionedUser } from '../../index.js';
import { toBase64, tryFromBase64 } from '../../util/bytes.js';
import { HttpError } from '../http-error.js';

/** What the encryptor reads of the Key Manager's state, always as one user. */
export interface KeyManagerAccess {
  /**
   * The content key of a stream's rotation (the current one when `rotationId` is absent) as `userId` may fetch it
   * from the Key Manager; undefined when the user is not a member or the rotation does not exist.
   */
  contentKey(userId: number, streamId: string, rotationId?: string): { rotationId: string; key: Uint8Array } | undefined;
  /** The pod's entity key (hashtags and cashtags). */
  entityKey(): Uint8Array;
}

/** The user the encryptor acts as. */
export interface AgentUser {
  id: number;
  /** The user's wall stream: its content key salts hashtag search tokens (docs/protocol.md §3.7). */
  wallStreamId: string;
}

/** What a message is sent with. */
export interface AgentMessageInput {
  messageMl: string;
  /** The entity JSON of the `data` part. */
  data?: Record<string, unknown>;
  /** Resolves `<mention>` elements against the pod's users. */
  resolveMention?: (by: { userId: number } | { email: string }) => MentionedUser | undefined;
}

/** Content keys kept as {@link AesKey}s (they never change for a stream and rotation). */
const MAX_CACHED_KEYS = 1024;

/** `clientVersionInfo` of the messages the Agent writes. */
export const AGENT_CLIENT_VERSION = 'allegro-ts-sandbox-agent';

/** Encrypts and decrypts for users of one sandbox. */
export class AgentEncryptor {
  readonly #keys: KeyManagerAccess;
  readonly #cache = new Map<string, AesKey>();
  #entityKey: AesKey | undefined;

  constructor(keys: KeyManagerAccess) {
    this.#keys = keys;
  }

  #aesKey(streamId: string, rotationId: string, bytes: Uint8Array): AesKey {
    const id = `${streamId}\0${rotationId}`;
    let key = this.#cache.get(id);
    if (key === undefined) {
      if (this.#cache.size >= MAX_CACHED_KEYS) {
        const oldest = this.#cache.keys().next().value!;
        this.#cache.get(oldest)!.wipe();
        this.#cache.delete(oldest);
      }
      key = new AesKey(bytes);
      this.#cache.set(id, key);
    }
    return key;
  }

  /** The key as `user` may fetch it; 403 when the Key Manager would refuse it. */
  #contentKey(userId: number, streamId: string, rotationId?: string): { rotationId: string; key: AesKey } {
    const found = this.#keys.contentKey(userId, streamId, rotationId);
    if (found === undefined) throw new HttpError(403, 'The user may not fetch the content key of this stream');
    return { rotationId: found.rotationId, key: this.#aesKey(streamId, found.rotationId, found.key) };
  }

  /** The resolver of `decryptTransport`: the key of the rotation a transport's header names. */
  #keyOfRotation(userId: number, streamId: string): (rotationId: bigint) => AesKey {
    return (rotationId) => this.#contentKey(userId, streamId, rotationId.toString()).key;
  }

  /**
   * The SocialMessage `user` posts to `streamId` for `input`, encrypted with the stream's current content key.
   * @throws InvalidMessageMlError when the MessageML is malformed; HttpError 403 when the user may not fetch the key.
   */
  async encode(user: AgentUser, streamId: string, input: AgentMessageInput): Promise<Record<string, unknown>> {
    const { key, rotationId } = this.#contentKey(user.id, streamId);
    const wall = this.#contentKey(user.id, user.wallStreamId);
    this.#entityKey ??= new AesKey(this.#keys.entityKey());
    return encodeMessage(input.messageMl, {
      threadId: toBase64(tryFromBase64(streamId)!), contentKey: key, rotationId: BigInt(rotationId), entityKey: this.#entityKey,
      wallKey: wall.key, clientVersion: AGENT_CLIENT_VERSION,
      ...(input.data === undefined ? {} : { data: input.data }),
      ...(input.resolveMention === undefined ? {} : { resolveMention: input.resolveMention }),
    });
  }

  /** Decrypt a stored SocialMessage of `streamId` as `userId`; rejects with the codec's errors or HttpError 403. */
  async decode(userId: number, streamId: string, payload: Record<string, unknown>): Promise<DecodedMessage> {
    return decodeMessage(payload, this.#keyOfRotation(userId, streamId));
  }

  /** Seal attachment bytes as `userId` with the stream's current content key. */
  async seal(userId: number, streamId: string, bytes: Uint8Array): Promise<Uint8Array> {
    const { key, rotationId } = this.#contentKey(userId, streamId);
    return encryptTransport(key, bytes, { rotationId: BigInt(rotationId) });
  }

  /** Open a sealed attachment of `streamId` as `userId`. */
  async open(userId: number, streamId: string, sealed: Uint8Array): Promise<Uint8Array> {
    return decryptTransport(this.#keyOfRotation(userId, streamId), sealed, { maxLength: sealed.length });
  }

  /** Wipe the cached keys. */
  close(): void {
    for (const key of this.#cache.values()) key.wipe();
    this.#cache.clear();
    this.#entityKey?.wipe();
    this.#entityKey = undefined;
  }
}
