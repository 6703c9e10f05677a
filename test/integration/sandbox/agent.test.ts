// The sandbox's Agent API over real HTTPS on 127.0.0.1 (docs/sandbox.md "Agent API"), as a plain-REST bot with no
// crypto of its own uses it, against allegro-ts clients on the native path: a message sent through the Agent is
// read natively and a native one through the Agent; the Agent's datafeed and the native Datafeed 2.0 see the same
// events; token rules, MessageML errors with their position, attachments and previews, updates, blasts, search,
// the legacy v4 datafeed, the datahose, suppression and Elements form submissions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllegroClient } from '../../../src/client.js';
import { parseTransport, transportFromBase64 } from '../../../src/crypto/transport.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { call, firstStream, login, type FormField, type Login, type Reply } from '../../helpers/sandbox.js';

let sandbox: RunningSandbox;
let bot: Login;
let alice: Login;
let bob: Login;
let room: string;
let native: AllegroClient;

const both = (who: Login) => ({ ...who.headers, ...who.kmHeaders });
const ml = (body: string) => `<messageML>${body}</messageML>`;

function create(stream: string, fields: FormField[], who: Login = bot, headers: Record<string, string> = both(who)): Promise<Reply> {
  return call(sandbox, 'POST', `/agent/v4/stream/${stream}/message/create`, { headers, multipart: fields });
}

async function createOk(stream: string, fields: FormField[], who: Login = bot): Promise<Record<string, any>> {
  const reply = await create(stream, fields, who);
  expect(reply.status, reply.body.toString()).toBe(200);
  return reply.json;
}

async function datafeedHeaders(who: Login): Promise<Record<string, string>> {
  const tokens = await call(sandbox, 'GET', '/settings-web/api/v1/tokens', { headers: who.headers });
  return { authorization: `Bearer ${tokens.json.find((t: { service: string }) => t.service === 'datafeed2').token}` };
}

beforeAll(async () => {
  sandbox = await startSandbox({ control: true, config: { datafeedWaitMs: 300 } });
  [bot, alice, bob] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice'), login(sandbox, 'bob')]);
  room = await firstStream(sandbox, bot, 'ROOM');
  native = await AllegroClient.create({
    host: '127.0.0.1', port: sandbox.port, ssl: { trustStore: { path: sandbox.caCertPath } },
    bot: { username: 'alice', privateKey: { path: sandbox.identities.get('alice')!.privateKeyPath! } },
  });
});
afterAll(async () => {
  await native?.close();
  await sandbox?.close();
});

