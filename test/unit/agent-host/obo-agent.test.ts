// The host's OBO apps opened from its configuration: the key read from its file or environment variable when the
// host starts, a missing one an INVALID_CONFIG naming the field (never the key).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOboApps } from '../../../src/agent-host/obo-agent.js';
import { InvalidConfigError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'agent-host-obo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const settings = { host: 'pod.example' };

describe('the host\'s OBO apps', () => {
  it('open one app per configured app id, the key from a file or an environment variable', async () => {
    const file = join(dir, 'crm.pem');
    writeFileSync(file, pem);
    const apps = await openOboApps([{ appId: 'crm', privateKeyPath: file }, { appId: 'desk', privateKeyEnv: 'DESK_KEY' }], settings, { DESK_KEY: pem });
    try {
      expect([...apps.keys()]).toEqual(['crm', 'desk']);
      expect(apps.get('desk')!.appId).toBe('desk');
      expect(apps.get('crm')!.config.pod.url).toBe('https://pod.example:443');
      // Nothing authenticated yet: the first agent does.
      expect(apps.get('crm')!.stats).toEqual({ appLogins: 0, userLogins: 0 });
    } finally {
      await Promise.all([...apps.values()].map((a) => a.close()));
    }
  });

  it('refuse an unset variable or an unreadable key file naming the field, without the key', async () => {
    const unset = await openOboApps([{ appId: 'crm', privateKeyEnv: 'NOT_SET' }], settings, {}).catch((err: unknown) => err);
    expect(unset).toBeInstanceOf(InvalidConfigError);
    expect(unset).toMatchObject({ key: 'oboApps[0].privateKeyEnv', message: expect.stringContaining('NOT_SET is not set') });
    const missing = await openOboApps([{ appId: 'crm', privateKeyPath: join(dir, 'missing.pem') }], settings, {}).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(InvalidConfigError);
    const notKey = await openOboApps([{ appId: 'crm', privateKeyEnv: 'K' }], settings, { K: 'not a PEM: secret-value' }).catch((err: unknown) => err);
    expect(notKey).toBeInstanceOf(InvalidConfigError);
    expect((notKey as Error).message).not.toContain('secret-value');
  });
});
