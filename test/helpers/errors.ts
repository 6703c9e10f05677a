// What an operation fails with, for assertions on typed errors: the rejection itself, or its code.
import { expect } from 'vitest';
import { AllegroError } from '../../src/errors.js';
import { HttpError } from '../../src/sandbox/http-error.js';

/**
 * The `code` of the AllegroError that `operation` (a promise, or a function run now) fails with, or 'no error'.
 * Anything thrown that is not an AllegroError is rethrown, so a crash never passes for a typed failure.
 */
export async function codeOf(operation: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof operation === 'function' ? operation() : operation);
  } catch (err) {
    if (err instanceof AllegroError) return err.code;
    throw err;
  }
  return 'no error';
}

/** What `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The sandbox HttpError `f` throws (fails the test if it throws anything else, or nothing). */
export function httpError(f: () => unknown): HttpError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected an HttpError, nothing was thrown');
}
