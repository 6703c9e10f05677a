/**
 * The error a sandbox handler throws to answer with an HTTP error: its status and message become the
 * `{"code": status, "message": text}` body every sandbox error has (./http.ts), with `details` when the error
 * carries structured facts (agent-api-public.yaml `V2Error`: the position of a MessageML error).
 */

/** An error that becomes an HTTP response. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Structured facts about the error, answered as `details`, e.g. a position. */
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, message: string, headers: Record<string, string> = {}, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.details = details;
  }
}
