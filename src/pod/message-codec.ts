/**
 * Turning a bot's MessageML into the SocialMessage a native Symphony client submits, and back
 * (docs/protocol.md §5.1–5.2): presentationML, markdown text, entity JSON and the legacy entities are
 * encrypted with the thread's content key (CiphertextTransport v3), hashtags and cashtags additionally
 * encrypted deterministically with the entity key (v1 `?…` and typeahead v2 `!…`) so the pod can index them, and
 * search tokens computed with ClientTokenizer_v2. The pod receives only ciphertext, tokens and ids.
 *
 * The MessageML is parsed and checked by messageml.ts (the same strict reader the sandbox's Agent uses); plain
 * text that does not start with `<` is sent as escaped text.
 */
import type { AesKey } from '../crypto/aes-key.js';
import { encryptEntityV1, encryptEntityV2 } from '../crypto/entity.js';
import { tokenize } from '../crypto/search-tokens.js';
import { decryptText, encryptText, parseTransport, transportFromBase64, type TransportKey } from '../crypto/transport.js';
import { AllegroError, MalformedCiphertextError } from '../errors.js';
import { parseMessageMl, type ParseMessageMlOptions } from './messageml.js';

/** Keys and ids needed to encode one message. */
export interface EncodeContext {
  /** Thread id, standard base64 (as SocialMessage carries it). */
  threadId: string;
  contentKey: AesKey;
  rotationId: bigint;
  entityKey: AesKey;
  /** Content key of the sender's wall thread (salt of hashtag search tokens). */
  wallKey: AesKey;
  clientVersion: string;
  /** Entity JSON sent with the message (the targets of its `data-entity-id` attributes). */
  data?: Record<string, unknown>;
  /** Looks up the users of `<mention>` elements (see {@link ParseMessageMlOptions.resolveMention}). */
  resolveMention?: ParseMessageMlOptions['resolveMention'];
}

/**
 * Encode a message as the SocialMessage a native client posts: every content field encrypted, hashtags and
 * cashtags encrypted with the entity key, search tokens computed. The result is what the pod receives. The client
 * sends with it (`pod.send`); a server-side encryptor (the sandbox's Agent) uses it to write exactly the same
 * messages.
 * @throws InvalidMessageMlError (`INVALID_ARGUMENT`) when the MessageML does not parse or follow the schema.
 */
export async function encodeMessage(messageMl: string, ctx: EncodeContext): Promise<Record<string, unknown>> {
  const { presentationML, text, entityJSON, entities } = parseMessageMl(messageMl, {
    ...(ctx.data === undefined ? {} : { data: ctx.data }),
    ...(ctx.resolveMention === undefined ? {} : { resolveMention: ctx.resolveMention }),
  });
  const seal = (plain: string) => encryptText(ctx.contentKey, plain, { rotationId: ctx.rotationId });
  const clearEntities = {
    hashtags: entities.flatMap((e) => (e.kind === 'hashtag' || e.kind === 'cashtag' ? [`${e.kind === 'hashtag' ? '#' : '$'}${e.value}`] : []))
      .map((tag) => ({ id: tag, text: tag, type: 'KEYWORD' })),
    userMentions: entities.flatMap((e) => (e.kind === 'mention' ? [{ id: e.userId, type: 'USER_FOLLOW' }] : [])),
  };
  const hashtags = [];
  for (const tag of clearEntities.hashtags) {
    const v1 = await encryptEntityV1(ctx.entityKey, tag.text);
    const v2 = await encryptEntityV2(ctx.entityKey, tag.text);
    hashtags.push({ id: v1, text: v1, type: 'KEYWORD' }, { id: v2, text: v2, type: 'KEYWORD', indexStart: 0, indexEnd: 0 });
  }
  const tokenIds = tokenize({
    text: `${text} ${presentationML}`,
    entityTokens: clearEntities.hashtags.map((h) => h.text),
    contentKey: ctx.contentKey,
    wallKey: ctx.wallKey,
    rotationId: ctx.rotationId,
  });
  return {
    version: 'SOCIALMESSAGE',
    sendingApp: 'lc',
    threadId: ctx.threadId,
    clientVersionInfo: ctx.clientVersion,
    format: 'com.symphony.messageml.v2',
    msgFeatures: 3,
    enforceExpressionFiltering: false,
    attachments: [],
    text: await seal(text),
    presentationML: await seal(presentationML),
    entityJSON: await seal(JSON.stringify(entityJSON)),
    encryptedEntities: await seal(JSON.stringify(clearEntities)),
    entities: { hashtags, userMentions: clearEntities.userMentions },
    tokenIds,
  };
}

