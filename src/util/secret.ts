/**
 * Secret: a credential of the resolved configuration (a private key PEM, PKCS#12 bytes, a password, a caller-supplied
 * token) that never prints, as `AesKey` and `RsaPrivateKey` never do (docs/threat-model.md, "Client").
 *
 * - `util.inspect`, `toJSON`, `toString`, template literals and string concatenation give a placeholder that says
 *   what is hidden, e.g. `[redacted private key]`.
 * - The value lives in a private field: `Object.keys`, spread, `Object.entries`, `structuredClone` and
 *   `util.inspect` with `showHidden` or `customInspect: false` do not see it.
 * - The one way to the value is {@link Secret.reveal}, called only where it is used (the auth layer and the TLS
 *   setup of the client).
 */
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from './validate.js';

/** A value that is never printed; {@link Secret.reveal} returns it. */
export class Secret<T extends string | Uint8Array = string> {
  readonly #value: T;
  readonly #placeholder: string;

  /**
   * @param what what the value is, for the placeholder (`private key` prints as `[redacted private key]`).
   * @param value the secret: a string or bytes (kept as given, not copied).
   * @throws InvalidArgumentError (`INVALID_ARGUMENT`) if `what` is empty or `value` is neither a string nor a Uint8Array.
   */
  constructor(what: string, value: T) {
    if (typeof what !== 'string' || what.length === 0) throw new InvalidArgumentError('what', 'a non-empty string', describeValue(what));
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new InvalidArgumentError('value', 'a string or a Uint8Array', describeValue(value));
    this.#value = value;
    this.#placeholder = `[redacted ${what}]`;
  }

  /** The secret itself. Pass it straight to what needs it; never log or store it elsewhere. */
  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return this.#placeholder;
  }

  toString(): string {
    return this.#placeholder;
  }

  [Symbol.toPrimitive](): string {
    return this.#placeholder;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.#placeholder;
  }
}
