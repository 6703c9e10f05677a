/**
 * MessageML v2, the markup Symphony bots write messages in, parsed strictly and rendered into what a Symphony client
 * stores and shows: PresentationML (`<div data-format="PresentationML" data-version="2.0" class="wysiwyg">…</div>`),
 * the message's plain text (for search tokens and text-only readers) and its entity JSON (hashtags, cashtags,
 * mentions, emoji, and the caller's own `data`). The format, the element set and how each element renders are in
 * docs/wire-formats.md ("Rendering").
 *
 * The parser is a small XML reader written for hostile input: bounded size and nesting depth, no DTDs, no external
 * entities, no comments or CDATA (Symphony's schema has none), only the five XML entities and character references.
 * Every error says where (line and column) and what is wrong in structural terms — an element or attribute name,
 * never the text of the message, which is plaintext (docs/threat-model.md).
 *
 * Deliberately not supported (refused with a clear error rather than mis-rendered): Symphony Elements (forms,
 * buttons, selectors), `<chime>`, `<ui-action>`, `<tooltip>`. Freemarker expressions (`${…}`) are kept as literal text.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from '../util/validate.js';

/** Longest MessageML document accepted, in characters (Symphony's own limit is of the same order). */
export const MAX_MESSAGEML_LENGTH = 200_000;
/** Deepest element nesting accepted. */
export const MAX_MESSAGEML_DEPTH = 64;

/**
 * A MessageML document that could not be parsed or does not follow the schema. `line` and `column` (1-based) point
 * at the offending construct; the message names it structurally and never quotes the message's text.
 */
export class InvalidMessageMlError extends InvalidArgumentError {
  /** 1-based line of the error. */
  readonly line: number;
  /** 1-based column of the error. */
  readonly column: number;
  /** What is wrong, e.g. `element <foo> is not allowed in <p>`. */
  readonly problem: string;
  constructor(problem: string, line: number, column: number) {
    super('message', 'MessageML v2', `a document with an error at line ${line}, column ${column}: ${problem}`);
    this.line = line;
    this.column = column;
    this.problem = problem;
  }
}

/** An entity found in a message, in document order. */
export type MessageEntity =
  | { kind: 'hashtag' | 'cashtag'; value: string }
  | { kind: 'mention'; userId: number }
  | { kind: 'emoji'; shortcode: string };

/** A user named by a `<mention>`, as the resolver returns it. */
export interface MentionedUser {
  userId: number;
  displayName: string;
}

/** Options of {@link parseMessageMl}. */
export interface ParseMessageMlOptions {
  /**
   * Entity JSON supplied with the message (the Agent's `data` part); merged into the result's entity JSON, and the
   * target of `data-entity-id` attributes on `<div>` and `<span>`.
   */
  data?: Record<string, unknown>;
  /**
   * Looks up the user of `<mention uid="…">` or `<mention email="…">`, for the display name and (for an email) the
   * user id. Without a resolver, `uid` mentions render as `@<uid>` and `email` mentions are refused.
   */
  resolveMention?: (by: { userId: number } | { email: string }) => MentionedUser | undefined;
}

/** What a MessageML document renders to. */
export interface RenderedMessage {
  /** The PresentationML document. */
  presentationML: string;
  /** The message's plain text: text content with line breaks between blocks. */
  text: string;
  /** Entity JSON: the generated entities (`keyword1`, `mention2`, `emoji3`, …) and the caller's `data`. */
  entityJSON: Record<string, unknown>;
  entities: MessageEntity[];
}

interface ElementNode {
  kind: 'element';
  name: string;
  attributes: Map<string, string>;
  children: MarkupNode[];
  /** Offset of its `<` in the source, for errors. */
  at: number;
}
type MarkupNode = ElementNode | { kind: 'text'; value: string };

/** Where each element may appear and which attributes it takes. */
interface ElementRule {
  attributes: readonly string[];
  /** Allowed parents; undefined = any element that takes children. */
  parents?: readonly string[];
  /** No children at all. */
  empty?: boolean;
  /** `data-*` attributes allowed. */
  dataAttributes?: boolean;
  required?: readonly string[];
}

