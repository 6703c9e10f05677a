// A plain-HTTP relay on 127.0.0.1 in front of a sandbox, for answers the sandbox never gives: it forwards every
// request to the sandbox over HTTPS (its body rewritten by `rewrite`, if given) and hands the real answer to `alter`,
// which may write a different one.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RunningSandbox } from '../../src/sandbox/server.js';

/** The sandbox's answer to a relayed request. */
export interface RelayedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A running relay. */
export interface Relay {
  port: number;
  /** Component settings that send a client's requests through the relay. */
  component: { scheme: 'http'; host: string; port: number };
  close(): Promise<void>;
}

/**
 * Start a relay. `alter(method, path, answer, res)` sees every answer (path with its query string); it returns true
 * after writing its own response to `res`, false to pass the answer on unchanged. `rewrite(method, path, body)`
 * gives the body to forward instead of the client's.
 */
export async function startRelay(
  sandbox: RunningSandbox,
  alter: (method: string, path: string, answer: RelayedAnswer, res: ServerResponse) => boolean | Promise<boolean>,
  rewrite: (method: string, path: string, body: Buffer) => Buffer = (_m, _p, body) => body,
): Promise<Relay> {
  const agent = new Agent({ ca: readFileSync(sandbox.caCertPath, 'utf8'), keepAlive: true });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = rewrite(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks));
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers.host;
      delete headers.connection;
      delete headers['transfer-encoding'];
      const upstream = request(`${sandbox.podUrl}${req.url ?? '/'}`, { method: req.method, headers, agent }, (reply) => {
        const parts: Buffer[] = [];
        reply.on('data', (c: Buffer) => parts.push(c));
        reply.on('end', () => {
          const answer = { status: reply.statusCode ?? 502, headers: reply.headers, body: Buffer.concat(parts) };
          void Promise.resolve(alter(req.method ?? 'GET', req.url ?? '/', answer, res)).then((handled) => {
            if (handled) return;
            const out = { ...answer.headers };
            delete out.connection;
            delete out['transfer-encoding'];
            res.writeHead(answer.status, { ...out, 'content-length': answer.body.length });
            res.end(answer.body);
          }, () => res.destroy());
        });
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    component: { scheme: 'http', host: '127.0.0.1', port },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
