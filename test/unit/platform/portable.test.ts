// The portable platform's non-crypto part: no file system (a typed error naming the operation), and what that means for configuration: keys and certificates given as content work, paths are refused clearly.
// Its crypto is covered by the portable vitest project and test/cross/.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { DispatcherOptions } from '../../../src/http/pool.js';
import { sendStream } from '../../../src/http/transport.js';
import { platform } from '../../../src/platform/portable.js';
import { onPlatform } from '../../helpers/platforms.js';

const portableConfig = await onPlatform('portable', () => import('../../../src/config.js'));
const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('portable platform', () => {
  it('refuses file access with UNSUPPORTED_OPERATION naming the operation and the platform', async () => {
    await expect(platform.readFile('config.json')).rejects.toMatchObject({
      code: 'UNSUPPORTED_OPERATION',
      operation: 'reading a file',
      platform: 'portable',
      message: expect.stringContaining('give the content instead of a path'),
    });
    expect(() => platform.directoryOf('config.json')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OPERATION', platform: 'portable' }));
  });

  it('resolves a configuration that gives its key as content', async () => {
    const config = await portableConfig.resolveConfig({ host: 'pod.example', bot: { username: 'bot', privateKey: { content: privateKeyPem } } });
    expect(config.credentials).toMatchObject({ kind: 'rsa', username: 'bot' });
  });

  it('refuses a path in a configuration with INVALID_CONFIG naming the key and saying what to do instead', async () => {
    const refused = portableConfig.resolveConfig({ host: 'pod.example', bot: { username: 'bot', privateKey: { path: 'bot.pem' } } });
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'bot.privateKey.path' });
    await expect(refused).rejects.toThrow(/cannot read bot\.pem: reading a file is not possible on the portable platform: .*give the content instead of a path/);
    await expect(portableConfig.loadConfig('config.json', {})).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: '(file)', message: expect.stringContaining('portable platform') });
  });

  it('makes HTTP exchanges with fetch, and refuses the pool options only undici can honour (never ignoring them)', async () => {
    const refused: Array<[DispatcherOptions, string]> = [
      [{ ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] }, 'trusting extra CA certificates'],
      [{ clientCertificate: { certPem: 'c', keyPem: 'k' } }, 'a TLS client certificate'],
      [{ proxy: { url: 'http://127.0.0.1:3128' } }, 'an HTTP proxy'],
    ];
    for (const [options, operation] of refused) {
      expect(() => platform.createTransport(options)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OPERATION', operation, platform: 'portable' }));
    }
    const server = createServer((req, res) => res.end(JSON.stringify({ method: req.method, path: req.url })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = platform.createTransport({ connectTimeoutMs: 1000 });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hello?x=1`;
      const response = await sendStream(transport, { method: 'GET', url, headers: {}, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
      expect(response.status).toBe(200);
      expect(JSON.parse(new TextDecoder().decode(await response.bytes()))).toEqual({ method: 'GET', path: '/hello?x=1' });
    } finally {
      await transport.close();
      server.close();
    }
  });

  it('in a browser (a document, or a worker scope) collects streamed request bodies before fetch; elsewhere streams them', async () => {
    const realFetch = globalThis.fetch;
    const bodies: unknown[] = [];
    globalThis.fetch = (async (_url: string, init: RequestInit) => {
      bodies.push(init.body);
      if (init.body instanceof ReadableStream) await init.body.cancel();
      return new Response('{}');
    }) as typeof fetch;
    const scope = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
    async function* body(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
    }
    const put = async () => {
      const transport = platform.createTransport({ connectTimeoutMs: 1000 });
      await (await sendStream(transport, { method: 'PUT', url: 'http://127.0.0.1:9/x', headers: {}, body: body(), headersTimeoutMs: 5000, bodyTimeoutMs: 5000 })).bytes();
      await transport.close();
    };
    try {
      await put();
      scope.document = {};
      await put();
      delete scope.document;
      scope.WorkerGlobalScope = class {};
      await put();
    } finally {
      globalThis.fetch = realFetch;
      delete scope.document;
      delete scope.WorkerGlobalScope;
    }
    expect(bodies.map((b) => (b instanceof Blob ? 'Blob' : b instanceof ReadableStream ? 'ReadableStream' : typeof b))).toEqual(['ReadableStream', 'Blob', 'Blob']);
  });
});
