// The renewal rule of a token (src/auth/renewable-token.ts): one login however many callers wait, a refusal of a
// replaced token needs no login, at most one login per minimum interval, a failed login fails its waiters and the
// next call logs in again. No I/O: the login is a function here (the HTTP side: test/integration/obo/).
import { describe, expect, it } from 'vitest';
import { RenewableToken } from '../../../src/auth/renewable-token.js';

function counter(options: { fail?: () => boolean; delayMs?: number } = {}) {
  let n = 0;
  const login = async () => {
    n++;
    await new Promise((r) => setTimeout(r, options.delayMs ?? 5));
    if (options.fail?.() === true) throw new Error(`login ${n} failed`);
    return `token-${n}`;
  };
  return { login, count: () => n };
}

describe('RenewableToken', () => {
  it('logs in once however many callers ask at the same time, and keeps the token', async () => {
    const c = counter();
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 0 });
    expect(await Promise.all([t.token(), t.token(), t.token()])).toEqual(['token-1', 'token-1', 'token-1']);
    expect(await t.token()).toBe('token-1');
    expect(c.count()).toBe(1);
    expect(t.logins).toBe(1);
  });

  it('renews once for any number of concurrent refusals of the same token', async () => {
    const c = counter();
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 0 });
    const used = await t.token();
    expect(await Promise.all([t.refresh(used), t.refresh(used), t.refresh(used)])).toEqual([true, true, true]);
    expect(await t.token()).toBe('token-2');
    expect(c.count()).toBe(2);
  });

  it('needs no login when the refused token has already been replaced', async () => {
    const c = counter();
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 0 });
    const old = await t.token();
    await t.refresh(old);
    expect(await t.refresh(old)).toBe(true);
    expect(c.count()).toBe(2);
  });

  it('refuses a second login within the minimum interval', async () => {
    let now = 1_000;
    const c = counter();
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 500, now: () => now });
    const first = await t.token();
    expect(await t.refresh(first)).toBe(false);
    now += 500;
    expect(await t.refresh(first)).toBe(true);
    expect(await t.token()).toBe('token-2');
  });

  it('fails every waiter of a failed login, and logs in again on the next call', async () => {
    let failing = true;
    const c = counter({ fail: () => failing });
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 0 });
    const results = await Promise.allSettled([t.token(), t.token()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    failing = false;
    expect(await t.token()).toBe('token-2');
    expect(t.logins).toBe(1);
  });

  it('sends the token in the header it is given, and renews it when that header was refused', async () => {
    const c = counter();
    const t = new RenewableToken({ login: c.login, minRefreshIntervalMs: 0 });
    const hook = t.hook('sessionToken');
    const sent = await hook.headers();
    expect(sent).toEqual({ sessionToken: 'token-1' });
    expect(await hook.onUnauthorized!(sent)).toBe(true);
    expect(await hook.headers()).toEqual({ sessionToken: 'token-2' });
  });
});
