/**
 * Checks of request bodies and parameters for the sandbox's routes: each failure is an HTTP 400 whose message
 * names the field and what was expected, so that a client developer sees at once what they sent wrong.
 */
import { requireBase64Id } from '../util/validate.js';
import { HttpError } from './http-error.js';

type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'array';
type TypeOf<T extends FieldType> = T extends 'string' ? string : T extends 'number' ? number : T extends 'boolean' ? boolean
  : T extends 'array' ? unknown[] : Record<string, unknown>;

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function matches(value: unknown, type: FieldType): boolean {
  if (type === 'array') return Array.isArray(value);
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeof value === type;
}

/** Require a JSON object. */
export function requireObject(value: unknown, what = 'body'): Record<string, unknown> {
  if (!matches(value, 'object')) throw new HttpError(400, `The ${what} must be a JSON object, not ${typeName(value)}`);
  return value as Record<string, unknown>;
}

/** Require a JSON array. */
export function requireArray(value: unknown, what = 'body'): unknown[] {
  if (!Array.isArray(value)) throw new HttpError(400, `The ${what} must be a JSON array, not ${typeName(value)}`);
  return value;
}

/** A field of the given type, or undefined when absent or null. */
export function optionalField<T extends FieldType>(o: Record<string, unknown>, name: string, type: T): TypeOf<T> | undefined {
  const value = o[name];
  if (value === undefined || value === null) return undefined;
  if (!matches(value, type)) throw new HttpError(400, `Field "${name}" must be ${type === 'array' || type === 'object' ? 'an' : 'a'} ${type}, not ${typeName(value)}`);
  return value as TypeOf<T>;
}

/** A required field of the given type. */
export function requiredField<T extends FieldType>(o: Record<string, unknown>, name: string, type: T): TypeOf<T> {
  const value = optionalField(o, name, type);
  if (value === undefined) throw new HttpError(400, `Field "${name}" is required`);
  return value;
}

/** A user id: a positive integer (JSON number, or a decimal string in query parameters). */
export function parseUserId(value: unknown, name: string): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new HttpError(400, `"${name}" must be a user id (a positive integer)`);
  return n;
}

/** A required query parameter. */
export function requireQuery(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === '') throw new HttpError(400, `Query parameter "${name}" is required`);
  return value;
}

/**
 * Canonical form of a stream, thread or message id: URL-safe base64 without padding. Accepts standard and
 * URL-safe base64, padded or not (docs/symphony-apis.md §3.3).
 */
export function canonicalId(value: string, name: string): string {
  try {
    return requireBase64Id(name, value.length <= 200 ? value : undefined);
  } catch {
    throw new HttpError(400, `"${name}" must be a base64 id`);
  }
}

/** An integer query parameter within bounds, or the default when absent. */
export function intQuery(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `Query parameter "${name}" must be an integer from ${min} to ${max}`);
  return n;
}
