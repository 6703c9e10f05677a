// The sandbox's partner callback delivery (src/sandbox/partner-delivery.ts) against a real HTTP receiver on
// 127.0.0.1: the body and key it sends, retries with backoff until a 2xx, the bound on attempts, a receiver that is
// not listening, close() abandoning the retries, and log lines without the key.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartnerDelivery, type PartnerCallbackBody } from '../../../src/sandbox/partner-delivery.js';

const body: PartnerCallbackBody = {
  appId: 'crm', companyId: '196', eventType: 'appEnabled',
  payload: { podUrl: 'https://127.0.0.1:1/pod', sessionAuthUrl: 'https://127.0.0.1:1/sessionauth', agentUrl: 'https://127.0.0.1:1/agent', baseUrl: 'https://127.0.0.1:1', loginUrl: 'https://127.0.0.1:1/login' },
};
let server: Server;
let url: string;
let failures = 0;
const received: Array<{ key: string | undefined; body: unknown }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ key: req.headers['x-api-key'] as string | undefined, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(failures-- > 0 ? 503 : 200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('PartnerDelivery', () => {
  it('retries until the receiver answers 2xx, with the body and key, logging every attempt without the key', async () => {
    failures = 2;
    received.length = 0;
    const lines: string[] = [];
    const delivery = new PartnerDelivery({ initialDelayMs: 10 }, (l) => lines.push(l));
    await delivery.send(url, 'secret-key', body);
    expect(received).toHaveLength(3);
    expect(received.every((r) => r.key === 'secret-key')).toBe(true);
    expect(received[2]!.body).toEqual(body);
    expect(delivery.attempts().map((a) => [a.attempt, a.status, a.error])).toEqual([[1, 503, 'HTTP 503'], [2, 503, 'HTTP 503'], [3, 200, undefined]]);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/attempt 3\/6 delivered \(HTTP 200\)/);
    expect(lines.join('\n')).not.toContain('secret-key');
  });

  it('gives up after its attempts, and says so', async () => {
    failures = 100;
    const lines: string[] = [];
    const delivery = new PartnerDelivery({ attempts: 3, initialDelayMs: 5 }, (l) => lines.push(l));
    await delivery.send(url, 'k', body);
    expect(delivery.attempts()).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/given up after 3 attempts/);
    failures = 0;
  });

  it('records a receiver that is not there as status 0', async () => {
    const delivery = new PartnerDelivery({ attempts: 2, initialDelayMs: 5 });
    await delivery.send('http://127.0.0.1:9/nothing', 'k', body);
    expect(delivery.attempts().map((a) => a.status)).toEqual([0, 0]);
    expect(delivery.attempts()[0]!.error).toBeTruthy();
  });

  it('abandons waiting retries on close()', async () => {
    failures = 100;
    const delivery = new PartnerDelivery({ attempts: 5, initialDelayMs: 60_000 });
    const sent = delivery.send(url, 'k', body);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await delivery.close();
    await sent;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(delivery.attempts()).toHaveLength(1);
    failures = 0;
  });
});
