/**
 * The {@link Transport} over WHATWG `fetch`, for runtimes without undici (browsers) — or Node's own fetch. Imports no
 * `node:` module. Each exchange is one `fetch()` with `redirect: 'manual'` (a redirect is not followed: the
 * transport contract); a streamed body is sent as a `ReadableStream` pulled one chunk at a time (`duplex: 'half'`),
 * the response body read from its reader. The timeouts of the contract are kept with timers that abort the fetch:
 * the wait for the response head (restarted whenever the body stream is pulled, i.e. the server takes more of it),
 * then each wait for a chunk of the response body. Failures are mapped through the table of transport-errors.ts:
 * Node's fetch reports the Node/undici code in the `cause` of its `TypeError`; a browser's bare `TypeError` becomes a
 * NetworkError of reason `other`.
 *
 * What the platform decides: browsers drop the forbidden headers (`user-agent`, `content-length`…; the length of
 * a streamed body is then still held to `content-length` by sendStream), stream request bodies only where they
 * support it (Chromium, and only over HTTP/2), and add or negotiate compression themselves. Hence the option
 * `streamRequestBodies: false` (the portable platform's choice in browsers): a streamed body is collected into a
 * `Blob` first and sent whole, so the head timeout then covers the upload too. Node's fetch takes TLS options
 * only through an undici dispatcher: pass `fetch: (url, init) => undici.fetch(url, { ...init, dispatcher })`.
 */
import { AbortedError, InvalidArgumentError, NetworkError, TimeoutError, type AllegroError } from '../errors.js';
import { AbortGroup, linkSignals, timerDelay } from '../util/async.js';
import { describeValue, optionsObject, requirePositiveInteger } from '../util/validate.js';
import { toReadableStream } from '../util/web-streams.js';
import { DEFAULT_MAX_RESPONSE_BYTES, type Transport, type TransportRequest, type TransportResponse } from './transport.js';
import { transportError, type FailureContext } from './transport-errors.js';

/** Options of {@link createFetchTransport}. */
export interface FetchTransportOptions {
  /** The fetch to call. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Default cap of a collected response body, in bytes. Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  /**
   * Send a streamed request body as a `ReadableStream` (`duplex: 'half'`). Default true. False collects it into a
   * `Blob` first (browsers: Chromium streams request bodies over HTTP/2 only, Firefox and Safari not at all).
   */
  streamRequestBodies?: boolean;
}

