/**
 * Message tokens (docs/agent-host.md "History paging"): the opaque `Token` of a message, which `GET
 * /Collaboration/V1/Channels/{id}/Messages?before=` takes back to page towards older messages. A token is
 * base64url of `1:{timestamp}:{messageId}`; any other text is refused with a 400.
 */
import { HttpError } from '../sandbox/http-error.js';

/** What a token names: a message and its time. */
export interface MessagePosition {
  timestamp: number;
  messageId: string;
}

/** The token of a message. */
export function encodeToken(position: MessagePosition): string {
  return Buffer.from(`1:${position.timestamp}:${position.messageId}`, 'utf8').toString('base64url');
}

/** The position a token names. @throws HttpError 400 when `token` is not one {@link encodeToken} wrote. */
export function decodeToken(token: string, parameter = 'before'): MessagePosition {
  const text = token.length <= 512 && /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const m = /^1:(\d{1,16}):([A-Za-z0-9_-]{1,256})$/.exec(text);
  if (m === null || Buffer.from(text, 'utf8').toString('base64url') !== token) throw new HttpError(400, `${parameter} must be a message Token as the host returned it`);
  return { timestamp: Number(m[1]), messageId: m[2]! };
}
