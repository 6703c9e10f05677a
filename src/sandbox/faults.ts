/**
 * Fault injection for tests (docs/sandbox.md "Fault injection"): rules that add latency to, fail (429 with
 * Retry-After, any 5xx, or 401 as for an expired token), or drop the connection of chosen requests — before serving them, or after
 * (`dropAfter`: the server acts, the answer is lost). Off unless rules are installed, either with the `faults`
 * option of `startSandbox`, in process with `sandbox.faults`, or over HTTP at `/sandbox/v1/faults` when the control
 * API is enabled (`control: true`). Rules apply in order; the first that matches and has uses left wins.
 *
 * A rule names requests by path prefix, or by a glob over the whole path (`*` within a segment, `**` across
 * segments), matched in time linear in the path for a pattern of bounded length: the control API takes no regular
 * expression, so no rule can make matching backtrack catastrophically.
 *
 * A rule with `feedAction` applies only to Object Store feed requests (`POST /object/v1/feeds/{hash}/objects`) that
 * carry that action — a read (`receive`), acknowledgements (`delete`) or visibility changes (`extend`) — and is
 * checked by the feed route once it has read the body ({@link Faults.applyToFeed}); such a rule may also `ignore`
 * the action: answer as if it was done, without doing it (an acknowledgement or a renewal lost inside the store).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HttpError } from './http-error.js';
import { writeResponse, errorResponse } from './http.js';
import { optionalField, requireObject } from './body.js';

/** One fault rule. */
export interface FaultRule {
  /**
   * Requests whose path starts with this prefix (e.g. `/datafeed2/`); with a `*` in it, a glob the whole path must
   * match: `*` any characters but `/`, `**` any characters (e.g. `/datafeed2/api/v1/feeds/*\/events`).
   */
  path: string;
  /** Only this method; default any. */
  method?: string;
  /** Delay before answering (or before the failure), in milliseconds. */
  latencyMs?: number;
  /** Answer with this status instead of serving: 429, 500–599, or 401 (a token refused as expired). */
  status?: number;
  /** With `status`: a Retry-After header, in seconds (meaningful for 429 and 503). */
  retryAfterSeconds?: number;
  /** Destroy the connection without an answer. */
  drop?: boolean;
  /**
   * Serve the request (the route runs and commits its changes), then destroy the connection instead of sending the
   * answer: a response lost after the server acted. Not combined with `drop` or `status`.
   */
  dropAfter?: boolean;
  /** How many matching requests the rule affects; default unlimited. */
  times?: number;
  /** Only feed requests that carry this action (see the module comment); checked after the body is read. */
  feedAction?: FeedAction;
  /** With `feedAction` `delete` or `extend`: answer as usual but leave that list undone. Not with `drop` or `status`. */
  ignore?: boolean;
}

/** What an Object Store feed request does: read messages, delete (acknowledge) them, or change their visibility. */
export type FeedAction = 'receive' | 'delete' | 'extend';

/** What the feed route must do about a fault: `drop` (nothing more), or serve with `ignore` and `dropAfter`. */
export type FeedFault = { drop: true } | { drop: false; ignore: ReadonlySet<FeedAction>; dropAfter: boolean };

const FEED_ACTIONS: readonly FeedAction[] = ['receive', 'delete', 'extend'];

/** Longest `path` of a rule. */
const MAX_PATTERN = 256;

/** A matcher for a glob: `*` any characters but `/`, `**` any characters; everything else literal. */
export function globMatcher(glob: string): (path: string) => boolean {
  const tokens: Array<string | 'STAR' | 'ANY'> = [];
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] !== '*') tokens.push(glob[i]!);
    else if (glob[i + 1] === '*') {
      tokens.push('ANY');
      i++;
    } else tokens.push('STAR');
  }
  const m = tokens.length;
  // A simulation of the glob's automaton: the set of pattern positions reachable after each character.
  const close = (states: Uint8Array) => {
    for (let i = 0; i < m; i++) if (states[i] === 1 && (tokens[i] === 'STAR' || tokens[i] === 'ANY')) states[i + 1] = 1;
  };
  return (path) => {
    let states = new Uint8Array(m + 1);
    let next = new Uint8Array(m + 1);
    states[0] = 1;
    close(states);
    for (let k = 0; k < path.length; k++) {
      const ch = path[k]!;
      next.fill(0);
      let any = false;
      for (let i = 0; i < m; i++) {
        if (states[i] === 0) continue;
        const t = tokens[i]!;
        if (t === 'ANY' || (t === 'STAR' && ch !== '/')) next[i] = 1;
        else if (t === ch) next[i + 1] = 1;
        else continue;
        any = true;
      }
      if (!any) return false;
      close(next);
      [states, next] = [next, states];
    }
    return states[m] === 1;
  };
}

