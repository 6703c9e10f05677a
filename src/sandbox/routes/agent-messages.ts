/**
 * The Agent API's messages (agent-api-public.yaml; docs/sandbox.md "Agent API"): send MessageML as
 * `multipart/form-data` (`message`, `data`, `version`, `attachment` × n, `preview` × n) to one stream
 * (`/v4/stream/{sid}/message/create`) or many (`/v4/message/blast`), update a message
 * (`/v4/stream/{sid}/message/{mid}/update`), read a stream's messages (`/v4/stream/{sid}/message`: `since`, `until`,
 * `skip`, `limit`), one message (`/v1/message/{id}`), an attachment (`/v1/stream/{sid}/attachment`), and search
 * (`/v1/message/search`). The Agent encrypts and decrypts for the session's user (../agent/agent.ts): what it stores
 * is exactly what the native path stores (./messages.ts `ingest`), so either path reads what the other wrote.
 *
 * Tokens, as Symphony's Agent takes them: sending (create, update, blast) needs the session token and the Key
 * Manager token of the same user; every other operation the session token. Malformed MessageML is a 400 whose
 * `details` give its `line` and `column`.
 */
import { encryptEntityV1, hashedTokens, parseTransport, plainTokens, transportFromBase64, AesKey } from '../../crypto/index.js';
import { InvalidArgumentError, InvalidMessageMlError, isMessageMlDocument, MAX_MESSAGEML_LENGTH, parseMessageMl } from '../../index.js';
import { toBase64 } from '../../util/bytes.js';
import type { AgentMessageInput } from '../agent/encryptor.js';
import type { SandboxAgent } from '../agent/agent.js';
import { formBoundary, parseMultipart, type FormPart } from '../agent/multipart.js';
import { canonicalId, intQuery, optionalField, requireObject, requireQuery } from '../body.js';
import type { SandboxContext } from '../context.js';
import { memberStream } from '../conversations.js';
import { HttpError } from '../http-error.js';
import type { Router, SandboxRequest, SandboxResponse } from '../http.js';
import { newId, standardBase64Id } from '../ids.js';
import type { Message } from '../store/messages.js';
import type { Stream } from '../store/streams.js';
import type { User } from '../store/users.js';
import { contentKeyFor } from './keys.js';
import { ingest, readableMessage, writableStream, type IngestOptions, type NewAttachment } from './messages.js';

/** Most streams one blast sends to. */
export const MAX_BLAST_STREAMS = 100;
/** Most messages one search scans. */
export const MAX_SEARCH_SCAN = 10_000;
/** Most parts of one message form. */
const MAX_FORM_PARTS = 64;

/** A message form, read. */
interface MessageForm extends AgentMessageInput {
  attachments: Array<{ name: string; contentType: string; bytes: Buffer; preview?: Buffer }>;
  /** Blast: the streams. */
  sids: string[];
  /** Update: whether the update is silent (default true). */
  silent: boolean;
}

/**
 * The user of a request that sends: its session token and its Key Manager token must both be valid and the same
 * user's (an Agent encrypts only for a user who has logged in to the Key Manager), or — as Symphony's Agent takes
 * "the sessionToken which was created for delegated app access" — the session token alone of a user an OBO app acts
 * for (whose app needs SEND_MESSAGES: context.ts); 401 otherwise.
 */
function sender(ctx: SandboxContext, req: SandboxRequest): User {
  const { user, claims } = ctx.session(req);
  if (claims.app !== undefined) return user;
  if (ctx.kmUser(req).id !== user.id) throw new HttpError(401, 'The session token and the Key Manager token are of different users');
  return user;
}

/** A malformed-MessageML error as Symphony's 400, with its position; other bad input as a plain 400. */
function messageMlError(err: unknown): unknown {
  if (err instanceof InvalidMessageMlError) {
    return new HttpError(400, `Invalid MessageML at line ${err.line}, column ${err.column}: ${err.problem}`, {}, { line: err.line, column: err.column });
  }
  if (err instanceof InvalidArgumentError) return new HttpError(400, err.message);
  return err;
}

function text(part: FormPart): string {
  return part.data.toString('utf8');
}

