// Bad input never crashes or corrupts the agent host. Every route its router registered (`host.routes`) gets, with
// the credential it is meant for (none, the super user's token, or a user's token on an Active agent): malformed
// JSON, JSON of every wrong type, valid bodies with one field at a time replaced by a wrong type, huge strings,
// random bodies and bytes (fast-check), wrong query values, unknown and malformed ids, hostile headers (Accept,
// Content-Type, forged forwarding), missing, forged and wrong-kind credentials (the super user on Collaboration, a
// user without provisioning rights on Provisioning), and a body over the limit: at least 50 requests per route, at
// least 1,000 with ALLEGRO_SLOW=1 (`npm run test:slow`); plus wrong methods and unknown paths. Every answer must be a
// 2xx, a 4xx with a JSON {code, message} body, or a 503 with Retry-After and that body — never a 500 — in time;
// afterwards the host still serves a new client, what was stored before reads back intact, and it logged no
// internal error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentHost, type RunningAgentHost } from '../../../src/agent-host/server.js';
import type { RouteInfo } from '../../../src/sandbox/http.js';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox/server.js';
import { eventually, hostCall, hostConfig, SUPER_USER, tokenFor } from '../../helpers/agent-host.js';
import { BAD_QUERY, errorShapeProblem, leaves, LEAF_WRONG, MALFORMED_JSON, replaceAt, WRONG_VALUES, type Answer } from '../../helpers/fuzz.js';

type Auth = 'none' | 'super' | 'user';
type Ids = Record<string, string>;

interface RouteCase {
  method: string;
  pattern: string;
  /** Concrete path; `{name}` placeholders take ids made in beforeAll (already URL-encoded). */
  path: string;
  auth: Auth;
  query?: Record<string, string>;
  valid?: (ids: Ids) => unknown;
}

const SLOW = process.env.ALLEGRO_SLOW === '1';
const CASES_PER_ROUTE = SLOW ? 1000 : 50;
const NS = 'http://schemas.fcg.im/foundation/v1/collaboration';
const APP = { id: 'app', username: 'app-user', password: 'app-password-1' };
const FUZZED_IDENTITY = { Kind: 'rsa', PrivateKeyEnv: 'AGENT_HOST_FUZZ_NO_SUCH_KEY' };

