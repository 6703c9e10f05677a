// The runtime's pure parts: failure texts that hold no secrets, canonical stream ids, and a decrypted message as
// MindLink's message resource.
import { describe, expect, it } from 'vitest';
import { labelsData, partsToMessageMl } from '../../../src/agent-host/message-parts.js';
import { decodeToken } from '../../../src/agent-host/paging.js';
import { canonicalStreamId, describeFailure, isNotMember, messageJson } from '../../../src/agent-host/runtime.js';
import { LeaseLostError } from '../../../src/agent-host/store/types.js';
import { ContentKeyUnavailableError, HttpStatusError, NetworkError } from '../../../src/errors.js';
import { parseMessageMl } from '../../../src/pod/messageml.js';

describe('the agent runtime', () => {
  it('describes failures by the library\'s code, and anything else without its message', () => {
    expect(describeFailure(new HttpStatusError(503, 'POST /login/pubkey/authenticate'))).toBe('SERVER_ERROR: POST /login/pubkey/authenticate failed with HTTP 503');
    expect(describeFailure(new LeaseLostError('a1'))).toBe('CONFLICT: The lease on agent a1 is held by another host');
    expect(describeFailure(new Error('token=secret-value'))).toBe('Internal error of the agent host');
    expect(describeFailure('x')).toBe('Internal error of the agent host');
  });

  it('knows a lost membership from a transient failure', () => {
    expect(isNotMember(new ContentKeyUnavailableError('t', undefined, 'not-a-member'))).toBe(true);
    expect(isNotMember(new ContentKeyUnavailableError('t', undefined, 'key-manager-unavailable'))).toBe(false);
    expect(isNotMember(new HttpStatusError(403, 'GET /x'))).toBe(true);
    expect(isNotMember(new HttpStatusError(500, 'GET /x'))).toBe(false);
    expect(isNotMember(new NetworkError('GET /x', 'lost', 'ECONNRESET'))).toBe(false);
  });

  it('canonicalizes stream ids to URL-safe base64 without padding', () => {
    expect(canonicalStreamId('ab+/cd==')).toBe('ab-_cQ');
    expect(canonicalStreamId('ab-_cQ')).toBe('ab-_cQ');
    expect(canonicalStreamId('')).toBeUndefined();
    expect(canonicalStreamId('not base64!')).toBeUndefined();
  });

  it('answers a decrypted message with its parts, subject, labels and a token naming it', () => {
    const rendered = parseMessageMl(partsToMessageMl([{ kind: 'PlainText', Text: 'body' }], 'Title'), { data: labelsData({ IsAlert: true, Classification: 'X', SecurityContexts: null })! });
    const json = messageJson({ messageId: 'ab+/cd==', threadId: 't', fromUserId: 42, timestamp: 1700, presentationML: rendered.presentationML, text: rendered.text, entityJson: rendered.entityJSON }, 'room:abcdefgh');
    expect(json).toMatchObject({ Id: 'ab-_cQ', ChannelId: 'room:abcdefgh', SenderId: 'user:42', Subject: 'Title', Text: 'body', Timestamp: 1700, IsAlert: true, Classification: 'X', SecurityContexts: null });
    expect(decodeToken(json.Token as string)).toEqual({ timestamp: 1700, messageId: 'ab-_cQ' });
  });
});
