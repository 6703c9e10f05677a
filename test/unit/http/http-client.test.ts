// newTraceId: 6 base62 characters from a pooled CSPRNG buffer, fresh across many refills of the pool. (HttpClient
// itself is tested over real HTTPS in test/integration/http/http-client.test.ts.)
import { describe, expect, it } from 'vitest';
import { newTraceId } from '../../../src/http/http-client.js';

describe('newTraceId', () => {
  it('gives 6 characters of [0-9A-Za-z], distinct across many refills of its pool, using every character', () => {
    const ids = Array.from({ length: 5000 }, () => newTraceId());
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{6}$/);
    expect(new Set(ids).size).toBeGreaterThan(4990); // 62^6 ≈ 5.7e10: a handful of collisions at most
    expect(new Set(ids.join('')).size).toBe(62);
  });
});