const BLOCK_AND_INLINE = ['class'] as const;
const RULES: Record<string, ElementRule> = {
  messageML: { attributes: [] },
  p: { attributes: BLOCK_AND_INLINE },
  div: { attributes: BLOCK_AND_INLINE, dataAttributes: true },
  span: { attributes: BLOCK_AND_INLINE, dataAttributes: true },
  b: { attributes: BLOCK_AND_INLINE },
  strong: { attributes: BLOCK_AND_INLINE },
  i: { attributes: BLOCK_AND_INLINE },
  em: { attributes: BLOCK_AND_INLINE },
  u: { attributes: BLOCK_AND_INLINE },
  code: { attributes: BLOCK_AND_INLINE },
  pre: { attributes: BLOCK_AND_INLINE },
  h1: { attributes: BLOCK_AND_INLINE }, h2: { attributes: BLOCK_AND_INLINE }, h3: { attributes: BLOCK_AND_INLINE },
  h4: { attributes: BLOCK_AND_INLINE }, h5: { attributes: BLOCK_AND_INLINE }, h6: { attributes: BLOCK_AND_INLINE },
  a: { attributes: ['href', 'class'], required: ['href'] },
  br: { attributes: [], empty: true },
  hr: { attributes: [], empty: true },
  img: { attributes: ['src', 'class'], required: ['src'], empty: true },
  ul: { attributes: BLOCK_AND_INLINE },
  ol: { attributes: BLOCK_AND_INLINE },
  li: { attributes: BLOCK_AND_INLINE, parents: ['ul', 'ol'] },
  table: { attributes: BLOCK_AND_INLINE },
  thead: { attributes: BLOCK_AND_INLINE, parents: ['table'] },
  tbody: { attributes: BLOCK_AND_INLINE, parents: ['table'] },
  tfoot: { attributes: BLOCK_AND_INLINE, parents: ['table'] },
  tr: { attributes: BLOCK_AND_INLINE, parents: ['table', 'thead', 'tbody', 'tfoot'] },
  td: { attributes: ['class', 'rowspan', 'colspan'], parents: ['tr'] },
  th: { attributes: ['class', 'rowspan', 'colspan'], parents: ['tr'] },
  card: { attributes: ['iconSrc', 'accent'] },
  'expandable-card': { attributes: ['state', 'variant'], required: ['state'] },
  header: { attributes: [], parents: ['card', 'expandable-card'] },
  body: { attributes: ['variant'], parents: ['card', 'expandable-card'] },
  hash: { attributes: ['tag'], required: ['tag'], empty: true },
  cash: { attributes: ['tag'], required: ['tag'], empty: true },
  mention: { attributes: ['uid', 'email', 'strict'], empty: true },
  emoji: { attributes: ['shortcode', 'family', 'size'], required: ['shortcode'], empty: true },
};

const UNSUPPORTED = new Set([
  'form', 'button', 'text-field', 'textarea', 'select', 'option', 'checkbox', 'radio', 'person-selector', 'date-selector',
  'time-picker', 'timezone-picker', 'table-select', 'room-selector', 'dialog', 'chime', 'ui-action', 'tooltip',
]);

/** Children that contain only structure, so whitespace between their children is dropped. */
const STRUCTURAL = new Set(['ul', 'ol', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'card', 'expandable-card']);
/** Elements whose text is a block of its own in the plain text. */
const BLOCKS = new Set(['p', 'div', 'pre', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'li', 'tr', 'table', 'ul', 'ol', 'hr', 'card', 'expandable-card', 'header', 'body']);

/** A few emoji by shortcode; others render as `:shortcode:` (the Symphony client's table is much larger). */
const EMOJI: Record<string, string> = {
  smile: '😄', smiley: '😃', grinning: '😀', laughing: '😆', wink: '😉', blush: '😊', heart: '❤️', thumbsup: '👍', '+1': '👍',
  thumbsdown: '👎', '-1': '👎', clap: '👏', tada: '🎉', rocket: '🚀', fire: '🔥', ok_hand: '👌', wave: '👋', eyes: '👀',
  white_check_mark: '✅', x: '❌', warning: '⚠️', star: '⭐', sunny: '☀️', coffee: '☕', thinking_face: '🤔', pray: '🙏',
};

const NAME = /[A-Za-z][A-Za-z0-9_-]*/y;
const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** A strict reader of the XML subset MessageML uses, with positions for errors. */
class MarkupReader {
  readonly #src: string;
  #at = 0;

  constructor(src: string) {
    this.#src = src;
  }