/** Read the form of a send, with every check that does not need a key. */
function readForm(ctx: SandboxContext, req: SandboxRequest, agent: SandboxAgent): MessageForm {
  const { config } = ctx;
  const parts = parseMultipart(req.body, formBoundary(req.headers['content-type']), {
    maxParts: MAX_FORM_PARTS,
    maxBytes: {
      message: 4 * MAX_MESSAGEML_LENGTH, data: config.maxBodyBytes, version: 16, silent: 8, sids: 128 * MAX_BLAST_STREAMS,
      attachment: config.maxAttachmentBytes, preview: config.maxAttachmentBytes,
    },
  });
  const one = (name: string): FormPart | undefined => {
    const found = parts.filter((p) => p.name === name);
    if (found.length > 1) throw new HttpError(400, `Form field "${name}" is given more than once`);
    return found[0];
  };
  const message = one('message');
  if (message === undefined) throw new HttpError(400, 'Form field "message" is required');
  const messageMl = text(message);
  if (!isMessageMlDocument(messageMl)) throw new HttpError(400, 'Form field "message" must be a MessageML document: <messageML>…</messageML>');
  const version = one('version');
  if (version !== undefined && !/^(2(\.0)?)?$/.test(text(version).trim())) throw new HttpError(400, 'Form field "version" must be "2.0" (MessageML v2), or empty');
  const dataPart = one('data');
  const data = dataPart === undefined || text(dataPart).trim() === '' ? undefined : requireObject(req.parseJson(text(dataPart), 'Form field "data"'), 'form field "data"');
  const files = parts.filter((p) => p.name === 'attachment');
  const previews = parts.filter((p) => p.name === 'preview');
  if (previews.length > files.length) throw new HttpError(400, 'Every form field "preview" must follow the "attachment" it previews');
  const total = [...files, ...previews].reduce((n, p) => n + p.data.length, 0);
  if (total > config.maxAttachmentBytes) throw new HttpError(413, `The attachments and previews are larger than ${config.maxAttachmentBytes} bytes together`);
  const silent = one('silent');
  if (silent !== undefined && !/^(true|false)$/i.test(text(silent).trim())) throw new HttpError(400, 'Form field "silent" must be true or false');
  return {
    messageMl, resolveMention: agent.resolveMention,
    ...(data === undefined ? {} : { data }),
    attachments: files.map((f, i) => ({
      name: f.filename ?? 'attachment', contentType: f.contentType, bytes: f.data, ...(previews[i] === undefined ? {} : { preview: previews[i]!.data }),
    })),
    sids: parts.filter((p) => p.name === 'sids').flatMap((p) => text(p).split(',')).map((s) => s.trim()).filter(Boolean),
    silent: silent === undefined || text(silent).trim().toLowerCase() === 'true',
  };
}

/**
 * Encrypt `form` as `user` for `stream` and store it (attachments sealed under the stream's current key, in the
 * same write); `extra` adds SocialMessage fields, `also` more writes.
 */
async function send(ctx: SandboxContext, agent: SandboxAgent, user: User, stream: Stream, form: MessageForm,
  extra: Record<string, unknown> = {}, also?: IngestOptions['also']): Promise<Message> {
  if (form.attachments.length > 0 && !ctx.store.policies.canSendFiles(user.id)) throw new HttpError(403, 'The user is not entitled to send files');
  let posted: Record<string, unknown>;
  try {
    posted = await agent.encryptor.encode(user, stream.id, form);
  } catch (err) {
    throw messageMlError(err);
  }
  const stored: NewAttachment[] = [];
  const listed = [];
  for (const a of form.attachments) {
    const fileId = newId();
    stored.push({ id: fileId, data: Buffer.from(await agent.encryptor.seal(user.id, stream.id, a.bytes)) });
    const images = [];
    if (a.preview !== undefined) {
      const previewId = newId();
      stored.push({ id: previewId, data: Buffer.from(await agent.encryptor.seal(user.id, stream.id, a.preview)) });
      images.push({ fileId: previewId, size: a.preview.length });
    }
    listed.push({ fileId, name: a.name, size: a.bytes.length, contentType: a.contentType, images });
  }
  return ingest(ctx, user, stream.id, { ...posted, attachments: listed, ...extra }, { attachments: stored, ...(also === undefined ? {} : { also }) });
}

