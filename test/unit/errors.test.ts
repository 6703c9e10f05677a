import { describe, expect, it } from 'vitest';
import {
  AllegroError,
  AppNotInstalledError,
  AuthenticationError,
  PermissionDeniedError,
  DecryptionFailedError,
  InvalidArgumentError,
  InvalidTokenError,
  NetworkError,
  HttpStatusError,
  KeyIdMismatchError,
  MalformedCiphertextError,
  UnsupportedModeError,
  UnsupportedOperationError,
  UnsupportedVersionError,
} from '../../src/errors.js';

describe('errors', () => {
  it('carry a stable code, their class name and retryable = false', () => {
    const all: Array<[AllegroError, string]> = [
      [new InvalidArgumentError('key', 'a Uint8Array', 'null'), 'INVALID_ARGUMENT'],
      [new DecryptionFailedError(), 'DECRYPTION_FAILED'],
      [new UnsupportedVersionError('CiphertextTransport', 9, [1, 2, 3]), 'UNSUPPORTED_VERSION'],
      [new UnsupportedModeError(1, 'opt in'), 'UNSUPPORTED_MODE'],
      [new MalformedCiphertextError('thing', 'too short'), 'MALFORMED_CIPHERTEXT'],
      [new KeyIdMismatchError(), 'KEY_ID_MISMATCH'],
      [new InvalidTokenError('expired', 'it expired 3 s ago'), 'INVALID_TOKEN'],
      [new UnsupportedOperationError('reading a file', 'portable', 'give the content instead of a path'), 'UNSUPPORTED_OPERATION'],
    ];
    for (const [err, code] of all) {
      expect(err.code).toBe(code);
      expect(err.name).toBe(err.constructor.name);
      expect(err.retryable).toBe(false);
      expect(err).toBeInstanceOf(AllegroError);
      expect(err).toBeInstanceOf(Error);
    }
  });

  it('name the parameter, what was expected and what was received', () => {
    const err = new InvalidArgumentError('options.rotationId', 'a signed 64-bit integer', 'the number 1.5');
    expect(err.parameter).toBe('options.rotationId');
    expect(err.message).toBe('Invalid options.rotationId: expected a signed 64-bit integer, received the number 1.5.');
  });

  it('mark network failures retryable unless they would fail the same way again', () => {
    expect(new NetworkError('GET /x', 'lost', 'ECONNRESET').retryable).toBe(true);
    expect(new NetworkError('GET /x', 'tls', 'TLS: bad certificate').retryable).toBe(false);
    expect(new HttpStatusError(503, 'GET /x').retryable).toBe(true);
    expect(new HttpStatusError(404, 'GET /x').retryable).toBe(false);
  });

  it('name the operation and the platform that cannot perform it', () => {
    const err = new UnsupportedOperationError('reading a file', 'portable', 'there is no file system; give the content instead of a path');
    expect(err).toMatchObject({ code: 'UNSUPPORTED_OPERATION', operation: 'reading a file', platform: 'portable' });
    expect(err.message).toBe('reading a file is not possible on the portable platform: there is no file system; give the content instead of a path.');
  });

  it('give one fixed message for every decryption failure', () => {
    expect(new DecryptionFailedError().message).toBe('Decryption failed.');
  });

  it('keep instanceof working across duplicate copies of the classes', () => {
    const lookalike = Object.assign(new Error('x'), { name: 'DecryptionFailedError' });
    Object.defineProperty(lookalike, Symbol.for('allegro-ts.error'), { value: true });
    expect(lookalike instanceof AllegroError).toBe(true);
    expect(lookalike instanceof DecryptionFailedError).toBe(true);
    expect(lookalike instanceof KeyIdMismatchError).toBe(false);
    expect(new Error('plain') instanceof AllegroError).toBe(false);
    expect((null as unknown) instanceof AllegroError).toBe(false);
  });

  it('name the OBO permission an app lacks, and the user an app is not installed for', () => {
    const denied = new PermissionDeniedError('SEND_MESSAGES', 'POST /pod/v1/im/create', { traceId: 'Ab12Cd', serverMessage: 'The app lacks the OBO permission SEND_MESSAGES' });
    expect(denied).toMatchObject({ code: 'OBO_PERMISSION_DENIED', permission: 'SEND_MESSAGES', status: 403, route: 'POST /pod/v1/im/create', traceId: 'Ab12Cd', retryable: false });
    expect(denied.message).toBe('POST /pod/v1/im/create was refused: the app lacks the OBO permission SEND_MESSAGES. Ask the pod administrator to grant it.');
    const byName = new AppNotInstalledError('crm', 'sandbox-bot', 'POST /login/pubkey/app/username/{username}/authenticate');
    expect(byName).toMatchObject({ code: 'APP_NOT_INSTALLED', appId: 'crm', user: 'sandbox-bot', retryable: false });
    expect(byName.message).toBe('The app crm is not installed for the user "sandbox-bot" (or there is no such user): POST /login/pubkey/app/username/{username}/authenticate was refused.');
    expect(new AppNotInstalledError('crm', 13469017440257, 'POST /x').message).toContain('for the user 13469017440257 ');
    expect(new AuthenticationError('app', 'refused', 'the app is disabled').message).toBe('App authentication failed (refused): the app is disabled');
  });
});
