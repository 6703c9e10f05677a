/**
 * MindLink message parts ↔ Symphony MessageML, and PresentationML back to parts (docs/agent-host.md "Message
 * parts"). A send's `Text` or `MessageParts` (and `Subject`) become one MessageML document; a read's PresentationML
 * and entity JSON become `MessageParts` again. The mapping:
 *
 * | part | MessageML | read back from PresentationML |
 * |---|---|---|
 * | PlainText `Text` | text, a line break as `<br/>` | text and `<br/>` |
 * | Hyperlink `Text`, `Url` | `<a href="Url">Text</a>` | `<a>` not pointing at a Symphony stream |
 * | ChannelLink `ChannelName`, `ChannelId` | `<a href="https://open.symphony.com/?streamId=…&streamType=chatroom\|im">` (`user:` → `?startChat=`) | such an `<a>` |
 * | UserLink `DisplayName`, `UserId` (`user:{id}`) | `<mention uid="id"/>` | a mention entity (its shown name) |
 * | Hashtag `Hashtag` (with `#`) | `<hash tag="…"/>` | a hashtag entity |
 * | CodeBlock `CodeBlock`, `Language`, `DisplayMode` | `<div data-code-language="…" data-code-display-mode="N"><pre>…</pre></div>` | that div, or any `<pre>`/`<code>` |
 * | Emoji `Text` (`:shortcode:`) | `<emoji shortcode="…"/>` | an emoji entity, as `:shortcode:` |
 * | `Subject` | `<h3 class="mindlink-subject">…</h3>` first | that heading |
 *
 * Adjacent plain texts are one part; empty plain texts are none. IsAlert, Classification and SecurityContexts travel
 * in the message's data JSON under {@link LABELS_ENTITY} ({@link labelsData}, {@link readLabels}).
 */
import { HttpError } from '../sandbox/http-error.js';

/** The namespace of MindLink's part types (`__type` = `Name:namespace`). */
export const COLLABORATION_NS = 'http://schemas.fcg.im/foundation/v1/collaboration';

/** One MindLink message part, without its `__type` namespace. */
export type MessagePart =
  | { kind: 'PlainText'; Text: string }
  | { kind: 'Hyperlink'; Text: string; Url: string }
  | { kind: 'ChannelLink'; ChannelName: string; ChannelId: string }
  | { kind: 'UserLink'; DisplayName: string; UserId: string }
  | { kind: 'Hashtag'; Hashtag: string }
  | { kind: 'CodeBlock'; CodeBlock: string; Language: string; DisplayMode: number }
  | { kind: 'Emoji'; Text: string };

const KINDS = ['PlainText', 'Hyperlink', 'ChannelLink', 'UserLink', 'Hashtag', 'CodeBlock', 'Emoji'] as const;

/** The key of the host's labels in a message's data JSON. */
export const LABELS_ENTITY = 'mindlinkLabels';

/** A message's MindLink labels. */
export interface MessageLabels {
  IsAlert: boolean;
  Classification: string | null;
  SecurityContexts: string[] | null;
}

function bad(message: string): never {
  throw new HttpError(400, message);
}

function field(o: Record<string, unknown>, name: string, at: string, fallback?: string): string {
  const v = o[name] ?? fallback;
  if (typeof v !== 'string') bad(`${at}.${name} must be a string; received ${v === undefined ? 'nothing' : typeof v}`);
  return v;
}

