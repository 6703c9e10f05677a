// The host's configuration file: defaults, relative paths, and INVALID_CONFIG naming the key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TUNABLES, loadHostConfig, resolveHostConfig } from '../../../src/agent-host/config.js';
import { hashPassword } from '../../../src/agent-host/password.js';
import { InvalidConfigError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'agent-host-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the host configuration', () => {
  it('reads YAML with defaults, resolving paths relative to the file', async () => {
    const hash = await hashPassword('pw-pw-pw-pw');
    const file = join(dir, 'host.yaml');
    writeFileSync(file, `superUser: {username: admin, passwordHash: "${hash}"}\ndataDir: data\ntls: {certificate: c.pem, privateKey: k.pem}\nsymphony:\n  host: pod.example\n  ssl: {trustStore: {path: ca.pem}}\ntunables: {eventsWaitMs: 1000}\n`);
    const config = loadHostConfig(file);
    expect(config).toEqual({
      path: file, host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), tls: { certificatePath: join(dir, 'c.pem'), privateKeyPath: join(dir, 'k.pem') },
      superUser: { username: 'admin', passwordHash: hash }, symphony: { host: 'pod.example', ssl: { trustStore: { path: join(dir, 'ca.pem') } } },
      tunables: { ...DEFAULT_TUNABLES, eventsWaitMs: 1000 },
    });
  });

  it('names the key of every mistake, and never echoes a password', async () => {
    const hash = await hashPassword('pw-pw-pw-pw');
    const base = { superUser: { username: 'a', passwordHash: hash }, symphony: {} };
    const key = (doc: unknown) => {
      try {
        resolveHostConfig(doc, dir);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidConfigError);
        return (err as InvalidConfigError).key;
      }
      throw new Error('expected INVALID_CONFIG');
    };
    expect(key({ ...base, superUser: { username: 'a', passwordHash: 'secret-password' } })).toBe('superUser.passwordHash');
    expect(key({ ...base, superUser: { username: 'a', password: 'secret-password' } })).toBe('superUser.password');
    expect(key({ ...base, prot: 1 })).toBe('prot');
    expect(key({ ...base, port: 70000 })).toBe('port');
    expect(key({ ...base, symphony: { bot: { username: 'x' } } })).toBe('symphony.bot');
    expect(key({ ...base, tunables: { eventsWaitMs: -1 } })).toBe('tunables.eventsWaitMs');
    expect(key({ ...base, tunables: { nope: 1 } })).toBe('tunables.nope');
    expect(key({ symphony: {} })).toBe('superUser');
    expect(key([])).toBe('(document)');
    try {
      resolveHostConfig({ ...base, superUser: { username: 'a', passwordHash: 'secret-password' } }, dir);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-password');
    }
    expect(() => loadHostConfig(join(dir, 'missing.yaml'))).toThrow(InvalidConfigError);
  });

  it('reads OBO apps, the key by a file relative to it or by an environment variable', async () => {
    const hash = await hashPassword('pw-pw-pw-pw');
    const file = join(dir, 'obo.yaml');
    writeFileSync(file, `superUser: {username: admin, passwordHash: "${hash}"}\nsymphony: {host: pod.example}\noboApps:\n  - appId: crm\n    privateKey: keys/crm.pem\n  - {appId: desk, privateKeyEnv: DESK_APP_KEY}\n`);
    expect(loadHostConfig(file).oboApps).toEqual([{ appId: 'crm', privateKeyPath: join(dir, 'keys', 'crm.pem') }, { appId: 'desk', privateKeyEnv: 'DESK_APP_KEY' }]);
    expect(resolveHostConfig({ superUser: { username: 'a', passwordHash: hash }, symphony: {} }, dir)).not.toHaveProperty('oboApps');
  });

  it('names the field of every mistake in oboApps, and holds no key material', async () => {
    const base = { superUser: { username: 'a', passwordHash: await hashPassword('pw-pw-pw-pw') }, symphony: {} };
    const refusal = (oboApps: unknown) => {
      try {
        resolveHostConfig({ ...base, oboApps }, dir);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidConfigError);
        return [(err as InvalidConfigError).key, (err as InvalidConfigError).message];
      }
      throw new Error('expected INVALID_CONFIG');
    };
    expect(refusal({ appId: 'crm' })[0]).toBe('oboApps');
    expect(refusal(['crm'])[0]).toBe('oboApps[0]');
    expect(refusal([{ privateKey: 'k.pem' }])[0]).toBe('oboApps[0].appId');
    expect(refusal([{ appId: '', privateKey: 'k.pem' }])[0]).toBe('oboApps[0].appId');
    expect(refusal([{ appId: 'crm' }])).toEqual(['oboApps[0]', expect.stringContaining('exactly one of privateKey (a PEM file) and privateKeyEnv')]);
    expect(refusal([{ appId: 'crm', privateKey: 'k.pem', privateKeyEnv: 'K' }])[0]).toBe('oboApps[0]');
    expect(refusal([{ appId: 'crm', privateKey: 'k.pem' }, { appId: 'crm', privateKeyEnv: 'K' }])).toEqual(['oboApps[1].appId', expect.stringContaining('configured twice')]);
    expect(refusal([{ appId: 'crm', privateKey: 7 }])[0]).toBe('oboApps[0].privateKey');
    expect(refusal([{ appId: 'crm', privateKeyEnv: '' }])[0]).toBe('oboApps[0].privateKeyEnv');
    const pem = '-----BEGIN PRIVATE KEY-----secret-material';
    const [key, message] = refusal([{ appId: 'crm', privateKeyContent: pem }]);
    expect(key).toBe('oboApps[0].privateKeyContent');
    expect(message).not.toContain('secret-material');
  });
});
