/**
 * Messages the way a native (agentless) client sends and reads them (docs/protocol.md §5): the client posts a
 * SocialMessage whose content fields are already CiphertextTransports to `/webcontroller/ingestor/v2/MessageService`
 * (form field `messagepayload`), reads recent messages from `/dataquery/api/v3/messages/thread` and one message from
 * `/webcontroller/dataquery/retrieveMessagePayload`. The pod stores the fields as submitted: it checks that every
 * content field is a well-formed ciphertext and refuses plaintext, and it never holds a key to decrypt them.
 * Attachments (sandbox paths, documented in docs/sandbox.md) are stored as the encrypted bytes the client uploads.
 */
import { parseTransport, transportFromBase64 } from '../../crypto/index.js';
import { AllegroError } from '../../errors.js';
import { canonicalId, intQuery, optionalField, requireObject, requireQuery, requiredField } from '../body.js';
import type { SandboxContext } from '../context.js';
import { HttpError, type Router } from '../http.js';
import { newId, standardBase64Id } from '../ids.js';
import type { MessageState, StreamState, UserState } from '../state.js';
import { memberStream } from './pod.js';

/** SocialMessage fields that carry content and must be ciphertext. */
const ENCRYPTED_FIELDS = ['text', 'presentationML', 'entityJSON', 'customEntities', 'encryptedEntities', 'encryptedMedia', 'messageML'] as const;
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;

function requireCiphertext(value: string, field: string): void {
  try {
    parseTransport(transportFromBase64(value));
  } catch (err) {
    if (err instanceof AllegroError) throw new HttpError(400, `Field "${field}" must be a base64 CiphertextTransport (${err.code}); the pod never accepts plaintext`);
    throw err;
  }
}

function writableStream(ctx: SandboxContext, user: UserState, threadId: string): StreamState {
  const stream = memberStream(ctx, user, threadId, 'threadId');
  if (!stream.active) throw new HttpError(403, 'This stream is deactivated');
  if (stream.attributes.readOnly === true && stream.members.get(user.id)?.owner !== true) throw new HttpError(403, 'Only owners can post in this read-only room');
  return stream;
}

function readableMessage(ctx: SandboxContext, user: UserState, rawId: string): MessageState {
  const found = ctx.state.messages.get(canonicalId(rawId, 'messageId'));
  if (found === undefined) throw new HttpError(404, 'Message not found');
  if (ctx.state.streams.get(found.streamId)?.members.has(user.id) !== true) throw new HttpError(403, 'The user is not a member of this message\'s stream');
  return found.message;
}

function withoutFields(payload: Record<string, unknown>, exclude: string[]): Record<string, unknown> {
  if (exclude.length === 0) return payload;
  const copy = { ...payload };
  for (const f of exclude) delete copy[f];
  return copy;
}

/** Register the message and attachment routes. */
export function messageRoutes(router: Router, ctx: SandboxContext): void {
  router
    .add('POST', '/webcontroller/ingestor/v2/MessageService', async (req) => {
      const user = ctx.sessionUser(req);
      const raw = new URLSearchParams(req.body.toString('utf8')).get('messagepayload');
      if (raw === null) throw new HttpError(400, 'Form field "messagepayload" is required (application/x-www-form-urlencoded)');
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new HttpError(400, 'Form field "messagepayload" is not valid JSON');
      }
      const payload = requireObject(parsed, 'messagepayload');
      const version = optionalField(payload, 'version', 'string') ?? 'SOCIALMESSAGE';
      if (version !== 'SOCIALMESSAGE') throw new HttpError(400, 'Field "version" must be SOCIALMESSAGE');
      const stream = writableStream(ctx, user, requiredField(payload, 'threadId', 'string'));
      requiredField(payload, 'text', 'string');
      for (const field of ENCRYPTED_FIELDS) {
        const value = optionalField(payload, field, 'string');
        if (value !== undefined) requireCiphertext(value, field);
      }
      const features = optionalField(payload, 'msgFeatures', 'number');
      if (features !== undefined && (features & 1) === 0) throw new HttpError(400, 'Field "msgFeatures" must have the encryption bit (1) set');
      const messageId = newId();
      const ingestionDate = Math.max(Date.now(), stream.lastMessageDate + 1);
      const stored: Record<string, unknown> = {
        ...payload, version, messageId: standardBase64Id(messageId), threadId: standardBase64Id(stream.id), fromUserId: user.id, ingestionDate,
      };
      await ctx.commit({ t: 'message', streamId: stream.id, message: { messageId, fromUserId: user.id, ingestionDate, payload: stored } });
      return { json: { objectHash: messageId, messageId, status: 'OK' } };
    }, { bodyLimit: MAX_MESSAGE_BYTES })
    .add('GET', '/dataquery/api/v3/messages/thread', (req) => {
      const user = ctx.sessionUser(req);
      const stream = memberStream(ctx, user, requireQuery(req.query, 'id'));
      const from = intQuery(req.query, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
      const before = intQuery(req.query, 'before', Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
      const limit = intQuery(req.query, 'limit', 50, 1, 500);
      const exclude = (req.query.get('excludeFields') ?? '').split(',').map((f) => f.trim()).filter(Boolean);
      const window = stream.messages.filter((m) => m.ingestionDate >= from && m.ingestionDate < before).slice(-limit);
      return { json: window.map((m) => ({ message: withoutFields(m.payload, exclude) })) };
    })
    .add('GET', '/webcontroller/dataquery/retrieveMessagePayload', (req) => {
      const user = ctx.sessionUser(req);
      return { json: readableMessage(ctx, user, requireQuery(req.query, 'messageId')).payload };
    })
    .add('POST', '/webcontroller/ingestor/v1/attachments', async (req) => {
      const user = ctx.sessionUser(req);
      const stream = writableStream(ctx, user, requireQuery(req.query, 'threadId'));
      if (req.body.length === 0) throw new HttpError(400, 'The attachment body is empty');
      try {
        parseTransport(req.body, { maxLength: MAX_ATTACHMENT_BYTES });
      } catch (err) {
        if (err instanceof AllegroError) throw new HttpError(400, `The attachment must be a CiphertextTransport (${err.code}); the pod never accepts plaintext`);
        throw err;
      }
      const fileId = newId();
      await ctx.commit({ t: 'attachment', id: fileId, streamId: stream.id, by: user.id, data: req.body.toString('base64') });
      return { status: 201, json: { fileId, size: req.body.length } };
    }, { bodyLimit: MAX_ATTACHMENT_BYTES })
    .add('GET', '/webcontroller/ingestor/v1/attachments/:fileId', (req) => {
      const user = ctx.sessionUser(req);
      const attachment = ctx.state.attachments.get(canonicalId(req.params.fileId!, 'fileId'));
      if (attachment === undefined) throw new HttpError(404, 'Attachment not found');
      if (ctx.state.streams.get(attachment.streamId)?.members.has(user.id) !== true) throw new HttpError(403, 'The user is not a member of this attachment\'s stream');
      return { bytes: attachment.data };
    });
}