interface ActiveRule extends FaultRule {
  remaining: number;
  matcher: (path: string) => boolean;
}

/** Parse and check a rule given as JSON (control API) or in code. */
export function parseFaultRule(value: unknown): FaultRule {
  const o = requireObject(value, 'rule');
  const path = optionalField(o, 'path', 'string');
  if (path === undefined || path.length === 0) throw new HttpError(400, 'Field "path" is required: a path prefix or a glob');
  if (!path.startsWith('/')) throw new HttpError(400, 'Field "path" must start with "/": a path prefix, or a glob (* within a segment, ** across segments); regular expressions are not accepted');
  if (path.length > MAX_PATTERN) throw new HttpError(400, `Field "path" must be at most ${MAX_PATTERN} characters`);
  const rule: FaultRule = { path };
  const method = optionalField(o, 'method', 'string');
  if (method !== undefined) rule.method = method.toUpperCase();
  const latencyMs = optionalField(o, 'latencyMs', 'number');
  if (latencyMs !== undefined) {
    if (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > 60_000) throw new HttpError(400, 'Field "latencyMs" must be an integer from 0 to 60000');
    rule.latencyMs = latencyMs;
  }
  const status = optionalField(o, 'status', 'number');
  if (status !== undefined) {
    if (status !== 401 && status !== 429 && !(Number.isInteger(status) && status >= 500 && status <= 599)) throw new HttpError(400, 'Field "status" must be 401, 429 or 500-599');
    rule.status = status;
  }
  const retryAfterSeconds = optionalField(o, 'retryAfterSeconds', 'number');
  if (retryAfterSeconds !== undefined) {
    if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0 || retryAfterSeconds > 3600) throw new HttpError(400, 'Field "retryAfterSeconds" must be an integer from 0 to 3600');
    rule.retryAfterSeconds = retryAfterSeconds;
  }
  const drop = optionalField(o, 'drop', 'boolean');
  if (drop !== undefined) rule.drop = drop;
  const dropAfter = optionalField(o, 'dropAfter', 'boolean');
  if (dropAfter !== undefined) {
    if (dropAfter && (drop === true || status !== undefined)) throw new HttpError(400, 'Field "dropAfter" cannot be combined with "drop" or "status"');
    rule.dropAfter = dropAfter;
  }
  const feedAction = optionalField(o, 'feedAction', 'string');
  if (feedAction !== undefined) {
    if (!(FEED_ACTIONS as readonly string[]).includes(feedAction)) throw new HttpError(400, 'Field "feedAction" must be receive, delete or extend');
    rule.feedAction = feedAction as FeedAction;
  }
  const ignore = optionalField(o, 'ignore', 'boolean');
  if (ignore !== undefined) {
    if (ignore && (rule.feedAction === undefined || rule.feedAction === 'receive')) throw new HttpError(400, 'Field "ignore" needs "feedAction" delete or extend');
    if (ignore && (drop === true || status !== undefined)) throw new HttpError(400, 'Field "ignore" cannot be combined with "drop" or "status"');
    rule.ignore = ignore;
  }
  const times = optionalField(o, 'times', 'number');
  if (times !== undefined) {
    if (!Number.isInteger(times) || times < 1) throw new HttpError(400, 'Field "times" must be a positive integer');
    rule.times = times;
  }
  return rule;
}

/** The installed fault rules. */
export class Faults {
  #rules: ActiveRule[] = [];
  /**
   * How many requests each fault kind has affected, for tests (`dropped` counts `drop` and `dropAfter`, `ignored`
   * the feed actions left undone).
   */
  readonly counts = { delayed: 0, failed: 0, dropped: 0, ignored: 0 };