/** 200 with a JSON list, or 204 when it is empty (the Agent's "No Messages"). */
function listOrNoContent(list: unknown[]): SandboxResponse {
  return list.length === 0 ? { status: 204 } : { json: list };
}

/** A search, as `MessageSearchQuery` fields. */
interface SearchQuery {
  text?: string;
  streamId?: string;
  streamType?: string;
  author?: number;
  hashtag?: string;
  cashtag?: string;
  mention?: number;
  fromDate?: number;
  toDate?: number;
}

const STREAM_TYPES: Record<string, ReadonlyArray<Stream['type']>> = {
  CHAT: ['IM', 'MIM'], IM: ['IM'], MIM: ['MIM'], ROOM: ['ROOM'], CHATROOM: ['ROOM'], POST: ['POST'],
};

/** A search's fields from a `MessageSearchQuery` body. */
function searchBody(body: Record<string, unknown>): SearchQuery {
  const q: SearchQuery = {};
  for (const f of ['text', 'streamId', 'streamType', 'hashtag', 'cashtag'] as const) {
    const v = optionalField(body, f, 'string');
    if (v !== undefined) q[f] = v;
  }
  for (const f of ['author', 'mention', 'fromDate', 'toDate'] as const) {
    const v = optionalField(body, f, 'number');
    if (v !== undefined) q[f] = v;
  }
  if (optionalField(body, 'signal', 'string') !== undefined) throw new HttpError(400, 'Signal searches are not supported by the sandbox');
  return q;
}

/** A search's fields from the `query` parameter: `field:value` pairs joined by AND. */
function searchQueryText(query: string): SearchQuery {
  const body: Record<string, unknown> = {};
  for (const term of query.split(/\s+AND\s+/i)) {
    const colon = term.indexOf(':');
    if (colon <= 0) throw new HttpError(400, 'Query parameter "query" must be field:value pairs joined by AND');
    const field = term.slice(0, colon).trim().toLowerCase();
    const value = term.slice(colon + 1).trim();
    const name = { text: 'text', author: 'author', hashtag: 'hashtag', cashtag: 'cashtag', mention: 'mention', signal: 'signal', fromdate: 'fromDate', todate: 'toDate', streamid: 'streamId', streamtype: 'streamType' }[field];
    if (name === undefined) throw new HttpError(400, `Query field "${field}" is not one of text, author, hashtag, cashtag, mention, signal, fromDate, toDate, streamId, streamType`);
    body[name] = ['author', 'mention', 'fromDate', 'toDate'].includes(name) ? Number(value) : value;
  }
  return searchBody(body);
}

