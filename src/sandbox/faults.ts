/**
 * Fault injection for tests: rules that add latency to, fail (429 with Retry-After, or any 5xx), or drop the
 * connection of chosen requests — before serving them, or after (`dropAfter`: the server acts, the answer is lost). Off unless rules are installed, either with the `faults` option of
 * `startSandbox`, in process with `sandbox.faults`, or over HTTP at `/sandbox/v1/faults` when the control API is
 * enabled (`control: true`). Rules apply in order; the first that matches and has uses left wins.
 */
import type { ServerResponse } from 'node:http';
import { HttpError, writeResponse, errorResponse } from './http.js';
import { optionalField, requireObject } from './body.js';

/** One fault rule. */
export interface FaultRule {
  /** Requests whose path starts with this prefix (e.g. `/datafeed2/`), or matches this regular expression source when it starts with `^`. */
  path: string;
  /** Only this method; default any. */
  method?: string;
  /** Delay before answering (or before the failure), in milliseconds. */
  latencyMs?: number;
  /** Answer with this status instead of serving (429 or 500–599). */
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
}

interface ActiveRule extends FaultRule {
  remaining: number;
  matcher: (path: string) => boolean;
}

/** Parse and check a rule given as JSON (control API) or in code. */
export function parseFaultRule(value: unknown): FaultRule {
  const o = requireObject(value, 'rule');
  const path = optionalField(o, 'path', 'string');
  if (path === undefined || path.length === 0) throw new HttpError(400, 'Field "path" is required: a path prefix or a ^regex');
  if (path.startsWith('^')) {
    try {
      new RegExp(path);
    } catch {
      throw new HttpError(400, 'Field "path" is not a valid regular expression');
    }
  }
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
    if (status !== 429 && !(Number.isInteger(status) && status >= 500 && status <= 599)) throw new HttpError(400, 'Field "status" must be 429 or 500-599');
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
  /** How many requests each fault kind has affected, for tests (`dropped` counts `drop` and `dropAfter`). */
  readonly counts = { delayed: 0, failed: 0, dropped: 0 };

  /** Install a rule; returns it as parsed. */
  add(rule: FaultRule): FaultRule {
    const parsed = parseFaultRule(rule);
    const regex = parsed.path.startsWith('^') ? new RegExp(parsed.path) : undefined;
    this.#rules.push({
      ...parsed,
      remaining: parsed.times ?? Number.POSITIVE_INFINITY,
      matcher: regex === undefined ? (p) => p.startsWith(parsed.path) : (p) => regex.test(p),
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
    const rule = this.#rules.find((r) => r.remaining > 0 && (r.method === undefined || r.method === method) && r.matcher(path));
    if (rule === undefined) return 'continue';
    rule.remaining--;
    if (rule.latencyMs !== undefined && rule.latencyMs > 0) {
      this.counts.delayed++;
      await new Promise((resolve) => setTimeout(resolve, rule.latencyMs));
    }
    if (rule.drop === true) {
      this.counts.dropped++;
      res.socket?.destroy();
      return 'handled';
    }
    if (rule.status !== undefined) {
      this.counts.failed++;
      const headers: Record<string, string> = rule.retryAfterSeconds === undefined ? {} : { 'retry-after': String(rule.retryAfterSeconds) };
      writeResponse(res, errorResponse(rule.status, rule.status === 429 ? 'Too many requests (injected fault)' : 'Server error (injected fault)', headers));
      return 'handled';
    }
    if (rule.dropAfter === true) {
      this.counts.dropped++;
      loseAnswer(res);
    }
    return 'continue';
  }
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
