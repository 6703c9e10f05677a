/**
 * Throttles (docs/agent-host.md "Throttles"): per-agent token buckets in front of the Symphony calls of
 * Collaboration (send, history, an IM channel's presence). A throttle `{Threshold, IntervalMs}` lets an agent make `Threshold`
 * calls per interval, refilled continuously; a call beyond it is answered 429 with `Retry-After` (seconds, rounded
 * up). Every throttle naming an agent applies. Buckets live in the host's memory (they start full after a restart).
 */
import type { StoredThrottle } from './store/types.js';

interface Bucket { tokens: number; at: number; threshold: number; intervalMs: number }

/** The token buckets of every (throttle, agent) pair. */
export class Throttles {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Take one call for `agentId` from every throttle of `throttles` that names it. Returns 0 when allowed (tokens
   * taken), else the milliseconds until each bucket has a token again (nothing taken).
   */
  take(agentId: string, throttles: readonly StoredThrottle[]): number {
    const now = this.#now();
    const buckets: Bucket[] = [];
    let wait = 0;
    for (const t of throttles) {
      if (!t.agents.includes(agentId)) continue;
      const key = `${t.id}\u0000${agentId}`;
      let b = this.#buckets.get(key);
      if (b === undefined || b.threshold !== t.threshold || b.intervalMs !== t.intervalMs) {
        b = { tokens: t.threshold, at: now, threshold: t.threshold, intervalMs: t.intervalMs };
        this.#buckets.set(key, b);
      }
      const rate = b.threshold / b.intervalMs;
      b.tokens = Math.min(b.threshold, b.tokens + (now - b.at) * rate);
      b.at = now;
      // (less a nanosecond: floating-point refills must not round a whole millisecond up)
      if (b.tokens < 1) wait = Math.max(wait, Math.ceil((1 - b.tokens) / rate - 1e-6));
      buckets.push(b);
    }
    if (wait > 0) return wait;
    for (const b of buckets) b.tokens -= 1;
    return 0;
  }

  /** Forget the buckets of a deleted throttle or agent. */
  forget(match: { throttleId?: string; agentId?: string }): void {
    for (const key of [...this.#buckets.keys()]) {
      const [t, a] = key.split('\u0000');
      if (t === match.throttleId || a === match.agentId) this.#buckets.delete(key);
    }
  }
}
