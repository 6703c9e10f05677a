/**
 * Messages and attachments (docs/sandbox.md "Persistence"). A message is stored once, as the SocialMessage the
 * client posted (ciphertext fields as submitted); the server's fields (`version`, `messageId`, `threadId`,
 * `fromUserId`, `ingestionDate`) are columns, added when the message is read, exactly as the pod returns them.
 * Datafeed events reference a message by its row (./events.ts) instead of copying it. Attachments are stored in
 * chunks of {@link ATTACHMENT_CHUNK_BYTES}, so that reading one never holds more than a chunk.
 */
import { standardBase64Id } from '../ids.js';
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** Attachment bytes per stored chunk. */
export const ATTACHMENT_CHUNK_BYTES = 256 * 1024;

/** A stored message. */
export interface Message {
  /** Row number: the order of ingestion across the pod. */
  seq: number;
  messageId: string;
  streamId: string;
  fromUserId: number;
  ingestionDate: number;
  /** The SocialMessage as the client posted it. */
  posted: Record<string, unknown>;
}

/** An attachment's metadata. */
export interface Attachment {
  id: string;
  streamId: string;
  by: number;
  size: number;
}

interface MessageRow {
  seq: number;
  id: string;
  stream_id: string;
  from_user: number;
  ingestion_date: number;
  payload: string;
}

function message(r: MessageRow): Message {
  return { seq: r.seq, messageId: r.id, streamId: r.stream_id, fromUserId: r.from_user, ingestionDate: r.ingestion_date, posted: JSON.parse(r.payload) as Record<string, unknown> };
}

/** The SocialMessage as the pod serves it: what the client posted with the server's fields. */
export function socialMessage(m: Message): Record<string, unknown> {
  return {
    ...m.posted, version: m.posted.version ?? 'SOCIALMESSAGE', messageId: standardBase64Id(m.messageId), threadId: standardBase64Id(m.streamId),
    fromUserId: m.fromUserId, ingestionDate: m.ingestionDate,
  };
}

/** Rows fetched per batch when a page is streamed. */
const PAGE_BATCH = 16;

/** The `messages`, `attachments` and `attachment_chunks` tables. */
export class MessageTable {
  readonly #insert;
  readonly #get;
  readonly #bySeq;
  readonly #count;
  readonly #windowStart;
  readonly #batch;
  readonly #insertAttachment;
  readonly #insertChunk;
  readonly #attachment;
  readonly #chunk;
  readonly #countAttachments;

  constructor(db: Db) {
    this.#insert = db.prepare('INSERT INTO messages (id, stream_id, from_user, ingestion_date, payload) VALUES (?, ?, ?, ?, ?)');
    this.#get = db.prepare<[string], MessageRow>('SELECT * FROM messages WHERE id = ?');
    this.#bySeq = db.prepare<[number], MessageRow>('SELECT * FROM messages WHERE seq = ?');
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM messages');
    this.#windowStart = db.prepare<[string, number, number, number], { ingestion_date: number; seq: number }>(`SELECT ingestion_date, seq FROM messages
      WHERE stream_id = ? AND ingestion_date >= ? AND ingestion_date < ? ORDER BY ingestion_date DESC, seq DESC LIMIT 1 OFFSET ?`);
    this.#batch = db.prepare<[string, number, number, number, number], MessageRow>(`SELECT * FROM messages
      WHERE stream_id = ? AND (ingestion_date, seq) > (?, ?) AND ingestion_date < ? ORDER BY ingestion_date, seq LIMIT ?`);
    this.#insertAttachment = db.prepare('INSERT INTO attachments (id, stream_id, by_user, size) VALUES (?, ?, ?, ?)');
    this.#insertChunk = db.prepare('INSERT INTO attachment_chunks (attachment_id, n, data) VALUES (?, ?, ?)');
    this.#attachment = db.prepare<[string], { id: string; stream_id: string; by_user: number; size: number }>('SELECT * FROM attachments WHERE id = ?');
    this.#chunk = db.prepare<[string, number], { data: Buffer }>('SELECT data FROM attachment_chunks WHERE attachment_id = ? AND n = ?');
    this.#countAttachments = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM attachments');
  }

  /** Store a message; returns its row number. */
  insert(tx: Tx, m: Omit<Message, 'seq'>): number {
    Tx.check(tx);
    return Number(this.#insert.run(m.messageId, m.streamId, m.fromUserId, m.ingestionDate, JSON.stringify(m.posted)).lastInsertRowid);
  }

  get(messageId: string): Message | undefined {
    const r = this.#get.get(messageId);
    return r === undefined ? undefined : message(r);
  }

  bySeq(seq: number): Message | undefined {
    const r = this.#bySeq.get(seq);
    return r === undefined ? undefined : message(r);
  }

  count(): number {
    return this.#count.get()!.n;
  }

  /**
   * The newest `limit` messages of a stream ingested in [`from`, `before`), oldest first, read in small batches as
   * the caller iterates (so that a page is never held whole). Messages are immutable, so a page read across other
   * writes is still the window it started as, plus any message ingested meanwhile inside it.
   */
  *window(streamId: string, from: number, before: number, limit: number): Generator<Message> {
    const start = this.#windowStart.get(streamId, from, before, limit - 1);
    // Keyset paging from just before the first message of the window: (date, seq - 1) < (date, seq).
    let [date, seq] = start === undefined ? [from, 0] : [start.ingestion_date, start.seq - 1];
    for (let done = 0; done < limit;) {
      const rows = this.#batch.all(streamId, date, seq, before, Math.min(PAGE_BATCH, limit - done));
      for (const r of rows) yield message(r);
      done += rows.length;
      if (rows.length < PAGE_BATCH) return;
      [date, seq] = [rows.at(-1)!.ingestion_date, rows.at(-1)!.seq];
    }
  }

  /**
   * Every message of a stream ingested in [`from`, `before`), oldest first, read in small batches as the caller
   * iterates (the Agent's history and search read it from a point onwards).
   */
  *between(streamId: string, from: number, before: number): Generator<Message> {
    let [date, seq] = [from, 0];
    for (;;) {
      const rows = this.#batch.all(streamId, date, seq, before, PAGE_BATCH);
      for (const r of rows) yield message(r);
      if (rows.length < PAGE_BATCH) return;
      [date, seq] = [rows.at(-1)!.ingestion_date, rows.at(-1)!.seq];
    }
  }

  /** Store an attachment's bytes in chunks. */
  insertAttachment(tx: Tx, a: Omit<Attachment, 'size'>, data: Buffer): void {
    Tx.check(tx);
    this.#insertAttachment.run(a.id, a.streamId, a.by, data.length);
    for (let n = 0, at = 0; at < data.length; n++, at += ATTACHMENT_CHUNK_BYTES) this.#insertChunk.run(a.id, n, data.subarray(at, at + ATTACHMENT_CHUNK_BYTES));
  }

  attachment(id: string): Attachment | undefined {
    const r = this.#attachment.get(id);
    return r === undefined ? undefined : { id: r.id, streamId: r.stream_id, by: r.by_user, size: r.size };
  }

  /** An attachment's bytes, chunk by chunk as the caller iterates. */
  *attachmentChunks(id: string): Generator<Buffer> {
    for (let n = 0; ; n++) {
      const chunk = this.#chunk.get(id, n);
      if (chunk === undefined) return;
      yield chunk.data;
    }
  }

  countAttachments(): number {
    return this.#countAttachments.get()!.n;
  }
}
