// The cost of logging in is bounded (docs/agent-host.md "Authentication"): POST /Authentication/V1/Tokens runs a
// 16 MiB scrypt per attempt, so at most a few run at once with a bounded queue (503 + Retry-After beyond it), and
// failed attempts back off per username and per remote address (429 + Retry-After) — the same for a username that
// does not exist — while a login from an address with no failures is not held back by others' failures. Plain HTTP on
// loopback; the clients bind distinct 127.0.0.x addresses to be distinct remote addresses.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TUNABLES } from '../../../src/agent-host/config.js';
import { hashPassword } from '../../../src/agent-host/password.js';
import { startAgentHost, type RunningAgentHost } from '../../../src/agent-host/server.js';
import { SUPER_USER } from '../../helpers/agent-host.js';

const VICTIM = { id: 'victim', username: 'victim-user', password: 'victim-password-1' };
let host: RunningAgentHost;
let admin: string;

interface Answer { status: number; retryAfter: string | undefined; json: unknown }

function login(from: string, username: string, password: string, agentId = 'a1'): Promise<Answer> {
  const body = JSON.stringify({ Username: username, Password: password, AgentId: agentId });
  return new Promise((resolve, reject) => {
    const req = request(`${host.url}/Authentication/V1/Tokens`, {
      method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'application/json' }, timeout: 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

async function provision(method: string, path: string, json: unknown): Promise<void> {
  const res = await fetch(`${host.url}${path}`, { method, headers: { authorization: `FCF ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(json) });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  host = await startAgentHost({
    host: '127.0.0.1', port: 0, superUser: { username: SUPER_USER.username, passwordHash: await hashPassword(SUPER_USER.password) },
    symphony: { host: '127.0.0.1', port: 9 }, tunables: { ...DEFAULT_TUNABLES, backoffInitialMs: 60_000, backoffMaxMs: 60_000 },
  }, { log: () => undefined });
  admin = (await login('127.0.0.1', SUPER_USER.username, SUPER_USER.password, '')).json as string;
  await provision('PUT', `/Provisioning/V1/Users/${VICTIM.id}`, { UserName: VICTIM.username, Password: VICTIM.password });
  // An agent the victim may log in to (its identity cannot log on: it stays Activating, which logins do not need).
  await provision('PUT', '/Provisioning/V1/Agents/a1', { UserName: 'nobody', Identity: { Kind: 'rsa', PrivateKeyEnv: 'AGENT_HOST_TEST_NO_SUCH_KEY' }, Users: [VICTIM.id] });
}, 30_000);

afterAll(async () => {
  await host?.close();
});

describe('logging in', () => {
  it('runs a bounded number of scrypt verifications: a flood beyond the queue is answered 503 with Retry-After at once', async () => {
    const answers = await Promise.all(Array.from({ length: 80 }, (_, i) => login('127.0.0.10', `flood-${i}`, 'wrong-password')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 401 || s === 503), statuses.join(',')).toBe(true);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const a of busy) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.json).toEqual({ code: 503, message: expect.any(String) });
    }
    // The host still logs in a client right after.
    expect((await login('127.0.0.11', VICTIM.username, VICTIM.password)).status).toBe(200);
  });

  it('backs failed attempts off per username with 429 and Retry-After, the same whether the username exists or not', async () => {
    for (const [n, username] of [VICTIM.username, 'no-such-user'].entries()) {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await login('127.0.0.20', username, `wrong-password-${i}`)).status);
      expect(statuses, username).toEqual([401, 401, 401, 401, 401, 429, 429]);
      const locked = await login(`127.0.0.2${n + 1}`, username, 'another-wrong-password');
      // Another address that has failed (once, just now) is held back too; the answer says for how long.
      const again = await login(`127.0.0.2${n + 1}`, username, 'another-wrong-password');
      expect([locked.status, again.status]).toEqual([401, 429]);
      expect(Number(again.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(again.json).toEqual({ code: 429, message: expect.any(String) });
    }
    // Even the right password waits on an address that failed...
    expect((await login('127.0.0.20', VICTIM.username, VICTIM.password)).status).toBe(429);
    // ...but a client on an address with no failures logs in: the attacker does not lock the user out.
    expect((await login('127.0.0.29', VICTIM.username, VICTIM.password)).status).toBe(200);
  });

  it('backs failed attempts off per remote address, whichever usernames it tries', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await login('127.0.0.30', `spray-${i}`, 'wrong-password')).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20)).toEqual([429, 429]);
    expect((await login('127.0.0.30', VICTIM.username, VICTIM.password)).status).toBe(429);
    expect((await login('127.0.0.31', VICTIM.username, VICTIM.password)).status).toBe(200);
  });
});
