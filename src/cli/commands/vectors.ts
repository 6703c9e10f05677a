/**
 * `allegro vectors check FILE`: conformance of this library with a known-answer vector file of the schema in
 * test/vectors/README.md (sections `transport`, `entityV1`, `entityV2`, `searchTokens`; every section
 * optional). Each case is checked with every applicable check:
 *
 * - transport: v3 decrypt, v2 decrypt, key id = HMAC-SHA256(key, "KeyFingerprint"), and a v3 encrypt → decrypt
 *   round trip with the case's key and rotation (header rotation checked too);
 * - entityV1 / entityV2: exact encryption (byte for byte) and decryption to the lower-cased entity;
 * - searchTokens: exact plain tokens and exact hashed tokens (both as sorted sets); as the file's meta says, the
 *   hashed tokens are Java's `getHashedTokens(plainTokens, contentKey, rotationId)`, which takes `contentKey` as the
 *   salt itself (a real message salts with SHA-256 of the content key).
 *
 * A malformed case (missing or mistyped field) fails its checks with the reason instead of aborting the run.
 */
import { AesKey } from '../../crypto/aes-key.js';
import { decryptEntity, encryptEntityV1, encryptEntityV2 } from '../../crypto/entity.js';
import { hashedTokensWithSalt, plainTokens } from '../../crypto/search-tokens.js';
import { decryptTransport, encryptTransport, parseTransport } from '../../crypto/transport.js';
import { AllegroError } from '../../errors.js';
import { constantTimeEqual, tryFromBase64, tryFromHex } from '../../util/bytes.js';

/** Result of one section. */
export interface SectionResult {
  section: string;
  cases: number;
  passed: number;
  failed: number;
  /** One line per failed check: `section[index] check: reason`. */
  failures: string[];
}

type Case = Record<string, unknown>;
type Check = [name: string, run: () => Promise<void>];

class CaseFieldError extends Error {}

function field(c: Case, name: string, type: 'string' | 'number'): string | number {
  const value = c[name];
  if (typeof value !== type) throw new CaseFieldError(`field "${name}" must be a ${type}`);
  return value as string | number;
}
const str = (c: Case, name: string) => field(c, name, 'string') as string;
function hexField(c: Case, name: string): Uint8Array {
  const bytes = tryFromHex(str(c, name));
  if (bytes === undefined) throw new CaseFieldError(`field "${name}" must be hex`);
  return bytes;
}
function b64Field(c: Case, name: string): Uint8Array {
  const bytes = tryFromBase64(str(c, name));
  if (bytes === undefined) throw new CaseFieldError(`field "${name}" must be base64`);
  return bytes;
}
function rotationField(c: Case, name: string): bigint {
  const value = field(c, name, 'number') as number;
  if (!Number.isSafeInteger(value)) throw new CaseFieldError(`field "${name}" must be an integer`);
  return BigInt(value);
}
function stringArray(c: Case, name: string): string[] {
  const value = c[name];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new CaseFieldError(`field "${name}" must be an array of strings`);
  return value as string[];
}