describe('the Agent and the native path read each other\'s messages', () => {
  it('a message sent through the Agent is CiphertextTransport v3 at rest and reads natively, the same text and PresentationML', async () => {
    const sent = await createOk(room, [{ name: 'message', value: ml('Deal <b>closed</b> <hash tag="fx"/> for <mention uid="' + alice.userId + '"/>') }]);
    expect(sent.message).toBe('<div data-format="PresentationML" data-version="2.0" class="wysiwyg">Deal <b>closed</b> '
      + '<span class="entity" data-entity-id="keyword1">#fx</span> for <span class="entity" data-entity-id="mention2">@Alice Archer</span></div>');
    expect(JSON.parse(sent.data)).toMatchObject({ keyword1: { type: 'org.symphonyoss.taxonomy' }, mention2: { type: 'com.symphony.user.mention' } });
    expect(sent).toMatchObject({ user: { userId: bot.userId, username: 'sandbox-bot' }, stream: { streamId: room, streamType: 'ROOM' }, attachments: [] });

    const stored = sandbox.store.message(sent.messageId)!;
    for (const field of ['text', 'presentationML', 'entityJSON', 'encryptedEntities']) {
      expect(parseTransport(transportFromBase64(stored.posted[field] as string)).version).toBe(3);
    }
    expect(JSON.stringify(stored.posted)).not.toMatch(/closed|Alice Archer/);

    const read = await native.pod.message(sent.messageId);
    expect(read.presentationML).toBe(sent.message);
    expect(read.text).toBe('Deal closed #fx for @Alice Archer');
    expect(read.fromUserId).toBe(bot.userId);
    const urlSafe = (id: string) => Buffer.from(id, 'base64').toString('base64url');
    expect((await native.pod.history(room)).some((m) => urlSafe(m.messageId) === sent.messageId && m.error === undefined)).toBe(true);
  });

  it('a message sent natively reads through the Agent: one message, the stream\'s history', async () => {
    const id = await native.pod.send(room, ml('native <i>hello</i>'));
    const one = await call(sandbox, 'GET', `/agent/v1/message/${id}`, { headers: bot.headers });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ messageId: id, message: '<div data-format="PresentationML" data-version="2.0" class="wysiwyg">native <i>hello</i></div>', user: { userId: alice.userId } });
    const history = await call(sandbox, 'GET', `/agent/v4/stream/${room}/message?since=0`, { headers: bot.headers });
    expect(history.json.map((m: { messageId: string }) => m.messageId)).toContain(id);
    expect(history.json.map((m: { timestamp: number }) => m.timestamp)).toEqual([...history.json.map((m: { timestamp: number }) => m.timestamp)].sort((a, b) => a - b));
  });

  it('history pages by since, skip and limit, oldest first; an empty page is 204', async () => {
    const im = await firstStream(sandbox, bot, 'IM');
    const ids = [];
    for (const n of [1, 2, 3]) ids.push((await createOk(im, [{ name: 'message', value: ml(`page ${n}`) }])).messageId);
    const since = sandbox.store.message(ids[0]!)!.ingestionDate;
    const page = async (query: string) => (await call(sandbox, 'GET', `/agent/v4/stream/${im}/message?since=${since}&${query}`, { headers: alice.headers }));
    expect((await page('limit=2')).json.map((m: { messageId: string }) => m.messageId)).toEqual(ids.slice(0, 2));
    expect((await page('skip=2&limit=2')).json.map((m: { messageId: string }) => m.messageId)).toEqual(ids.slice(2));
    expect((await call(sandbox, 'GET', `/agent/v4/stream/${im}/message?since=${Date.now() + 60_000}`, { headers: alice.headers })).status).toBe(204);
    expect((await call(sandbox, 'GET', `/agent/v4/stream/${im}/message`, { headers: alice.headers })).status).toBe(400);
    expect((await call(sandbox, 'GET', `/agent/v4/stream/${im}/message?since=0`, { headers: bob.headers })).status).toBe(403);
  });

  it('a message that cannot be decrypted keeps its metadata and says why in diagnostic', async () => {
    const key = Buffer.alloc(32, 7);
    const { encryptText } = await import('../../../src/crypto/transport.js');
    const { AesKey } = await import('../../../src/crypto/aes-key.js');
    const forged = await encryptText(new AesKey(key), 'under a key nobody has', { rotationId: 0 });
    const threadId = Buffer.from(room, 'base64url').toString('base64');
    const posted = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', { headers: bob.headers, form: { messagepayload: JSON.stringify({ threadId, text: forged, presentationML: forged }) } });
    const reply = await call(sandbox, 'GET', `/agent/v1/message/${posted.json.messageId}`, { headers: alice.headers });
    expect(reply.json).toMatchObject({ messageId: posted.json.messageId, message: '', user: { userId: bob.userId }, diagnostic: expect.stringMatching(/key/) });
  });
});

