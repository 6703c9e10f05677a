// The partner callback receiver (src/obo/partner-callback.ts), served by a real Node HTTP server on 127.0.0.1 and
// called as a fetch-style handler: the key, the body checks (nothing stored on a refusal), replays, oversize bodies,
// a registry that cannot write, and the key compared without regard to its length.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPartnerCallbackHandler, parsePartnerEvent } from '../../../src/obo/partner-callback.js';
import { TenantRegistry, type PartnerEvent } from '../../../src/obo/tenants.js';

const KEY = 'k3y-for-the-callback';
const body: PartnerEvent = {
  appId: 'crm', companyId: '196', eventType: 'appEnabled',
  payload: { podUrl: 'https://acme.symphony.com/pod', sessionAuthUrl: 'https://acme-api.symphony.com/sessionauth', agentUrl: 'https://acme.symphony.com/agent' },
};

let registry: TenantRegistry;
let server: Server;
let base: string;
const events: PartnerEvent[] = [];
const errors: unknown[] = [];

function post(raw: string | Buffer, headers: Record<string, string> = { 'x-api-key': KEY }, method = 'POST'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/callback`, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(raw);
  });
}

beforeAll(async () => {
  registry = await TenantRegistry.open(':memory:');
  const handler = createPartnerCallbackHandler({ apiKey: KEY, store: registry, appId: 'crm', maxBodyBytes: 4096, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  server = createServer(handler.node);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  registry.close();
});
beforeEach(() => {
  events.length = 0;
  errors.length = 0;
});

describe('the partner callback over a Node server', () => {
  it('records an event, and a replay changes nothing', async () => {
    expect(await post(JSON.stringify(body))).toEqual({ status: 200, json: { status: 'ok', changed: true } });
    expect(registry.get('196')).toMatchObject({ appId: 'crm', agentUrl: 'https://acme.symphony.com/agent' });
    expect(await post(JSON.stringify(body))).toEqual({ status: 200, json: { status: 'ok', changed: false } });
    expect(events).toHaveLength(2);
  });

  it('refuses a missing or wrong key before reading the body, and stores nothing', async () => {
    const other = { ...body, companyId: '500' };
    for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': `${KEY}x` }, { 'x-api-key': KEY.slice(0, -1) }]) {
      const reply = await post(JSON.stringify(other), headers);
      expect(reply).toEqual({ status: 401, json: { code: 401, message: 'Missing or wrong X-API-KEY' } });
    }
    expect(registry.get('500')).toBeUndefined();
  });

  it('refuses bodies that are not the callback, naming the field, and stores nothing', async () => {
    const bad: Array<[string, RegExp]> = [
      ['not json', /not JSON/],
      ['[]', /Invalid body/],
      [JSON.stringify({ ...body, companyId: 'x', eventType: 'appDisabled' }), /Invalid eventType/],
      [JSON.stringify({ ...body, companyId: 'x', appId: '' }), /Invalid appId/],
      [JSON.stringify({ ...body, companyId: 'x', payload: { ...body.payload, podUrl: 'http://acme/pod' } }), /Invalid payload\.podUrl/],
      [JSON.stringify({ ...body, companyId: 'x', payload: { ...body.payload, sessionAuthUrl: 'https://u:p@acme/sessionauth' } }), /Invalid payload\.sessionAuthUrl/],
      [JSON.stringify({ ...body, companyId: 'x', eventType: 'agentRegistered', payload: { ...body.payload, agentUrl: undefined } }), /Invalid payload\.agentUrl/],
      [JSON.stringify({ ...body, companyId: 'x', appId: 'someone-else' }), /another app than crm/],
      [JSON.stringify({ ...body, companyId: 'x', payload: 'x' }), /Invalid payload/],
    ];
    for (const [raw, message] of bad) {
      const reply = await post(raw);
      expect(reply.status, raw).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    expect(registry.get('x')).toBeUndefined();
  });

  it('answers 405 to another method and 413 beyond the size limit', async () => {
    expect((await post('', { 'x-api-key': KEY }, 'GET')).status).toBe(405);
    expect((await post(Buffer.alloc(5000, 0x20))).status).toBe(413);
  });

  it('answers 500 when the registry cannot write, and keeps serving', async () => {
    const closed = await TenantRegistry.open(':memory:');
    closed.close();
    const handler = createPartnerCallbackHandler({ apiKey: KEY, store: closed, onError: (e) => errors.push(e) });
    const reply = await handler.fetch(new Request('https://app.example/cb', { method: 'POST', headers: { 'x-api-key': KEY }, body: JSON.stringify(body) }));
    expect(reply.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect((await post(JSON.stringify({ ...body, companyId: '197' }))).status).toBe(200);
  });
});

describe('the partner callback as a fetch handler', () => {
  it('records, refuses and replays like the Node one', async () => {
    const handler = createPartnerCallbackHandler({ apiKey: KEY, store: registry });
    const call = (init: RequestInit) => handler.fetch(new Request('https://app.example/cb', init));
    const event = { ...body, companyId: 42 };
    const first = await call({ method: 'POST', headers: { 'x-api-key': KEY }, body: JSON.stringify(event) });
    expect([first.status, await first.json()]).toEqual([200, { status: 'ok', changed: true }]);
    expect(registry.get('42')?.companyId).toBe('42');
    expect((await call({ method: 'POST', headers: { 'x-api-key': 'nope' }, body: JSON.stringify(event) })).status).toBe(401);
    expect((await call({ method: 'POST', headers: { 'x-api-key': KEY }, body: '{' })).status).toBe(400);
    expect((await call({ method: 'PUT', headers: { 'x-api-key': KEY }, body: '{}' })).headers.get('allow')).toBe('POST');
    expect((await call({ method: 'POST', headers: { 'x-api-key': KEY }, body: 'x'.repeat(70_000) })).status).toBe(413);
  });

  it('refuses options it cannot work with', () => {
    expect(() => createPartnerCallbackHandler({ apiKey: '', store: registry })).toThrow(/options\.apiKey/);
    expect(() => createPartnerCallbackHandler({ apiKey: KEY, store: {} as TenantRegistry })).toThrow(/options\.store/);
    expect(() => createPartnerCallbackHandler({ apiKey: KEY, store: registry, maxBodyBytes: 0 })).toThrow(/options\.maxBodyBytes/);
  });
});

describe('parsePartnerEvent', () => {
  it('keeps the known fields, drops trailing slashes, ignores unknown fields, takes a numeric company id', () => {
    expect(parsePartnerEvent({ ...body, companyId: 196, extra: 1, payload: { ...body.payload, podUrl: 'https://acme.symphony.com/pod/', baseUrl: 'https://acme.symphony.com', future: true } }))
      .toEqual({ ...body, payload: { ...body.payload, baseUrl: 'https://acme.symphony.com' } });
  });
});