function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (!constantTimeEqual(actual, expected)) throw new CaseFieldError(`${what} differs from the expected value`);
}
function expectEqual(actual: string, expected: string, what: string): void {
  if (actual !== expected) throw new CaseFieldError(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}
function expectSameSet(actual: readonly string[], expected: readonly string[], what: string): void {
  const a = [...new Set(actual)].sort();
  const e = [...new Set(expected)].sort();
  if (a.length !== e.length || a.some((v, i) => v !== e[i])) {
    throw new CaseFieldError(`${what}: got ${a.length} tokens [${a.slice(0, 8).join(', ')}${a.length > 8 ? ', …' : ''}], expected ${e.length}`);
  }
}

function transportChecks(c: Case): Check[] {
  const key = () => new AesKey(hexField(c, 'key'));
  return [
    ['v3 decrypt', async () => expectBytes(await decryptTransport(key(), b64Field(c, 'ciphertext'), { podIds: 'any' }), b64Field(c, 'plaintext'), 'plaintext')],
    ['v2 decrypt', async () => expectBytes(await decryptTransport(key(), b64Field(c, 'ciphertextV2'), { podIds: 'any' }), b64Field(c, 'plaintext'), 'plaintext')],
    ['keyId', async () => {
      const keyId = parseTransport(b64Field(c, 'ciphertext')).keyId;
      if (keyId === undefined) throw new CaseFieldError('ciphertext is not a version-3 transport');
      expectBytes(key().keyId, keyId, 'HMAC-SHA256(key, "KeyFingerprint")');
    }],
    ['v3 round trip', async () => {
      const k = key();
      const rotationId = rotationField(c, 'rotationId');
      const wire = await encryptTransport(k, b64Field(c, 'plaintext'), { rotationId });
      if (parseTransport(wire).rotationId !== rotationId) throw new CaseFieldError('header rotation id differs');
      expectBytes(await decryptTransport(k, wire), b64Field(c, 'plaintext'), 'plaintext');
    }],
  ];
}

function entityChecks(encrypt: typeof encryptEntityV1) {
  return (c: Case): Check[] => {
    const key = () => new AesKey(hexField(c, 'entityKey'));
    return [
      ['encrypt', async () => expectEqual(await encrypt(key(), str(c, 'entity')), str(c, 'ciphertext'), 'ciphertext')],
      ['decrypt', async () => expectEqual(await decryptEntity(key(), str(c, 'ciphertext')), str(c, 'entity').toLowerCase(), 'entity')],
    ];
  };
}

function searchTokenChecks(c: Case): Check[] {
  return [
    ['plain tokens', async () => expectSameSet(plainTokens(str(c, 'text')), stringArray(c, 'plainTokens'), 'plain tokens')],
    ['hashed tokens', async () => {
      const tokens = hashedTokensWithSalt(stringArray(c, 'plainTokens'), hexField(c, 'contentKey'), rotationField(c, 'rotationId'));
      expectSameSet(tokens, stringArray(c, 'hashedTokens'), 'hashed tokens');
    }],
  ];
}

const SECTIONS: ReadonlyArray<[string, (c: Case) => Check[]]> = [
  ['transport', transportChecks],
  ['entityV1', entityChecks(encryptEntityV1)],
  ['entityV2', entityChecks(encryptEntityV2)],
  ['searchTokens', searchTokenChecks],
];

function reason(err: unknown): string {
  if (err instanceof AllegroError) return `${err.code}: ${err.message}`;
  if (err instanceof CaseFieldError) return err.message;
  return `unexpected ${err instanceof Error ? err.name : typeof err}`;
}

/**
 * Check every case of every known section of a parsed vector file.
 * @throws Error if `file` is not an object holding at least one known section as an array.
 */
export async function checkVectors(file: unknown): Promise<SectionResult[]> {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new Error('the vector file must hold a JSON object');
  const data = file as Record<string, unknown>;
  const present = SECTIONS.filter(([name]) => data[name] !== undefined);
  if (present.length === 0) throw new Error(`the vector file has none of the sections ${SECTIONS.map(([n]) => n).join(', ')}`);
  const results: SectionResult[] = [];
  for (const [section, checksOf] of present) {
    const cases = data[section];
    const result: SectionResult = { section, cases: 0, passed: 0, failed: 0, failures: [] };
    results.push(result);
    if (!Array.isArray(cases)) {
      result.failed++;
      result.failures.push(`${section}: must be an array of cases`);
      continue;
    }
    result.cases = cases.length;
    for (const [index, c] of cases.entries()) {
      const checks = typeof c === 'object' && c !== null ? checksOf(c as Case) : checksOf({});
      for (const [name, run] of checks) {
        try {
          await run();
          result.passed++;
        } catch (err) {
          result.failed++;
          result.failures.push(`${section}[${index}] ${name}: ${reason(err)}`);
        }
      }
    }
  }
  return results;
}

/** Human-readable report: one line per section, failure details, and the closing `N passed, N failed`. */
export function formatVectorReport(results: readonly SectionResult[]): string {
  const lines: string[] = [];
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    lines.push(`${r.failed === 0 ? 'ok  ' : 'FAIL'} ${r.section}: ${r.cases} cases, ${r.passed} checks passed, ${r.failed} failed`);
    for (const f of r.failures) lines.push(`     ${f}`);
    passed += r.passed;
    failed += r.failed;
  }
  lines.push(`${passed} passed, ${failed} failed`);
  return lines.join('\n');
}

