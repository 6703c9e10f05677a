// The store's errors are AllegroErrors (docs/errors.md "The agent host"): one base class, a code from the closed
// union and its classification — and no module of the agent host defines an error class outside that base class.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdentityUnavailableError } from '../../../../src/agent-host/identity.js';
import { ConflictError, LeaseLostError } from '../../../../src/agent-host/store/types.js';
import { AllegroError } from '../../../../src/errors.js';

const AGENT_HOST = resolve(import.meta.dirname, '../../../../src/agent-host');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the agent host\'s errors', () => {
  it('a lost lease is a CONFLICT AllegroError, not retryable, naming the agent only', () => {
    const err = new LeaseLostError('a1');
    expect(err).toBeInstanceOf(AllegroError);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(err).toMatchObject({ code: 'CONFLICT', retryable: false, retryWhen: 'never', name: 'LeaseLostError', agentId: 'a1' });
    expect(err.message).toBe('The lease on agent a1 is held by another host');
  });

  it('a taken user name is a CONFLICT AllegroError', () => {
    const err = new ConflictError('The user name app is taken by user u1');
    expect(err).toBeInstanceOf(AllegroError);
    expect(err).toMatchObject({ code: 'CONFLICT', retryable: false, name: 'ConflictError', message: 'The user name app is taken by user u1' });
  });

  it('an identity that cannot log on as configured is an INVALID_CONFIG AllegroError', () => {
    const err = new IdentityUnavailableError('The environment variable KEY is not set');
    expect(err).toBeInstanceOf(AllegroError);
    expect(err).toMatchObject({ code: 'INVALID_CONFIG', retryable: false, name: 'IdentityUnavailableError' });
  });

  it('no module of src/agent-host defines an error class outside AllegroError', () => {
    const offenders = sources(AGENT_HOST).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/class (\w+) extends (?:Error|TypeError|RangeError)\b/g)].map((m) => `${file.slice(AGENT_HOST.length + 1)}: ${m[1]}`));
    expect(offenders).toEqual([]);
  });
});
