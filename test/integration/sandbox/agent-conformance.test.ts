// The sandbox's Agent API against Symphony's own OpenAPI 3.0 spec (test/fixtures/symphony-api-spec/agent/), with the
// checks of test/helpers/openapi.ts: every request the tests send (query parameters, JSON and multipart bodies,
// required headers) is declared by its operation, every success body matches the operation's response schema,
// every error body `V2Error` ({code, message} and, for MessageML, details). Every Agent route the sandbox serves
// is exercised and validated here, except the legacy v4 datafeed, which this version of the spec no longer has; and
// the spec's operations the sandbox does not implement are listed, so that the gap is visible.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { Conformance, loadSpec, type ApiOptions, type Json } from '../../helpers/openapi.js';
import { call, firstStream, login, type FormField, type Login, type Reply } from '../../helpers/sandbox.js';

const AGENT = loadSpec('agent', 'agent/agent-api-public.yaml', ['/agent'], 'V2Error');
const conformance = new Conformance([AGENT], { errorKeys: ['code', 'message', 'details'] });

let sandbox: RunningSandbox;
let bot: Login;
let alice: Login;
let bob: Login;
let room: string;

function api(method: string, url: string, options: ApiOptions = {}): Promise<Reply> {
  return conformance.api(sandbox, method, url, options);
}

const both = (who: Login) => ({ ...who.headers, ...who.kmHeaders });
const ml = (body: string): FormField => ({ name: 'message', value: `<messageML>${body}</messageML>` });

beforeAll(async () => {
  sandbox = await startSandbox({ control: true, config: { datafeedWaitMs: 200 } });
  [bot, alice, bob] = await Promise.all([login(sandbox, 'sandbox-bot'), login(sandbox, 'alice'), login(sandbox, 'bob')]);
  room = await firstStream(sandbox, bot, 'ROOM');
});
afterAll(() => sandbox?.close());

describe('the Agent spec', () => {
  it('compiles: every request and response schema of every operation is valid for ajv', () => {
    for (const [template, methods] of Object.entries(AGENT.doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const schemas = [
          ...Object.keys(op.responses).map((status) => conformance.responseSchema(op, Number(status)).schema),
          ...Object.values(op.requestBody?.content ?? {}).map((c) => c.schema),
        ];
        for (const schema of schemas) if (schema !== undefined) expect(() => conformance.validatorFor(AGENT, schema), `${method} ${template}`).not.toThrow();
      }
    }
  });

  it('catches mismatches: the validators are not vacuous (refs, nested refs, arrays, formats)', () => {
    const message = conformance.responseSchema(conformance.operation('GET', '/agent/v1/message/x').op, 200).schema!;
    const check = (schema: Json, value: unknown) => conformance.validatorFor(AGENT, schema)(value);
    expect(check(message, { messageId: 'x', timestamp: 1, user: { userId: 2 }, attachments: [{ id: 'a', name: 'n', size: 1, images: [] }] })).toBe(true);
    expect(check(message, { timestamp: '1' })).toBe(false);
    expect(check(message, { user: { userId: 1.5 } })).toBe(false);
    expect(check(message, { attachments: [{ id: 'a' }] })).toBe(false);
    const events = conformance.responseSchema(conformance.operation('POST', '/agent/v5/datafeeds/x/read').op, 200).schema!;
    expect(check(events, { events: [{ payload: { messageSent: { message: { stream: { recipientTenantIds: ['1'] } } } } }] })).toBe(false);
    expect(check(conformance.responseSchema(conformance.operation('GET', '/agent/v3/health').op, 200).schema!, { status: 'MAYBE' })).toBe(false);
    const extra = new Set<string>();
    conformance.undeclared(AGENT, message, { messageId: 'x', mood: 'happy' }, '', extra);
    expect([...extra]).toEqual(['.mood']);
  });
});

