import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkVectors, formatVectorReport } from '../../../src/cli/commands/vectors.js';
import { vectors } from '../../helpers/vectors.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');
const VECTOR_FILE = join(import.meta.dirname, '../../vectors/symphony-crypto-1.63.2.json');

function clone(): typeof vectors {
  return structuredClone(vectors);
}

describe('checkVectors', () => {
  it('passes every check of the Symphony vector file', async () => {
    const results = await checkVectors(vectors);
    expect(results.map((r) => [r.section, r.cases, r.failed])).toEqual([
      ['transport', 40, 0], ['entityV1', 7, 0], ['entityV2', 7, 0], ['searchTokens', 4, 0],
    ]);
    expect(formatVectorReport(results).split('\n').at(-1)).toBe('196 passed, 0 failed');
  });

  it('fails the checks a corrupted case breaks, and only those', async () => {
    const file = clone();
    const c = file.transport[3]!;
    c.ciphertextV2 = c.ciphertextV2.slice(0, 20) + (c.ciphertextV2[20] === 'A' ? 'B' : 'A') + c.ciphertextV2.slice(21);
    file.entityV1[0]!.ciphertext = file.entityV1[1]!.ciphertext;
    file.searchTokens[2]!.hashedTokens.pop();
    const results = await checkVectors(file);
    const failures = results.flatMap((r) => r.failures);
    expect(failures).toHaveLength(4);
    expect(failures[0]).toMatch(/^transport\[3\] v2 decrypt: DECRYPTION_FAILED/);
    expect(failures[1]).toMatch(/^entityV1\[0\] encrypt:/);
    expect(failures[2]).toMatch(/^entityV1\[0\] decrypt:/);
    expect(failures[3]).toMatch(/^searchTokens\[2\] hashed tokens:/);
  });

  it('reports malformed cases as failures with the reason, and checks only the sections present', async () => {
    const results = await checkVectors({ entityV2: [{ entityKey: 'zz', entity: 5 }, null] });
    expect(results).toHaveLength(1);
    expect(results[0]!.failed).toBe(4);
    expect(results[0]!.failures[0]).toMatch(/field "entityKey" must be hex/);
  });

  it('refuses a file without any known section', async () => {
    await expect(checkVectors({ other: [] })).rejects.toThrow(/none of the sections/);
    await expect(checkVectors([1, 2])).rejects.toThrow(/JSON object/);
  });
});

describe('allegro vectors check (the built CLI)', () => {
  it('prints one line per section, ends with the totals and exits 0', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'vectors', 'check', VECTOR_FILE]);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.at(-1)).toBe('196 passed, 0 failed');
  });

  it('exits 1 when a check fails and 2 on a usage error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allegro-vectors-'));
    const file = clone();
    file.searchTokens[0]!.plainTokens = ['nope'];
    await writeFile(join(dir, 'bad.json'), JSON.stringify(file));
    await expect(run(process.execPath, [CLI, 'vectors', 'check', join(dir, 'bad.json')])).rejects.toMatchObject({ code: 1 });
    await expect(run(process.execPath, [CLI, 'vectors', 'check'])).rejects.toMatchObject({ code: 2 });
    await writeFile(join(dir, 'not.json'), '{');
    await expect(run(process.execPath, [CLI, 'vectors', 'check', join(dir, 'not.json')])).rejects.toMatchObject({ code: 2 });
  });
});
