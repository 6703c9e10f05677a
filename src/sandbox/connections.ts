/**
 * What the sandbox's HTTPS server allows one connection (docs/sandbox.md "Limits"), so that no client can hold the
 * server's memory or sockets: a bound on concurrent connections, a TLS handshake timeout (a TCP connection that
 * never says hello is closed), a timeout for the request head and one for the whole request, a keep-alive idle
 * timeout, and a send timeout: a connection whose writes are held back and make no progress for `sendTimeoutMs` (a
 * reader that stopped reading) is destroyed, which frees what was buffered for it. Parser-level failures (a malformed request,
 * a header block over `maxHeaderBytes`, a request timeout) are answered with the usual `{code, message}` JSON
 * before the connection is closed.
 */
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The connection limits, in milliseconds and counts (part of the sandbox's `config`; defaults in context.ts). */
export interface ConnectionLimits {
  /** Concurrent connections; more are closed at once. Default 4096. */
  maxConnections: number;
  /** A TCP connection must complete its TLS handshake within this. Default 10,000. */
  tlsHandshakeTimeoutMs: number;
  /** A request's head (request line and headers) must arrive within this. Default 10,000. */
  headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this (0: no limit). Default 300,000. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Default 5,000. */
  idleTimeoutMs: number;
  /** A connection whose pending output makes no progress for this long is destroyed. Default 30,000. */
  sendTimeoutMs: number;
  /** Largest request head, in bytes (431 beyond). Default 16 KiB. */
  maxHeaderBytes: number;
}

/** The options of `https.createServer` that enforce `limits` (the rest is {@link guardConnections}). */
export function serverOptions(limits: ConnectionLimits): ServerOptions {
  return {
    handshakeTimeout: limits.tlsHandshakeTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // Node checks the head and request timeouts on this interval (default 30 s, far coarser than the timeouts).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
  };
}

/** Parser errors and the status they are answered with. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'The request head is larger than the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request did not arrive in time'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'The request head did not arrive in time'],
};

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Apply the limits that are not server options, answer parser-level errors with JSON, and track the open
 * connections in `sockets`. Returns the function that stops the send-timeout sweep.
 */
export function guardConnections(server: HttpsServer, limits: ConnectionLimits, sockets: Set<Socket>): () => void {
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // The send timeout watches the TLS sockets: the TCP socket under one has no JS-level output queue of its own.
  const secure = new Set<TLSSocket>();
  /** Per socket: pending output at the last look, whether a 'drain' came since, and for how long nothing moved. */
  const progress = new WeakMap<TLSSocket, { pending: number; drained: boolean; stalledMs: number }>();
  server.on('secureConnection', (socket: TLSSocket) => {
    secure.add(socket);
    socket.on('close', () => secure.delete(socket));
    socket.on('drain', () => {
      const p = progress.get(socket);
      if (p !== undefined) p.drained = true;
    });
  });
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? (err.code?.startsWith('HPE_') === true ? [400, 'The request is not valid HTTP/1.1'] : [0, '']);
    if (status === 0 || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ code: status, message });
    socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  // The send-timeout sweep: a socket whose writes are held back (a write returned false: more than its high-water
  // mark is buffered) and that made no progress for sendTimeoutMs is destroyed. Progress is a 'drain' (the reader
  // took everything buffered) or a buffer smaller than at the last look (a large write being taken): a slow reader
  // that keeps reading is never dropped, a stalled one is, and a few bytes waiting a while (TLS can hold a small
  // record back for seconds under load) cost nothing and drop no one. Only time the server was free to write counts:
  // a look that comes late (the event loop was busy, and write completions wait behind the timer) adds at most two
  // intervals, so a busy server does not blame its readers.
  const interval = Math.max(50, Math.min(1000, limits.sendTimeoutMs / 4));
  let lastLook = Date.now();
  const sweep = setInterval(() => {
    const now = Date.now();
    const elapsed = Math.min(now - lastLook, 2 * interval);
    lastLook = now;
    for (const socket of secure) {
      const pending = socket.writableLength;
      const p = progress.get(socket);
      if (p === undefined || !socket.writableNeedDrain || p.drained || pending < p.pending) {
        progress.set(socket, { pending, drained: false, stalledMs: 0 });
        continue;
      }
      p.pending = pending;
      p.stalledMs += elapsed;
      if (p.stalledMs >= limits.sendTimeoutMs) socket.destroy();
    }
  }, interval);
  sweep.unref();
  return () => clearInterval(sweep);
}