describe('system', () => {
  it('health, extended health, info and echo', async () => {
    expect((await api('GET', '/agent/v3/health')).json).toEqual({ status: 'UP', version: expect.any(String) });
    expect((await api('GET', '/agent/v3/health/extended')).json).toMatchObject({ status: 'UP', services: { pod: { status: 'UP' }, key_manager: { status: 'UP' } } });
    expect((await api('GET', '/agent/v1/info')).json).toMatchObject({ url: sandbox.agentUrl, onPrem: true });
    expect((await api('POST', '/agent/v1/util/echo', { headers: bot.headers, json: { message: 'ping' } })).json).toEqual({ message: 'ping' });
    await api('POST', '/agent/v1/util/echo', { json: { message: 'ping' }, status: 401 });
    await api('POST', '/agent/v1/util/echo', { headers: bot.headers, raw: '{', status: 400 });
  });
});

describe('messages', () => {
  let sent: Record<string, any>;

  it('create answers a V4Message; bad MessageML a V2Error with details; missing tokens 401; a foreign stream 403', async () => {
    const reply = await api('POST', `/agent/v4/stream/${room}/message/create`, {
      headers: both(bot),
      multipart: [ml('hello <b>spec</b> <hash tag="conformance"/>'), { name: 'data', value: '{}' }, { name: 'version', value: '2.0' },
        { name: 'attachment', value: Buffer.from('file'), filename: 'f.txt' }, { name: 'preview', value: Buffer.from('png'), filename: 'f.png' }],
    });
    sent = reply.json;
    const bad = await api('POST', `/agent/v4/stream/${room}/message/create`, { headers: both(bot), multipart: [ml('<p>')], status: 400 });
    expect(bad.json.details).toEqual({ line: 1, column: expect.any(Number) });
    await api('POST', `/agent/v4/stream/${room}/message/create`, { headers: bot.headers, multipart: [ml('x')], status: 401 });
    await api('POST', `/agent/v4/stream/${await firstStream(sandbox, bob, 'POST')}/message/create`, { headers: both(bot), multipart: [ml('x')], status: 403 });
  });

  it('update answers a V4Message; another user\'s message 403', async () => {
    await api('POST', `/agent/v4/stream/${room}/message/${sent.messageId}/update`, { headers: both(bot), multipart: [ml('edited'), { name: 'silent', value: 'true' }] });
    await api('POST', `/agent/v4/stream/${room}/message/${sent.messageId}/update`, { headers: both(alice), multipart: [ml('x')], status: 403 });
  });

  it('blast answers a V4MessageBlastResponse; no sids 400', async () => {
    const reply = await api('POST', '/agent/v4/message/blast', { headers: both(bot), multipart: [{ name: 'sids', value: room }, ml('to many')] });
    expect(reply.json.messages).toHaveLength(1);
    await api('POST', '/agent/v4/message/blast', { headers: both(bot), multipart: [ml('x')], invalidRequest: true, status: 400 });
  });

  it('history answers a V4MessageList (204 when empty); since missing 400', async () => {
    await api('GET', `/agent/v4/stream/${room}/message?since=0&skip=0&limit=10&until=${Date.now() + 1000}`, { headers: alice.headers });
    await api('GET', `/agent/v4/stream/${room}/message?since=${Date.now() + 100_000}`, { headers: alice.headers, status: 204 });
    await api('GET', `/agent/v4/stream/${room}/message?limit=10`, { headers: alice.headers, status: 400 });
  });

  it('one message answers a V4Message (204 when unknown); a non-member 403', async () => {
    await api('GET', `/agent/v1/message/${sent.messageId}`, { headers: alice.headers });
    await api('GET', '/agent/v1/message/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { headers: alice.headers, status: 204 });
    const im = await firstStream(sandbox, bot, 'IM');
    const { json } = await call(sandbox, 'POST', `/agent/v4/stream/${im}/message/create`, { headers: both(bot), multipart: [ml('private')] });
    await api('GET', `/agent/v1/message/${json.messageId}`, { headers: bob.headers, status: 403 });
  });

  it('attachment answers the file as base64; an unknown one 400', async () => {
    const reply = await api('GET', `/agent/v1/stream/${room}/attachment?fileId=${sent.attachments[0].id}&messageId=${sent.messageId}`, { headers: alice.headers });
    expect(Buffer.from(reply.body.toString(), 'base64').toString()).toBe('file');
    await api('GET', `/agent/v1/stream/${room}/attachment?fileId=AAAA&messageId=${sent.messageId}`, { headers: alice.headers, status: 400 });
  });

  it('search (POST with a MessageSearchQuery, GET with a query) answers a V4MessageList; a text search without a stream 400', async () => {
    await api('POST', '/agent/v1/message/search?skip=0&limit=5&sortDir=DESC', { headers: alice.headers, json: { hashtag: 'conformance' } });
    await api('POST', '/agent/v1/message/search', { headers: alice.headers, json: { text: 'hello', streamId: room, author: bot.userId, fromDate: 0 } });
    await api('GET', `/agent/v1/message/search?query=${encodeURIComponent(`text:hello AND streamId:${room}`)}&limit=5`, { headers: alice.headers });
    await api('POST', '/agent/v1/message/search', { headers: alice.headers, json: { text: 'hello' }, status: 400 });
    await api('POST', '/agent/v1/message/search', { headers: alice.headers, json: { hashtag: 'nothing-has-this' }, status: 204 });
  });
});

describe('real-time events', () => {
  it('datafeed create, list, read and delete answer V5Datafeed, a list of them, V5EventList and 204', async () => {
    const feed = await api('POST', '/agent/v5/datafeeds', { headers: both(alice), json: { tag: 'conformance', includeInvisible: false }, status: 201 });
    await api('GET', '/agent/v5/datafeeds?tag=conformance', { headers: alice.headers });
    const empty = await api('POST', `/agent/v5/datafeeds/${feed.json.id}/read`, { headers: alice.headers, json: { ackId: '', updatePresence: false } });
    expect(empty.json.events).toEqual([]);
    await call(sandbox, 'POST', `/agent/v4/stream/${room}/message/create`, { headers: both(bot), multipart: [ml('event')] });
    await call(sandbox, 'POST', '/pod/v3/room/create', { headers: alice.headers, json: { name: 'Spec room' } });
    await call(sandbox, 'POST', '/pod/v1/im/create', { headers: alice.headers, json: [bob.userId, bot.userId] });
    const events = await api('POST', `/agent/v5/datafeeds/${feed.json.id}/read`, { headers: alice.headers, json: { ackId: empty.json.ackId } });
    expect(events.json.events.map((e: { type: string }) => e.type)).toEqual(['MESSAGESENT', 'ROOMCREATED', 'INSTANTMESSAGECREATED']);
    await api('POST', `/agent/v5/datafeeds/${feed.json.id}/read`, { headers: alice.headers, json: { ackId: 'not-an-ack-id' }, status: 400 });
    await api('DELETE', `/agent/v5/datafeeds/${feed.json.id}`, { headers: alice.headers, status: 204 });
    await api('DELETE', `/agent/v5/datafeeds/${feed.json.id}`, { headers: alice.headers, status: 400 });
    await api('POST', '/agent/v5/datafeeds', { json: {}, status: 401 });
  });

  it('every event type the sandbox raises validates as a V4Event', async () => {
    const feed = await call(sandbox, 'POST', '/agent/v5/datafeeds', { headers: alice.headers, json: {} });
    const own = await call(sandbox, 'POST', '/pod/v3/room/create', { headers: alice.headers, json: { name: 'Lifecycle' } });
    const id = own.json.roomSystemInfo.id;
    const pod = (path: string, json?: unknown, who = alice) => call(sandbox, 'POST', path, { headers: who.headers, ...(json === undefined ? {} : { json }) });
    await pod(`/pod/v3/room/${id}/update`, { description: 'changed' });
    await pod(`/pod/v1/room/${id}/membership/add`, { id: bob.userId });
    await pod(`/pod/v1/room/${id}/membership/promoteOwner`, { id: bob.userId });
    await pod(`/pod/v1/room/${id}/membership/demoteOwner`, { id: bob.userId });
    await pod(`/pod/v1/room/${id}/membership/remove`, { id: bob.userId });
    await pod(`/pod/v1/room/${id}/setActive?active=false`);
    await pod(`/pod/v1/room/${id}/setActive?active=true`);
    await pod('/pod/v1/connection/create', { userId: alice.userId }, bob);
    await pod('/pod/v1/connection/accept', { userId: bob.userId });
    const { json: message } = await call(sandbox, 'POST', `/agent/v4/stream/${room}/message/create`, { headers: both(alice), multipart: [ml('form here')] });
    await call(sandbox, 'POST', `/pod/v1/admin/messagesuppression/${message.messageId}/suppress`, { headers: alice.headers });
    await call(sandbox, 'POST', `/sandbox/v1/streams/${room}/forms`, { json: { userId: bob.userId, formMessageId: message.messageId, formId: 'f', formValues: { a: 1 } } });
    const read = await api('POST', `/agent/v5/datafeeds/${feed.json.id}/read`, { headers: alice.headers, json: {} });
    expect(read.json.events.map((e: { type: string }) => e.type)).toEqual([
      'ROOMCREATED', 'ROOMUPDATED', 'USERJOINEDROOM', 'ROOMMEMBERPROMOTEDTOOWNER', 'ROOMMEMBERDEMOTEDFROMOWNER', 'USERLEFTROOM', 'ROOMDEACTIVATED',
      'ROOMREACTIVATED', 'CONNECTIONREQUESTED', 'CONNECTIONACCEPTED', 'MESSAGESENT', 'MESSAGESUPPRESSED', 'SYMPHONYELEMENTSACTION',
    ]);
  });

  it('datahose read answers a V5EventList; a body without type 400', async () => {
    await api('POST', '/agent/v5/events/read', { headers: bob.headers, json: { type: 'datahose', tag: 'spec', eventTypes: ['MESSAGESENT', 'ROOMCREATED'], updatePresence: false } });
    await api('POST', '/agent/v5/events/read', { headers: bob.headers, json: { type: 'datahose', tag: 'spec', ackId: '' } });
    await api('POST', '/agent/v5/events/read', { headers: bob.headers, json: { tag: 'spec' }, invalidRequest: true, status: 400 });
  });
});

/** The Agent routes the sandbox serves that this version of the spec does not have (kept for older clients). */
const OUTSIDE_THE_SPEC = ['POST /agent/v4/datafeed/create', 'GET /agent/v4/datafeed/:id/read'];

describe('signals', () => {
  it('create, get, list, update, subscribe, subscribers, unsubscribe, delete', async () => {
    const created = await api('POST', '/agent/v1/signals/create', { headers: alice.headers, json: { name: 'spec', query: 'hashtag:spec AND author:1', visibleOnProfile: true, companyWide: false } });
    const id = created.json.id as string;
    await api('GET', `/agent/v1/signals/${id}/get`, { headers: alice.headers });
    await api('GET', '/agent/v1/signals/list?skip=0&limit=10', { headers: alice.headers });
    await api('POST', `/agent/v1/signals/${id}/update`, { headers: alice.headers, json: { name: 'spec 2', query: 'cashtag:SPC OR hashtag:spec' } });
    await api('POST', `/agent/v1/signals/${id}/update`, { headers: bob.headers, json: { name: 'x', query: 'hashtag:x' }, status: 400 });
    expect((await api('POST', `/agent/v1/signals/${id}/subscribe?pushed=true`, { headers: alice.headers, json: [bob.userId] })).json).toMatchObject({ successfulSubscription: 1 });
    await api('POST', `/agent/v1/signals/${id}/update`, { headers: bob.headers, json: { name: 'x', query: 'hashtag:x' }, status: 403 });
    expect((await api('GET', `/agent/v1/signals/${id}/subscribers?skip=0&limit=10`, { headers: alice.headers })).json).toMatchObject({ total: 2 });
    expect((await api('POST', `/agent/v1/signals/${id}/unsubscribe`, { headers: alice.headers, json: [bob.userId] })).json).toMatchObject({ successfulSubscription: 1 });
    await api('POST', '/agent/v1/signals/create', { headers: alice.headers, json: { name: 'no tag', query: 'author:1' }, status: 400 });
    await api('GET', '/agent/v1/signals/list', { status: 401 });
    await api('POST', `/agent/v1/signals/${id}/delete`, { headers: alice.headers });
    await api('GET', `/agent/v1/signals/${id}/get`, { headers: alice.headers, status: 400 });
  });
});

describe('coverage', () => {
  const served = () => sandbox.routes.filter((r) => r.pattern.startsWith('/agent/')).map((r) => `${r.method} ${r.pattern}`);

  it('every Agent route the sandbox serves is in the spec and was answered and validated above', () => {
    const missing: string[] = [];
    for (const route of served().filter((r) => !OUTSIDE_THE_SPEC.includes(r))) {
      const [method, pattern] = route.split(' ') as [string, string];
      const { template } = conformance.operation(method, pattern.replace(/:(\w+)/g, '{$1}'));
      if (!conformance.covered.has(`${method} ${template}`)) missing.push(route);
    }
    expect(missing).toEqual([]);
    expect(served()).toEqual(expect.arrayContaining(OUTSIDE_THE_SPEC));
  });

  it('the spec\'s operations the sandbox does not implement', () => {
    const implemented = new Set(served().map((r) => {
      const [method, pattern] = r.split(' ') as [string, string];
      return `${method} ${pattern.slice('/agent'.length).replace(/:(\w+)/g, '{$1}')}`;
    }));
    const notImplemented = conformance.operations(AGENT).filter((op) => ![...implemented].some((i) => {
      const [m, t] = i.split(' ');
      const [om, ot] = op.split(' ');
      return m === om && t!.replace(/\{\w+\}/g, '{}') === ot!.replace(/\{\w+\}/g, '{}');
    }));
    expect(notImplemented).toEqual([
      'POST /v4/message/import', 'POST /v4/message/search/semantic', 'POST /v3/stream/{sid}/share',
      'GET /v1/dlp/policies', 'POST /v1/dlp/policies', 'GET /v1/dlp/policies/{policyId}', 'PUT /v1/dlp/policies/{policyId}', 'DELETE /v1/dlp/policies/{policyId}',
      'POST /v1/dlp/policies/{policyId}/enable', 'POST /v1/dlp/policies/{policyId}/disable', 'GET /v1/dlp/dictionaries', 'POST /v1/dlp/dictionaries',
      'GET /v1/dlp/dictionaries/{dictId}', 'PUT /v1/dlp/dictionaries/{dictId}', 'DELETE /v1/dlp/dictionaries/{dictId}',
      'GET /v1/dlp/dictionaries/{dictId}/data/download', 'POST /v1/dlp/dictionaries/{dictId}/data/upload', 'GET /v1/dlp/violations/message',
      'GET /v1/dlp/violations/stream', 'GET /v1/dlp/violations/signal', 'GET /v3/dlp/policies', 'POST /v3/dlp/policies', 'GET /v3/dlp/policies/{policyId}',
      'POST /v3/dlp/policies/{policyId}/update', 'POST /v3/dlp/policies/{policyId}/delete', 'POST /v3/dlp/policies/{policyId}/enable',
      'POST /v3/dlp/policies/{policyId}/disable', 'GET /v3/dlp/violations/message', 'GET /v3/dlp/violations/stream', 'GET /v3/dlp/violations/signal',
      'GET /v3/dlp/violation/attachment', 'GET /v1/audittrail/privilegeduser',
    ]);
  });

  it('error answers use statuses the spec declares, except the documented ones', () => {
    expect([...conformance.undeclaredStatuses].sort()).toEqual([]);
  });

  it('answers carry no properties the spec does not declare, except the documented ones', () => {
    expect(Object.fromEntries([...conformance.extras].map(([k, v]) => [k, [...v].sort()]))).toEqual({});
  });
});
