/**
 * The receiver of Symphony's partner callback (docs/symphony-apis.md §1.11): when a customer enables a partner app,
 * or its pod's Agent registers, the pod POSTs `{appId, companyId, eventType: "appEnabled" | "agentRegistered",
 * payload: {podUrl, sessionAuthUrl, agentUrl?, baseUrl?, loginUrl?}}` to the app's notification URL with the app's
 * `X-API-KEY`. {@link createPartnerCallbackHandler} checks the key (in constant time: both sides are hashed first,
 * so neither the content nor the length of the key leaks through timing), checks the body, and records the event in
 * the {@link TenantRegistry} (idempotent: a replay or a retried delivery changes nothing).
 *
 * Answers, JSON, in Symphony's error shape `{code, message}` when refused: 405 for another method, 401 for a missing
 * or wrong key (before the body is read), 413 beyond `maxBodyBytes`, 400 for a body that is not JSON or not the
 * callback's shape (naming the field; nothing is stored), 500 when the registry cannot write (the pod retries);
 * 200 `{status: "ok", changed}` when recorded. Nothing that arrives can make the handler throw or reject.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { platform } from '#platform';
import { concatBytes, constantTimeEqual, fromUtf8, utf8 } from '../util/bytes.js';
import type { PartnerEvent, Tenant, TenantRegistry } from './tenants.js';
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from '../util/validate.js';

/** Default largest body read, in bytes. */
export const DEFAULT_MAX_CALLBACK_BYTES = 64 * 1024;

/** Options of {@link createPartnerCallbackHandler}. */
export interface PartnerCallbackOptions {
  /** The API key the pod sends as `X-API-KEY` (the app manifest's `notification.apiKey`). */
  apiKey: string;
  /** Where tenants are recorded. */
  store: TenantRegistry;
  /** Accept only events for this app id (400 otherwise). Default: any. */
  appId?: string;
  /** Largest body read, in bytes (413 beyond). Default {@link DEFAULT_MAX_CALLBACK_BYTES}. */
  maxBodyBytes?: number;
  /** Called after an event is recorded. An exception it throws is reported to `onError`, not to the pod. */
  onEvent?: (event: PartnerEvent, result: { tenant: Tenant; changed: boolean }) => void;
  /** Called with what went wrong inside the handler (a registry that cannot write, a failing `onEvent`). */
  onError?: (error: unknown) => void;
}

/** The receiver, for a Node HTTP server and for fetch-style servers. */
export interface PartnerCallbackHandler {
  /** A Node `(req, res)` request listener: `http.createServer(handler.node)`. */
  node(req: IncomingMessage, res: ServerResponse): void;
  /** A fetch-style handler: `(Request) → Response` (Deno, Bun, Hono, a Service Worker…). */
  fetch(request: Request): Promise<Response>;
}

/** An answer of the handler. */
interface Answer {
  status: number;
  json: unknown;
  headers?: Record<string, string>;
}

const refuse = (status: number, message: string, headers?: Record<string, string>): Answer => ({ status, json: { code: status, message }, ...(headers === undefined ? {} : { headers }) });

/** The longest an id or URL of the callback may be. */
const MAX_FIELD = 2048;

/** A string field of the body: non-empty, at most {@link MAX_FIELD} characters, no control character. */
function field(o: Record<string, unknown>, name: string, where: string): string {
  const v = o[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD || /[\u0000-\u001f]/.test(v)) {
    throw new InvalidArgumentError(`${where}${name}`, `a string of 1 to ${MAX_FIELD} characters without control characters`, describeValue(v));
  }
  return v;
}

const URL_EXPECTED = 'an absolute https URL without credentials, query or fragment';

/** A URL field of the payload, without trailing slashes. */
function urlField(o: Record<string, unknown>, name: string, required: boolean): string | undefined {
  if (o[name] === undefined && !required) return undefined;
  const text = field(o, name, 'payload.');
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError(`payload.${name}`, URL_EXPECTED, 'another string');
  }
  return text.replace(/\/+$/, '');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The event of a callback body, checked.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the field (`payload.podUrl`, `eventType`, …).
 */
export function parsePartnerEvent(body: unknown): PartnerEvent {
  if (!isObject(body)) throw new InvalidArgumentError('body', 'a JSON object', describeValue(body));
  const appId = field(body, 'appId', '');
  const rawCompany = body.companyId;
  const companyId = typeof rawCompany === 'number' && Number.isSafeInteger(rawCompany) && rawCompany >= 0 ? String(rawCompany) : field(body, 'companyId', '');
  const eventType = body.eventType;
  if (eventType !== 'appEnabled' && eventType !== 'agentRegistered') throw new InvalidArgumentError('eventType', '"appEnabled" or "agentRegistered"', describeValue(eventType));
  if (!isObject(body.payload)) throw new InvalidArgumentError('payload', 'an object', describeValue(body.payload));
  const p = body.payload;
  const agentUrl = urlField(p, 'agentUrl', eventType === 'agentRegistered');
  const baseUrl = urlField(p, 'baseUrl', false);
  const loginUrl = urlField(p, 'loginUrl', false);
  return {
    appId, companyId, eventType,
    payload: {
      podUrl: urlField(p, 'podUrl', true)!, sessionAuthUrl: urlField(p, 'sessionAuthUrl', true)!,
      ...(agentUrl === undefined ? {} : { agentUrl }), ...(baseUrl === undefined ? {} : { baseUrl }), ...(loginUrl === undefined ? {} : { loginUrl }),
    },
  };
}

