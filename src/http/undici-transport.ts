/**
 * The {@link Transport} over an undici connection pool (built by pool.ts, the only module that loads undici): one
 * `request()` per exchange, the request body streamed as undici iterates it, the response body read from undici's
 * stream, and every failure mapped through the table of transport-errors.ts. Types only are imported from undici.
 */
import type { Dispatcher as UndiciDispatcher } from 'undici';
import { AbortedError } from '../errors.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';
import { transportError, type FailureContext } from './transport-errors.js';

/** Limits of the pool that the exchange needs to know. */
export interface UndiciTransportOptions {
  /** For logs: `agent` or `proxy <origin>`. */
  description: string;
  /** The pool's connect timeout, for the TimeoutError's message. */
  connectTimeoutMs: number;
  maxResponseBytes: number;
}

/** A {@link Transport} making its exchanges over `pool`. */
export function undiciTransport(pool: UndiciDispatcher, options: UndiciTransportOptions): Transport {
  let closed = false;
  return Object.freeze({
    description: options.description,
    maxResponseBytes: options.maxResponseBytes,
    async exchange(request: TransportRequest): Promise<TransportResponse> {
      const { method, url, route, headers, body, signal, headersTimeoutMs, bodyTimeoutMs } = request;
      if (closed) throw new AbortedError(route);
      const context: FailureContext = { route, signal, timeouts: { connectMs: options.connectTimeoutMs, headersMs: headersTimeoutMs, bodyMs: bodyTimeoutMs } };
      let response: UndiciDispatcher.ResponseData;
      try {
        response = await pool.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as UndiciDispatcher.HttpMethod,
          headers,
          // undici sends an async iterable as it yields (its documented body types include AsyncIterable).
          body: (body ?? null) as Exclude<UndiciDispatcher.RequestOptions['body'], undefined>,
          signal: signal ?? null,
          headersTimeout: headersTimeoutMs,
          bodyTimeout: bodyTimeoutMs,
        });
      } catch (err) {
        throw transportError(err, context);
      }
      const readable = response.body;
      return {
        status: response.statusCode,
        headers: headersOf(response.headers),
        body: (async function* () {
          try {
            for await (const chunk of readable) yield chunk as Uint8Array;
          } catch (err) {
            throw transportError(err, context);
          } finally {
            if (!readable.readableEnded) discard(readable);
          }
        })(),
        cancel() {
          if (!readable.readableEnded) discard(readable);
        },
      };
    },
    async close(closeOptions: { force?: boolean } = {}) {
      const wasClosed = closed;
      closed = true;
      if (closeOptions.force === true) await pool.destroy();
      else if (!wasClosed) await pool.close();
    },
  });
}

function headersOf(raw: UndiciDispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Give up on a response body: undici then closes the connection, and reports the destruction as an error we ignore. */
function discard(body: UndiciDispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}
