/**
 * Repository hygiene: what git tracks holds no private key (outside test/fixtures/) and no absolute path of the
 * machine that produced it (a home or work directory), so that the output of a local `allegro sandbox --data .` run
 * can never land unnoticed. Reads `git ls-files`; outside a git checkout (an unpacked tarball) it skips with a notice.
 */
import { describe, expect, it } from 'vitest';
import { gitFiles, readText as read } from '../helpers/repository.js';

const files = gitFiles();
if (files === undefined) console.warn('hygiene: not a git checkout (or no git); the repository hygiene tests are skipped');

// Built from parts so that this file does not match itself.
const DASHES = '-'.repeat(5);
/** A PEM private-key block with content: BEGIN line, base64 lines, END line. */
const PRIVATE_KEY_BLOCK = new RegExp(`${DASHES}BEGIN ([A-Z0-9 ]*)PRIVATE KEY${DASHES}\\s*[\\r\\n]+(?:[A-Za-z0-9+/=:, -]+[\\r\\n]+)+${DASHES}END \\1PRIVATE KEY${DASHES}`);
/** An absolute path under a home or work directory: /home/<user>, /Users/<user>, /root or /work. */
const MACHINE_PATH = new RegExp(`(^|[\\s"'\`(=:,\\[])/(home|Users)/[A-Za-z0-9._-]+/|(^|[\\s"'\`(=:,\\[])/(root|work)/`, 'm');

describe.skipIf(files === undefined)('tracked files', () => {
  it('hold no private-key PEM block outside test/fixtures/', () => {
    const offenders = (files ?? []).filter((f) => !f.startsWith('test/fixtures/') && PRIVATE_KEY_BLOCK.test(read(f) ?? ''));
    expect(offenders).toEqual([]);
  });

  it('hold no PKCS#12 or key files at all outside test/fixtures/', () => {
    const offenders = (files ?? []).filter((f) => !f.startsWith('test/fixtures/') && /\.(p12|pfx|key)$|(^|\/)[^/]*-key\.pem$/.test(f));
    expect(offenders).toEqual([]);
  });

  it('hold no absolute home or work directory path', () => {
    const offenders = (files ?? []).filter((f) => f !== 'package-lock.json' && MACHINE_PATH.test(read(f) ?? ''));
    expect(offenders).toEqual([]);
  });

  it('the detectors find what they are meant to find', () => {
    const pem = `${DASHES}BEGIN PRIVATE KEY${DASHES}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n${DASHES}END PRIVATE KEY${DASHES}\n`;
    expect(PRIVATE_KEY_BLOCK.test(pem)).toBe(true);
    expect(PRIVATE_KEY_BLOCK.test(pem.replace(/PRIVATE KEY/g, 'RSA PRIVATE KEY'))).toBe(true);
    expect(PRIVATE_KEY_BLOCK.test(`expect(pem).toContain('${DASHES}BEGIN PRIVATE KEY${DASHES}')`)).toBe(false);
    // Machine paths built from parts too, for the same reason.
    expect(MACHINE_PATH.test(`"privateKeyPath": "/${'work'}/main/identities/bob.pem"`)).toBe(true);
    expect(MACHINE_PATH.test(`cd /${'home'}/alice/project`)).toBe(true);
    expect(MACHINE_PATH.test('"caCertPath":"/tmp/allegro-sandbox-x/tls/ca.pem"')).toBe(false);
    expect(MACHINE_PATH.test('see docs/work/notes.md')).toBe(false);
  });
});
