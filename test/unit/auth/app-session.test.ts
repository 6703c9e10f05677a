// Which users an OBO session can name (src/auth/app-session.ts): a positive user id or a username, nothing else.
// The authentications themselves run against the sandbox (test/integration/obo/authentication.test.ts).
import { describe, expect, it } from 'vitest';
import { nameOf, oboUser } from '../../../src/auth/app-session.js';

describe('oboUser', () => {
  it('takes a positive user id or a username, and names it back as given', () => {
    expect(oboUser('user', 13469017441257)).toEqual({ userId: 13469017441257 });
    expect(oboUser('user', 'alice')).toEqual({ username: 'alice' });
    expect(oboUser('user', '42')).toEqual({ username: '42' });
    expect(nameOf({ userId: 7 })).toBe(7);
    expect(nameOf({ username: 'bob' })).toBe('bob');
  });

  it('refuses anything else, naming the parameter', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53, '', 'a\nb', 'x'.repeat(257), null, undefined, {}]) {
      expect(() => oboUser('user', bad as never), String(bad)).toThrow(/Invalid user: expected a user id \(a positive integer\) or a username/);
    }
  });
});
