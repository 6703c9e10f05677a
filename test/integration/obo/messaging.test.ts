// OBO messages through the sandbox's Agent, over HTTPS (docs/symphony-apis.md §1.7, §3.2): an OBO session holds no key,
// so the Agent encrypts what the app sends on the user's behalf, and the users' own native clients decrypt it —
// the user the app acted for included. Send with attachments, update, blast; refused without SEND_MESSAGES, without
// the user's "can send files", and for history (not OBO-enabled); suppression needs SUPPRESS_MESSAGES, which the
// seeded app lacks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { PermissionDeniedError, type OboPermission } from '../../../src/errors.js';
import { OboApp } from '../../../src/obo/app.js';
import { OBO_PERMISSIONS } from '../../../src/obo/permissions.js';
import type { OboSession } from '../../../src/obo/session.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { appConfig, identityConfig } from '../../helpers/client.js';
import { rejection } from '../../helpers/errors.js';
import { appLogin, call, oboLogin } from '../../helpers/sandbox.js';

const APP = 'sandbox-crm';
const GRANTABLE = OBO_PERMISSIONS.filter((p) => p !== 'ACT_AS_USER');
/** The seeded app's permissions: all but SUPPRESS_MESSAGES. */
let seeded: OboPermission[];
let sandbox: RunningSandbox;
let app: OboApp;
let alice: OboSession;
let aliceNative: AllegroClient;
let bobNative: AllegroClient;
let im: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  seeded = sandbox.store.app(APP)!.permissions;
  app = await OboApp.create(appConfig(sandbox, APP));
  alice = await app.user('alice');
  [aliceNative, bobNative] = await Promise.all([AllegroClient.create(identityConfig(sandbox, 'alice')), AllegroClient.create(identityConfig(sandbox, 'bob'))]);
  im = await alice.createIm([bobNative.userId]);
});
afterAll(async () => {
  await app?.close();
  await aliceNative?.close();
  await bobNative?.close();
  await sandbox?.close();
});

describe('OBO messages through the Agent', () => {
  it('sends a message with an attachment as the user, which both users\' native clients decrypt', async () => {
    const report = new TextEncoder().encode('quarterly report, confidential');
    const messageId = await alice.send(im, '<messageML>Your <b>report</b> is attached #crm</messageML>', {
      attachments: [{ name: 'report.txt', content: report, contentType: 'text/plain' }],
    });
    for (const reader of [aliceNative, bobNative]) {
      const read = await reader.pod.message(messageId);
      expect(read).toMatchObject({ fromUserId: aliceNative.userId, text: expect.stringContaining('Your report is attached') });
    }
    const stored = sandbox.store.message(messageId)!;
    expect(JSON.stringify(stored.posted)).not.toContain('confidential');
    const fileId = (stored.posted.attachments as Array<{ fileId: string; name: string }>)[0]!;
    expect(fileId.name).toBe('report.txt');
    expect(new TextDecoder().decode(await bobNative.pod.downloadAttachment(im, fileId.fileId))).toBe('quarterly report, confidential');
  });

  it('sends plain text as an escaped MessageML document, updates a message, and blasts to several streams', async () => {
    const first = await alice.send(im, 'a < b & c');
    expect((await bobNative.pod.message(first)).text).toBe('a < b & c');
    const updated = await alice.update(im, first, '<messageML>corrected</messageML>', { silent: false });
    expect(updated).not.toBe(first);
    expect((await bobNative.pod.message(updated)).text).toBe('corrected');
    const room = await alice.createRoom({ name: 'CRM room' });
    await alice.addMember(room, bobNative.userId);
    const blast = await alice.blast([im, room], '<messageML>to both</messageML>');
    expect(blast.sent.map((s) => s.streamId).sort()).toEqual([im, room].sort());
    expect(blast.failed).toEqual({});
    for (const { messageId } of blast.sent) expect((await bobNative.pod.message(messageId)).text).toBe('to both');
  });

  it('is refused without SEND_MESSAGES, naming it', async () => {
    await sandbox.admin.setAppPermissions(APP, seeded.filter((p) => p !== 'SEND_MESSAGES'));
    try {
      for (const op of [() => alice.send(im, 'no'), () => alice.blast([im], 'no'), () => alice.update(im, 'AAAA', 'no')]) {
        const refused = await rejection(op());
        expect(refused).toBeInstanceOf(PermissionDeniedError);
        expect(refused).toMatchObject({ permission: 'SEND_MESSAGES' });
      }
    } finally {
      await sandbox.admin.setAppPermissions(APP, seeded);
    }
  });

  it('holds the user\'s own rules: no attachment without "can send files" (a plain 403)', async () => {
    await sandbox.admin.setCanSendFiles(aliceNative.userId, false);
    try {
      const refused = await rejection(alice.send(im, 'with a file', { attachments: [{ name: 'x.bin', content: new Uint8Array([1]) }] }));
      expect(refused).toMatchObject({ code: 'FORBIDDEN' });
      expect(refused).not.toBeInstanceOf(PermissionDeniedError);
      expect(await alice.send(im, 'without a file')).toMatch(/^[A-Za-z0-9_-]+$/);
    } finally {
      await sandbox.admin.setCanSendFiles(aliceNative.userId, true);
    }
  });

  it('cannot read history through the Agent, nor its datafeed: not OBO-enabled', async () => {
    const token = await oboLogin(sandbox, await appLogin(sandbox, APP), 'alice');
    for (const [method, path] of [['GET', `/agent/v4/stream/${im}/message?since=0`], ['POST', '/agent/v5/datafeeds']] as const) {
      const r = await call(sandbox, method, path, { headers: { sessionToken: token }, ...(method === 'POST' ? { json: {} } : {}) });
      expect(r.status, path).toBe(403);
      expect(r.json.message).toMatch(/not available to an on-behalf-of session/);
    }
  });

  it('suppresses a message only with SUPPRESS_MESSAGES, which the seeded app lacks', async () => {
    const doomed = await alice.send(im, 'to be suppressed');
    expect(await rejection(alice.suppress(doomed))).toMatchObject({ code: 'OBO_PERMISSION_DENIED', permission: 'SUPPRESS_MESSAGES' });
    await sandbox.admin.setAppPermissions(APP, GRANTABLE);
    try {
      expect(await alice.suppress(doomed)).toMatchObject({ messageId: doomed, suppressed: true });
    } finally {
      await sandbox.admin.setAppPermissions(APP, seeded);
    }
  });

  it('searches users with GET_BASIC_CONTACT_INFO', async () => {
    const found = await alice.searchUsers({ query: 'bob' });
    expect(found.results.map((u) => u.username)).toContain('bob');
  });
});