/**
 * A receiver of the partner callback that records tenants in `store`.
 * @example
 * ```ts
 * const tenants = await TenantRegistry.open('tenants.db');
 * const callback = createPartnerCallbackHandler({ apiKey: process.env.CALLBACK_KEY!, store: tenants });
 * https.createServer(tls, callback.node).listen(8443);
 * ```
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an empty `apiKey`, a bad `maxBodyBytes`, or no `store`.
 */
export function createPartnerCallbackHandler(options: PartnerCallbackOptions): PartnerCallbackHandler {
  if (typeof options?.apiKey !== 'string' || options.apiKey.length === 0) throw new InvalidArgumentError('options.apiKey', 'a non-empty string', describeValue(options?.apiKey));
  if (typeof options.store?.record !== 'function') throw new InvalidArgumentError('options.store', 'a TenantRegistry', describeValue(options.store));
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_CALLBACK_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new InvalidArgumentError('options.maxBodyBytes', 'a positive integer', describeValue(maxBodyBytes));
  const expectedKey = platform.sha256(utf8(options.apiKey));
  const report = (err: unknown) => {
    try {
      options.onError?.(err);
    } catch {
      // A failing error reporter must not fail the answer.
    }
  };

  /** The whole exchange, given the method, the key header and a body reader that stops at the cap. */
  const answer = async (method: string, key: string | null | undefined, read: () => Promise<Uint8Array | undefined>): Promise<Answer> => {
    if (method !== 'POST') return refuse(405, 'Only POST is accepted', { allow: 'POST' });
    if (typeof key !== 'string' || !constantTimeEqual(platform.sha256(utf8(key)), expectedKey)) return refuse(401, 'Missing or wrong X-API-KEY');
    const bytes = await read();
    if (bytes === undefined) return refuse(413, `The body is larger than ${maxBodyBytes} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fromUtf8(bytes));
    } catch {
      return refuse(400, 'The body is not JSON');
    }
    let event: PartnerEvent;
    try {
      event = parsePartnerEvent(parsed);
    } catch (err) {
      return refuse(400, (err as InvalidArgumentError).message);
    }
    if (options.appId !== undefined && event.appId !== options.appId) return refuse(400, `The event is for another app than ${options.appId}`);
    let result: { tenant: Tenant; changed: boolean };
    try {
      result = options.store.record(event);
    } catch (err) {
      report(err);
      return refuse(500, 'The tenant could not be recorded');
    }
    try {
      options.onEvent?.(event, result);
    } catch (err) {
      report(err);
    }
    return { status: 200, json: { status: 'ok', changed: result.changed } };
  };

  return {
    node(req, res) {
      const send = (a: Answer) => {
        if (res.headersSent) return;
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(JSON.stringify(a.json));
      };
      const read = () => new Promise<Uint8Array | undefined>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            resolve(undefined);
            req.removeAllListeners('data');
            req.resume();
          } else {
            chunks.push(chunk);
          }
        });
        req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
        req.on('error', reject);
      });
      const header = req.headers['x-api-key'];
      answer(req.method ?? '', Array.isArray(header) ? undefined : header, read).then((a) => {
        if (a.status !== 200 && !req.readableEnded) req.resume();
        send(a);
      }, (err: unknown) => {
        report(err);
        send(refuse(400, 'The request could not be read'));
      });
    },

    async fetch(request) {
      const read = async (): Promise<Uint8Array | undefined> => {
        const length = Number(request.headers.get('content-length') ?? '0');
        if (length > maxBodyBytes) return undefined;
        if (request.body === null) return new Uint8Array(0);
        const reader = request.body.getReader();
        const chunks: Uint8Array[] = [];
        let size = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.length;
          if (size > maxBodyBytes) {
            await reader.cancel();
            return undefined;
          }
          chunks.push(value);
        }
        return concatBytes(...chunks);
      };
      let a: Answer;
      try {
        a = await answer(request.method, request.headers.get('x-api-key'), read);
      } catch (err) {
        report(err);
        a = refuse(400, 'The request could not be read');
      }
      return new Response(JSON.stringify(a.json), { status: a.status, headers: { 'content-type': 'application/json', ...a.headers } });
    },
  };
}