  fail(problem: string, at = this.#at): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.#src.length; i++) {
      if (this.#src.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new InvalidMessageMlError(problem, line, at - lineStart + 1);
  }

  /** The document: optional surrounding white space and exactly one root element. */
  document(): ElementNode {
    this.#skipSpace();
    if (this.#src[this.#at] !== '<') this.fail('the document must start with the <messageML> element');
    const root = this.#element(0);
    this.#skipSpace();
    if (this.#at < this.#src.length) this.fail('content after the root element');
    return root;
  }

  #skipSpace(): void {
    while (this.#at < this.#src.length && /\s/.test(this.#src[this.#at]!)) this.#at++;
  }

  #name(what: string): string {
    NAME.lastIndex = this.#at;
    const m = NAME.exec(this.#src);
    if (m === null) this.fail(`expected ${what}`);
    this.#at += m[0].length;
    return m[0];
  }

  #element(depth: number): ElementNode {
    if (depth >= MAX_MESSAGEML_DEPTH) this.fail(`elements nested deeper than ${MAX_MESSAGEML_DEPTH} levels`);
    const start = this.#at;
    this.#at++; // '<'
    const next = this.#src[this.#at];
    if (next === '!' || next === '?') this.fail(next === '!' ? 'comments, CDATA and DOCTYPE are not allowed' : 'processing instructions are not allowed', start);
    const name = this.#name('an element name');
    const attributes = new Map<string, string>();
    for (;;) {
      const before = this.#at;
      this.#skipSpace();
      const c = this.#src[this.#at];
      if (c === '/' && this.#src[this.#at + 1] === '>') {
        this.#at += 2;
        return this.#node(name, attributes, [], start);
      }
      if (c === '>') {
        this.#at++;
        break;
      }
      if (c === undefined) this.fail(`the start tag of <${name}> is not closed`, start);
      if (this.#at === before) this.fail(`expected white space before an attribute of <${name}>`);
      const attrAt = this.#at;
      const attr = this.#name(`an attribute name or the end of <${name}>`);
      this.#skipSpace();
      if (this.#src[this.#at] !== '=') this.fail(`attribute ${attr} of <${name}> has no value`);
      this.#at++;
      this.#skipSpace();
      const quote = this.#src[this.#at];
      if (quote !== '"' && quote !== "'") this.fail(`the value of attribute ${attr} must be quoted`);
      const end = this.#src.indexOf(quote, this.#at + 1);
      if (end < 0) this.fail(`the value of attribute ${attr} is not closed`);
      const raw = this.#src.slice(this.#at + 1, end);
      if (raw.includes('<')) this.fail(`the value of attribute ${attr} contains "<"`);
      if (attributes.has(attr)) this.fail(`attribute ${attr} appears twice on <${name}>`, attrAt);
      attributes.set(attr, this.#decode(raw, this.#at + 1));
      this.#at = end + 1;
    }
    const children: MarkupNode[] = [];
    for (;;) {
      const lt = this.#src.indexOf('<', this.#at);
      if (lt < 0) this.fail(`<${name}> is not closed`, start);
      if (lt > this.#at) children.push({ kind: 'text', value: this.#decode(this.#src.slice(this.#at, lt), this.#at) });
      this.#at = lt;
      if (this.#src[lt + 1] === '/') {
        this.#at += 2;
        const closing = this.#name('an element name');
        if (closing !== name) this.fail(`</${closing}> closes <${name}>`, lt);
        this.#skipSpace();
        if (this.#src[this.#at] !== '>') this.fail(`the end tag of <${name}> is not closed`);
        this.#at++;
        return this.#node(name, attributes, children, start);
      }
      children.push(this.#element(depth + 1));
    }
  }

  #node(name: string, attributes: Map<string, string>, children: MarkupNode[], at: number): ElementNode {
    return { kind: 'element', name, attributes, children, at };
  }

  /** Replace entity and character references in text or an attribute value starting at `offset`. */
  #decode(text: string, offset: number): string {
    if (text.includes('>') && text.includes(']]>')) this.fail('"]]>" is not allowed in text', offset + text.indexOf(']]>'));
    return text.replace(/&([^;&\s]{0,12});?/g, (whole, ref: string, index: number) => {
      if (!whole.endsWith(';')) this.fail('"&" must start an entity reference such as &amp;', offset + index);
      if (ref.startsWith('#')) {
        const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : /^#\d+$/.test(ref) ? Number(ref.slice(1)) : Number.NaN;
        const valid = Number.isInteger(code) && (code === 9 || code === 10 || code === 13 || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0x10ffff && code !== 0xfffe && code !== 0xffff));
        if (!valid || (ref[1] === 'x' && !/^#x[0-9A-Fa-f]+$/.test(ref))) this.fail('a character reference names no valid character', offset + index);
        return String.fromCodePoint(code);
      }
      const known = XML_ENTITIES[ref];
      // The name is not quoted: it is part of the message's text.
      if (known === undefined) this.fail('unknown entity reference (only &amp; &lt; &gt; &quot; &apos; and character references)', offset + index);
      return known;
    });
  }
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;');
}

/** The rendering of one document: PresentationML and text are built side by side. */
class Renderer {
  readonly #reader: MarkupReader;
  readonly #options: ParseMessageMlOptions;
  readonly entityJSON: Record<string, unknown>;
  readonly entities: MessageEntity[] = [];
  #text = '';
  #counter = 0;

  constructor(reader: MarkupReader, options: ParseMessageMlOptions) {
    this.#reader = reader;
    this.#options = options;
    this.entityJSON = { ...(options.data ?? {}) };
  }

  get text(): string {
    return this.#text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
  }

  #fail(node: ElementNode, problem: string): never {
    return this.#reader.fail(problem, node.at);
  }

  #block(): void {
    if (this.#text !== '' && !this.#text.endsWith('\n')) this.#text += '\n';
  }

  #entityId(prefix: string): string {
    let id: string;
    do id = `${prefix}${++this.#counter}`; while (id in this.entityJSON);
    return id;
  }

  #check(node: ElementNode, parent: ElementNode | undefined): ElementRule {
    if (UNSUPPORTED.has(node.name)) this.#fail(node, `<${node.name}> (Symphony Elements and interactive markup) is not supported`);
    const rule = RULES[node.name];
    if (rule === undefined || (node.name === 'messageML') !== (parent === undefined)) {
      this.#fail(node, parent === undefined ? `the root element must be <messageML>, not <${node.name}>` : `element <${node.name}> is not allowed${rule === undefined ? '' : ` in <${parent.name}>`}`);
    }
    if (rule.parents !== undefined && (parent === undefined || !rule.parents.includes(parent.name))) {
      this.#fail(node, `<${node.name}> must be inside ${rule.parents.map((p) => `<${p}>`).join(' or ')}`);
    }
    if (parent !== undefined && RULES[parent.name]?.empty === true) this.#fail(node, `<${parent.name}> must be empty`);
    for (const name of node.attributes.keys()) {
      if (!rule.attributes.includes(name) && !(rule.dataAttributes === true && /^data-[a-z0-9-]+$/.test(name))) {
        this.#fail(node, `attribute ${name} is not allowed on <${node.name}>`);
      }
    }
    for (const name of rule.required ?? []) if (!node.attributes.has(name)) this.#fail(node, `<${node.name}> needs attribute ${name}`);
    if (rule.empty === true && node.children.some((c) => c.kind === 'element' || c.value.trim() !== '')) this.#fail(node, `<${node.name}> must be empty`);
    if (STRUCTURAL.has(node.name)) {
      if (node.children.some((c) => c.kind === 'text' && c.value.trim() !== '')) this.#fail(node, `text is not allowed directly in <${node.name}>`);
    }
    return rule;
  }

  /** Render the children of `node` (the root's children when `node` is the root). */
  children(node: ElementNode): string {
    let out = '';
    for (const child of node.children) {
      if (child.kind === 'text') {
        if (STRUCTURAL.has(node.name)) continue;
        out += escapeText(child.value);
        this.#text += child.value;
      } else {
        out += this.element(child, node);
      }
    }
    return out;
  }

  root(node: ElementNode): string {
    this.#check(node, undefined);
    return `<div data-format="PresentationML" data-version="2.0" class="wysiwyg">${this.children(node)}</div>`;
  }

  element(node: ElementNode, parent: ElementNode): string {
    this.#check(node, parent);
    const attr = (name: string) => node.attributes.get(name);
    switch (node.name) {
      case 'hash':
      case 'cash':
        return this.#tag(node, node.name === 'hash' ? 'hashtag' : 'cashtag', attr('tag')!);
      case 'mention':
        return this.#mention(node);
      case 'emoji':
        return this.#emoji(node);
      case 'a': {
        const href = attr('href')!;
        if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(href)) this.#fail(node, 'attribute href of <a> must be an absolute URI');
        return this.#plain(node);
      }
      case 'img': {
        if (!/^(https?:|data:image\/)\S+$/i.test(attr('src')!)) this.#fail(node, 'attribute src of <img> must be an http(s) or data:image URI');
        return this.#plain(node);
      }
      case 'td':
      case 'th':
        for (const span of ['rowspan', 'colspan']) {
          const v = attr(span);
          if (v !== undefined && !/^[1-9]\d{0,2}$/.test(v)) this.#fail(node, `attribute ${span} of <${node.name}> must be a positive integer`);
        }
        return this.#plain(node);
      case 'div':
      case 'span': {
        const ref = attr('data-entity-id');
        if (ref !== undefined && !Object.hasOwn(this.#options.data ?? {}, ref)) this.#fail(node, `the data-entity-id of <${node.name}> names no entry of the message's data`);
        return this.#plain(node);
      }
      case 'card':
        return this.#card(node, 'card barStyle', { iconSrc: 'data-icon-src', accent: 'data-accent-color' }, 'cardHeader', 'cardBody');
      case 'expandable-card': {
        const state = attr('state')!;
        if (!['collapsed', 'cropped', 'expanded'].includes(state)) this.#fail(node, 'attribute state of <expandable-card> must be collapsed, cropped or expanded');
        const variant = attr('variant');
        if (variant !== undefined && !['default', 'error'].includes(variant)) this.#fail(node, 'attribute variant of <expandable-card> must be default or error');
        return this.#card(node, 'expandable-card', { state: 'data-state', variant: 'data-variant' }, 'expandableCardHeader', 'expandableCardBody');
      }
      default:
        return this.#plain(node);
    }
  }

  /** An element rendered as itself, with its attributes. */
  #plain(node: ElementNode): string {
    const attributes = [...node.attributes].map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join('');
    if (BLOCKS.has(node.name)) this.#block();
    if (node.name === 'li') this.#text += '- ';
    if (RULES[node.name]?.empty === true) {
      if (node.name === 'br') this.#text += '\n';
      if (node.name === 'hr') this.#text += '---\n';
      return `<${node.name}${attributes}/>`;
    }
    const inner = this.children(node);
    if (node.name === 'td' || node.name === 'th') this.#text += '\t';
    if (BLOCKS.has(node.name)) this.#block();
    return `<${node.name}${attributes}>${inner}</${node.name}>`;
  }

  #card(node: ElementNode, cssClass: string, attributeMap: Record<string, string>, headerClass: string, bodyClass: string): string {
    const attributes = Object.entries(attributeMap).map(([from, to]) => {
      const v = node.attributes.get(from);
      return v === undefined ? '' : ` ${to}="${escapeAttribute(v)}"`;
    }).join('');
    const parts = node.children.filter((c): c is ElementNode => c.kind === 'element');
    let inner = '';
    this.#block();
    for (const part of parts) {
      this.#check(part, node);
      this.#block();
      inner += `<div class="${part.name === 'header' ? headerClass : bodyClass}">${this.children(part)}</div>`;
      this.#block();
    }
    return `<div class="${cssClass}"${attributes}>${inner}</div>`;
  }

  #tag(node: ElementNode, kind: 'hashtag' | 'cashtag', value: string): string {
    if (!/^[^\s<>"&]{1,128}$/u.test(value)) this.#fail(node, `attribute tag of <${node.name}> must be 1 to 128 characters without spaces`);
    const id = this.#entityId('keyword');
    this.entities.push({ kind, value });
    this.entityJSON[id] = {
      type: 'org.symphonyoss.taxonomy', version: '1.0',
      id: [{ type: kind === 'hashtag' ? 'org.symphonyoss.taxonomy.hashtag' : 'org.symphonyoss.fin.security.id.ticker', value }],
    };
    const shown = `${kind === 'hashtag' ? '#' : '$'}${value}`;
    this.#text += shown;
    return `<span class="entity" data-entity-id="${id}">${escapeText(shown)}</span>`;
  }

  #mention(node: ElementNode): string {
    const uid = node.attributes.get('uid');
    const email = node.attributes.get('email');
    const strict = node.attributes.get('strict') ?? 'true';
    if (strict !== 'true' && strict !== 'false') this.#fail(node, 'attribute strict of <mention> must be true or false');
    if ((uid === undefined) === (email === undefined)) this.#fail(node, '<mention> needs exactly one of the attributes uid and email');
    let user: MentionedUser | undefined;
    if (uid !== undefined) {
      if (!/^[1-9]\d{0,18}$/.test(uid) || !Number.isSafeInteger(Number(uid))) this.#fail(node, 'attribute uid of <mention> must be a user id');
      user = this.#options.resolveMention?.({ userId: Number(uid) }) ?? (this.#options.resolveMention === undefined ? { userId: Number(uid), displayName: uid } : undefined);
    } else {
      if (!/^[^\s@<>"]+@[^\s@<>"]+$/.test(email!)) this.#fail(node, 'attribute email of <mention> must be an email address');
      user = this.#options.resolveMention?.({ email: email! });
    }
    if (user === undefined) {
      if (strict === 'true') this.#fail(node, `the user of a <mention> (${uid !== undefined ? 'by uid' : 'by email'}) is not known`);
      const shown = email ?? uid!;
      this.#text += shown;
      return escapeText(shown);
    }
    const id = this.#entityId('mention');
    this.entities.push({ kind: 'mention', userId: user.userId });
    this.entityJSON[id] = { type: 'com.symphony.user.mention', version: '1.0', id: [{ type: 'com.symphony.user.userId', value: String(user.userId) }] };
    this.#text += `@${user.displayName}`;
    return `<span class="entity" data-entity-id="${id}">@${escapeText(user.displayName)}</span>`;
  }

  #emoji(node: ElementNode): string {
    const shortcode = node.attributes.get('shortcode')!;
    if (!/^[a-z0-9_+-]{1,64}$/.test(shortcode)) this.#fail(node, 'attribute shortcode of <emoji> must be an emoji short code (a-z, 0-9, _ + -)');
    const size = node.attributes.get('size') ?? 'normal';
    if (!['small', 'normal', 'big', 'large'].includes(size)) this.#fail(node, 'attribute size of <emoji> must be small, normal, big or large');
    const unicode = EMOJI[shortcode];
    const id = this.#entityId('emoji');
    this.entities.push({ kind: 'emoji', shortcode });
    this.entityJSON[id] = { type: 'com.symphony.emoji', version: '1.0', data: { annotation: shortcode, size, ...(unicode === undefined ? {} : { unicode }) } };
    const shown = unicode ?? `:${shortcode}:`;
    this.#text += shown;
    return `<span class="entity" data-entity-id="${id}">${escapeText(shown)}</span>`;
  }
}

/** Whether `input` is meant as a MessageML document: it starts (after white space) with the `<messageML` tag. */
export function isMessageMlDocument(input: string): boolean {
  return /^\s*<messageML[\s>/]/.test(input);
}

/** `input` as a MessageML document: itself when it is one ({@link isMessageMlDocument}), else plain text escaped into one. */
export function messageMlDocument(input: string): string {
  return isMessageMlDocument(input) ? input : `<messageML>${escapeText(input)}</messageML>`;
}

/**
 * Parse a MessageML v2 document and render it. An input that is not a `<messageML>` document
 * ({@link isMessageMlDocument}) is plain text, taken as the text of one (escaped): `parseMessageMl('a <b> c')`
 * sends those characters as they are.
 * @throws InvalidMessageMlError (`INVALID_ARGUMENT`, with `line` and `column`) for a document that is not
 *   well-formed or does not follow the schema; InvalidArgumentError for a non-string or an oversized input.
 * @example
 * ```ts
 * const { presentationML, text } = parseMessageMl('<messageML>Hi <mention uid="123"/> <hash tag="ops"/></messageML>');
 * ```
 */
export function parseMessageMl(input: string, options: ParseMessageMlOptions = {}): RenderedMessage {
  if (typeof input !== 'string') throw new InvalidArgumentError('message', 'a MessageML string', describeValue(input));
  if (input.length > MAX_MESSAGEML_LENGTH) throw new InvalidArgumentError('message', `at most ${MAX_MESSAGEML_LENGTH} characters of MessageML`, describeValue(input));
  if (options.data !== undefined && (typeof options.data !== 'object' || options.data === null || Array.isArray(options.data))) {
    throw new InvalidArgumentError('options.data', 'an entity JSON object', describeValue(options.data));
  }
  const reader = new MarkupReader(messageMlDocument(input));
  const renderer = new Renderer(reader, options);
  const presentationML = renderer.root(reader.document());
  return { presentationML, text: renderer.text, entityJSON: renderer.entityJSON, entities: renderer.entities };
}