describe('token rules and errors', () => {
  it('sending needs the session and Key Manager tokens of one user; reading the session token; 401 JSON otherwise', async () => {
    const message = [{ name: 'message', value: ml('x') }];
    for (const headers of [{}, bot.headers, bot.kmHeaders, { ...bot.headers, ...alice.kmHeaders }, { sessionToken: 'forged', ...bot.kmHeaders }]) {
      const reply = await create(room, message, bot, headers);
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual({ code: 401, message: expect.any(String) });
    }
    expect((await call(sandbox, 'GET', `/agent/v4/stream/${room}/message?since=0`)).status).toBe(401);
    expect((await call(sandbox, 'POST', '/agent/v5/datafeeds', { json: {} })).status).toBe(401);
    expect((await call(sandbox, 'POST', '/agent/v1/util/echo', { json: { message: 'hi' } })).status).toBe(401);
    expect((await call(sandbox, 'POST', '/agent/v1/util/echo', { headers: bot.headers, json: { message: 'hi' } })).json).toEqual({ message: 'hi' });
    expect((await call(sandbox, 'GET', '/agent/v3/health')).json).toMatchObject({ status: 'UP' });
  });

  it('malformed MessageML is a 400 with its line and column; other form mistakes are 400s naming the field', async () => {
    const bad = await create(room, [{ name: 'message', value: '<messageML>\n  <p>open <b>bold</p>\n</messageML>' }]);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ code: 400, message: expect.stringMatching(/^Invalid MessageML at line 2, column \d+: /), details: { line: 2, column: expect.any(Number) } });
    const cases: Array<[FormField[], RegExp]> = [
      [[], /"message" is required/],
      [[{ name: 'message', value: 'plain text' }], /must be a MessageML document/],
      [[{ name: 'message', value: ml('x') }, { name: 'version', value: '1.0' }], /"version"/],
      [[{ name: 'message', value: ml('x') }, { name: 'data', value: '[1]' }], /form field "data" must be a JSON object/],
      [[{ name: 'message', value: ml('x') }, { name: 'data', value: '{nope' }], /"data" is not valid JSON/],
      [[{ name: 'message', value: ml('x') }, { name: 'preview', value: Buffer.from('p'), filename: 'p.png' }], /"preview"/],
      [[{ name: 'message', value: ml('x') }, { name: 'message', value: ml('y') }], /more than once/],
    ];
    for (const [fields, message] of cases) {
      const reply = await create(room, fields);
      expect(reply.status, JSON.stringify(fields)).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    const json = await call(sandbox, 'POST', `/agent/v4/stream/${room}/message/create`, { headers: both(bot), json: { message: ml('x') } });
    expect(json.json).toEqual({ code: 400, message: expect.stringMatching(/multipart\/form-data/) });
    expect((await create(await firstStream(sandbox, alice, 'IM'), [{ name: 'message', value: ml('x') }], bob)).status).toBe(403);
  });

  it('entity data goes with the message and data-entity-id must name it', async () => {
    const data = { card: { type: 'com.example.card', version: '1.0', id: [{ type: 'com.example.id', value: 'x' }] } };
    const sent = await createOk(room, [{ name: 'message', value: ml('<div class="entity" data-entity-id="card">see</div>') }, { name: 'data', value: JSON.stringify(data) }]);
    expect(JSON.parse(sent.data)).toMatchObject(data);
    expect((await native.pod.message(sent.messageId)).entityJson).toMatchObject(data);
    const missing = await create(room, [{ name: 'message', value: ml('<div class="entity" data-entity-id="nowhere">x</div>') }]);
    expect(missing.status).toBe(400);
    expect(missing.json.details).toEqual({ line: 1, column: expect.any(Number) });
  });
});

