/**
 * The benchmarks' fast path to a sandbox holding many messages (docs/cli.md "Benchmarks"): messages written
 * straight into a stopped sandbox's database (../sandbox/store/), thousands per transaction, instead of one HTTPS
 * request each, so that `allegro bench sandbox` can start from a million stored messages in seconds. Bench-only: no
 * route does this. The rows are what the message route stores (the SocialMessage as posted, ingestion dates
 * increasing, the stream's last message date moved along); no datafeed event is logged, as for a room none of whose
 * members has a live feed.
 */
import { SandboxStore } from '../sandbox/store/store.js';

/** Messages per transaction. */
const BATCH = 10_000;

/** What {@link fillMessages} writes. */
export interface Fill {
  /** The data directory's database, `<data dir>/sandbox.db`; the sandbox must not be running. */
  dbPath: string;
  streamId: string;
  fromUserId: number;
  /** The SocialMessage every message is stored as. */
  posted: Record<string, unknown>;
  /** How many to add. */
  count: number;
}

/** Add `count` messages to a stream of a stopped sandbox. */
export async function fillMessages(fill: Fill): Promise<void> {
  const store = SandboxStore.open(fill.dbPath);
  try {
    const stream = store.streams.get(fill.streamId);
    if (stream === undefined) throw new Error(`fillMessages: no stream ${fill.streamId}`);
    const base = store.messages.count();
    let date = stream.lastMessageDate;
    for (let done = 0; done < fill.count; done += BATCH) {
      await store.write((tx) => {
        for (let i = done; i < Math.min(fill.count, done + BATCH); i++) {
          const id = Buffer.alloc(24);
          id.write('bench', 0, 'latin1');
          id.writeUIntBE(base + i, 18, 6);
          store.messages.insert(tx, { messageId: id.toString('base64url'), streamId: fill.streamId, fromUserId: fill.fromUserId, ingestionDate: ++date, posted: fill.posted });
        }
        store.streams.setLastMessageDate(tx, fill.streamId, date);
      });
    }
  } finally {
    store.close();
  }
}