const ROUTES: RouteCase[] = [
  // auth.ts
  { method: 'POST', pattern: '/Authentication/V1/Tokens', path: '/Authentication/V1/Tokens', auth: 'none', valid: () => ({ Username: APP.username, Password: APP.password, AgentId: 'bot' }) },
  { method: 'GET', pattern: '/Authentication/V1/Tokens/:token', path: '/Authentication/V1/Tokens/{userToken}', auth: 'none' },
  // provisioning.ts: writes go to agents, users and throttles of their own, so that the agent the Collaboration
  // routes use stays as it is.
  { method: 'GET', pattern: '/Provisioning/V1/Agents', path: '/Provisioning/V1/Agents', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Agents/:id', path: '/Provisioning/V1/Agents/bot', auth: 'super' },
  {
    method: 'PUT', pattern: '/Provisioning/V1/Agents/:id', path: '/Provisioning/V1/Agents/fuzzed', auth: 'super',
    valid: (ids) => ({
      Id: 'fuzzed', UserName: 'nobody', Identity: FUZZED_IDENTITY, Users: [APP.id], Channels: [{ Id: `room:${ids.roomId}` }], MetaData: [{ Key: 'k', Value: 'v' }],
      CanProvision: false, ProvisioningMode: 1, ManagementMode: 0,
    }),
  },
  { method: 'DELETE', pattern: '/Provisioning/V1/Agents/:id', path: '/Provisioning/V1/Agents/doomed', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Agents/:id/Channels', path: '/Provisioning/V1/Agents/bot/Channels', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Agents/:id/Channels/:cid', path: '/Provisioning/V1/Agents/bot/Channels/{room}', auth: 'super' },
  { method: 'PUT', pattern: '/Provisioning/V1/Agents/:id/Channels/:cid', path: '/Provisioning/V1/Agents/fuzzed/Channels/{room}', auth: 'super' },
  { method: 'DELETE', pattern: '/Provisioning/V1/Agents/:id/Channels/:cid', path: '/Provisioning/V1/Agents/fuzzed/Channels/{doomedChannel}', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Agents/:id/MetaData', path: '/Provisioning/V1/Agents/bot/MetaData', auth: 'super' },
  { method: 'PUT', pattern: '/Provisioning/V1/Agents/:id/MetaData', path: '/Provisioning/V1/Agents/fuzzed/MetaData', auth: 'super', valid: () => [{ Key: 'a', Value: '1' }, { Key: 'b', Value: null }] },
  { method: 'GET', pattern: '/Provisioning/V1/Agents/:id/MetaData/:key', path: '/Provisioning/V1/Agents/bot/MetaData/known', auth: 'super' },
  { method: 'PUT', pattern: '/Provisioning/V1/Agents/:id/MetaData/:key', path: '/Provisioning/V1/Agents/fuzzed/MetaData/colour', auth: 'super', valid: () => ({ Value: 'blue' }) },
  { method: 'DELETE', pattern: '/Provisioning/V1/Agents/:id/MetaData/:key', path: '/Provisioning/V1/Agents/fuzzed/MetaData/doomed', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Users', path: '/Provisioning/V1/Users', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Users/:id', path: '/Provisioning/V1/Users/app', auth: 'super' },
  { method: 'PUT', pattern: '/Provisioning/V1/Users/:id', path: '/Provisioning/V1/Users/fuzz-user', auth: 'super', valid: () => ({ UserName: 'fuzz-user', Password: 'fuzz-password-1' }) },
  { method: 'DELETE', pattern: '/Provisioning/V1/Users/:id', path: '/Provisioning/V1/Users/doomed-user', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Throttles', path: '/Provisioning/V1/Throttles', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Throttles/:id', path: '/Provisioning/V1/Throttles/known', auth: 'super' },
  { method: 'PUT', pattern: '/Provisioning/V1/Throttles/:id', path: '/Provisioning/V1/Throttles/fuzz', auth: 'super', valid: () => ({ Type: 0, Threshold: 5, IntervalMs: 1000, Agents: ['fuzzed'] }) },
  { method: 'DELETE', pattern: '/Provisioning/V1/Throttles/:id', path: '/Provisioning/V1/Throttles/doomed', auth: 'super' },
  { method: 'GET', pattern: '/Provisioning/V1/Channels', path: '/Provisioning/V1/Channels', auth: 'super', query: { query: 'sandbox', agent: 'bot' } },
  // collaboration.ts, for the user's token on the Active agent.
  { method: 'GET', pattern: '/Collaboration/V1/Channels', path: '/Collaboration/V1/Channels', auth: 'user' },
  { method: 'GET', pattern: '/Collaboration/V1/Channels/:id', path: '/Collaboration/V1/Channels/{room}', auth: 'user' },
  { method: 'GET', pattern: '/Collaboration/V1/Channels/:id/State', path: '/Collaboration/V1/Channels/{room}/State', auth: 'user' },
  { method: 'GET', pattern: '/Collaboration/V1/Channels/:id/Messages', path: '/Collaboration/V1/Channels/{room}/Messages', auth: 'user', query: { take: '3', before: '{token}' } },
  {
    method: 'POST', pattern: '/Collaboration/V1/Channels/:id/Messages', path: '/Collaboration/V1/Channels/{room}/Messages', auth: 'user',
    valid: () => ({
      MessageParts: [
        { __type: `PlainTextMessagePart:${NS}`, Text: 'fuzz ' }, { __type: `HyperlinkMessagePart:${NS}`, Text: 'link', Url: 'https://example.com/' },
        { __type: `HashtagMessagePart:${NS}`, Hashtag: '#fuzz' }, { __type: `CodeBlockMessagePart:${NS}`, CodeBlock: 'x', Language: 'js', DisplayMode: 1 },
      ],
      Subject: 'fuzz', IsAlert: false, Classification: 'C', SecurityContexts: ['s'],
    }),
  },
  { method: 'POST', pattern: '/Collaboration/V1/Channels/:id/Me', path: '/Collaboration/V1/Channels/{room}/Me', auth: 'user', valid: () => ({ IsComposing: true }) },
  { method: 'GET', pattern: '/Collaboration/V1/Metadata', path: '/Collaboration/V1/Metadata', auth: 'user' },
  {
    method: 'GET', pattern: '/Collaboration/V1/Events', path: '/Collaboration/V1/Events', auth: 'user',
    query: { 'last-event': '0', instance: '{instance}', types: 'message', channels: '{roomRaw}', regex: 'fuzz|known', origins: 'remote' },
  },
];

/** Every field name a route reads. */
const FIELDS = [
  'Username', 'Password', 'AgentId', 'Id', 'UserName', 'Identity', 'Kind', 'PrivateKeyPath', 'PrivateKeyEnv', 'CertificatePath', 'CertificateEnv', 'PasswordEnv',
  'AppId', 'UserId', 'Users', 'Channels', 'MetaData', 'Key', 'Value', 'CanProvision', 'ProvisioningMode', 'ManagementMode', 'Type', 'Threshold', 'IntervalMs',
  'Agents', 'Text', 'MessageParts', '__type', 'Url', 'ChannelName', 'ChannelId', 'DisplayName', 'Hashtag', 'CodeBlock', 'Language', 'DisplayMode', 'Subject',
  'IsAlert', 'Classification', 'SecurityContexts', 'IsComposing', '__proto__', 'constructor',
];
const BAD_IDS = ['x', '!!!', 'x'.repeat(300), '%00', '..', '-1', '%C3%A9', '%E0%A4%A', 'a%2Fb', 'room%3A', 'room%3A!!!', 'user%3A0', 'user%3Aabc', 'im%3A%2B%2F%3D', 'chat-room%3Ax'];
const FORGED_TOKENS = ['', ' ', 'x', 'a.b.c', 'x'.repeat(16), 'A'.repeat(43), '-'.repeat(129), 'é'.repeat(20)];
const HOSTILE_HEADERS: Array<Record<string, string>> = [
  { accept: 'application/xml' }, { accept: '*/*;q=0' }, { accept: 'x'.repeat(4000) }, { 'content-type': 'application/xml' },
  { 'content-type': 'application/json; charset=utf-16' }, { 'x-allegro-forwarded-by': 'forged' }, { 'accept-encoding': 'gzip, br' }, { cookie: '=; a' },
];

// ---------------------------------------------------------------------------------------------------------------

interface Send { method: string; path: string; body?: Buffer | string; contentType?: string; headers?: Record<string, string> }

let sandbox: RunningSandbox;
let host: RunningAgentHost;
let dataDir: string;
let agent: Agent;
const ids: Ids = {};
const internalErrors: string[] = [];
const sentTo = new Map<string, number>();
let requests = 0;

function send(s: Send): Promise<Answer> {
  const body = typeof s.body === 'string' ? Buffer.from(s.body, 'utf8') : s.body;
  const headers: Record<string, string> = { ...s.headers };
  if (s.contentType !== undefined) headers['content-type'] = s.contentType;
  if (body !== undefined) headers['content-length'] = String(body.length);
  requests++;
  return new Promise((resolve, reject) => {
    // The path as given (a URL string would have its dot segments resolved by the client).
    const req = httpsRequest({ host: '127.0.0.1', port: host.port, path: s.path, method: s.method, agent, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s: ${s.method} ${s.path.slice(0, 200)}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Throw unless the answer is a 2xx, a 4xx {code, message}, or a 503 {code, message} with Retry-After. */
function check(s: Send, a: Answer): void {
  const what = `${s.method} ${s.path.slice(0, 150)} with ${describeBody(s.body)}`;
  if (a.status >= 200 && a.status < 300) {
    if (a.status !== 204 && String(a.headers['content-type']).startsWith('application/json')) JSON.parse(a.body.toString('utf8'));
    return;
  }
  if (a.status < 400 || (a.status >= 500 && a.status !== 503)) throw new Error(`${what}: status ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`);
  if (a.status === 503 && !(Number(a.headers['retry-after']) >= 1)) throw new Error(`${what}: 503 without Retry-After`);
  const problem = errorShapeProblem(a);
  if (problem !== undefined) throw new Error(`${what}: ${problem}`);
}

function describeBody(body: Buffer | string | undefined): string {
  if (body === undefined) return 'no body';
  const text = body.toString();
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : JSON.stringify(text);
}

async function sendChecked(route: RouteCase | undefined, s: Send): Promise<Answer> {
  if (route !== undefined) sentTo.set(`${route.method} ${route.pattern}`, (sentTo.get(`${route.method} ${route.pattern}`) ?? 0) + 1);
  const a = await send(s);
  check(s, a);
  return a;
}

const fill = (template: string) => template.replace(/\{(\w+)\}/g, (_, name: string) => {
  const value = ids[name];
  if (value === undefined) throw new Error(`no id ${name}`);
  return value;
});

function url(route: RouteCase, overrides: { path?: string; query?: Record<string, string>; rawQuery?: string } = {}): string {
  const path = overrides.path ?? fill(route.path);
  const query = Object.entries(overrides.query ?? route.query ?? {}).map(([k, v]) => `${k}=${encodeURIComponent(fill(v))}`);
  if (overrides.rawQuery !== undefined) query.push(overrides.rawQuery);
  return query.length === 0 ? path : `${path}?${query.join('&')}`;
}

const credentials = (auth: Auth): Record<string, string> => (auth === 'none' ? {} : { authorization: `FCF ${auth === 'super' ? ids.superToken : ids.userToken}` });

function json(value: unknown): { body: Buffer; contentType: string } {
  return { body: Buffer.from(JSON.stringify(value) ?? 'null'), contentType: 'application/json' };
}

function validBody(route: RouteCase): { body?: Buffer; contentType?: string } {
  return route.valid === undefined ? {} : json(route.valid(ids));
}

function bodyArbitrary(route: RouteCase): fc.Arbitrary<{ body: Buffer; contentType?: string }> {
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
    fc.array(fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(fc.string(), fc.constant(`PlainTextMessagePart:${NS}`), fc.constant(`UserLinkMessagePart:${NS}`), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 4 }), { maxLength: 4 })
      .map((parts) => ({ MessageParts: parts })),
  );
  const mutated = route.valid === undefined ? value : fc.tuple(fc.constant(route.valid(ids)), fc.array(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 3 }))
    .map(([valid, changes]) => {
      const paths = leaves(valid);
      return changes.reduce((v, [i, replacement]) => replaceAt(v, paths[i % paths.length]!, replacement), valid);
    });
  const contentType = fc.constantFrom('application/json', 'application/octet-stream', 'text/plain; charset=utf-16', undefined);
  return fc.oneof(
    fc.oneof(value, mutated).map(json),
    fc.tuple(fc.uint8Array({ maxLength: 4096 }), contentType).map(([b, t]) => ({ body: Buffer.from(b), ...(t === undefined ? {} : { contentType: t }) })),
    fc.tuple(fc.string({ unit: 'binary', maxLength: 400 }), contentType).map(([s, t]) => ({ body: Buffer.from(s), ...(t === undefined ? {} : { contentType: t }) })),
  );
}

async function fuzzRoute(route: RouteCase): Promise<void> {
  const headers = credentials(route.auth);
  const path = url(route);
  const go = (s: Partial<Send>) => sendChecked(route, { method: route.method, path, headers, ...s });
  const reads = route.valid !== undefined;
  for (const raw of reads ? MALFORMED_JSON : MALFORMED_JSON.slice(0, 4)) await go({ body: raw, contentType: 'application/json' });
  for (const value of reads ? WRONG_VALUES : WRONG_VALUES.slice(0, 4)) await go(json(value));
  if (reads) {
    for (const value of WRONG_VALUES) await go(json(Object.fromEntries(FIELDS.map((f) => [f, value]))));
    for (const value of LEAF_WRONG) await go(json(Object.fromEntries(FIELDS.map((f) => [f, { [f]: value, nested: [value] }]))));
    const valid = route.valid!(ids);
    for (const at of leaves(valid).filter((p) => p.length > 0)) {
      for (const value of LEAF_WRONG) await go(json(replaceAt(valid, at, value)));
      await go(json(replaceAt(valid, at, 'x'.repeat(60_000))));
    }
    await go(json(Object.fromEntries(FIELDS.map((f) => [f, 'é'.repeat(5000)]))));
    await go(json('x'.repeat(900_000)));
    await go({ body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, contentType: 'application/json' });
    await go({ body: `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, contentType: 'application/json' });
  }
  const sofar = sentTo.get(`${route.method} ${route.pattern}`) ?? 0;
  await fc.assert(fc.asyncProperty(bodyArbitrary(route), async (b) => { await go(b); }), { numRuns: Math.max(15, CASES_PER_ROUTE - sofar) });
  const valid = validBody(route);
  // Wrong query values, one parameter at a time, repeated and unknown parameters.
  for (const name of Object.keys(route.query ?? {})) {
    const others = Object.fromEntries(Object.entries(route.query!).filter(([k]) => k !== name));
    for (const bad of BAD_QUERY) await go({ ...valid, path: url(route, { query: others, rawQuery: `${name}=${bad}` }) });
    await go({ ...valid, path: url(route, { rawQuery: `${name}=1&${name}=abc` }) });
  }
  await go({ ...valid, path: url(route, { rawQuery: 'unknown=%ZZ&=&&a&regex=(a%2B)%2B&regex=' }) });
  // Unknown and malformed ids in each path parameter.
  const segments = route.path.split('/');
  const patternSegments = route.pattern.split('/');
  for (const [i] of segments.entries()) {
    if (!(patternSegments[i] ?? '').startsWith(':')) continue;
    for (const bad of BAD_IDS) await go({ ...valid, path: url(route, { path: fill(segments.map((s, j) => (j === i ? bad : s)).join('/')) }) });
  }
  // Hostile headers with the route's own credential.
  for (const extra of HOSTILE_HEADERS) await go({ ...valid, headers: { ...headers, ...extra } });
  if (route.auth !== 'none') {
    // Missing, forged and malformed credentials: 401.
    const refused = async (h: Record<string, string>, status = 401) => {
      const a = await go({ ...valid, headers: h });
      if (a.status !== status) throw new Error(`${route.method} ${route.pattern} with ${JSON.stringify(h).slice(0, 100)}: ${a.status}, expected ${status}`);
    };
    await refused({});
    for (const token of FORGED_TOKENS) {
      await refused({ authorization: `FCF ${token}` });
      await refused({ authorization: `Bearer ${token}` });
    }
    for (const scheme of ['FCF', 'Basic', 'Bearer', `Basic ${Buffer.from(`${APP.username}:${APP.password}`).toString('base64')}`, `Digest ${ids.userToken}`]) await refused({ authorization: scheme });
    // The other kind of caller: the super user on Collaboration (401), a user without provisioning rights on
    // Provisioning (403), with hostile bodies too.
    const other = credentials(route.auth === 'super' ? 'user' : 'super');
    const expected = route.auth === 'super' ? 403 : 401;
    await refused(other, expected);
    for (const value of WRONG_VALUES.slice(0, 6)) {
      const a = await go({ ...json(value), headers: other });
      if (a.status !== expected && a.status !== 400) throw new Error(`${route.method} ${route.pattern} as the other caller: ${a.status}`);
    }
  }
  // A body over the limit.
  const a = await go({ body: Buffer.alloc(Math.round(1.1 * 1024 * 1024), 0x7b), contentType: 'application/json' });
  if (a.status !== 413) throw new Error(`${route.method} ${route.pattern}: ${a.status} for 1.1 MiB, expected 413`);
}

// ---------------------------------------------------------------------------------------------------------------

/** One login from its own loopback address (failed logins of the fuzz back 127.0.0.1 off). */
function loginFrom(address: string, username: string, password: string, agentId: string): Promise<{ status: number; json: unknown }> {
  const body = JSON.stringify({ Username: username, Password: password, AgentId: agentId });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${host.url}/Authentication/V1/Tokens`, {
      method: 'POST', localAddress: address, ca: readFileSync(sandbox.caCertPath, 'utf8'), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let knownMessageId: string;
let knownAgent: unknown;
let knownChannels: unknown;
let knownUsers: unknown;
let knownThrottle: unknown;

// Started while the tests are collected: the routes to fuzz are the ones its router registered.
sandbox = await startSandbox({ config: { datafeedWaitMs: 100 } });
dataDir = mkdtempSync(join(tmpdir(), 'agent-host-fuzz-'));
host = await startAgentHost(await hostConfig(sandbox, dataDir, { eventsWaitMs: 300 }), {
  log: (line) => {
    if (line.startsWith('internal error')) internalErrors.push(line);
  },
});

beforeAll(async () => {
  // The server closes a keep-alive connection idle for 5 s (idleTimeoutMs); the client drops its idle sockets after
  // 2 s, so that no request is written into a connection the server is closing at that moment (ECONNRESET).
  agent = new Agent({ ca: readFileSync(sandbox.caCertPath, 'utf8'), keepAlive: true, maxSockets: 16, timeout: 2_000 });
  const admin = await tokenFor(host, sandbox, SUPER_USER.username, SUPER_USER.password);
  const api = (method: string, path: string, body?: unknown) => hostCall(host, sandbox, method, path, { token: admin, ...(body === undefined ? {} : { json: body }) });
  expect((await api('PUT', `/Provisioning/V1/Users/${APP.id}`, { UserName: APP.username, Password: APP.password })).status).toBe(200);
  expect((await api('PUT', '/Provisioning/V1/Users/doomed-user', { UserName: 'doomed-user', Password: 'doomed-password' })).status).toBe(200);
  const files = sandbox.identities.get('sandbox-bot')!;
  expect((await api('PUT', '/Provisioning/V1/Agents/bot', { UserName: 'sandbox-bot', Identity: { Kind: 'rsa', PrivateKeyPath: files.privateKeyPath }, Users: [APP.id], MetaData: { known: 'value' } })).status).toBe(200);
  for (const id of ['fuzzed', 'doomed']) expect((await api('PUT', `/Provisioning/V1/Agents/${id}`, { UserName: 'nobody', Identity: FUZZED_IDENTITY, Users: [APP.id] })).status).toBe(200);
  await eventually(async () => ((await api('GET', '/Provisioning/V1/Agents/bot')).json.State === 2 ? true : undefined), 20_000, 'the agent to be Active');
  const alice = sandbox.identities.get('alice')!;
  const room = (await hostCall(host, sandbox, 'GET', '/Provisioning/V1/Channels?query=sandbox&agent=bot', { token: admin })).json[0].Id as string;
  ids.roomId = room.slice('room:'.length);
  ids.roomRaw = room;
  ids.room = encodeURIComponent(room);
  expect((await api('PUT', `/Provisioning/V1/Agents/bot/Channels/${ids.room}`)).json.State).toBe(2);
  ids.doomedChannel = encodeURIComponent(`user:${alice.userId}`);
  expect((await api('PUT', `/Provisioning/V1/Agents/fuzzed/Channels/${ids.doomedChannel}`)).status).toBe(200);
  expect((await api('PUT', '/Provisioning/V1/Agents/fuzzed/MetaData/doomed', 'x')).status).toBe(200);
  expect((await api('PUT', '/Provisioning/V1/Throttles/known', { Type: 2, Threshold: 100_000, Agents: ['fuzzed'] })).status).toBe(200);
  expect((await api('PUT', '/Provisioning/V1/Throttles/doomed', { Type: 2, Threshold: 1, Agents: [] })).status).toBe(200);
  ids.superToken = admin;
  ids.userToken = await tokenFor(host, sandbox, APP.username, APP.password, 'bot');
  const sent = await hostCall(host, sandbox, 'POST', `/Collaboration/V1/Channels/${ids.room}/Messages`, { token: ids.userToken, json: { Text: 'a known message' } });
  expect(sent.status).toBe(200);
  knownMessageId = sent.json.Id;
  ids.token = sent.json.Token;
  const events = await eventually(async () => {
    const e = (await hostCall(host, sandbox, 'GET', '/Collaboration/V1/Events?last-event=0', { token: ids.userToken! })).json as Array<{ InstanceId: string }>;
    return e.length > 0 ? e : undefined;
  });
  ids.instance = events[0]!.InstanceId;
  knownAgent = (await api('GET', '/Provisioning/V1/Agents/bot')).json;
  knownChannels = (await hostCall(host, sandbox, 'GET', '/Collaboration/V1/Channels', { token: ids.userToken })).json;
  knownUsers = (await api('GET', `/Provisioning/V1/Users/${APP.id}`)).json;
  knownThrottle = (await api('GET', '/Provisioning/V1/Throttles/known')).json;
}, 60_000);

afterAll(async () => {
  agent?.destroy();
  await host?.close();
  await sandbox?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

const hintOf = (r: RouteInfo) => ROUTES.find((h) => h.method === r.method && h.pattern === r.pattern);

describe('the route list', () => {
  it('is the host\'s own registration, and every route in it has fuzz hints (and no hint names a route that is gone)', () => {
    expect(host.routes.length).toBeGreaterThan(30);
    expect(host.routes.filter((r) => hintOf(r) === undefined).map((r) => `${r.method} ${r.pattern}`)).toEqual([]);
    const registered = new Set(host.routes.map((r) => `${r.method} ${r.pattern}`));
    expect(ROUTES.map((h) => `${h.method} ${h.pattern}`).filter((h) => !registered.has(h))).toEqual([]);
  });
});

describe.concurrent('bad input to each route gets a 4xx {code, message} (or a 503 with Retry-After), never a 500 or a hang', () => {
  for (const info of host.routes) {
    it(`${info.method} ${info.pattern}`, async () => {
      const route = hintOf(info);
      if (route === undefined) throw new Error(`no fuzz hints for ${info.method} ${info.pattern}: add them to ROUTES`);
      await fuzzRoute(route);
      expect(sentTo.get(`${info.method} ${info.pattern}`)).toBeGreaterThanOrEqual(CASES_PER_ROUTE);
    }, SLOW ? 600_000 : 120_000);
  }
});

describe('wrong methods and unknown paths', () => {
  it('answers 405 with an Allow header for every method a path does not serve, and 404 for unknown paths', async () => {
    const served = (path: string) => new Set(ROUTES.filter((r) => {
      const want = r.pattern.split('/');
      const got = path.split('/');
      return want.length === got.length && want.every((w, i) => w.startsWith(':') || w === got[i]);
    }).map((r) => r.method));
    for (const route of ROUTES) {
      const path = fill(route.path);
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        if (served(path).has(method)) continue;
        const a = await sendChecked(undefined, { method, path, headers: credentials(route.auth) });
        expect(a.status, `${method} ${route.pattern}`).toBe(405);
        expect(String(a.headers.allow).split(', ').sort()).toEqual([...served(path)].sort());
      }
    }
    for (const path of ['/', '/Collaboration', '/Collaboration/V2/Channels', '/collaboration/v1/channels', '/Collaboration/V1/Channels/a/b/c', '/Provisioning/V1/Agents/bot/Channels/a/b', '/%', `/Provisioning/${'x'.repeat(8000)}`]) {
      for (const method of ['GET', 'POST', 'DELETE']) expect((await sendChecked(undefined, { method, path, headers: credentials('user'), body: '{}', contentType: 'application/json' })).status, `${method} ${path}`).toBe(404);
    }
  });
});

describe('dot segments', () => {
  it('are refused with a 400, not resolved: DELETE …/Agents/{id}/Channels/.. does not delete the agent', async () => {
    for (const path of ['/Provisioning/V1/Agents/fuzzed/Channels/..', '/Provisioning/V1/Agents/fuzzed/MetaData/.', '/Provisioning/V1/Agents/fuzzed/Channels/%2E%2E', '/Provisioning/V1/Users/./doomed']) {
      const a = await sendChecked(undefined, { method: 'DELETE', path, headers: credentials('super') });
      expect(a.status, path).toBe(400);
    }
    expect((await sendChecked(undefined, { method: 'GET', path: '/Provisioning/V1/Agents/fuzzed', headers: credentials('super') })).status).toBe(200);
  });
});

describe('afterwards', () => {
  it('still serves a new client, with what was stored before intact, and logged no internal error', async () => {
    expect(internalErrors).toEqual([]);
    expect(requests).toBeGreaterThan(2000);
    // A new login (from an address the fuzz's failed logins did not back off).
    const login = await loginFrom('127.0.0.2', APP.username, APP.password, 'bot');
    expect(login.status).toBe(200);
    const token = login.json as string;
    const admin = (await loginFrom('127.0.0.3', SUPER_USER.username, SUPER_USER.password, '')).json as string;
    const call = (method: string, path: string, t: string, body?: unknown) => hostCall(host, sandbox, method, path, { token: t, ...(body === undefined ? {} : { json: body }) });
    expect((await call('GET', '/Collaboration/V1/Channels', token)).json).toEqual(knownChannels);
    const history = (await call('GET', `/Collaboration/V1/Channels/${ids.room}/Messages?take=500`, token)).json as Array<{ Id: string; Text: string }>;
    expect(history.find((m) => m.Id === knownMessageId)?.Text).toBe('a known message');
    expect((await call('POST', `/Collaboration/V1/Channels/${ids.room}/Messages`, token, { Text: 'after the fuzz' })).status).toBe(200);
    const events = (await call('GET', '/Collaboration/V1/Events?last-event=0&types=message&regex=known', token)).json as Array<{ Content: string }>;
    expect(events.map((e) => e.Content)).toContain('a known message');
    const agentNow = (await call('GET', '/Provisioning/V1/Agents/bot', admin)).json;
    expect(agentNow).toEqual(knownAgent);
    expect((await call('GET', `/Provisioning/V1/Users/${APP.id}`, admin)).json).toEqual(knownUsers);
    expect((await call('GET', '/Provisioning/V1/Throttles/known', admin)).json).toEqual(knownThrottle);
    expect((await call('GET', '/Provisioning/V1/Agents/bot/MetaData/known', admin)).json).toBe('value');
  });
});
