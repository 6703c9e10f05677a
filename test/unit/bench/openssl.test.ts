import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { limitAt, measureLimit, parseSpeedOutput, speedArgs } from '../../../src/bench/openssl.js';
import { useFakeOpenssl } from '../../helpers/fake-openssl.js';

// stdout of `openssl speed -evp aes-256-gcm -aead -bytes 16384 -seconds 1 -elapsed -mr` (OpenSSL 3.0.19, linux-x64).
const ONE_PROCESS = '+H:16384\n+F:25:AES-256-GCM:2850701312.00\n';
// The same with `-multi 2`: the children's lines prefixed `Got:`, then the parent's sum.
const MULTI = [
  'Forked child 0', 'Forked child 1', 'Got: +H:16384 from 0', 'Got: +F:25:AES-256-GCM:1062993920.00 from 0',
  'Got: +H:16384 from 1', 'Got: +F:25:AES-256-GCM:1342660525.25 from 1', '+F:25:AES-256-GCM:2405654445.25', '',
].join('\n');
// Without -aead and -bytes: every default size, a value each (`openssl speed -evp aes-256-gcm -seconds 1 -elapsed -mr`).
const ALL_SIZES = '+H:16:64:256:1024:8192:16384\n+F:25:AES-256-GCM:36331584.00:151683456.00:439192576.00:1108231168.00:2936127488.00:3872751616.00\n';
// Human-readable output (no -mr): not parsed.
const HUMAN = "The 'numbers' are in 1000s of bytes per second processed.\ntype          16384 bytes\nAES-256-GCM    2831651.68k\n";

describe('parseSpeedOutput', () => {
  it('reads bytes/s for the size asked from one process, from -multi (the parent\'s sum) and from a list of sizes', () => {
    expect(parseSpeedOutput(ONE_PROCESS, 16384)).toBe(2850701312);
    expect(parseSpeedOutput(MULTI, 16384)).toBe(2405654445.25);
    expect(parseSpeedOutput(ONE_PROCESS.replace(/\n/g, '\r\n'), 16384)).toBe(2850701312);
    expect(parseSpeedOutput(ALL_SIZES, 1024)).toBe(1108231168);
    expect(parseSpeedOutput(ALL_SIZES, 16)).toBe(36331584);
    expect(parseSpeedOutput('+F:25:AES-256-GCM:123.5\n', 64)).toBe(123.5); // one value and no header
  });

  it('gives undefined for output without the figure asked: human-readable, empty, another size, zero, garbage', () => {
    expect(parseSpeedOutput(HUMAN, 16384)).toBeUndefined();
    expect(parseSpeedOutput('', 16384)).toBeUndefined();
    expect(parseSpeedOutput(ONE_PROCESS, 64)).toBeUndefined();
    expect(parseSpeedOutput(ALL_SIZES, 1048576)).toBeUndefined();
    expect(parseSpeedOutput('+H:64\n+F:25:AES-256-GCM:0.00\n', 64)).toBeUndefined();
    expect(parseSpeedOutput('+H:64\n+F:25:AES-256-GCM:abc\n', 64)).toBeUndefined();
    expect(parseSpeedOutput('Got: +F:25:AES-256-GCM:1062993920.00 from 0\n', 16384)).toBeUndefined(); // a child's line only
    expect(parseSpeedOutput('+F:25:a:1:2\n', 64)).toBeUndefined(); // two values, no header to pick one
  });
});

describe('speedArgs', () => {
  it('asks for AES-256-GCM in the AEAD sequence at one size, wall-clock, machine-readable; -decrypt and -multi as needed', () => {
    expect(speedArgs({ direction: 'encrypt', bytes: 64 }, 1)).toEqual(['speed', '-evp', 'aes-256-gcm', '-aead', '-bytes', '64', '-seconds', '1', '-elapsed', '-mr']);
    expect(speedArgs({ direction: 'decrypt', bytes: 65536 }, 4, 2).slice(4)).toEqual(['-bytes', '65536', '-seconds', '2', '-elapsed', '-mr', '-decrypt', '-multi', '4']);
  });
});

describe.skipIf(process.platform === 'win32')('measureLimit', () => {
  const openssl = useFakeOpenssl();

  it('measures every point on one process and on all cores, in order, and reports the version', async () => {
    const lines: string[] = [];
    const limit = await measureLimit([{ direction: 'encrypt', bytes: 64 }, { direction: 'decrypt', bytes: 1024 }], { command: openssl().command, cores: 2, progress: (l) => lines.push(l) });
    expect(limit).toEqual({
      version: 'OpenSSL 9.9.9 fake', skipped: null, cores: 2,
      values: [{ direction: 'encrypt', bytes: 64, oneCore: 64_000, allCores: 128_000 }, { direction: 'decrypt', bytes: 1024, oneCore: 1_024_000, allCores: 2_048_000 }],
    });
    expect(limitAt(limit, { direction: 'decrypt', bytes: 1024 })?.oneCore).toBe(1_024_000);
    expect(limitAt(limit, { direction: 'encrypt', bytes: 1024 })).toBeUndefined();
    const calls = await openssl().calls();
    expect(calls.slice(-4)).toEqual([
      speedArgs({ direction: 'encrypt', bytes: 64 }, 1).join(' '), speedArgs({ direction: 'encrypt', bytes: 64 }, 2).join(' '),
      speedArgs({ direction: 'decrypt', bytes: 1024 }, 1).join(' '), speedArgs({ direction: 'decrypt', bytes: 1024 }, 2).join(' '),
    ]);
    expect(lines).toEqual([
      'limit: openssl speed, AES-256-GCM encrypt 64 B, 1 core', 'limit: openssl speed, AES-256-GCM encrypt 64 B, 2 cores',
      'limit: openssl speed, AES-256-GCM decrypt 1 KiB, 1 core', 'limit: openssl speed, AES-256-GCM decrypt 1 KiB, 2 cores',
    ]);
  });

  it('skips the all-cores run on one core', async () => {
    const limit = await measureLimit([{ direction: 'encrypt', bytes: 64 }], { command: openssl().command, cores: 1 });
    expect(limit.values).toEqual([{ direction: 'encrypt', bytes: 64, oneCore: 64_000, allCores: null }]);
  });

  it('is skipped, with the reason, when openssl is absent or fails', async () => {
    const absent = await measureLimit([{ direction: 'encrypt', bytes: 64 }], { command: '/nonexistent/openssl', cores: 2 });
    expect(absent).toEqual({ version: null, skipped: '/nonexistent/openssl not found on the PATH', cores: 2, values: [] });
    process.env.FAKE_OPENSSL_FAIL = '1';
    try {
      const failing = await measureLimit([{ direction: 'encrypt', bytes: 64 }], { command: openssl().command, cores: 2 });
      expect(failing.version).toBe('OpenSSL 9.9.9 fake');
      expect(failing.values).toEqual([]);
      expect(failing.skipped).toMatch(/^`.*openssl speed -evp aes-256-gcm .*` failed: speed: Unknown option or cipher: aes-256-gcm$/);
    } finally {
      delete process.env.FAKE_OPENSSL_FAIL;
    }
  });

  const realOpenssl = (() => {
    try {
      return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  })();

  it.skipIf(realOpenssl === undefined)('parses the output of this machine\'s openssl (one 1 s run)', async () => {
    const limit = await measureLimit([{ direction: 'encrypt', bytes: 1024 }], { cores: 1 });
    expect(limit.skipped).toBeNull();
    expect(limit.version).toBe(realOpenssl);
    expect(limit.values[0]!.oneCore).toBeGreaterThan(0);
  });
});
