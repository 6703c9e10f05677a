// MindLink message parts → MessageML → (the library's MessageML reader) PresentationML + entity JSON → parts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  labelsData, normalizeParts, parseChannelId, parseParts, partsJson, partsToMessageMl, readLabels, readPresentationMl, type MessagePart,
} from '../../../src/agent-host/message-parts.js';
import { parseMessageMl } from '../../../src/pod/messageml.js';
import { HttpError } from '../../../src/sandbox/http-error.js';

/** What a part becomes after the round trip: a mention shows the user id (no directory lookup on send). */
function expected(parts: readonly MessagePart[]): MessagePart[] {
  return normalizeParts(parts.map((p) => (p.kind === 'UserLink' ? { ...p, DisplayName: p.UserId.replace(/^user:/, '') } : p)));
}

function roundTrip(parts: readonly MessagePart[], subject?: string, data?: Record<string, unknown>) {
  const rendered = parseMessageMl(partsToMessageMl(parts, subject), data === undefined ? {} : { data });
  return readPresentationMl(rendered.presentationML, rendered.entityJSON);
}

const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '<', '>', '&', '"', "'", 'é', '😀', '#', '@'), minLength: 0, maxLength: 12 });
const word = fc.string({ unit: fc.constantFrom('a', 'z', '0', '9', '_', '-'), minLength: 1, maxLength: 10 });
const streamId = fc.string({ unit: fc.constantFrom('A', 'b', '0', '_', '-'), minLength: 8, maxLength: 24 });
const userId = fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }).map(String);
const part: fc.Arbitrary<MessagePart> = fc.oneof(
  text.map((Text) => ({ kind: 'PlainText' as const, Text })),
  fc.record({ Text: text, Url: word.map((w) => `https://example.com/${w}?q=1&r=2`) }).map((p) => ({ kind: 'Hyperlink' as const, ...p })),
  fc.record({ ChannelName: text, ChannelId: fc.oneof(streamId.map((s) => `room:${s}`), streamId.map((s) => `im:${s}`), userId.map((u) => `user:${u}`)) })
    .map((p) => ({ kind: 'ChannelLink' as const, ...p })),
  fc.record({ DisplayName: text, UserId: userId.map((u) => `user:${u}`) }).map((p) => ({ kind: 'UserLink' as const, ...p })),
  word.map((w) => ({ kind: 'Hashtag' as const, Hashtag: `#${w}` })),
  fc.record({ CodeBlock: text, Language: fc.constantFrom('', 'js', 'c++', 'python'), DisplayMode: fc.integer({ min: 0, max: 3 }) }).map((p) => ({ kind: 'CodeBlock' as const, ...p })),
  fc.constantFrom('smile', 'thumbsup', 'heart', 'no_such_emoji').map((s) => ({ kind: 'Emoji' as const, Text: `:${s}:` })),
);

