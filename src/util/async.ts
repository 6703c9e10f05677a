/**
 * Waiting and cancellation, shared by the HTTP layer and the datafeed; portable (no `node:` import). Two sleeps that
 * differ in what an abort does — {@link sleepOrAbort} rejects with {@link AbortedError}, {@link sleepOrWake} resolves
 * early — {@link settleOrAbort} to stop waiting for a promise once a signal fires, {@link linkSignals} to combine
 * signals with listeners that are removed again, and {@link AbortGroup} to abort any number of operations at once
 * while hanging at most one listener on a long-lived or shared signal (docs/architecture.md, "The HTTP layer").
 */
import { AbortedError } from '../errors.js';

/**
 * The longest delay a timer holds: 2^31 − 1 ms (about 24.8 days). Node and browsers run a longer `setTimeout` almost
 * at once instead (Node after 1 ms, with a TimeoutOverflowWarning), so every delay and timeout goes through
 * {@link timerDelay} first.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer can hold it: at most {@link MAX_TIMER_MS}, so a longer wait is that longest one, never a 1 ms one. */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}

/**
 * Wait `ms` milliseconds. Rejects with `AbortedError(what)` as soon as `signal` fires (at once if it already has);
 * the timer and the listener are removed either way.
 */
export function sleepOrAbort(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(new AbortedError(what));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, timerDelay(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Wait `ms` milliseconds, or less: resolves (never rejects) as soon as `signal` fires, at once if it already has.
 * For loops that check the signal themselves after waking.
 */
export function sleepOrWake(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, timerDelay(ms));
    signal.addEventListener('abort', wake, { once: true });
  });
}

/**
 * Settle as `promise` does, unless `signal` fires first: then reject with `AbortedError(what)` at once (the promise
 * keeps running; its outcome is ignored). Without a signal, `promise` itself.
 */
export function settleOrAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** A signal derived from others, and the way to unhook it from them. */
export interface LinkedSignal {
  /** Fires when any source fires (already fired if one had). */
  readonly signal: AbortSignal;
  /** Fire {@link signal} now (the sources are left alone). */
  abort(): void;
  /** Remove the listeners from the sources. Idempotent. */
  dispose(): void;
}

/**
 * A signal that fires when any of `sources` fires, with a `dispose()` that removes its listeners from them. (Not
 * `AbortSignal.any`: the dependants it registers on a long-lived source are only released by garbage collection.)
 */
export function linkSignals(...sources: Array<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController();
  const hooked: AbortSignal[] = [];
  const onAbort = () => controller.abort();
  for (const source of sources) {
    if (source === undefined) continue;
    if (source.aborted) {
      controller.abort();
      break;
    }
    source.addEventListener('abort', onAbort, { once: true });
    hooked.push(source);
  }
  return {
    signal: controller.signal,
    abort: onAbort,
    dispose() {
      for (const source of hooked.splice(0)) source.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Operations that are aborted together: each {@link join} gives a signal of its own, fired by {@link abort} or by
 * the outside signal it joined with. However many operations are in flight, an outside signal carries one listener
 * per group (shared by every member that joined with it), and each member's signal only what its own operation
 * hangs on it: no listener pile-up on a signal that lives as long as a client, or that a caller shares between many
 * calls.
 */
export class AbortGroup {
  readonly #members = new Set<AbortController>();
  /** The members that joined with each outside signal, and the one listener that aborts them. */
  readonly #outside = new Map<AbortSignal, { members: Set<AbortController>; onAbort: () => void }>();
  #aborted = false;

  /** Whether the group was aborted: members that join now start aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * A new member, aborted with the group or when `outside` fires. Call `dispose()` once the operation is over: it
   * leaves the group (and the last member to leave unhooks the group from `outside`).
   */
  join(outside?: AbortSignal): LinkedSignal {
    const member = new AbortController();
    if (this.#aborted || outside?.aborted === true) member.abort();
    this.#members.add(member);
    let leave = (): void => {};
    if (outside !== undefined && !outside.aborted) {
      let entry = this.#outside.get(outside);
      if (entry === undefined) {
        const members = new Set<AbortController>();
        entry = { members, onAbort: () => { for (const m of members) m.abort(); } };
        outside.addEventListener('abort', entry.onAbort, { once: true });
        this.#outside.set(outside, entry);
      }
      const joined = entry;
      joined.members.add(member);
      leave = () => {
        joined.members.delete(member);
        if (joined.members.size === 0 && this.#outside.get(outside) === joined) {
          outside.removeEventListener('abort', joined.onAbort);
          this.#outside.delete(outside);
        }
      };
    }
    return {
      signal: member.signal,
      abort: () => member.abort(),
      dispose: () => {
        this.#members.delete(member);
        leave();
        leave = () => {};
      },
    };
  }

  /** Run `operation` as a member joined with `outside` (see {@link join}), leaving the group when it settles. */
  async run<T>(operation: (signal: AbortSignal) => Promise<T>, outside?: AbortSignal): Promise<T> {
    const member = this.join(outside);
    try {
      return await operation(member.signal);
    } finally {
      member.dispose();
    }
  }

  /** Abort every member, and every member that joins later. Idempotent. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    for (const member of this.#members) member.abort();
  }
}
