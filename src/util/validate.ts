/**
 * Boundary validation with one message template: every check throws {@link InvalidArgumentError} naming the
 * parameter, what was expected and what was received. "Received" describes a value by type and size only,
 * so a key or a plaintext passed in the wrong place never ends up in an error message.
 */
import { InvalidArgumentError } from '../errors.js';
import { toBase64Url, tryFromBase64 } from './bytes.js';

/** Describe a value for an error message without revealing its content. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.constructor.name} of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : `${value}`;
  if (typeof value === 'bigint') return `the bigint ${value}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return typeof value;
}

/** Require a Uint8Array, optionally of an exact length. */
export function requireBytes(parameter: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(parameter, 'a Uint8Array', describeValue(value));
  if (length !== undefined && value.length !== length) {
    throw new InvalidArgumentError(parameter, `a Uint8Array of ${length} bytes`, describeValue(value));
  }
}

/** Require a string. */
export function requireString(parameter: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(parameter, 'a string', describeValue(value));
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Require a signed 64-bit integer given as a bigint or a safe-integer number; returns it as a bigint. */
export function requireInt64(parameter: string, value: unknown): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) return value;
  throw new InvalidArgumentError(parameter, 'a signed 64-bit integer (bigint or safe-integer number)', describeValue(value));
}

/** Require a signed 32-bit integer. */
export function requireInt32(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return value;
  throw new InvalidArgumentError(parameter, 'a signed 32-bit integer', describeValue(value));
}

/** Require an options object, or undefined (read as `{}`). */
export function optionsObject<T extends object>(parameter: string, value: T | undefined): T | Record<string, never> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(parameter, 'an options object', describeValue(value));
  return value;
}

/** Require a positive safe integer. */
export function requirePositiveInteger(parameter: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  throw new InvalidArgumentError(parameter, 'a positive integer', describeValue(value));
}

/**
 * Require a Symphony id (stream, thread, message, file or object hash) in standard or URL-safe base64, padded or
 * not; returns its canonical form, URL-safe base64 without padding.
 */
export function requireBase64Id(parameter: string, value: unknown): string {
  const bytes = typeof value === 'string' && value.length <= 512 ? tryFromBase64(value) : undefined;
  if (bytes === undefined || bytes.length === 0) throw new InvalidArgumentError(parameter, 'a standard or URL-safe base64 id', describeValue(value));
  return toBase64Url(bytes);
}