/** Parse a request's `MessageParts` (`__type` with or without namespace). @throws HttpError 400 naming the part. */
export function parseParts(value: unknown): MessagePart[] {
  if (!Array.isArray(value)) bad('MessageParts must be an array of message parts');
  return value.map((raw, i): MessagePart => {
    const at = `MessageParts[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(`${at} must be an object`);
    const o = raw as Record<string, unknown>;
    const type = typeof o.__type === 'string' ? o.__type.split(':')[0]! : '';
    const kind = KINDS.find((k) => `${k}MessagePart` === type);
    if (kind === undefined) bad(`${at}.__type must be one of ${KINDS.map((k) => `${k}MessagePart`).join(', ')}; received ${JSON.stringify(o.__type ?? null)}`);
    switch (kind) {
      case 'PlainText': return { kind, Text: field(o, 'Text', at) };
      case 'Hyperlink': return { kind, Text: field(o, 'Text', at, ''), Url: field(o, 'Url', at) };
      case 'ChannelLink': return { kind, ChannelName: field(o, 'ChannelName', at, ''), ChannelId: field(o, 'ChannelId', at) };
      case 'UserLink': return { kind, DisplayName: field(o, 'DisplayName', at, ''), UserId: field(o, 'UserId', at) };
      case 'Hashtag': return { kind, Hashtag: field(o, 'Hashtag', at) };
      case 'Emoji': return { kind, Text: field(o, 'Text', at) };
      case 'CodeBlock': {
        const mode = o.DisplayMode ?? 0;
        if (typeof mode !== 'number' || !Number.isSafeInteger(mode) || mode < 0) bad(`${at}.DisplayMode must be a non-negative integer`);
        return { kind, CodeBlock: field(o, 'CodeBlock', at), Language: o.Language === null ? '' : field(o, 'Language', at, ''), DisplayMode: mode };
      }
    }
  });
}

/** The JSON of parts as the API answers them (`__type` with the namespace). */
export function partsJson(parts: readonly MessagePart[]): Record<string, unknown>[] {
  return parts.map(({ kind, ...fields }) => ({ __type: `${kind}MessagePart:${COLLABORATION_NS}`, ...fields }));
}

/** Merge adjacent plain texts and drop empty ones (the form {@link readPresentationMl} returns). */
export function normalizeParts(parts: readonly MessagePart[]): MessagePart[] {
  const out: MessagePart[] = [];
  for (const part of parts) {
    if (part.kind !== 'PlainText') out.push(part);
    else if (part.Text === '') continue;
    else if (out.at(-1)?.kind === 'PlainText') out[out.length - 1] = { kind: 'PlainText', Text: (out.at(-1) as { Text: string }).Text + part.Text };
    else out.push(part);
  }
  return out;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Characters XML cannot carry (and MessageML refuses). */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function textMl(text: string, at: string): string {
  if (NOT_XML.test(text)) bad(`${at} contains a control character`);
  return escapeXml(text.replace(/\r\n?/g, '\n')).replace(/\n/g, '<br/>');
}

const STREAM_LINK = 'https://open.symphony.com/?';

/** A channel id as `room:`/`im:`/`user:` and its value. */
export function parseChannelId(channelId: string): { kind: 'room' | 'im' | 'user'; value: string } | undefined {
  const m = /^(room|im|user):(.+)$/.exec(channelId);
  if (m === null) return undefined;
  const kind = m[1] as 'room' | 'im' | 'user';
  if (kind === 'user' ? !/^[1-9]\d{0,18}$/.test(m[2]!) : !/^[A-Za-z0-9_=+/-]{8,128}$/.test(m[2]!)) return undefined;
  return { kind, value: m[2]! };
}

function channelUrl(channelId: string, at: string): string {
  const c = parseChannelId(channelId);
  if (c === undefined) bad(`${at}.ChannelId must be room:{streamId}, im:{streamId} or user:{userId}; received ${JSON.stringify(channelId)}`);
  if (c.kind === 'user') return `${STREAM_LINK}startChat=${c.value}`;
  return `${STREAM_LINK}streamId=${encodeURIComponent(c.value)}&streamType=${c.kind === 'room' ? 'chatroom' : 'im'}`;
}

function channelOfUrl(url: string): string | undefined {
  if (!url.startsWith(STREAM_LINK)) return undefined;
  const q = new URLSearchParams(url.slice(STREAM_LINK.length));
  const start = q.get('startChat');
  if (start !== null && /^[1-9]\d{0,18}$/.test(start)) return `user:${start}`;
  const stream = q.get('streamId');
  const type = q.get('streamType');
  if (stream === null || (type !== 'chatroom' && type !== 'im')) return undefined;
  return `${type === 'chatroom' ? 'room' : 'im'}:${stream}`;
}

/** Render parts (and a subject) as one MessageML document. @throws HttpError 400 for a part that cannot be. */
export function partsToMessageMl(parts: readonly MessagePart[], subject?: string): string {
  let out = '<messageML>';
  if (subject !== undefined && subject !== '') out += `<h3 class="mindlink-subject">${textMl(subject, 'Subject')}</h3>`;
  parts.forEach((part, i) => {
    const at = `MessageParts[${i}]`;
    switch (part.kind) {
      case 'PlainText':
        out += textMl(part.Text, `${at}.Text`);
        break;
      case 'Hyperlink':
        if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s"<>]+$/.test(part.Url)) bad(`${at}.Url must be an absolute URI without spaces`);
        if (channelOfUrl(part.Url) !== undefined) bad(`${at}.Url is a Symphony stream link; send a ChannelLinkMessagePart`);
        out += `<a href="${escapeXml(part.Url)}">${textMl(part.Text, `${at}.Text`)}</a>`;
        break;
      case 'ChannelLink':
        out += `<a href="${escapeXml(channelUrl(part.ChannelId, at))}">${textMl(part.ChannelName, `${at}.ChannelName`)}</a>`;
        break;
      case 'UserLink': {
        const m = /^(?:user|contact):([1-9]\d{0,18})$/.exec(part.UserId);
        if (m === null) bad(`${at}.UserId must be user:{userId}; received ${JSON.stringify(part.UserId)}`);
        out += `<mention uid="${m[1]}"/>`;
        break;
      }
      case 'Hashtag': {
        const tag = part.Hashtag.startsWith('#') ? part.Hashtag.slice(1) : part.Hashtag;
        if (!/^[^\s<>"&#]{1,128}$/u.test(tag)) bad(`${at}.Hashtag must be # and 1 to 128 characters without spaces`);
        out += `<hash tag="${tag}"/>`;
        break;
      }
      case 'CodeBlock':
        if (!/^[A-Za-z0-9+#._-]{0,32}$/.test(part.Language)) bad(`${at}.Language must be up to 32 letters, digits or + # . _ -`);
        out += `<div data-code-language="${part.Language}" data-code-display-mode="${part.DisplayMode}"><pre>${textMl(part.CodeBlock, `${at}.CodeBlock`)}</pre></div>`;
        break;
      case 'Emoji': {
        const m = /^:([a-z0-9_+-]{1,64}):$/.exec(part.Text);
        if (m === null) bad(`${at}.Text must be an emoji short code such as :smile:; received ${JSON.stringify(part.Text)}`);
        out += `<emoji shortcode="${m[1]}"/>`;
        break;
      }
    }
  });
  return `${out}</messageML>`;
}

