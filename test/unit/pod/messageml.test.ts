// MessageML v2 → PresentationML, text and entity JSON; errors with line and column that never quote the text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { InvalidMessageMlError, isMessageMlDocument, MAX_MESSAGEML_DEPTH, parseMessageMl } from '../../../src/pod/messageml.js';

const wrap = (body: string) => `<div data-format="PresentationML" data-version="2.0" class="wysiwyg">${body}</div>`;

function failure(input: string, options = {}): InvalidMessageMlError {
  try {
    parseMessageMl(input, options);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageMlError);
    return err as InvalidMessageMlError;
  }
  throw new Error('expected an InvalidMessageMlError');
}

describe('parseMessageMl', () => {
  it('renders inline and block markup as PresentationML, with the plain text beside it', () => {
    const r = parseMessageMl('<messageML><p>Hi <b>there</b>, <i>you</i></p><ul><li>one</li><li>two &amp; three</li></ul><br/><a href="https://example.com/x?a=1&amp;b=2">link</a></messageML>');
    expect(r.presentationML).toBe(wrap('<p>Hi <b>there</b>, <i>you</i></p><ul><li>one</li><li>two &amp; three</li></ul><br/><a href="https://example.com/x?a=1&amp;b=2">link</a>'));
    expect(r.text).toBe('Hi there, you\n- one\n- two & three\n\nlink');
    expect(r.entityJSON).toEqual({});
  });

  it('turns hashtags, cashtags, mentions and emoji into entities with entity JSON', () => {
    const r = parseMessageMl('<messageML><hash tag="ops"/> <cash tag="AAPL"/> <mention uid="123"/> <emoji shortcode="rocket"/></messageML>', {
      resolveMention: (by) => ('userId' in by && by.userId === 123 ? { userId: 123, displayName: 'Alice A' } : undefined),
    });
    expect(r.presentationML).toBe(wrap(
      '<span class="entity" data-entity-id="keyword1">#ops</span> <span class="entity" data-entity-id="keyword2">$AAPL</span> ' +
      '<span class="entity" data-entity-id="mention3">@Alice A</span> <span class="entity" data-entity-id="emoji4">🚀</span>'));
    expect(r.text).toBe('#ops $AAPL @Alice A 🚀');
    expect(r.entities).toEqual([{ kind: 'hashtag', value: 'ops' }, { kind: 'cashtag', value: 'AAPL' }, { kind: 'mention', userId: 123 }, { kind: 'emoji', shortcode: 'rocket' }]);
    expect(r.entityJSON.keyword1).toEqual({ type: 'org.symphonyoss.taxonomy', version: '1.0', id: [{ type: 'org.symphonyoss.taxonomy.hashtag', value: 'ops' }] });
    expect(r.entityJSON.keyword2).toMatchObject({ id: [{ type: 'org.symphonyoss.fin.security.id.ticker', value: 'AAPL' }] });
    expect(r.entityJSON.mention3).toEqual({ type: 'com.symphony.user.mention', version: '1.0', id: [{ type: 'com.symphony.user.userId', value: '123' }] });
    expect(r.entityJSON.emoji4).toEqual({ type: 'com.symphony.emoji', version: '1.0', data: { annotation: 'rocket', size: 'normal', unicode: '🚀' } });
  });

  it('mentions: by uid without a resolver, by email through it; unknown users refused unless strict="false"', () => {
    expect(parseMessageMl('<messageML><mention uid="77"/></messageML>').text).toBe('@77');
    const resolveMention = (by: { userId: number } | { email: string }) => ('email' in by && by.email === 'bob@x.io' ? { userId: 9, displayName: 'Bob' } : undefined);
    expect(parseMessageMl('<messageML><mention email="bob@x.io"/></messageML>', { resolveMention }).entities).toEqual([{ kind: 'mention', userId: 9 }]);
    expect(failure('<messageML><mention email="eve@x.io"/></messageML>', { resolveMention }).problem).toBe('the user of a <mention> (by email) is not known');
    expect(parseMessageMl('<messageML><mention email="eve@x.io" strict="false"/></messageML>', { resolveMention }).presentationML).toBe(wrap('eve@x.io'));
    expect(failure('<messageML><mention uid="1" email="a@b"/></messageML>').problem).toContain('exactly one of');
  });

  it('keeps the caller data and checks data-entity-id references against it', () => {
    const data = { ticket: { type: 'com.example.ticket', version: '1.0', id: 'T-1' } };
    const r = parseMessageMl('<messageML><div class="entity" data-entity-id="ticket">T-1</div><hash tag="x"/></messageML>', { data });
    expect(r.entityJSON).toEqual({ ...data, keyword1: expect.any(Object) });
    expect(failure('<messageML><span data-entity-id="nope">x</span></messageML>', { data }).problem).toContain('names no entry');
  });

  it('renders cards and expandable cards', () => {
    const r = parseMessageMl('<messageML><card accent="tempo-bg-color--blue" iconSrc="https://i.example/a.png"><header>Head</header><body>Body</body></card></messageML>');
    expect(r.presentationML).toBe(wrap('<div class="card barStyle" data-icon-src="https://i.example/a.png" data-accent-color="tempo-bg-color--blue"><div class="cardHeader">Head</div><div class="cardBody">Body</div></div>'));
    expect(r.text).toBe('Head\nBody');
    expect(parseMessageMl('<messageML><expandable-card state="collapsed"><header>H</header><body variant="default">B</body></expandable-card></messageML>').presentationML)
      .toContain('<div class="expandable-card" data-state="collapsed">');
    expect(failure('<messageML><expandable-card><header>H</header></expandable-card></messageML>').problem).toBe('<expandable-card> needs attribute state');
  });

  it('takes anything that is not a <messageML> document as plain text, escaped, interpreting no markup', () => {
    expect(parseMessageMl('a < b & c').presentationML).toBe(wrap('a &lt; b &amp; c'));
    expect(parseMessageMl('a < b & c').text).toBe('a < b & c');
    const r = parseMessageMl('<hash tag="x"/> <b>bold</b> &amp;');
    expect(r.entities).toEqual([]);
    expect(r.presentationML).toBe(wrap('&lt;hash tag="x"/&gt; &lt;b&gt;bold&lt;/b&gt; &amp;amp;'));
    expect(r.text).toBe('<hash tag="x"/> <b>bold</b> &amp;');
  });

  it.each([
    ['<messageML><p>x</messageML>', 1, 16, '</messageML> closes <p>'],
    ['<messageML><foo/></messageML>', 1, 12, 'element <foo> is not allowed'],
    ['<messageML>\n  <li>x</li></messageML>', 2, 3, '<li> must be inside <ul> or <ol>'],
    ['<messageML>a &nbsp; b</messageML>', 1, 14, 'unknown entity reference (only &amp; &lt; &gt; &quot; &apos; and character references)'],
    ['<messageML>a & b</messageML>', 1, 14, '"&" must start an entity reference such as &amp;'],
    ['<messageML><a>x</a></messageML>', 1, 12, '<a> needs attribute href'],
    ['<messageML><a href="javascript">x</a></messageML>', 1, 12, 'attribute href of <a> must be an absolute URI'],
    ['<messageML><form id="f"></form></messageML>', 1, 12, '<form> (Symphony Elements and interactive markup) is not supported'],
    ['<messageML><b onclick="x">y</b></messageML>', 1, 12, 'attribute onclick is not allowed on <b>'],
    ['<messageML><!-- c --></messageML>', 1, 12, 'comments, CDATA and DOCTYPE are not allowed'],
    ['<messageML>x</messageML><p/>', 1, 25, 'content after the root element'],
    ['<messageML><br>x</br></messageML>', 1, 12, '<br> must be empty'],
    ['<messageML><ul>text</ul></messageML>', 1, 12, 'text is not allowed directly in <ul>'],
    ['<messageML><b class="a" class="b">x</b></messageML>', 1, 25, 'attribute class appears twice on <b>'],
    ['<messageML><hash tag="two words"/></messageML>', 1, 12, 'attribute tag of <hash> must be 1 to 128 characters without spaces'],
  ])('refuses %j at line %i, column %i: %s', (input, line, column, problem) => {
    const err = failure(input);
    expect({ line: err.line, column: err.column, problem: err.problem }).toEqual({ line, column, problem });
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.parameter).toBe('message');
    expect(err.message).toContain(`line ${line}, column ${column}`);
  });

  it('bounds nesting depth and size', () => {
    const deep = `<messageML>${'<b>'.repeat(MAX_MESSAGEML_DEPTH)}x${'</b>'.repeat(MAX_MESSAGEML_DEPTH)}</messageML>`;
    expect(failure(deep).problem).toBe(`elements nested deeper than ${MAX_MESSAGEML_DEPTH} levels`);
    expect(() => parseMessageMl('x'.repeat(300_000))).toThrow(InvalidArgumentError);
    expect(() => parseMessageMl(42 as unknown as string)).toThrow(InvalidArgumentError);
  });

  it('never quotes the text of the message in an error, and throws nothing but InvalidArgumentError on any input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.constantFrom('<p>', '</b>', '<hash tag="', '&', '<mention uid="', '<a href="'), (text, markup) => {
      const secret = `SECRET${text.replace(/[<>&"]/g, '')}`;
      try {
        parseMessageMl(`<messageML>${markup}${secret}${text}</messageML>`);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as Error).message).not.toContain('SECRET');
      }
    }), { numRuns: 300 });
  });

  it('round-trips any plain text: its text is the text itself (trimmed), with no entities', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }).filter((t) => !isMessageMlDocument(t)), (text) => {
      expect(parseMessageMl(text).text).toBe(text.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim());
    }));
  });
});