/** Register the Agent's message routes. */
export function agentMessageRoutes(router: Router, ctx: SandboxContext, agent: SandboxAgent): void {
  const { store, config } = ctx;
  const sendLimit = { bodyLimit: config.maxAttachmentBytes + config.maxMessageBytes };

  /** The messages matching a search, newest first unless `ascending`, decrypted for `user`. */
  async function search(user: User, q: SearchQuery, skip: number, limit: number, ascending: boolean): Promise<unknown[]> {
    if (q.text !== undefined && q.streamId === undefined) throw new HttpError(400, 'A text search needs a streamId');
    let streams: Stream[];
    if (q.streamId !== undefined) streams = [memberStream(ctx, user, q.streamId, 'streamId')];
    else {
      const types = q.streamType === undefined ? undefined : STREAM_TYPES[q.streamType.toUpperCase()];
      if (q.streamType !== undefined && types === undefined) throw new HttpError(400, `Field "streamType" must be one of ${Object.keys(STREAM_TYPES).join(', ')}`);
      streams = store.streams.ofUser(user.id).filter((s) => types === undefined || types.includes(s.type));
    }
    const entityKey = new AesKey(store.pod.require().entityKey);
    const tags = new Set<string>();
    if (q.hashtag !== undefined) tags.add(await encryptEntityV1(entityKey, `#${q.hashtag.replace(/^#/, '')}`));
    if (q.cashtag !== undefined) tags.add(await encryptEntityV1(entityKey, `$${q.cashtag.replace(/^\$/, '')}`));
    entityKey.wipe();
    const words = q.text === undefined ? [] : plainTokens(q.text);
    const found: Message[] = [];
    let scanned = 0;
    for (const stream of streams) {
      const tokensByRotation = new Map<bigint, Set<string> | undefined>();
      for (const m of store.messages.between(stream.id, q.fromDate ?? 0, q.toDate ?? Number.MAX_SAFE_INTEGER)) {
        if (++scanned > MAX_SEARCH_SCAN) break;
        if (store.edits.suppression(m.messageId) !== undefined) continue;
        if (q.author !== undefined && m.fromUserId !== q.author) continue;
        const entities = (m.posted.entities ?? {}) as { hashtags?: Array<{ id?: unknown }>; userMentions?: Array<{ id?: unknown }> };
        if (q.mention !== undefined && !(entities.userMentions ?? []).some((e) => e.id === q.mention)) continue;
        if (tags.size > 0) {
          const ids = new Set((entities.hashtags ?? []).map((e) => e.id));
          if (![...tags].every((t) => ids.has(t))) continue;
        }
        if (words.length > 0) {
          let rotation: bigint;
          try {
            rotation = parseTransport(transportFromBase64(String(m.posted.text ?? ''))).rotationId;
          } catch {
            continue;
          }
          if (!tokensByRotation.has(rotation)) {
            const key = contentKeyFor(ctx, user.id, stream.id, rotation.toString());
            tokensByRotation.set(rotation, key === undefined ? undefined : new Set(hashedTokens(words, key.key, rotation)));
          }
          const wanted = tokensByRotation.get(rotation);
          const have = new Set(Array.isArray(m.posted.tokenIds) ? m.posted.tokenIds : []);
          if (wanted === undefined || ![...wanted].every((t) => have.has(t))) continue;
        }
        found.push(m);
      }
    }
    found.sort((a, b) => (ascending ? a.ingestionDate - b.ingestionDate : b.ingestionDate - a.ingestionDate));
    return Promise.all(found.slice(skip, skip + limit).map((m) => agent.message(user.id, m)));
  }

  const searchPaging = (req: SandboxRequest) => {
    const sortDir = (req.query.get('sortDir') ?? 'DESC').toUpperCase();
    if (sortDir !== 'ASC' && sortDir !== 'DESC') throw new HttpError(400, 'Query parameter "sortDir" must be ASC or DESC');
    return { skip: intQuery(req.query, 'skip', 0, 0, 100_000), limit: intQuery(req.query, 'limit', 50, 1, 500), ascending: sortDir === 'ASC' };
  };

  router
    .add('POST', '/agent/v4/stream/:sid/message/create', async (req) => {
      const user = sender(ctx, req);
      const stream = writableStream(ctx, user, req.params.sid!);
      const form = readForm(ctx, req, agent);
      return { json: await agent.message(user.id, await send(ctx, agent, user, stream, form)) };
    }, sendLimit)
    .add('POST', '/agent/v4/message/blast', async (req) => {
      const user = sender(ctx, req);
      const form = readForm(ctx, req, agent);
      if (form.sids.length === 0) throw new HttpError(400, 'Form field "sids" (comma-separated stream ids) is required');
      if (form.sids.length > MAX_BLAST_STREAMS) throw new HttpError(400, `A blast sends to at most ${MAX_BLAST_STREAMS} streams`);
      try {
        parseMessageMl(form.messageMl, { ...(form.data === undefined ? {} : { data: form.data }), resolveMention: agent.resolveMention });
      } catch (err) {
        throw messageMlError(err);
      }
      const messages: unknown[] = [];
      const errors: Record<string, { code: number; message: string }> = {};
      for (const sid of [...new Set(form.sids)]) {
        try {
          const stream = writableStream(ctx, user, sid);
          messages.push(await agent.message(user.id, await send(ctx, agent, user, stream, form)));
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          errors[sid] = { code: err.status, message: err.message };
        }
      }
      return { json: { messages, errors } };
    }, sendLimit)
    .add('POST', '/agent/v4/stream/:sid/message/:mid/update', async (req) => {
      const user = sender(ctx, req);
      const stream = writableStream(ctx, user, req.params.sid!);
      const original = readableMessage(ctx, user, req.params.mid!);
      if (original.streamId !== stream.id) throw new HttpError(400, 'The message is not in this stream');
      if (original.fromUserId !== user.id) throw new HttpError(403, 'Only the sender of a message can update it');
      if (store.edits.suppression(original.messageId) !== undefined) throw new HttpError(400, 'The message was suppressed');
      const form = readForm(ctx, req, agent);
      const p = original.posted;
      const extra = {
        replacing: standardBase64Id(original.messageId),
        initialMessageId: typeof p.initialMessageId === 'string' ? p.initialMessageId : standardBase64Id(original.messageId),
        initialTimestamp: typeof p.initialTimestamp === 'number' ? p.initialTimestamp : original.ingestionDate,
        silent: form.silent,
      };
      const updated = await send(ctx, agent, user, stream, form, extra, (tx, m) => store.edits.replace(tx, original.messageId, m.messageId));
      return { json: await agent.message(user.id, updated) };
    }, sendLimit)
    .add('GET', '/agent/v4/stream/:sid/message', async (req) => {
      const user = ctx.sessionUser(req);
      const stream = memberStream(ctx, user, req.params.sid!, 'sid');
      const since = intQuery(req.query, 'since', -1, 0, Number.MAX_SAFE_INTEGER);
      if (since < 0) throw new HttpError(400, 'Query parameter "since" is required');
      const until = intQuery(req.query, 'until', Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
      let skip = intQuery(req.query, 'skip', 0, 0, 1_000_000);
      const limit = intQuery(req.query, 'limit', 50, 1, 500);
      const page: Message[] = [];
      for (const m of store.messages.between(stream.id, since, until)) {
        if (page.length >= limit) break;
        if (store.edits.suppression(m.messageId) !== undefined) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        page.push(m);
      }
      return listOrNoContent(await Promise.all(page.map((m) => agent.message(user.id, m))));
    })
    // Before /v1/message/:id, which would take "search" for an id.
    .add('GET', '/agent/v1/message/search', async (req) => {
      const user = ctx.sessionUser(req);
      const { skip, limit, ascending } = searchPaging(req);
      return listOrNoContent(await search(user, searchQueryText(requireQuery(req.query, 'query')), skip, limit, ascending));
    })
    .add('GET', '/agent/v1/message/:id', async (req) => {
      const user = ctx.sessionUser(req);
      const found = store.messages.get(canonicalId(req.params.id!, 'id'));
      if (found === undefined || store.edits.suppression(found.messageId) !== undefined) return { status: 204 };
      return { json: await agent.message(user.id, readableMessage(ctx, user, found.messageId)) };
    })
    .add('GET', '/agent/v1/stream/:sid/attachment', async (req) => {
      const user = ctx.sessionUser(req);
      const stream = memberStream(ctx, user, req.params.sid!, 'sid');
      const fileId = canonicalId(requireQuery(req.query, 'fileId'), 'fileId');
      const message = readableMessage(ctx, user, requireQuery(req.query, 'messageId'));
      const listed = (Array.isArray(message.posted.attachments) ? message.posted.attachments : []) as Array<{ fileId?: unknown; images?: Array<{ fileId?: unknown }> }>;
      const named = listed.some((a) => a.fileId === fileId || (a.images ?? []).some((i) => i.fileId === fileId));
      const attachment = named ? store.messages.attachment(fileId) : undefined;
      if (message.streamId !== stream.id || attachment === undefined) throw new HttpError(400, 'No such attachment in this message of this stream');
      const plain = await agent.encryptor.open(user.id, stream.id, Buffer.concat([...store.messages.attachmentChunks(attachment.id)]));
      return { bytes: Buffer.from(toBase64(plain)), contentType: 'application/octet-stream' };
    })
    .add('POST', '/agent/v1/message/search', async (req) => {
      const user = ctx.sessionUser(req);
      const { skip, limit, ascending } = searchPaging(req);
      return listOrNoContent(await search(user, searchBody(requireObject(req.json())), skip, limit, ascending));
    });
}