/** The data JSON carrying a message's labels (`undefined` when they are all unset). */
export function labelsData(labels: MessageLabels): Record<string, unknown> | undefined {
  if (!labels.IsAlert && labels.Classification === null && labels.SecurityContexts === null) return undefined;
  return { [LABELS_ENTITY]: { type: 'com.mindlink.labels', version: '1.0', ...labels } };
}

/** A message's labels from its entity JSON (defaults when it has none). */
export function readLabels(entityJson: Record<string, unknown>): MessageLabels {
  const e = entityJson[LABELS_ENTITY] as Record<string, unknown> | undefined;
  const contexts = e?.SecurityContexts;
  return {
    IsAlert: e?.IsAlert === true,
    Classification: typeof e?.Classification === 'string' ? e.Classification : null,
    SecurityContexts: Array.isArray(contexts) && contexts.every((c) => typeof c === 'string') ? contexts as string[] : null,
  };
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}

interface Tag { name: string; attributes: Map<string, string>; closing: boolean; selfClosing: boolean }
type Token = { text: string } | { tag: Tag };

const TAG = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function tokenize(markup: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (const m of markup.matchAll(TAG)) {
    if (m.index > at) tokens.push({ text: decodeEntities(markup.slice(at, m.index)) });
    const attributes = new Map<string, string>();
    for (const a of m[3]!.matchAll(ATTRIBUTE)) attributes.set(a[1]!, decodeEntities(a[2] ?? a[3] ?? ''));
    tokens.push({ tag: { name: m[2]!.toLowerCase(), attributes, closing: m[1] === '/', selfClosing: m[4] === '/' } });
    at = m.index + m[0].length;
  }
  if (at < markup.length) tokens.push({ text: decodeEntities(markup.slice(at)) });
  return tokens;
}

