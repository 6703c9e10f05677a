/**
 * Registry of AEAD backends by name, with the runtime's default. Lets callers (and the CLI's `--backend`)
 * choose `node`, `webcrypto` or `noble`; everything else takes the default of {@link platform}.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from '../util/validate.js';
import type { AeadBackend, AeadBackendName } from './aead.js';
import { nobleAead } from './aead-noble.js';
import { webCryptoAead } from './aead-webcrypto.js';
import { platform } from '#platform';

const available: Partial<Record<AeadBackendName, AeadBackend>> = {
  [platform.defaultAead.name]: platform.defaultAead,
  ...(globalThis.crypto?.subtle === undefined ? {} : { webcrypto: webCryptoAead }),
  noble: nobleAead,
};

/** Names of the backends this runtime provides, default first. */
export function aeadBackendNames(): AeadBackendName[] {
  return Object.keys(available) as AeadBackendName[];
}

/**
 * The backend called `name`, or the runtime's default when `name` is undefined.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an unknown or unavailable backend.
 */
export function getAeadBackend(name?: AeadBackendName | AeadBackend): AeadBackend {
  if (name === undefined) return platform.defaultAead;
  if (typeof name === 'object' && name !== null && typeof name.seal === 'function') return name;
  const backend = typeof name === 'string' ? available[name] : undefined;
  if (backend === undefined) {
    throw new InvalidArgumentError('backend', `one of ${aeadBackendNames().join(', ')} or an AeadBackend`, typeof name === 'string' ? JSON.stringify(name) : describeValue(name));
  }
  return backend;
}
