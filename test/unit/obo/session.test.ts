// What OboSession checks before a message goes to the Agent (src/obo/session.ts): the MessageML (with the position
// of an error), the attachments, the blast's streams and the update's flag. The transport fails the test if a
// request is made; the Agent's answers are exercised against the sandbox.
import { describe, expect, it } from 'vitest';
import { RenewableToken } from '../../../src/auth/renewable-token.js';
import { HttpClient } from '../../../src/http/http-client.js';
import type { Transport } from '../../../src/http/transport.js';
import { OboSession } from '../../../src/obo/session.js';
import { InvalidMessageMlError } from '../../../src/pod/messageml.js';

const noRequest: Transport = {
  description: 'none', maxResponseBytes: 1024,
  exchange: () => { throw new Error('no request expected'); },
  close: async () => {},
};
const http = new HttpClient({ transport: noRequest });
const session = new OboSession({
  appId: 'crm', user: 'alice', token: new RenewableToken({ login: async () => 'token', minRefreshIntervalMs: 0 }),
  pod: http, podUrl: 'https://pod.invalid', agent: http, agentUrl: 'https://pod.invalid/agent',
});

describe('OboSession messages, before any request', () => {
  it('refuses invalid MessageML with its position', async () => {
    const err = await session.send('AAAA', '<messageML><b>unclosed</messageML>').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidMessageMlError);
    expect((err as InvalidMessageMlError).line).toBe(1);
  });

  it('refuses attachments without a name or bytes, blasts to no or too many streams, a silent flag that is not one', async () => {
    await expect(session.send('AAAA', 'hi', { attachments: [{ name: '', content: new Uint8Array(1) }] })).rejects.toThrow(/options\.attachments\[0\]\.name/);
    await expect(session.send('AAAA', 'hi', { attachments: [{ name: 'a', content: 'text' as never }] })).rejects.toThrow(/options\.attachments\[0\]\.content/);
    await expect(session.send('AAAA', 'hi', { attachments: 'file' as never })).rejects.toThrow(/options\.attachments/);
    await expect(session.blast([], 'hi')).rejects.toThrow(/Invalid streamIds: expected an array of 1 to 100 stream ids/);
    await expect(session.blast(Array.from({ length: 101 }, () => 'AAAA'), 'hi')).rejects.toThrow(/Invalid streamIds/);
    await expect(session.update('AAAA', 'BBBB', 'hi', { silent: 'no' as never })).rejects.toThrow(/options\.silent/);
    await expect(session.update('AAAA', 'not base64!', 'hi')).rejects.toThrow(/Invalid messageId/);
  });

  it('knows its app and user, and counts no login before its first call', () => {
    expect([session.appId, session.user, session.logins]).toEqual(['crm', 'alice', 0]);
  });
});
