// Test helpers for talking to a sandbox over real HTTPS on 127.0.0.1: requests, logins, and Allegro's key chain.
import { readFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import { AesKey } from '../../src/crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512, unwrapKey } from '../../src/crypto/rsa.js';
import { decryptTransport } from '../../src/crypto/transport.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any;
}

/** One field of a multipart/form-data body: text, or a file (bytes with a file name). */
export interface FormField {
  name: string;
  value: string | Uint8Array;
  filename?: string;
  contentType?: string;
}

export interface RequestOptions {
  json?: unknown;
  /** A multipart/form-data body, as the Agent's message routes take it. */
  multipart?: readonly FormField[];
  form?: Record<string, string>;
  bytes?: Uint8Array;
  raw?: string;
  headers?: Record<string, string>;
  /** Client certificate (PEM) for mutual TLS. */
  cert?: { cert: string; key: string };
  timeoutMs?: number;
}

const agents = new Map<string, Agent>();

/** A multipart/form-data body (RFC 7578) of `fields`, as HTTP clients write it. */
export function multipartBody(fields: readonly FormField[], boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const file = f.filename === undefined ? '' : `; filename="${f.filename.replace(/["\\]/g, '\\$&')}"`;
    const type = f.contentType ?? (typeof f.value === 'string' ? undefined : 'application/octet-stream');
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"${file}\r\n${type === undefined ? '' : `Content-Type: ${type}\r\n`}\r\n`));
    parts.push(typeof f.value === 'string' ? Buffer.from(f.value) : Buffer.from(f.value), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/** One HTTPS request to the sandbox, trusting only its CA. */
export function call(sandbox: RunningSandbox, method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const ca = readFileSync(sandbox.caCertPath, 'utf8');
  let agent = options.cert === undefined ? agents.get(ca) : undefined;
  if (agent === undefined) {
    agent = new Agent({ ca, keepAlive: true, ...(options.cert ?? {}) });
    if (options.cert === undefined) agents.set(ca, agent);
  }
  let body: Buffer | undefined;
  const headers: Record<string, string> = { ...options.headers };
  if (options.json !== undefined) {
    body = Buffer.from(JSON.stringify(options.json));
    headers['content-type'] = 'application/json';
  } else if (options.form !== undefined) {
    body = Buffer.from(new URLSearchParams(options.form).toString());
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.bytes !== undefined) {
    body = Buffer.from(options.bytes);
    headers['content-type'] = 'application/octet-stream';
  } else if (options.multipart !== undefined) {
    const boundary = `----allegro-test-${Math.random().toString(36).slice(2)}`;
    body = multipartBody(options.multipart, boundary);
    headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
  } else if (options.raw !== undefined) {
    body = Buffer.from(options.raw);
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${sandbox.podUrl}${path}`, { method, agent, headers, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = buf.length > 0 ? JSON.parse(buf.toString('utf8')) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A logged-in identity: session and Key Manager tokens, and the headers that carry them. */
export interface Login {
  userId: number;
  session: string;
  km: string;
  headers: Record<string, string>;
  kmHeaders: Record<string, string>;
}

/** Log a seeded identity in with its generated RSA key (JWT), to the pod and the Key Manager. */
export async function login(sandbox: RunningSandbox, username: string): Promise<Login> {
  const files = sandbox.identities.get(username);
  if (files?.privateKeyPath === undefined) throw new Error(`no generated key for ${username}`);
  const key = new RsaPrivateKey(readFileSync(files.privateKeyPath, 'utf8'));
  const session = await call(sandbox, 'POST', '/login/pubkey/authenticate', { json: { token: await signJwtRs512(key, { sub: username }) } });
  const km = await call(sandbox, 'POST', '/relay/pubkey/authenticate', { json: { token: await signJwtRs512(key, { sub: username }) } });
  if (session.status !== 200 || km.status !== 200) throw new Error(`login failed: ${session.status} ${km.status}`);
  return {
    userId: files.userId, session: session.json.token, km: km.json.token,
    headers: { sessionToken: session.json.token }, kmHeaders: { keyManagerToken: km.json.token },
  };
}

/** An OBO app's session token, authenticating the seeded app with its generated RSA key (JWT). */
export async function appLogin(sandbox: RunningSandbox, appId: string): Promise<string> {
  const files = sandbox.apps.get(appId);
  if (files?.privateKeyPath === undefined) throw new Error(`no generated key for the app ${appId}`);
  const key = new RsaPrivateKey(readFileSync(files.privateKeyPath, 'utf8'));
  const reply = await call(sandbox, 'POST', '/login/pubkey/app/authenticate', { json: { token: await signJwtRs512(key, { sub: appId }) } });
  if (reply.status !== 200) throw new Error(`app login failed: ${reply.status}`);
  return reply.json.token as string;
}

/** The session token an OBO app (its session token `appToken`) gets for `username`. */
export async function oboLogin(sandbox: RunningSandbox, appToken: string, username: string): Promise<string> {
  const reply = await call(sandbox, 'POST', `/login/pubkey/app/username/${encodeURIComponent(username)}/authenticate`, { headers: { sessionToken: appToken } });
  if (reply.status !== 200) throw new Error(`OBO login of ${username} failed: ${reply.status}`);
  return reply.json.token as string;
}

/** Allegro's key chain: user keys from the KM, account key unwrapped with RSA PKCS#1 v1.5. */
export async function accountKey(sandbox: RunningSandbox, who: Login): Promise<{ accountKey: AesKey; userKey: RsaPrivateKey }> {
  const me = await call(sandbox, 'GET', '/relay/keys/me', { headers: who.kmHeaders });
  const userKey = new RsaPrivateKey(me.json.privateKey);
  const wrapped = await call(sandbox, 'GET', `/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=0&userId=${who.userId}`, { headers: who.headers });
  const bytes = await unwrapKey(userKey, Buffer.from(wrapped.json.data.wrappedAccountKey, 'base64'), 'pkcs1-v1_5');
  return { accountKey: new AesKey(bytes), userKey };
}

/** Fetch and unwrap the content key of (thread, rotation) for `who`; returns the HTTP reply when refused. */
export async function contentKey(sandbox: RunningSandbox, who: Login, ak: AesKey, threadId: string, rotationId: number | string): Promise<AesKey | Reply> {
  const reply = await call(sandbox, 'GET', `/keystore/wrappedContentKeys/one?threadId=${encodeURIComponent(threadId)}&rotationId=${rotationId}&userId=${who.userId}`, { headers: who.headers });
  if (reply.status !== 200) return reply;
  return new AesKey(await decryptTransport(ak, Buffer.from(reply.json.data.wrappedContentKey, 'base64')));
}

/** The id of the first stream of `type` the user is in. */
export async function firstStream(sandbox: RunningSandbox, who: Login, type: 'ROOM' | 'IM' | 'MIM' | 'POST'): Promise<string> {
  const list = await call(sandbox, 'POST', '/pod/v1/streams/list', { headers: who.headers, json: { streamTypes: [{ type }] } });
  const id = list.json[0]?.id;
  if (typeof id !== 'string') throw new Error(`no ${type} stream`);
  return id;
}

/**
 * Post a SocialMessage whose text field is `text` (any string: a forged or broken ciphertext, say) to `stream`, as
 * the member `username` could through the native path, bypassing the client.
 */
export async function postRaw(sandbox: RunningSandbox, username: string, stream: string, text: string): Promise<void> {
  const who = await login(sandbox, username);
  const threadId = Buffer.from(stream, 'base64url').toString('base64');
  const posted = await call(sandbox, 'POST', '/webcontroller/ingestor/v2/MessageService', { headers: who.headers, form: { messagepayload: JSON.stringify({ threadId, text }) } });
  if (posted.status !== 200) throw new Error(`posting failed: ${posted.status} ${posted.body.toString()}`);
}
