/**
 * The sandbox's side of the partner callback (docs/symphony-apis.md §1.11, docs/sandbox.md "OBO apps"): when an app is
 * enabled for the pod, or the pod's Agent URL changes, it POSTs `{appId, companyId, eventType, payload}` with the
 * app's `X-API-KEY` to the app's callback URL, and tries again with exponential backoff until it gets a 2xx, at most
 * `attempts` times. Each attempt is logged (without the key) and kept in a bounded history that tests and the control
 * API read. Deliveries run in the background; `close()` abandons the waiting ones.
 */
import { sleepOrWake } from '../util/async.js';

/** What the pod sends (the callback's body). */
export interface PartnerCallbackBody {
  appId: string;
  companyId: string;
  eventType: 'appEnabled' | 'agentRegistered';
  payload: { podUrl: string; sessionAuthUrl: string; agentUrl?: string; baseUrl: string; loginUrl: string };
}

/** One attempt at delivering a callback. */
export interface DeliveryAttempt {
  appId: string;
  eventType: PartnerCallbackBody['eventType'];
  /** 1-based. */
  attempt: number;
  /** The answer's status, or 0 when there was none (refused connection, timeout). */
  status: number;
  /** Why it failed, if it did (never the key). */
  error?: string;
  at: number;
}

/** How deliveries are retried. */
export interface DeliveryPolicy {
  /** Attempts per callback, the first included. Default 6. */
  attempts: number;
  /** Wait before the second attempt, milliseconds; doubled each time. Default 250. */
  initialDelayMs: number;
  /** Longest wait between two attempts, milliseconds. Default 8,000. */
  maxDelayMs: number;
  /** Time allowed for one attempt, milliseconds. Default 10,000. */
  timeoutMs: number;
}

/** The defaults of {@link DeliveryPolicy}. */
export const DEFAULT_DELIVERY_POLICY: Readonly<DeliveryPolicy> = { attempts: 6, initialDelayMs: 250, maxDelayMs: 8_000, timeoutMs: 10_000 };

const HISTORY = 200;

/** Sends partner callbacks with bounded retries. */
export class PartnerDelivery {
  readonly #policy: DeliveryPolicy;
  readonly #log: (line: string) => void;
  readonly #history: DeliveryAttempt[] = [];
  readonly #pending = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  constructor(policy: Partial<DeliveryPolicy> = {}, log: (line: string) => void = () => {}) {
    this.#policy = { ...DEFAULT_DELIVERY_POLICY, ...policy };
    this.#log = log;
  }

  /** The most recent attempts, oldest first. */
  attempts(): DeliveryAttempt[] {
    return [...this.#history];
  }

  /** Start delivering `body` to `url`; resolves once delivered, given up, or abandoned by `close()` (never rejects). */
  send(url: string, apiKey: string, body: PartnerCallbackBody): Promise<void> {
    const run = this.#deliver(url, apiKey, body).finally(() => this.#pending.delete(run));
    this.#pending.add(run);
    return run;
  }

  /** Wait until no delivery is in progress (each delivered or given up). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Wait for the deliveries in progress to finish their current attempt, abandoning their retries. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#pending]);
  }

  async #deliver(url: string, apiKey: string, body: PartnerCallbackBody): Promise<void> {
    const { attempts, initialDelayMs, maxDelayMs, timeoutMs } = this.#policy;
    for (let attempt = 1; attempt <= attempts && !this.#closing.signal.aborted; attempt++) {
      const record: DeliveryAttempt = { appId: body.appId, eventType: body.eventType, attempt, status: 0, at: Date.now() };
      try {
        const answer = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify(body),
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#closing.signal]), redirect: 'manual',
        });
        record.status = answer.status;
        await answer.body?.cancel();
        if (answer.status < 200 || answer.status >= 300) record.error = `HTTP ${answer.status}`;
      } catch (err) {
        record.error = err instanceof Error ? err.name === 'TimeoutError' ? 'timed out' : (err.cause as Error | undefined)?.message ?? err.message : 'failed';
      }
      this.#remember(record);
      const delivered = record.error === undefined;
      this.#log(`partner callback ${body.eventType} of ${body.appId} to ${new URL(url).origin}: attempt ${attempt}/${attempts} ${delivered ? `delivered (HTTP ${record.status})` : `failed (${record.error})`}`);
      if (delivered) return;
      if (attempt < attempts) await sleepOrWake(Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1)), this.#closing.signal);
    }
    if (!this.#closing.signal.aborted) this.#log(`partner callback ${body.eventType} of ${body.appId}: given up after ${attempts} attempts`);
  }

  #remember(record: DeliveryAttempt): void {
    this.#history.push(record);
    if (this.#history.length > HISTORY) this.#history.shift();
  }
}
