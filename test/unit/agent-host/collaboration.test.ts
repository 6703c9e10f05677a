// The /Events filters and list parameters as MindLink's sample clients send them.
import { describe, expect, it } from 'vitest';
import { eventMatches, listParameter, parseEventFilter, presenceState } from '../../../src/agent-host/collaboration.js';
import type { HostEvent } from '../../../src/agent-host/store/types.js';
import { HttpError } from '../../../src/sandbox/http-error.js';

const q = (s: string) => new URLSearchParams(s);
const message = (content: string, local = false, channelId = 'room:abcdefgh'): HostEvent => ({ eventId: 1, instanceId: 'i', type: 'message', channelId, local, time: 0, body: { Content: content } });
const meta: HostEvent = { eventId: 2, instanceId: 'i', type: 'meta-data', local: false, time: 0, body: { Key: 'k', Value: 'v' } };

describe('the /Events filters', () => {
  it('read list parameters as comma lists, repeated keys, or both', () => {
    expect(listParameter(q('types=message,meta-data&types=channel-state&types='), 'types')).toEqual(['message', 'meta-data', 'channel-state']);
    expect(listParameter(q(''), 'types')).toEqual([]);
  });

  it('filter by type, channel, origin and content; an empty regex is no filter', () => {
    const f = parseEventFilter(q('types=message&channels=room%3Aabcdefgh&origins=remote&regex=^hi'));
    expect(eventMatches(message('hi there'), f)).toBe(true);
    expect(eventMatches(message('hi there', true), f)).toBe(false);
    expect(eventMatches(message('oh hi'), f)).toBe(false);
    expect(eventMatches(message('hi', false, 'room:other000'), f)).toBe(false);
    expect(eventMatches(meta, f)).toBe(false);
    // Quantifiers that cannot nest are fine.
    expect(parseEventFilter(q(`regex=${encodeURIComponent('^(deal|trade)s? #\\w+ (ok)?$')}`)).regex).toBeDefined();
    const none = parseEventFilter(q('regex=&origins=remote,local'));
    expect([message('x', true), meta].every((e) => eventMatches(e, none))).toBe(true);
    // Metadata events have no channel and pass a channel filter; a regex concerns messages only.
    expect(eventMatches(meta, parseEventFilter(q('channels=room:abcdefgh&regex=zzz')))).toBe(true);
    expect(eventMatches(message('x', true), parseEventFilter(q('origins=local')))).toBe(true);
  });

  it('refuse unknown types and origins, invalid and oversized patterns, with a 400 naming the parameter', () => {
    const nested = ['(a+)+$', '(x*y)*', '(\\d{1,3})+', '(a|b+){2,}'].map((r) => [`regex=${encodeURIComponent(r)}`, 'regex'] as const);
    for (const [query, name] of [['types=messages', 'types'], ['origins=elsewhere', 'origins'], ['regex=(', 'regex'], [`regex=${'a'.repeat(257)}`, 'regex'], ...nested] as const) {
      try {
        parseEventFilter(q(query));
        throw new Error('expected a refusal');
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(400);
        expect((err as HttpError).message.startsWith(name)).toBe(true);
      }
    }
  });
});

describe('channel presence', () => {
  it('maps Symphony\'s presence categories onto MindLink\'s PresenceState, Unknown for anything else', () => {
    expect(['AVAILABLE', 'BUSY', 'ON_THE_PHONE', 'IN_A_MEETING', 'DO_NOT_DISTURB', 'BE_RIGHT_BACK', 'AWAY', 'OUT_OF_OFFICE', 'OFF_WORK', 'OFFLINE'].map(presenceState))
      .toEqual([100, 200, 200, 200, 300, 400, 500, 500, 500, 600]);
    expect([undefined, '', 'available', 'toString', '__proto__', 'SOMETHING_NEW'].map(presenceState)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
