/**
 * Connection pools for Node: {@link createDispatcher} builds a pooled keep-alive undici `Agent`, or a `ProxyAgent`
 * tunnelling through an HTTP(S) proxy, with the TLS settings of a client (trusted CAs, client certificate), and
 * returns it as a {@link Transport} (undici-transport.ts makes the exchanges). The only module that loads undici
 * (and `node:tls`), so swapping the pool means rewriting this file only.
 *
 * Trust: `ca` replaces Node's built-in roots (like `node:tls`) unless `includeSystemCa` is set, in which case it is
 * added to them (what the Java BDK does since finos/symphony-bdk-java#548).
 */
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, ProxyAgent, type Dispatcher as UndiciDispatcher } from 'undici';
import { InvalidArgumentError } from '../errors.js';
import { timerDelay } from '../util/async.js';
import { describeValue, optionsObject, requirePositiveInteger, requireString } from '../util/validate.js';
import { DEFAULT_MAX_RESPONSE_BYTES, requireHttpUrl, type Transport } from './transport.js';
import { undiciTransport } from './undici-transport.js';

/** Default time allowed to open a connection (TCP + TLS handshake), in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default maximum number of connections per origin. */
export const DEFAULT_MAX_CONNECTIONS = 32;

/** A client certificate for mutual TLS: a PKCS#12 bundle and its password, or a PEM certificate (chain) and key. */
export type ClientCertificate = { pfx: Uint8Array; passphrase: string } | { certPem: string; keyPem: string };

/** An HTTP(S) proxy: its URL, and credentials sent as a Basic `Proxy-Authorization` (never in errors or logs). */
export interface ProxyOptions {
  url: string;
  username?: string;
  password?: string;
}

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** PEM certificate(s) of the certificate authorities to trust. Default: Node's built-in roots. */
  ca?: string | string[];
  /** With `ca`: trust Node's built-in roots as well. Default false (trust `ca` only). */
  includeSystemCa?: boolean;
  /** Certificate presented for mutual TLS (certificate login). */
  clientCertificate?: ClientCertificate;
  /** Send every request through this HTTP(S) proxy (CONNECT tunnel for https targets). */
  proxy?: ProxyOptions;
  /** Time allowed to open a connection, TLS included. Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Maximum simultaneous connections per origin; idle ones are kept alive and reused. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Default cap of a collected response body, in bytes. Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
}

/**
 * Build a connection pool, as a {@link Transport}. Share one between clients of the same identity and proxy; close
 * it with `close()`. Throws {@link InvalidArgumentError} on bad options (described by type, never content).
 */
export function createDispatcher(options: DispatcherOptions = {}): Transport {
  const o = optionsObject('options', options) as DispatcherOptions;
  const connectTimeoutMs = o.connectTimeoutMs === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : requirePositiveInteger('options.connectTimeoutMs', o.connectTimeoutMs);
  const maxConnections = o.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : requirePositiveInteger('options.maxConnections', o.maxConnections);
  const maxResponseBytes = o.maxResponseBytes === undefined ? DEFAULT_MAX_RESPONSE_BYTES : requirePositiveInteger('options.maxResponseBytes', o.maxResponseBytes);
  const tls = tlsOptions(o);
  const common = { connections: maxConnections, pipelining: 1, connectTimeout: timerDelay(connectTimeoutMs) };
  let pool: UndiciDispatcher;
  let description = 'agent';
  if (o.proxy !== undefined) {
    const p = optionsObject('options.proxy', o.proxy) as ProxyOptions;
    const proxyUrl = requireHttpUrl('options.proxy.url', p.url);
    // Credentials travel in the token, never in the URL (which undici might echo in errors).
    let username = p.username;
    let password = p.password;
    if (proxyUrl.username !== '' || proxyUrl.password !== '') {
      username ??= decodeURIComponent(proxyUrl.username);
      password ??= decodeURIComponent(proxyUrl.password);
      proxyUrl.username = '';
      proxyUrl.password = '';
    }
    if (username !== undefined) requireString('options.proxy.username', username);
    if (password !== undefined) requireString('options.proxy.password', password);
    const token = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    pool = new ProxyAgent({
      ...common,
      uri: proxyUrl.origin,
      ...(token === undefined ? {} : { token }),
      // The tunnel replaces the Agent's connector, so the connect timeout must be given to both legs.
      proxyTls: { timeout: timerDelay(connectTimeoutMs), ...(proxyUrl.protocol === 'https:' && tls.ca !== undefined ? { ca: tls.ca as string[] } : {}) },
      requestTls: { timeout: connectTimeoutMs, ...tls },
    });
    description = `proxy ${proxyUrl.origin}`;
  } else {
    pool = new Agent({ ...common, connect: { ...tls } });
  }
  return undiciTransport(pool, { description, connectTimeoutMs, maxResponseBytes });
}

/** The `node:tls` options of `o` (trusted CAs, client certificate), checked now rather than on the first request. */
function tlsOptions(o: DispatcherOptions): Record<string, unknown> {
  const tls: Record<string, unknown> = {};
  if (o.ca !== undefined) {
    const list = typeof o.ca === 'string' ? [o.ca] : o.ca;
    if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string' && c.includes('-----BEGIN CERTIFICATE-----'))) {
      throw new InvalidArgumentError('options.ca', 'a PEM certificate or a non-empty array of them', describeValue(o.ca));
    }
    tls.ca = o.includeSystemCa === true ? [...rootCertificates, ...list] : list;
  }
  const cc = o.clientCertificate;
  if (cc !== undefined) {
    if (typeof cc === 'object' && cc !== null && 'pfx' in cc) {
      if (!(cc.pfx instanceof Uint8Array) || cc.pfx.length === 0) throw new InvalidArgumentError('options.clientCertificate.pfx', 'a non-empty Uint8Array (PKCS#12)', describeValue(cc.pfx));
      requireString('options.clientCertificate.passphrase', cc.passphrase);
      tls.pfx = Buffer.from(cc.pfx.buffer, cc.pfx.byteOffset, cc.pfx.byteLength);
      tls.passphrase = cc.passphrase;
    } else if (typeof cc === 'object' && cc !== null && 'certPem' in cc) {
      requireString('options.clientCertificate.certPem', cc.certPem);
      requireString('options.clientCertificate.keyPem', cc.keyPem);
      tls.cert = cc.certPem;
      tls.key = cc.keyPem;
    } else {
      throw new InvalidArgumentError('options.clientCertificate', '{ pfx, passphrase } or { certPem, keyPem }', describeValue(cc));
    }
  }
  // Fail now, not on the first request, when Node's TLS cannot use the material (wrong PKCS#12 password, key that
  // does not match, unreadable PEM). The error says which option, never why in OpenSSL's words (it may quote input).
  for (const [parameter, material] of [
    ['options.ca', tls.ca === undefined ? undefined : { ca: tls.ca }],
    ['options.clientCertificate', tls.pfx === undefined && tls.cert === undefined ? undefined : { pfx: tls.pfx, passphrase: tls.passphrase, cert: tls.cert, key: tls.key }],
  ] as const) {
    if (material === undefined) continue;
    try {
      createSecureContext(material as Parameters<typeof createSecureContext>[0]);
    } catch {
      throw new InvalidArgumentError(parameter, parameter === 'options.ca' ? 'PEM certificates Node can read' : 'a certificate and matching private key Node can read (check the PKCS#12 password)', 'material it refused');
    }
  }
  return tls;
}