/** A decrypted message. */
export interface DecodedMessage {
  messageId: string;
  threadId: string;
  fromUserId: number;
  timestamp: number;
  presentationML: string;
  /** Plain (markdown) text. */
  text: string;
  /** Entity JSON ({} when the message has none). */
  entityJson: Record<string, unknown>;
}

/**
 * A message of a stream's history (`pod.history`): decrypted, or — when it could not be — with `error` set and its
 * clear metadata (id, thread, sender, time) but empty content (`presentationML` and `text` are `''`, `entityJson`
 * is `{}`). Check `error` before using the content.
 */
export interface HistoryMessage extends DecodedMessage {
  /** Why this message could not be decrypted (typed; never contains plaintext or keys). */
  error?: AllegroError;
}

/** The clear metadata of a stored SocialMessage. */
function messageMetadata(payload: Record<string, unknown>): Pick<DecodedMessage, 'messageId' | 'threadId' | 'fromUserId' | 'timestamp'> {
  return {
    messageId: String(payload.messageId ?? ''),
    threadId: String(payload.threadId ?? ''),
    fromUserId: Number(payload.fromUserId ?? 0),
    timestamp: Number(payload.ingestionDate ?? 0),
  };
}

/**
 * Why a message could not be decrypted, as reported per message (`HistoryMessage.error`, `DatafeedEvent.error`):
 * the error itself when it is an {@link AllegroError}, anything else (a payload of unexpected shape) as
 * `MALFORMED_CIPHERTEXT`, so that one poison message never fails the others.
 */
export function messageFailure(err: unknown): AllegroError {
  return err instanceof AllegroError ? err : new MalformedCiphertextError('message', 'its payload could not be read');
}

/** A history entry for a message that could not be decrypted. */
export function undecryptedMessage(payload: Record<string, unknown>, err: unknown): HistoryMessage {
  return { ...messageMetadata(payload), presentationML: '', text: '', entityJson: {}, error: messageFailure(err) };
}

/** The rotation id a content field was encrypted with (from its transport header). */
export function rotationOf(field: string): bigint {
  return parseTransport(transportFromBase64(field)).rotationId;
}

/**
 * Decrypt a SocialMessage as stored by the pod. `key` resolves the content key of the rotation named in each
 * field's header, so history written under older rotations decrypts too.
 * @throws DecryptionFailedError, MalformedCiphertextError and the other transport errors of `decryptText`.
 */
export async function decodeMessage(payload: Record<string, unknown>, key: TransportKey): Promise<DecodedMessage> {
  const field = (name: string): string | undefined => (typeof payload[name] === 'string' ? (payload[name] as string) : undefined);
  const presentationField = field('presentationML');
  const textField = field('text');
  const presentationML = presentationField === undefined ? '' : await decryptText(key, presentationField);
  const text = textField === undefined ? '' : await decryptText(key, textField);
  const entityField = field('entityJSON');
  let entityJson: Record<string, unknown> = {};
  if (entityField !== undefined) {
    try {
      entityJson = JSON.parse(await decryptText(key, entityField)) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof SyntaxError) entityJson = {};
      else throw err;
    }
  }
  return { ...messageMetadata(payload), presentationML, text, entityJson };
}
