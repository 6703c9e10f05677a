/**
 * A benchmark's client of a sandbox child process (./sandbox-process.ts): raw HTTPS requests over one keep-alive
 * agent, and the default bot's session with what it needs to post an encrypted message (the content key of a room,
 * fetched and unwrapped as Allegro does; checked to decrypt what it encrypts). Shared by the sandbox benchmarks.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { AesKey } from '../crypto/aes-key.js';
import { RsaPrivateKey, signJwtRs512, unwrapKey } from '../crypto/rsa.js';
import { decryptText, decryptTransport, encryptText } from '../crypto/transport.js';
import type { SandboxProcess } from './sandbox-process.js';

/** An HTTPS client of one sandbox. */
export interface SandboxClient {
  /** One request; resolves to the status and the body as text. */
  send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }>;
  /** One request that must answer 2xx; its body parsed as JSON. */
  ok<T = unknown>(method: string, path: string, headers: Record<string, string>, body?: string): Promise<T>;
  close(): void;
}

/** A client with up to `sockets` connections to the sandbox at `ready`. */
export function sandboxClient(ready: Pick<SandboxProcess, 'podUrl' | 'caCertPath'>, sockets: number): SandboxClient {
  const agent = new Agent({ ca: readFileSync(ready.caCertPath, 'utf8'), keepAlive: true, maxSockets: sockets });
  const send: SandboxClient['send'] = (method, path, headers, body) => new Promise((resolve, reject) => {
    const req = request(`${ready.podUrl}${path}`, { method, agent, headers, timeout: 60_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
  return {
    send,
    async ok<T>(method: string, path: string, headers: Record<string, string>, body?: string): Promise<T> {
      const reply = await send(method, path, headers, body);
      if (reply.status < 200 || reply.status >= 300) throw new Error(`${method} ${path.split('?')[0]} answered HTTP ${reply.status}`);
      return (reply.text === '' ? undefined : JSON.parse(reply.text)) as T;
    },
    close: () => agent.destroy(),
  };
}

/** A user logged in, with the headers of its session. */
export interface Session {
  userId: number;
  session: string;
  km: string;
  /** `sessionToken` header. */
  headers: Record<string, string>;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Log `username` in with its private key (JWT), to the pod and the Key Manager. */
export async function logIn(client: SandboxClient, username: string, privateKeyPem: string): Promise<Session> {
  const token = JSON.stringify({ token: await signJwtRs512(new RsaPrivateKey(privateKeyPem), { sub: username }) });
  const session = (await client.ok<{ token: string }>('POST', '/login/pubkey/authenticate', JSON_TYPE, token)).token;
  const km = (await client.ok<{ token: string }>('POST', '/relay/pubkey/authenticate', JSON_TYPE, token)).token;
  const me = await client.ok<{ id: number }>('GET', '/pod/v2/sessioninfo', { sessionToken: session });
  return { userId: me.id, session, km, headers: { sessionToken: session } };
}

/** The default bot of a sandbox, logged in (its key file from the generated configuration). */
export async function logInBot(client: SandboxClient, configPath: string): Promise<Session> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { bot: { username: string; privateKey: { path: string } } };
  return logIn(client, config.bot.username, readFileSync(config.bot.privateKey.path, 'utf8'));
}

/** The content key of `roomId` at rotation 0 for `who`, fetched and unwrapped as Allegro does. */
export async function roomKey(client: SandboxClient, who: Session, roomId: string): Promise<{ key: AesKey; keyPath: string }> {
  const userKeys = await client.ok<{ privateKey: string }>('GET', '/relay/keys/me', { keyManagerToken: who.km });
  const wrappedAk = await client.ok<{ data: { wrappedAccountKey: string } }>('GET', `/webcontroller/keystore/wrappedAccountKeys/one?certId=0&rotationId=0&userId=${who.userId}`, who.headers);
  const ak = new AesKey(await unwrapKey(new RsaPrivateKey(userKeys.privateKey), Buffer.from(wrappedAk.data.wrappedAccountKey, 'base64'), 'pkcs1-v1_5'));
  const keyPath = `/keystore/wrappedContentKeys/one?threadId=${roomId}&rotationId=0&userId=${who.userId}`;
  const wrappedCk = await client.ok<{ data: { wrappedContentKey: string } }>('GET', keyPath, who.headers);
  return { key: new AesKey(await decryptTransport(ak, Buffer.from(wrappedCk.data.wrappedContentKey, 'base64'))), keyPath };
}

/** A message submission to `roomId`: the SocialMessage (text encrypted under `key`, checked to round-trip) and its form body. */
export async function messageSubmission(key: AesKey, roomId: string, text: string): Promise<{ posted: Record<string, unknown>; form: string }> {
  const encrypted = await encryptText(key, text, { rotationId: 0 });
  if (await decryptText(key, encrypted) !== text) throw new Error('sandbox bench: the message does not round-trip under the fetched content key');
  const posted = { threadId: roomId, msgFeatures: 3, text: encrypted };
  return { posted, form: new URLSearchParams({ messagepayload: JSON.stringify(posted) }).toString() };
}