const BLOCK_ELEMENTS = new Set(['p', 'div', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'tr', 'table', 'ul', 'ol', 'hr']);

/**
 * The parts (and subject) of a received message, from its PresentationML and entity JSON. Markup other than the
 * mapped elements contributes its text; block elements separate lines.
 */
export function readPresentationMl(presentationMl: string, entityJson: Record<string, unknown>): { parts: MessagePart[]; subject?: string } {
  const tokens = tokenize(presentationMl);
  const parts: MessagePart[] = [];
  let subject: string | undefined;
  let i = 0;
  /** The text up to the close of the element just opened (nested elements included). */
  const innerText = (name: string): string => {
    let depth = 1;
    let text = '';
    for (; i < tokens.length; i++) {
      const t = tokens[i]!;
      if ('text' in t) text += t.text;
      else if (t.tag.name === 'br') text += '\n';
      else if (t.tag.selfClosing) continue;
      else if (t.tag.name === name && !t.tag.closing) depth++;
      else if (t.tag.name === name && t.tag.closing && --depth === 0) {
        i++;
        break;
      }
    }
    return text;
  };
  const plain = (text: string) => parts.push({ kind: 'PlainText', Text: text });
  const lastText = () => { const p = parts.at(-1); return p?.kind === 'PlainText' ? p.Text : p === undefined ? '' : 'x'; };
  let depth = 0;
  while (i < tokens.length) {
    const t = tokens[i++]!;
    if ('text' in t) {
      plain(t.text);
      continue;
    }
    const { name, attributes, closing, selfClosing } = t.tag;
    if (closing) {
      depth--;
      continue;
    }
    if (name === 'br') {
      plain('\n');
      continue;
    }
    if (name === 'a') {
      const href = attributes.get('href') ?? '';
      const text = selfClosing ? '' : innerText('a');
      const channel = channelOfUrl(href);
      parts.push(channel === undefined ? { kind: 'Hyperlink', Text: text, Url: href } : { kind: 'ChannelLink', ChannelName: text, ChannelId: channel });
      continue;
    }
    if (name === 'span' && attributes.has('data-entity-id')) {
      const entity = entityJson[attributes.get('data-entity-id')!] as { type?: unknown; id?: Array<{ type?: unknown; value?: unknown }>; data?: { annotation?: unknown } } | undefined;
      const text = selfClosing ? '' : innerText('span');
      const type = entity?.type;
      const id = entity?.id?.[0];
      if (type === 'com.symphony.user.mention' && typeof id?.value === 'string') parts.push({ kind: 'UserLink', DisplayName: text.replace(/^@/, ''), UserId: `user:${id.value}` });
      else if (type === 'org.symphonyoss.taxonomy' && id?.type === 'org.symphonyoss.taxonomy.hashtag') parts.push({ kind: 'Hashtag', Hashtag: text });
      else if (type === 'com.symphony.emoji' && typeof entity?.data?.annotation === 'string') parts.push({ kind: 'Emoji', Text: `:${entity.data.annotation}:` });
      else plain(text);
      continue;
    }
    if (name === 'div' && attributes.has('data-code-language')) {
      const mode = Number(attributes.get('data-code-display-mode') ?? 0);
      parts.push({ kind: 'CodeBlock', CodeBlock: selfClosing ? '' : innerText('div'), Language: attributes.get('data-code-language')!, DisplayMode: Number.isSafeInteger(mode) ? mode : 0 });
      continue;
    }
    if (name === 'pre' || name === 'code') {
      parts.push({ kind: 'CodeBlock', CodeBlock: selfClosing ? '' : innerText(name), Language: '', DisplayMode: name === 'pre' ? 1 : 0 });
      continue;
    }
    if (name === 'h3' && attributes.get('class') === 'mindlink-subject' && parts.length === 0 && subject === undefined) {
      subject = selfClosing ? '' : innerText('h3');
      continue;
    }
    if (selfClosing) continue;
    // A block (other than the root) starts on a new line.
    if (BLOCK_ELEMENTS.has(name) && depth > 0 && lastText() !== '' && !lastText().endsWith('\n')) plain('\n');
    depth++;
  }
  return { parts: normalizeParts(parts), ...(subject === undefined ? {} : { subject }) };
}
