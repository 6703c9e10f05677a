/**
 * Messages the way a native (agentless) client sends and reads them (docs/protocol.md §5): the client posts a
 * SocialMessage whose content fields are already CiphertextTransports to `/webcontroller/ingestor/v2/MessageService`
 * (form field `messagepayload`), reads recent messages from `/dataquery/api/v3/messages/thread` (streamed from the
 * database, never built whole) and one message from `/webcontroller/dataquery/retrieveMessagePayload`. The pod
 * stores the fields as submitted: it checks that every content field is a well-formed ciphertext and refuses
 * plaintext, and it never holds a key to decrypt them. Attachments (sandbox paths, documented in docs/sandbox.md)
 * are stored as the encrypted bytes the client uploads.
 */
import { parseTransport, transportFromBase64 } from '../../crypto/index.js';
import { AllegroError } from '../../errors.js';
import { canonicalId, intQuery, optionalField, requireObject, requireQuery, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { memberStream } from '../conversations.js';
import { HttpError } from '../http-error.js';
import { jsonArray, type Router } from '../http.js';
import { newId } from '../ids.js';
import { socialMessage, type Message } from '../store/messages.js';
import type { Stream } from '../store/streams.js';
import type { Tx } from '../store/transaction.js';
import type { User } from '../store/users.js';

/** SocialMessage fields that carry content and must be ciphertext. */
const ENCRYPTED_FIELDS = ['text', 'presentationML', 'entityJSON', 'customEntities', 'encryptedEntities', 'encryptedMedia', 'messageML'] as const;

function requireCiphertext(value: string, field: string): void {
  try {
    parseTransport(transportFromBase64(value));
  } catch (err) {
    if (err instanceof AllegroError) throw new HttpError(400, `Field "${field}" must be a base64 CiphertextTransport (${err.code}); the pod never accepts plaintext`);
    throw err;
  }
}

/** The stream `threadId` if `user` may post in it: a member, the stream active, an owner of a read-only room. */
export function writableStream(ctx: SandboxContext, user: User, threadId: string): Stream {
  const stream = memberStream(ctx, user, threadId, 'threadId');
  if (!stream.active) throw new HttpError(403, 'This stream is deactivated');
  if (stream.attributes.readOnly === true && ctx.store.streams.member(stream.id, user.id)?.owner !== true) throw new HttpError(403, 'Only owners can post in this read-only room');
  return stream;
}

/** The message `rawId` if `user` may read it: 404 if unknown, 403 if not a member of its stream. */
export function readableMessage(ctx: SandboxContext, user: User, rawId: string): Message {
  const found = ctx.store.messages.get(canonicalId(rawId, 'messageId'));
  if (found === undefined) throw new HttpError(404, 'Message not found');
  if (ctx.store.streams.member(found.streamId, user.id) === undefined) throw new HttpError(403, 'The user is not a member of this message\'s stream');
  return found;
}

/** An attachment stored with the message that names it. */
export interface NewAttachment {
  id: string;
  /** Its bytes: a CiphertextTransport. */
  data: Buffer;
}

/** What {@link ingest} writes with a message. */
export interface IngestOptions {
  /** Attachments the message names, stored in the same write. */
  attachments?: readonly NewAttachment[];
  /** More writes of the same transaction, once the message is stored (an update notes what it replaces). */
  also?: (tx: Tx, message: Message) => void;
}

/**
 * Store the SocialMessage `user` posts to `threadId` (with what `options` adds, in the same write), and log its
 * SOCIALMESSAGE event; the checks of {@link writableStream} run again inside the write. Both ways of sending use it:
 * the native ingestor and the Agent (./agent-messages.ts). Resolves to the stored message once it is durable.
 */
export function ingest(ctx: SandboxContext, user: User, threadId: string, posted: Record<string, unknown>, options: IngestOptions = {}): Promise<Message> {
  const { store } = ctx;
  const messageId = newId();
  return store.write((tx) => {
    const stream = writableStream(ctx, user, threadId);
    const ingestionDate = Math.max(Date.now(), stream.lastMessageDate + 1);
    for (const a of options.attachments ?? []) store.messages.insertAttachment(tx, { id: a.id, streamId: stream.id, by: user.id }, a.data);
    const seq = store.messages.insert(tx, { messageId, streamId: stream.id, fromUserId: user.id, ingestionDate, posted });
    store.streams.setLastMessageDate(tx, stream.id, ingestionDate);
    store.events.append(tx, { kind: 'SOCIALMESSAGE', initiator: user.id, timestamp: ingestionDate, streamId: stream.id, messageSeq: seq }, ctx.liveSince(ingestionDate));
    const message: Message = { seq, messageId, streamId: stream.id, fromUserId: user.id, ingestionDate, posted };
    options.also?.(tx, message);
    return message;
  });
}

function withoutFields(payload: Record<string, unknown>, exclude: string[]): Record<string, unknown> {
  for (const f of exclude) delete payload[f];
  return payload;
}

/** Register the message and attachment routes. */
export function messageRoutes(router: Router, ctx: SandboxContext): void {
  const { store, config } = ctx;
  router
    .add('POST', '/webcontroller/ingestor/v2/MessageService', async (req) => {
      const user = ctx.sessionUser(req);
      const raw = new URLSearchParams(req.body.toString('utf8')).get('messagepayload');
      if (raw === null) throw new HttpError(400, 'Form field "messagepayload" is required (application/x-www-form-urlencoded)');
      const payload = requireObject(req.parseJson(raw, 'Form field "messagepayload"'), 'messagepayload');
      const version = optionalField(payload, 'version', 'string') ?? 'SOCIALMESSAGE';
      if (version !== 'SOCIALMESSAGE') throw new HttpError(400, 'Field "version" must be SOCIALMESSAGE');
      const threadId = requiredField(payload, 'threadId', 'string');
      writableStream(ctx, user, threadId);
      requiredField(payload, 'text', 'string');
      for (const field of ENCRYPTED_FIELDS) {
        const value = optionalField(payload, field, 'string');
        if (value !== undefined) requireCiphertext(value, field);
      }
      const features = optionalField(payload, 'msgFeatures', 'number');
      if (features !== undefined && (features & 1) === 0) throw new HttpError(400, 'Field "msgFeatures" must have the encryption bit (1) set');
      const { messageId } = await ingest(ctx, user, threadId, payload);
      return { json: { objectHash: messageId, messageId, status: 'OK' } };
    }, { bodyLimit: config.maxMessageBytes, largeFields: ENCRYPTED_FIELDS })
    .add('GET', '/dataquery/api/v3/messages/thread', (req) => {
      const user = ctx.sessionUser(req);
      const stream = memberStream(ctx, user, requireQuery(req.query, 'id'));
      const from = intQuery(req.query, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
      const before = intQuery(req.query, 'before', Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
      const limit = intQuery(req.query, 'limit', 50, 1, 500);
      const exclude = (req.query.get('excludeFields') ?? '').split(',').map((f) => f.trim()).filter(Boolean);
      const page = store.messages.window(stream.id, from, before, limit);
      return { stream: jsonArray(page, (m) => ({ message: withoutFields(socialMessage(m), exclude) })), contentType: 'application/json' };
    })
    .add('GET', '/webcontroller/dataquery/retrieveMessagePayload', (req) => {
      const user = ctx.sessionUser(req);
      return { json: socialMessage(readableMessage(ctx, user, requireQuery(req.query, 'messageId'))) };
    })
    .add('POST', '/webcontroller/ingestor/v1/attachments', async (req) => {
      const user = ctx.sessionUser(req);
      const threadId = requireQuery(req.query, 'threadId');
      writableStream(ctx, user, threadId);
      if (!store.policies.canSendFiles(user.id)) throw new HttpError(403, 'The user is not entitled to send files');
      if (req.body.length === 0) throw new HttpError(400, 'The attachment body is empty');
      try {
        parseTransport(req.body, { maxLength: config.maxAttachmentBytes });
      } catch (err) {
        if (err instanceof AllegroError) throw new HttpError(400, `The attachment must be a CiphertextTransport (${err.code}); the pod never accepts plaintext`);
        throw err;
      }
      const fileId = newId();
      await store.write((tx) => store.messages.insertAttachment(tx, { id: fileId, streamId: writableStream(ctx, user, threadId).id, by: user.id }, req.body));
      return { status: 201, json: { fileId, size: req.body.length } };
    }, { bodyLimit: config.maxAttachmentBytes })
    .add('GET', '/webcontroller/ingestor/v1/attachments/:fileId', (req) => {
      const user = ctx.sessionUser(req);
      const attachment = store.messages.attachment(canonicalId(req.params.fileId!, 'fileId'));
      if (attachment === undefined) throw new HttpError(404, 'Attachment not found');
      if (store.streams.member(attachment.streamId, user.id) === undefined) throw new HttpError(403, 'The user is not a member of this attachment\'s stream');
      return { stream: store.messages.attachmentChunks(attachment.id), contentLength: attachment.size };
    });
}