/** A restartable one-shot timer. */
function timer(onExpiry: () => void): { start(ms: number): void; stop(): void } {
  let handle: ReturnType<typeof setTimeout> | undefined;
  return {
    start(ms) {
      if (handle !== undefined) clearTimeout(handle);
      handle = setTimeout(onExpiry, timerDelay(ms));
    },
    stop() {
      if (handle !== undefined) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/** A transport making each exchange with `fetch`. Throws {@link InvalidArgumentError} on bad options. */
export function createFetchTransport(options: FetchTransportOptions = {}): Transport {
  const o = optionsObject('options', options) as FetchTransportOptions;
  const fetchFn = o.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new InvalidArgumentError('options.fetch', 'a fetch function (there is no global one here)', describeValue(o.fetch));
  const maxResponseBytes = o.maxResponseBytes === undefined ? DEFAULT_MAX_RESPONSE_BYTES : requirePositiveInteger('options.maxResponseBytes', o.maxResponseBytes);
  if (o.streamRequestBodies !== undefined && typeof o.streamRequestBodies !== 'boolean') {
    throw new InvalidArgumentError('options.streamRequestBodies', 'a boolean', describeValue(o.streamRequestBodies));
  }
  const streamRequestBodies = o.streamRequestBodies ?? true;
  // Every exchange in flight; aborted by close({ force: true }).
  const inFlight = new AbortGroup();
  let closed = false;

  async function exchange(request: TransportRequest): Promise<TransportResponse> {
    const { method, url, route, headers, body, signal, headersTimeoutMs, bodyTimeoutMs } = request;
    if (closed) throw new AbortedError(route);
    // Which wait ran out, if one did: the fetch is then aborted and its failure reported as a TimeoutError.
    let expired: number | undefined;
    const member = inFlight.join(signal);
    const timeout = new AbortController();
    const linked = linkSignals(member.signal, timeout.signal);
    const expire = (ms: number) => () => {
      expired = ms;
      timeout.abort();
    };
    const headTimer = timer(expire(headersTimeoutMs));
    const bodyTimer = timer(expire(bodyTimeoutMs));
    const context: FailureContext = { route, signal, timeouts: { connectMs: headersTimeoutMs, headersMs: headersTimeoutMs, bodyMs: bodyTimeoutMs } };
    const fail = (err: unknown): AllegroError => {
      if (signal?.aborted !== true && expired !== undefined) return new TimeoutError(route, expired);
      if (signal?.aborted !== true && inFlight.aborted) return new AbortedError(route);
      return transportError(err, context);
    };
    const finish = () => {
      headTimer.stop();
      bodyTimer.stop();
      linked.dispose();
      member.dispose();
    };

    let waitingForHead = true;
    const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'manual', signal: linked.signal };
    if (typeof body === 'string' || body instanceof Uint8Array) {
      init.body = body as BodyInit;
    } else if (body !== undefined && !streamRequestBodies) {
      try {
        init.body = await collect(body, member.signal, route);
      } catch (err) {
        finish();
        throw err;
      }
    } else if (body !== undefined) {
      // Until the head arrives, each pull (the server took more) restarts the wait.
      init.body = toReadableStream(body, () => {
        if (waitingForHead) headTimer.start(headersTimeoutMs);
      });
      init.duplex = 'half';
    }
    let response: Response;
    headTimer.start(headersTimeoutMs);
    try {
      response = await fetchFn(url.href, init);
    } catch (err) {
      finish();
      throw fail(err);
    } finally {
      waitingForHead = false;
      headTimer.stop();
    }
    if (response.type === 'opaqueredirect') {
      finish();
      void response.body?.cancel().catch(() => {});
      throw new NetworkError(route, 'other', 'the answer is a redirect, which is not followed');
    }
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name.toLowerCase()] = value;
    });
    const reader = response.body?.getReader();
    let ended = false;
    // Giving up the body ends the whole exchange, a request body still being sent included.
    const discard = () => {
      if (!ended) {
        ended = true;
        void reader?.cancel().catch(() => {});
        timeout.abort();
      }
      finish();
    };
    return {
      status: response.status,
      headers: responseHeaders,
      body: (async function* () {
        try {
          while (reader !== undefined && !ended) {
            let step: ReadableStreamReadResult<Uint8Array>;
            bodyTimer.start(bodyTimeoutMs);
            try {
              step = await reader.read();
            } catch (err) {
              ended = true; // a stream that failed is done
              throw fail(err);
            } finally {
              bodyTimer.stop();
            }
            if (step.done) {
              ended = true;
              return;
            }
            yield step.value;
          }
        } finally {
          discard();
        }
      })(),
      cancel: discard,
    };
  }

  return Object.freeze({
    description: 'fetch',
    maxResponseBytes,
    exchange,
    async close(closeOptions: { force?: boolean } = {}) {
      closed = true;
      if (closeOptions.force === true) inFlight.abort();
    },
  });
}

/**
 * A streamed body collected into a Blob (which a browser may keep outside the JavaScript heap); stops on abort. Each
 * chunk is copied, since a source may reuse its buffer once the next chunk is asked for (with `new Uint8Array(chunk)`:
 * a Node Buffer's `slice()` is a view, not a copy).
 */
async function collect(source: AsyncIterable<Uint8Array>, signal: AbortSignal, route: string): Promise<Blob> {
  const parts: BlobPart[] = [];
  for await (const chunk of source) {
    if (signal.aborted) throw new AbortedError(route);
    parts.push(new Uint8Array(chunk));
  }
  return new Blob(parts);
}
