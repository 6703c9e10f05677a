// The table of transport failures on its own: every row of TRANSPORT_CODES becomes the error it says (class,
// reason, message), TLS codes outside the table, unknown and missing codes, the proxy refusal, Happy Eyeballs'
// AggregateError and Node fetch's TypeError with the code on its cause, and aborts winning over everything. No I/O.
import { describe, expect, it } from 'vitest';
import { AbortedError, AllegroError, InvalidArgumentError, NetworkError, TimeoutError } from '../../../src/errors.js';
import { codedError, outcomeOf, tooLarge, transportError, TRANSPORT_CODES, type FailureContext } from '../../../src/http/transport-errors.js';

const context: FailureContext = { route: 'GET /x', signal: undefined, timeouts: { connectMs: 11, headersMs: 22, bodyMs: 33 } };
const coded = (code: string, message = `something ${code}`) => Object.assign(new Error(message), { code });

describe('TRANSPORT_CODES', () => {
  it.each(Object.entries(TRANSPORT_CODES))('%s becomes the error its row names', (code, outcome) => {
    const err = transportError(coded(code), context);
    expect(err).toBeInstanceOf(AllegroError);
    switch (outcome.error) {
      case 'network':
        expect(err).toBeInstanceOf(NetworkError);
        expect((err as NetworkError).reason).toBe(outcome.reason);
        expect((err as NetworkError).route).toBe('GET /x');
        if (outcome.meaning !== undefined) expect(err.message).toBe(`GET /x failed: ${code} (${outcome.meaning})`);
        expect(err.cause).toBeInstanceOf(Error);
        break;
      case 'timeout':
        expect(err).toBeInstanceOf(TimeoutError);
        expect(err.message).toBe(`GET /x timed out after ${{ connect: 11, headers: 22, body: 33 }[outcome.phase]} ms`);
        break;
      case 'aborted':
        expect(err).toBeInstanceOf(AbortedError);
        break;
      case 'invalid':
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as InvalidArgumentError).parameter).toBe(outcome.parameter);
        break;
    }
  });

  it('keeps the messages the client has always given', () => {
    expect(transportError(coded('ECONNREFUSED'), context).message).toBe('GET /x failed: ECONNREFUSED (connection refused)');
    expect(transportError(coded('UND_ERR_SOCKET'), context).message).toBe('GET /x failed: UND_ERR_SOCKET (connection closed before the response was complete)');
    expect(transportError(coded('EWHATEVER'), context).message).toBe('GET /x failed: EWHATEVER');
  });

  it('treats every ERR_TLS_ and ERR_SSL_ code as a TLS failure, with the first line of the message', () => {
    for (const code of ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN']) {
      expect(outcomeOf(code)).toMatchObject({ error: 'network', reason: 'tls' });
      const err = transportError(coded(code, 'self-signed certificate in certificate chain\nmore detail'), context);
      expect(err).toMatchObject({ reason: 'tls', retryable: false });
      expect(err.message).toBe(`GET /x failed: TLS: self-signed certificate in certificate chain (${code})`);
    }
    const proxyTls = Object.assign(new Error('TLS to the proxy failed'), { code: 'UND_ERR_PRX_TLS', cause: new Error('unable to verify the first certificate') });
    expect(transportError(proxyTls, context).message).toBe('GET /x failed: TLS: unable to verify the first certificate (UND_ERR_PRX_TLS)');
  });

  it('names a proxy that refuses the tunnel, and reads other undici aborts as transport failures', () => {
    expect(transportError(coded('UND_ERR_ABORTED', 'Proxy response (407) !== 200 when HTTP Tunneling'), context)).toMatchObject({
      reason: 'proxy', message: 'GET /x failed: proxy refused the tunnel (HTTP 407)',
    });
    expect(transportError(coded('UND_ERR_ABORTED', 'Request aborted'), context)).toMatchObject({ reason: 'other', message: 'GET /x failed: request aborted by the transport' });
  });

  it('reads the code through an AggregateError and through the cause of fetch\'s TypeError', () => {
    const aggregate = new AggregateError([coded('ECONNREFUSED'), coded('ENETUNREACH')]);
    expect(codedError(aggregate)?.code).toBe('ECONNREFUSED');
    expect(transportError(aggregate, context)).toMatchObject({ reason: 'refused' });
    const fetchFailed = new TypeError('fetch failed', { cause: coded('ECONNRESET') });
    expect(transportError(fetchFailed, context)).toMatchObject({ reason: 'lost', message: 'GET /x failed: ECONNRESET (connection reset by peer)' });
    const fetchRefused = new TypeError('fetch failed', { cause: aggregate });
    expect(transportError(fetchRefused, context)).toMatchObject({ reason: 'refused' });
  });

  it('looks through an allegro-ts error when searching for a code', () => {
    expect(codedError(new NetworkError('GET /x', 'other', 'x', coded('EPIPE')))?.code).toBe('EPIPE');
    expect(codedError(new NetworkError('GET /x', 'other', 'x'))).toBeUndefined();
  });

  it('reports a failure without a code as an unexpected one, naming only its class', () => {
    expect(transportError(new TypeError('Failed to fetch https://secret.example/?token=abc'), context)).toMatchObject({ reason: 'other', message: 'GET /x failed: unexpected TypeError' });
    expect(transportError('a string', context)).toMatchObject({ reason: 'other', message: 'GET /x failed: unexpected failure' });
  });

  it('makes every failure an AbortedError once the caller\'s signal has fired, and passes allegro-ts errors through', () => {
    const aborted = AbortSignal.abort();
    expect(transportError(coded('ECONNRESET'), { ...context, signal: aborted })).toBeInstanceOf(AbortedError);
    const own = new InvalidArgumentError('request.body', 'x', 'y');
    expect(transportError(own, context)).toBe(own);
  });

  it('gives a too-large response its own non-retryable reason', () => {
    expect(tooLarge('GET /x', 64)).toMatchObject({ reason: 'too-large', retryable: false, message: 'GET /x failed: response body larger than 64 bytes' });
  });
});
