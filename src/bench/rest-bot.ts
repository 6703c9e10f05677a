/**
 * A plain-REST Symphony bot with no crypto of its own, talking to an Agent the way a BDK bot does
 * (agent-api-public.yaml; docs/sandbox.md "Agent API"): it logs in with an RSA JWT to the pod and the Key Manager,
 * sends MessageML as `multipart/form-data` to `/agent/v4/stream/{sid}/message/create`, reads history from
 * `/agent/v4/stream/{sid}/message`, and reads an Agent datafeed (`/agent/v5/datafeeds`, acknowledging with `ackId`).
 * It never holds a content key: the Agent encrypts and decrypts. `allegro bench e2e --path agent` and `allegro demo`
 * use it to show the Agent and the native path side by side. Requests go over node:https with the given CA, one
 * keep-alive pool per bot; a non-2xx answer is an Error naming the route, the status and the server's `message`.
 */
import { Agent, request } from 'node:https';
import { RsaPrivateKey, signJwtRs512 } from '../crypto/rsa.js';

/** How to reach the Agent and who the bot is. */
export interface RestBotOptions {
  /** Base URL of the pod, Key Manager and Agent (one host, as the sandbox serves them). */
  baseUrl: string;
  /** PEM of the CA to trust. */
  caPem: string;
  username: string;
  /** PKCS#8 PEM of the bot's login key. */
  privateKeyPem: string;
  /** Requests in flight at most (sockets of the pool). Default 32. */
  maxSockets?: number;
}

/** A `V4Message` as the Agent answers it (the fields the bot reads). */
export interface AgentMessage {
  messageId: string;
  timestamp: number;
  /** PresentationML. */
  message: string;
  /** Entity JSON, as a string. */
  data?: string;
  user: { userId: number };
  stream: { streamId: string };
}

/** A `V4Event` (the fields the bot reads). */
export interface AgentEvent {
  id: string;
  type: string;
  timestamp: number;
  initiator: { user: { userId: number } };
  payload: { messageSent?: { message: AgentMessage } } & Record<string, unknown>;
}

/** One part of a form: text, or a file. */
export type FormValue = string | { bytes: Uint8Array; filename: string; type?: string };

/** The plain text of PresentationML (tags dropped, the five XML entities decoded). */
export function presentationText(presentationML: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return presentationML.replace(/<[^>]*>/g, '').replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => entities[e]!);
}

/** A logged-in plain-REST bot. */
export class RestBot {
  readonly userId: number;
  readonly #base: string;
  readonly #pool: Agent;
  readonly #tokens: { sessionToken: string; keyManagerToken: string };

  private constructor(base: string, pool: Agent, userId: number, tokens: { sessionToken: string; keyManagerToken: string }) {
    this.#base = base;
    this.#pool = pool;
    this.userId = userId;
    this.#tokens = tokens;
  }

  /** Log in (RSA JWT to `/login/pubkey/authenticate` and `/relay/pubkey/authenticate`) and read the session's user. */
  static async login(options: RestBotOptions): Promise<RestBot> {
    const pool = new Agent({ ca: options.caPem, keepAlive: true, maxSockets: options.maxSockets ?? 32 });
    try {
      const key = new RsaPrivateKey(options.privateKeyPem);
      const token = async () => JSON.stringify({ token: await signJwtRs512(key, { sub: options.username }) });
      const json = { 'content-type': 'application/json' };
      const session = JSON.parse((await send(pool, options.baseUrl, 'POST', '/login/pubkey/authenticate', json, await token())).toString()) as { token: string };
      const km = JSON.parse((await send(pool, options.baseUrl, 'POST', '/relay/pubkey/authenticate', json, await token())).toString()) as { token: string };
      const me = JSON.parse((await send(pool, options.baseUrl, 'GET', '/pod/v2/sessioninfo', { sessionToken: session.token })).toString()) as { id: number };
      return new RestBot(options.baseUrl, pool, me.id, { sessionToken: session.token, keyManagerToken: km.token });
    } catch (err) {
      pool.destroy();
      throw err;
    }
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = { ...this.#tokens, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const reply = await send(this.#pool, this.#base, method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    return (reply.length === 0 ? undefined : JSON.parse(reply.toString('utf8'))) as T;
  }

  /** Send MessageML (and optional form parts: `data`, `attachment`…) to a stream through the Agent. */
  async send(streamId: string, messageMl: string, parts: Record<string, FormValue | FormValue[]> = {}): Promise<AgentMessage> {
    const form = new FormData();
    form.append('message', messageMl);
    for (const [name, value] of Object.entries(parts)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string') form.append(name, v);
        else form.append(name, new Blob([new Uint8Array(v.bytes)], { type: v.type ?? 'application/octet-stream' }), v.filename);
      }
    }
    // Node's own FormData encoder writes the multipart body, as any HTTP client library would.
    const encoded = new Response(form);
    const body = Buffer.from(await encoded.arrayBuffer());
    const headers = { ...this.#tokens, 'content-type': encoded.headers.get('content-type')! };
    const reply = await send(this.#pool, this.#base, 'POST', `/agent/v4/stream/${streamId}/message/create`, headers, body);
    return JSON.parse(reply.toString('utf8')) as AgentMessage;
  }

  /** Messages of a stream since `since` (ms), oldest first. */
  async messages(streamId: string, since = 0, limit = 50): Promise<AgentMessage[]> {
    return (await this.#json<AgentMessage[] | undefined>('GET', `/agent/v4/stream/${streamId}/message?since=${since}&limit=${limit}`)) ?? [];
  }

  /** Create an Agent datafeed (v5); returns its id. */
  async createDatafeed(): Promise<string> {
    return (await this.#json<{ id: string }>('POST', '/agent/v5/datafeeds', {})).id;
  }

  /** Delete an Agent datafeed. */
  async deleteDatafeed(id: string): Promise<void> {
    await this.#json('DELETE', `/agent/v5/datafeeds/${id}`);
  }

  /** One read of a datafeed: acknowledges what `ackId` names, returns the next events and their `ackId`. */
  readDatafeed(id: string, ackId: string): Promise<{ ackId: string; events?: AgentEvent[] }> {
    return this.#json('POST', `/agent/v5/datafeeds/${id}/read`, { ackId });
  }

  /**
   * Read a new datafeed until `signal` aborts, handing each event to `handler` and acknowledging a batch only after
   * its handlers returned (the BDK's loop). Resolves once the feed exists; `done` settles when the loop ends.
   */
  async listen(handler: (event: AgentEvent) => void, signal: AbortSignal): Promise<{ feedId: string; done: Promise<void> }> {
    const feedId = await this.createDatafeed();
    const done = (async () => {
      let ackId = '';
      while (!signal.aborted) {
        let batch: { ackId: string; events?: AgentEvent[] };
        try {
          batch = await this.readDatafeed(feedId, ackId);
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        for (const event of batch.events ?? []) handler(event);
        ackId = batch.ackId;
      }
    })();
    return { feedId, done };
  }

  /** Close the connection pool (in-flight long polls end). */
  close(): void {
    this.#pool.destroy();
  }
}

/** One request; the body of a 2xx answer, else an Error naming the route and status. */
function send(pool: Agent, base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: pool, headers, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(Buffer.concat(chunks));
          return;
        }
        let said = '';
        try {
          const message = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: unknown }).message;
          if (typeof message === 'string') said = `: ${message.slice(0, 300)}`;
        } catch {
          // not a {code, message} answer
        }
        reject(new Error(`${method} ${path.split('?')[0]} answered HTTP ${status}${said}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path.split('?')[0]} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}
