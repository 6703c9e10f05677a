/**
 * `allegro objects put|get|ls|rm|versions` and `allegro blob put|get`: the Object Store from the command line, as
 * the bot of a config file. Payloads are encrypted and decrypted in this process; partitions are named (and
 * created on first use) by the bot.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { AllegroClient } from '../../client.js';
import { ProgressBar } from '../progress.js';
import { withClient } from './chat.js';

function objectLine(o: { sortKey: string; version: number; absoluteHash: string; baseHash: string }): string {
  return `${o.sortKey}\tv${o.version}\t${o.absoluteHash}\t${o.baseHash}`;
}

/** `objects put PARTITION SORTKEY VALUE|--file F --thread STREAM [--type T]`: prints the new object's hash. */
export function objectsPut(config: string, partitionName: string, sortKey: string, value: { text?: string; file?: string }, threadId: string, objectType: string | undefined, print: (line: string) => void): Promise<number> {
  return withClient(config, async (bot) => {
    const partition = await bot.objects.partition(partitionName);
    const payload = value.file !== undefined ? new Uint8Array(await readFile(value.file)) : new TextEncoder().encode(value.text ?? '');
    const ref = await bot.objects.put({ partition, sortKey, threadId, payload, ...(objectType === undefined ? {} : { objectType }) });
    print(objectLine(ref));
  });
}

/** `objects get PARTITION SORTKEY` or `objects get --hash HASH`: prints the decrypted payload. */
export function objectsGet(config: string, target: { partition: string; sortKey: string } | { hash: string }, write: (bytes: Uint8Array) => void): Promise<number> {
  return withClient(config, async (bot) => {
    const object = 'hash' in target ? await bot.objects.get(target.hash, { current: true }) : await bot.objects.getBySortKey(await bot.objects.partition(target.partition), target.sortKey);
    write(object.payload);
  });
}

/** `objects ls PARTITION [--prefix P]`: one line per current object. */
export function objectsList(config: string, partitionName: string, prefix: string | undefined, print: (line: string) => void): Promise<number> {
  return withClient(config, async (bot) => {
    const partition = await bot.objects.partition(partitionName);
    for await (const o of bot.objects.list(partition, prefix === undefined ? {} : { sortKeyPrefix: prefix })) print(objectLine(o));
  });
}

/** `objects rm PARTITION SORTKEY [--physical]`. */
export function objectsRemove(config: string, partitionName: string, sortKey: string, physical: boolean): Promise<number> {
  return withClient(config, async (bot) => {
    const current = await bot.objects.getBySortKey(await bot.objects.partition(partitionName), sortKey);
    await bot.objects.delete(current, physical ? 'PHYSICAL' : 'LOGICAL');
  });
}

/** `objects versions PARTITION SORTKEY`: every version, oldest first. */
export function objectsVersions(config: string, partitionName: string, sortKey: string, print: (line: string) => void): Promise<number> {
  return withClient(config, async (bot) => {
    const current = await bot.objects.getBySortKey(await bot.objects.partition(partitionName), sortKey);
    for await (const v of bot.objects.versions(current.baseHash)) print(objectLine(v));
  });
}

/** `blob put FILE --thread STREAM`: streams the file encrypted, with a progress bar; prints the blob reference. */
export function blobPut(config: string, file: string, threadId: string, print: (line: string) => void): Promise<number> {
  return withClient(config, async (bot: AllegroClient) => {
    const size = (await stat(file)).size;
    const bar = new ProgressBar('upload', size);
    const blob = await bot.objects.putBlob(createReadStream(file, { highWaterMark: 1024 * 1024 }), { threadId, size, onProgress: (n) => bar.advance(n) });
    bar.finish();
    print(blob.ref);
  });
}

/** `blob get BLOB_REF FILE`: streams the blob down, decrypting, with a progress bar. */
export function blobGet(config: string, blobId: string, file: string): Promise<number> {
  return withClient(config, async (bot: AllegroClient) => {
    const blob = await bot.objects.getBlob(blobId);
    const bar = new ProgressBar('download', blob.size);
    const out = createWriteStream(file);
    try {
      for await (const chunk of blob.content) {
        if (!out.write(chunk)) await once(out, 'drain');
        bar.advance(chunk.length);
      }
      out.end();
      await once(out, 'finish');
      bar.finish();
    } catch (err) {
      // Never leave a partial (unauthenticated) file behind.
      out.destroy();
      await rm(file, { force: true });
      throw err;
    }
  });
}
