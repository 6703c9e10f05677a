// The feed listener of feed-exactly-once.test.ts, run as a separate process on the built package: subscribes a feed
// to a partition and prints one JSON line per handler call. The handler fails the first attempt of every sort key
// that ends in 3 (a retry with extend) and takes 2.5 s for those that end in 7 (longer than the 2 s visibility
// timeout: renewals). It stops EXPECTED handled messages and a quiet GRACE_MS later, printing the feed's counters.
// Usage: node feed-listener.child.mjs CONFIG_PATH PARTITION_HASH FEED_NAME EXPECTED GRACE_MS
import { AllegroClient } from 'allegro-ts';

const [configPath, partition, name, expectedText, graceText] = process.argv.slice(2);
const expected = Number(expectedText);
const graceMs = Number(graceText);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = await AllegroClient.create(configPath);
const feed = await client.objects.upsertFeed({ name, partitions: [partition], expirySeconds: 600 });
let handled = 0;
let quiet;
print({ event: 'listening', hash: feed.hash });
await feed.listen(async (item) => {
  if (item.change !== 'put') return;
  const { sortKey, version, absoluteHash } = item.ref;
  if (sortKey.endsWith('3') && item.attempt === 1) {
    print({ event: 'failed', messageId: item.messageId, sortKey, version, absoluteHash, attempt: item.attempt });
    throw new Error('first attempt fails');
  }
  if (sortKey.endsWith('7')) await new Promise((r) => setTimeout(r, 2500));
  print({ event: 'handled', messageId: item.messageId, sortKey, version, absoluteHash, attempt: item.attempt, value: item.object?.json() });
  if (++handled >= expected) {
    clearTimeout(quiet);
    quiet = setTimeout(() => void feed.stop(), graceMs);
  }
}, {
  waitTimeSeconds: 2, visibilityTimeoutSeconds: 2, retryDelaySeconds: 1, maxItems: 5, concurrency: 3,
  onError: (err, info) => print({ event: 'error', kind: info.kind, code: err.code ?? String(err) }),
});
print({ event: 'stopped', stats: feed.stats });
await client.close();