describe('message parts', () => {
  it('come back as they were sent, through MessageML and PresentationML (property)', () => {
    fc.assert(fc.property(fc.array(part, { maxLength: 8 }), fc.option(text.filter((s) => s.trim() !== ''), { nil: undefined }), (parts, subject) => {
      const back = roundTrip(parts, subject);
      expect(back.parts).toEqual(expected(parts));
      expect(back.subject).toBe(subject === undefined || subject === '' ? undefined : subject.replace(/\r\n?/g, '\n'));
    }), { numRuns: 300 });
  });

  it('render each kind as the documented MessageML', () => {
    expect(partsToMessageMl([
      { kind: 'PlainText', Text: 'a<b\nc' }, { kind: 'Hyperlink', Text: 'x', Url: 'https://e.com/?a=1&b=2' }, { kind: 'ChannelLink', ChannelName: 'Room', ChannelId: 'room:abcdefgh12' },
      { kind: 'UserLink', DisplayName: 'Alice', UserId: 'user:12' }, { kind: 'Hashtag', Hashtag: '#deal' }, { kind: 'CodeBlock', CodeBlock: 'x=1', Language: 'js', DisplayMode: 1 },
      { kind: 'Emoji', Text: ':smile:' },
    ], 'Story')).toBe('<messageML><h3 class="mindlink-subject">Story</h3>a&lt;b<br/>c<a href="https://e.com/?a=1&amp;b=2">x</a>'
      + '<a href="https://open.symphony.com/?streamId=abcdefgh12&amp;streamType=chatroom">Room</a><mention uid="12"/><hash tag="deal"/>'
      + '<div data-code-language="js" data-code-display-mode="1"><pre>x=1</pre></div><emoji shortcode="smile"/></messageML>');
  });

  it('parse the request JSON with or without the namespace, and answer it with the namespace', () => {
    const parts = parseParts([{ __type: 'PlainTextMessagePart:http://schemas.fcg.im/foundation/v1/collaboration', Text: 'hi' }, { __type: 'HashtagMessagePart', Hashtag: '#x' }]);
    expect(parts).toEqual([{ kind: 'PlainText', Text: 'hi' }, { kind: 'Hashtag', Hashtag: '#x' }]);
    expect(partsJson(parts)[1]).toEqual({ __type: 'HashtagMessagePart:http://schemas.fcg.im/foundation/v1/collaboration', Hashtag: '#x' });
  });

  it('refuse what they cannot render with a 400 naming the part', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
        return (err as HttpError).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => parseParts([{ __type: 'BoldMessagePart' }]))).toContain('MessageParts[0].__type');
    expect(refusal(() => parseParts('x'))).toContain('MessageParts must be an array');
    expect(refusal(() => parseParts([{ __type: 'PlainTextMessagePart', Text: 5 }]))).toContain('MessageParts[0].Text must be a string');
    expect(refusal(() => partsToMessageMl([{ kind: 'Hyperlink', Text: '', Url: 'not a url' }]))).toContain('MessageParts[0].Url');
    expect(refusal(() => partsToMessageMl([{ kind: 'PlainText', Text: 'ok' }, { kind: 'UserLink', DisplayName: '', UserId: 'bob' }]))).toContain('MessageParts[1].UserId');
    expect(refusal(() => partsToMessageMl([{ kind: 'Hashtag', Hashtag: '#a b' }]))).toContain('Hashtag');
    expect(refusal(() => partsToMessageMl([{ kind: 'Emoji', Text: '😀' }]))).toContain('short code');
    expect(refusal(() => partsToMessageMl([{ kind: 'ChannelLink', ChannelName: '', ChannelId: 'chat-room:x' }]))).toContain('ChannelId');
    expect(refusal(() => partsToMessageMl([{ kind: 'PlainText', Text: 'a\u0001' }]))).toContain('control character');
  });

  it('read a native client\'s markup: blocks on new lines, other markup as its text', () => {
    const rendered = parseMessageMl('<messageML><p>Hello <b>there</b></p><p>second <hash tag="x"/></p><code>inline</code></messageML>');
    expect(readPresentationMl(rendered.presentationML, rendered.entityJSON).parts).toEqual([
      { kind: 'PlainText', Text: 'Hello there\nsecond ' }, { kind: 'Hashtag', Hashtag: '#x' }, { kind: 'CodeBlock', CodeBlock: 'inline', Language: '', DisplayMode: 0 },
    ]);
  });

  it('carry IsAlert, Classification and SecurityContexts in the data JSON', () => {
    const labels = { IsAlert: true, Classification: 'SECRET', SecurityContexts: ['a', 'b'] };
    const data = labelsData(labels)!;
    const rendered = parseMessageMl('<messageML>x</messageML>', { data });
    expect(readLabels(rendered.entityJSON)).toEqual(labels);
    expect(labelsData({ IsAlert: false, Classification: null, SecurityContexts: null })).toBeUndefined();
    expect(readLabels({})).toEqual({ IsAlert: false, Classification: null, SecurityContexts: null });
  });

  it('know the channel id forms', () => {
    expect(parseChannelId('room:abcdefgh12')).toEqual({ kind: 'room', value: 'abcdefgh12' });
    expect(parseChannelId('user:42')).toEqual({ kind: 'user', value: '42' });
    expect(parseChannelId('user:x')).toBeUndefined();
    expect(parseChannelId('chat-room:abcdefgh12')).toBeUndefined();
  });
});