describe('attachments, updates, blasts and search', () => {
  it('attachments and previews are sealed under the stream\'s key, listed in V4Message, downloaded as base64, and read natively', async () => {
    const file = Buffer.from('quarterly numbers\n'.repeat(100));
    const preview = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const sent = await createOk(room, [
      { name: 'message', value: ml('with a file') },
      { name: 'attachment', value: file, filename: 'numbers.txt', contentType: 'text/plain' },
      { name: 'preview', value: preview, filename: 'numbers.png', contentType: 'image/png' },
      { name: 'attachment', value: Buffer.from('second'), filename: 'b.bin' },
    ]);
    expect(sent.attachments).toEqual([
      { id: expect.any(String), name: 'numbers.txt', size: file.length, images: [{ id: expect.any(String) }] },
      { id: expect.any(String), name: 'b.bin', size: 6, images: [] },
    ]);
    const download = (fileId: string) => call(sandbox, 'GET', `/agent/v1/stream/${room}/attachment?fileId=${fileId}&messageId=${sent.messageId}`, { headers: alice.headers });
    const got = await download(sent.attachments[0].id);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.from(got.body.toString(), 'base64').equals(file)).toBe(true);
    expect(Buffer.from((await download(sent.attachments[0].images[0].id)).body.toString(), 'base64').equals(preview)).toBe(true);
    // The stored bytes are the native format: the allegro-ts client downloads and decrypts them itself.
    expect(Buffer.from(await native.pod.downloadAttachment(room, sent.attachments[0].id)).equals(file)).toBe(true);
    expect((await download('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(400);
    expect((await call(sandbox, 'GET', `/agent/v1/stream/${room}/attachment?fileId=${sent.attachments[0].id}&messageId=${sent.messageId}`, { headers: { sessionToken: 'forged' } })).status).toBe(401);
  });

  it('an update is a new message naming the one it replaces; the original names its replacement; only the sender may update', async () => {
    const original = await createOk(room, [{ name: 'message', value: ml('first draft') }]);
    const update = (who: Login, fields: FormField[]) => call(sandbox, 'POST', `/agent/v4/stream/${room}/message/${original.messageId}/update`, { headers: both(who), multipart: fields });
    const reply = await update(bot, [{ name: 'message', value: ml('final') }, { name: 'silent', value: 'false' }]);
    expect(reply.status, reply.body.toString()).toBe(200);
    expect(reply.json).toMatchObject({ replacing: original.messageId, initialMessageId: original.messageId, initialTimestamp: original.timestamp, silent: false });
    expect(reply.json.message).toContain('final');
    expect((await call(sandbox, 'GET', `/agent/v1/message/${original.messageId}`, { headers: alice.headers })).json.replacedBy).toBe(reply.json.messageId);
    expect((await native.pod.message(reply.json.messageId)).text).toBe('final');
    expect((await update(alice, [{ name: 'message', value: ml('hijack') }])).status).toBe(403);
  });

  it('a blast sends to every stream it may, and names the others in errors', async () => {
    const im = await firstStream(sandbox, bot, 'IM');
    const foreign = await firstStream(sandbox, bob, 'POST');
    const reply = await call(sandbox, 'POST', '/agent/v4/message/blast', { headers: both(bot), multipart: [{ name: 'sids', value: `${room},${im},${foreign}` }, { name: 'message', value: ml('to all') }] });
    expect(reply.status).toBe(200);
    expect(reply.json.messages.map((m: { stream: { streamId: string } }) => m.stream.streamId)).toEqual([room, im]);
    expect(reply.json.errors).toEqual({ [foreign]: { code: 403, message: expect.any(String) } });
    const invalid = await call(sandbox, 'POST', '/agent/v4/message/blast', { headers: both(bot), multipart: [{ name: 'sids', value: room }, { name: 'message', value: ml('<p>') }] });
    expect(invalid.status).toBe(400);
    expect((await call(sandbox, 'POST', '/agent/v4/message/blast', { headers: both(bot), multipart: [{ name: 'message', value: ml('x') }] })).status).toBe(400);
  });

  it('search finds by words (search tokens), hashtag, author and mention, newest first, in streams the user is in', async () => {
    const mine = await createOk(room, [{ name: 'message', value: ml('Zebra crossing <hash tag="wildlife"/> <mention uid="' + bob.userId + '"/>') }]);
    await native.pod.send(room, ml('zebra stripes from alice'));
    const search = (body: Record<string, unknown>, who: Login = alice, query = '') => call(sandbox, 'POST', `/agent/v1/message/search${query}`, { headers: who.headers, json: body });
    const byText = await search({ text: 'ZEBRA', streamId: room });
    expect(byText.json.map((m: { message: string }) => m.message.replace(/<[^>]+>/g, ''))).toEqual(['zebra stripes from alice', expect.stringContaining('Zebra crossing')]);
    expect((await search({ text: 'zebra crossing', streamId: room })).json.map((m: { messageId: string }) => m.messageId)).toEqual([mine.messageId]);
    expect((await search({ hashtag: 'wildlife' })).json.map((m: { messageId: string }) => m.messageId)).toEqual([mine.messageId]);
    expect((await search({ mention: bob.userId, streamType: 'ROOM' })).json.map((m: { messageId: string }) => m.messageId)).toContain(mine.messageId);
    expect((await search({ text: 'zebra', streamId: room, author: alice.userId }, alice, '?sortDir=ASC&limit=1')).json).toHaveLength(1);
    const query = await call(sandbox, 'GET', `/agent/v1/message/search?query=${encodeURIComponent(`text:zebra AND streamId:${room} AND author:${bot.userId}`)}`, { headers: alice.headers });
    expect(query.json.map((m: { messageId: string }) => m.messageId)).toEqual([mine.messageId]);
    expect((await search({ text: 'zebra' })).status).toBe(400);
    expect((await search({ text: 'nothing-matches-this', streamId: room })).status).toBe(204);
    expect((await search({ hashtag: 'wildlife' }, bob)).status).toBe(200); // bob is in the room too
    expect((await search({ text: 'zebra', streamId: room }, { ...bob, headers: { sessionToken: 'x' } })).status).toBe(401);
  });
});

describe('real-time events', () => {
  it('the Agent datafeed and the native Datafeed 2.0 see the same events, named each their own way', async () => {
    const v5 = await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: alice.headers, json: {} });
    expect(v5.status).toBe(201);
    const nativeHeaders = await datafeedHeaders(alice);
    const df2 = await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers: nativeHeaders });

    const sent = await createOk(room, [{ name: 'message', value: ml('event one') }]);
    const nativeId = await native.pod.send(room, ml('event two'));
    const newRoom = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: bot.headers, json: { name: 'Events room', keywords: [{ key: 'desk', value: 'fx' }] } });
    const roomId = newRoom.json.roomSystemInfo.id;
    await call(sandbox, 'POST', `/pod/v1/room/${roomId}/membership/add`, { headers: bot.headers, json: { id: alice.userId } });
    await call(sandbox, 'POST', `/pod/v3/room/${roomId}/update`, { headers: bot.headers, json: { description: 'now with alice' } });
    await call(sandbox, 'POST', `/pod/v1/room/${roomId}/membership/promoteOwner`, { headers: bot.headers, json: { id: alice.userId } });
    await call(sandbox, 'POST', '/pod/v1/connection/create', { headers: bob.headers, json: { userId: alice.userId } });
    await call(sandbox, 'POST', '/pod/v1/connection/accept', { headers: alice.headers, json: { userId: bob.userId } });

    const agentEvents: any[] = [];
    let ackId = '';
    for (let i = 0; i < 5 && agentEvents.length < 7; i++) {
      const read = await call(sandbox, 'POST', `/agent/v5/datafeeds/${v5.json.id}/read`, { headers: alice.headers, json: { ackId } });
      agentEvents.push(...read.json.events);
      ackId = read.json.ackId;
    }
    const nativeEvents: any[] = [];
    let nativeAck = '';
    for (let i = 0; i < 5 && nativeEvents.length < 7; i++) {
      const read = await call(sandbox, 'POST', `/datafeed2/api/v1/feeds/${df2.json.id}/events`, { headers: nativeHeaders, json: { ackId: nativeAck } });
      nativeEvents.push(...read.json.events);
      nativeAck = read.json.ackId;
    }
    expect(agentEvents.map((e) => e.type)).toEqual([
      'MESSAGESENT', 'MESSAGESENT', 'USERJOINEDROOM', 'ROOMUPDATED', 'ROOMMEMBERPROMOTEDTOOWNER', 'CONNECTIONREQUESTED', 'CONNECTIONACCEPTED',
    ]);
    expect(nativeEvents.map((e) => (e.name === 'SOCIALMESSAGE' ? 'SOCIALMESSAGE' : e.payload.event))).toEqual([
      'SOCIALMESSAGE', 'SOCIALMESSAGE', 'JOIN_ROOM', 'UPDATE_ROOM', 'PROMOTE_OWNER', 'CONNECTION_REQUESTED', 'CONNECTION_ACCEPTED',
    ]);
    expect(agentEvents.map((e) => e.id)).toEqual(nativeEvents.map((e) => e.eventId));
    expect(agentEvents[0]).toMatchObject({ messageId: sent.messageId, initiator: { user: { userId: bot.userId } }, payload: { messageSent: { message: { message: sent.message, externalRecipients: false } } } });
    expect(agentEvents[1].payload.messageSent.message).toMatchObject({ messageId: nativeId, message: expect.stringContaining('event two') });
    expect(agentEvents[2].payload.userJoinedRoom).toMatchObject({ stream: { streamId: roomId, roomName: 'Events room' }, affectedUser: { userId: alice.userId } });
    expect(agentEvents[3].payload.roomUpdated.newRoomProperties).toMatchObject({ description: 'now with alice', keywords: [{ key: 'desk', value: 'fx' }] });
    expect(agentEvents[5]).toMatchObject({ initiator: { user: { userId: bob.userId } }, payload: { connectionRequested: { toUser: { userId: alice.userId } } } });
    expect(agentEvents[6]).toMatchObject({ initiator: { user: { userId: alice.userId } }, payload: { connectionAccepted: { fromUser: { userId: bob.userId } } } });
    // The native feed's message is the stored SocialMessage the allegro-ts client decrypts.
    expect((await native.pod.decrypt(nativeEvents[0].payload)).text).toBe('event one');
    // Acknowledged: nothing more.
    expect((await call(sandbox, 'POST', `/agent/v5/datafeeds/${v5.json.id}/read`, { headers: alice.headers, json: { ackId } })).json.events).toEqual([]);
  });

  it('v5 feeds: a tag names one feed, list filters by tag, delete ends it, and native and Agent feeds share the 20-feed limit', async () => {
    const tagged = await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bob.headers, json: { tag: 'bob-bot' } });
    const again = await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bob.headers, json: { tag: 'bob-bot' } });
    expect(again.json.id).toBe(tagged.json.id);
    expect((await call(sandbox, 'GET', '/agent/v5/datafeeds?tag=bob-bot', { headers: bob.headers })).json).toEqual([{ id: tagged.json.id, createdAt: expect.any(Number) }]);
    expect((await call(sandbox, 'DELETE', `/agent/v5/datafeeds/${tagged.json.id}`, { headers: bob.headers })).status).toBe(204);
    expect((await call(sandbox, 'POST', `/agent/v5/datafeeds/${tagged.json.id}/read`, { headers: bob.headers, json: {} })).status).toBe(400);
    expect((await call(sandbox, 'DELETE', `/agent/v5/datafeeds/${tagged.json.id}`, { headers: bob.headers })).status).toBe(400);
    const headers = await datafeedHeaders(bob);
    for (let i = 0; i < 10; i++) await call(sandbox, 'POST', '/datafeed2/api/v1/feeds', { headers });
    for (let i = 0; i < 10; i++) expect((await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bob.headers, json: {} })).status).toBe(201);
    expect((await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bob.headers, json: {} })).status).toBe(403);
    expect((await call(sandbox, 'POST', '/agent/v4/datafeed/create', { headers: bob.headers })).status).toBe(403);
    // An Agent datafeed is a Datafeed 2.0 feed: the list has the native ones too.
    expect((await call(sandbox, 'GET', '/agent/v5/datafeeds', { headers: bob.headers })).json).toHaveLength(20);
    const read = await call(sandbox, 'POST', `/agent/v5/datafeeds/${(await call(sandbox, 'GET', '/agent/v5/datafeeds', { headers: bob.headers })).json[0].id}/read`, { headers: bob.headers, json: { ackId: 'forged' } });
    expect(read.status).toBe(400);
  });

  it('the legacy v4 datafeed returns the events since the previous read, without acknowledgement', async () => {
    const feed = await call(sandbox, 'POST', '/agent/v4/datafeed/create', { headers: alice.headers });
    expect(feed.json).toEqual({ id: expect.any(String) });
    const read = () => call(sandbox, 'GET', `/agent/v4/datafeed/${feed.json.id}/read`, { headers: alice.headers });
    expect((await read()).status).toBe(204);
    const sent = await createOk(room, [{ name: 'message', value: ml('for the old loop') }]);
    const first = await read();
    expect(first.json.map((e: { type: string; messageId: string }) => [e.type, e.messageId])).toEqual([['MESSAGESENT', sent.messageId]]);
    expect((await read()).status).toBe(204);
    expect((await call(sandbox, 'GET', `/agent/v4/datafeed/${feed.json.id}/read`, { headers: bob.headers })).status).toBe(400);
    const v5 = await call(sandbox, 'GET', '/agent/v5/datafeeds', { headers: alice.headers });
    expect(v5.json.map((f: { id: string }) => f.id)).not.toContain(feed.json.id);
  });

  it('the datahose delivers every event of the pod, decrypted, also of conversations its reader is not in; eventTypes filter', async () => {
    const body = (extra: Record<string, unknown> = {}) => ({ type: 'datahose', tag: 'compliance', ...extra });
    const first = await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body({ eventTypes: ['MESSAGESENT'] }) });
    expect(first.status, first.body.toString()).toBe(200);
    const all = await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body() });
    const im = await firstStream(sandbox, bot, 'IM'); // bot and alice only
    const sent = await createOk(im, [{ name: 'message', value: ml('not for bob\'s eyes') }]);
    await call(sandbox, 'POST', '/pod/v3/room/create', { headers: alice.headers, json: { name: 'Another room' } });
    const messages = await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body({ eventTypes: ['MESSAGESENT'], ackId: first.json.ackId }) });
    expect(messages.json.events.map((e: { type: string }) => e.type)).toEqual(['MESSAGESENT']);
    expect(messages.json.events[0].payload.messageSent.message).toMatchObject({ messageId: sent.messageId, message: expect.stringContaining('not for bob') });
    const everything = await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body({ ackId: all.json.ackId }) });
    expect(everything.json.events.map((e: { type: string }) => e.type)).toEqual(['MESSAGESENT', 'ROOMCREATED']);
    // Bob's own datafeeds see none of it.
    expect((await call(sandbox, 'GET', `/agent/v4/stream/${im}/message?since=0`, { headers: bob.headers })).status).toBe(403);
    for (const bad of [{ type: 'fanout', tag: 'x' }, { type: 'datahose' }, { type: 'datahose', tag: 'x', eventTypes: [] }, { type: 'datahose', tag: 'x', eventTypes: ['NOPE'] }]) {
      expect((await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: bad })).status).toBe(400);
    }
    // The pod-wide recipient's feeds are not dangling rows.
    expect(sandbox.store.check()).toEqual([]);
    // A reader has at most maxFeedsPerUser (20) datahose feeds: 2 above, 18 more, then 403.
    for (let i = 0; i < 18; i++) expect((await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body({ tag: `t${i}`, updatePresence: false }) })).status).toBe(200);
    expect((await call(sandbox, 'POST', '/agent/v5/events/read', { headers: bob.headers, json: body({ tag: 'one too many' }) })).status).toBe(403);
  });

  it('suppression raises MESSAGESUPPRESSED and hides the message from the Agent; an Elements form submission reaches its sender', async () => {
    const v5 = await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: bot.headers, json: {} });
    const form = await createOk(room, [{ name: 'message', value: ml('pick one') }]);
    const doomed = await createOk(room, [{ name: 'message', value: ml('oops') }], alice);
    expect((await call(sandbox, 'POST', `/pod/v1/admin/messagesuppression/${doomed.messageId}/suppress`, { headers: bob.headers })).status).toBe(403);
    const suppressed = await call(sandbox, 'POST', `/pod/v1/admin/messagesuppression/${doomed.messageId}/suppress`, { headers: bot.headers });
    expect(suppressed.json).toEqual({ messageId: doomed.messageId, suppressed: true, suppressionDate: expect.any(Number) });
    expect((await call(sandbox, 'GET', `/agent/v1/message/${doomed.messageId}`, { headers: alice.headers })).status).toBe(204);
    const submitted = await call(sandbox, 'POST', `/sandbox/v1/streams/${room}/forms`, { json: { userId: alice.userId, formMessageId: form.messageId, formId: 'choice', formValues: { action: 'yes' } } });
    expect(submitted.status).toBe(204);
    const read = await call(sandbox, 'POST', `/agent/v5/datafeeds/${v5.json.id}/read`, { headers: bot.headers, json: {} });
    const types = read.json.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['MESSAGESENT', 'MESSAGESENT', 'MESSAGESUPPRESSED', 'SYMPHONYELEMENTSACTION']);
    expect(read.json.events[2].payload.messageSuppressed).toMatchObject({ messageId: doomed.messageId, stream: { streamId: room } });
    expect(read.json.events[3]).toMatchObject({ initiator: { user: { userId: alice.userId } }, payload: { symphonyElementsAction: { formMessageId: form.messageId, formId: 'choice', formValues: { action: 'yes' } } } });
  });
});