  /** Install a rule; returns it as parsed. */
  add(rule: FaultRule): FaultRule {
    const parsed = parseFaultRule(rule);
    this.#rules.push({
      ...parsed,
      remaining: parsed.times ?? Number.POSITIVE_INFINITY,
      matcher: parsed.path.includes('*') ? globMatcher(parsed.path) : (p) => p.startsWith(parsed.path),
    });
    return parsed;
  }

  /** Remove every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** The rules with their remaining uses. */
  list(): Array<FaultRule & { remaining: number | null }> {
    return this.#rules.map(({ matcher: _m, remaining, ...rule }) => ({ ...rule, remaining: Number.isFinite(remaining) ? remaining : null }));
  }

  /**
   * Apply the first matching rule to a request: delay it, answer it with a failure, drop it, or (`dropAfter`) let
   * it through with its answer replaced by a destroyed connection.
   */
  async apply(method: string, path: string, res: ServerResponse): Promise<'continue' | 'handled'> {
    const rule = this.#take(method, path, (r) => r.feedAction === undefined);
    if (rule === undefined) return 'continue';
    await this.#delay(rule);
    if (rule.drop === true) {
      this.counts.dropped++;
      res.socket?.destroy();
      return 'handled';
    }
    if (rule.status !== undefined) {
      this.counts.failed++;
      const failure = failureOf(rule, rule.status);
      writeResponse(res, errorResponse(failure.status, failure.message, failure.headers));
      return 'handled';
    }
    if (rule.dropAfter === true) {
      this.counts.dropped++;
      loseAnswer(res);
    }
    return 'continue';
  }

  /**
   * Apply the first matching rule whose `feedAction` is one of `actions` to a feed request whose body has been read:
   * delay it, fail it (throws the HttpError to answer), drop it (the connection is destroyed: the route does nothing
   * more), or let it through with actions to `ignore` and, for `dropAfter`, the connection to destroy after acting.
   */
  async applyToFeed(method: string, path: string, actions: readonly FeedAction[], socket: Socket): Promise<FeedFault> {
    const rule = this.#take(method, path, (r) => r.feedAction !== undefined && actions.includes(r.feedAction));
    const none: FeedFault = { drop: false, ignore: new Set(), dropAfter: false };
    if (rule === undefined) return none;
    await this.#delay(rule);
    if (rule.drop === true) {
      this.counts.dropped++;
      socket.destroy();
      return { drop: true };
    }
    if (rule.status !== undefined) {
      this.counts.failed++;
      throw failureOf(rule, rule.status);
    }
    if (rule.ignore === true) this.counts.ignored++;
    if (rule.dropAfter === true) this.counts.dropped++;
    return { drop: false, ignore: new Set(rule.ignore === true ? [rule.feedAction!] : []), dropAfter: rule.dropAfter === true };
  }

  /** The first rule for `method` and `path` that `eligible` admits and has uses left, with one use taken. */
  #take(method: string, path: string, eligible: (rule: ActiveRule) => boolean): ActiveRule | undefined {
    const rule = this.#rules.find((r) => r.remaining > 0 && (r.method === undefined || r.method === method) && r.matcher(path) && eligible(r));
    if (rule !== undefined) rule.remaining--;
    return rule;
  }

  async #delay(rule: ActiveRule): Promise<void> {
    if (rule.latencyMs === undefined || rule.latencyMs === 0) return;
    this.counts.delayed++;
    await new Promise((resolve) => setTimeout(resolve, rule.latencyMs));
  }
}

/** The answer of a rule with `status`. */
function failureOf(rule: FaultRule, status: number): HttpError {
  const headers: Record<string, string> = rule.retryAfterSeconds === undefined ? {} : { 'retry-after': String(rule.retryAfterSeconds) };
  const message = status === 429 ? 'Too many requests (injected fault)' : status === 401 ? 'Invalid or expired session token (injected fault)' : 'Server error (injected fault)';
  return new HttpError(status, message, headers);
}

/** Make the first attempt to answer on `res` destroy the connection instead, so the route runs but its answer is lost. */
function loseAnswer(res: ServerResponse): void {
  const lose = (): ServerResponse => {
    res.socket?.destroy();
    return res;
  };
  res.writeHead = lose as ServerResponse['writeHead'];
  res.write = (() => {
    lose();
    return false;
  }) as ServerResponse['write'];
  res.end = lose as ServerResponse['end'];
}
