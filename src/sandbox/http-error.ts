/**
 * The error a sandbox handler throws to answer with an HTTP error: its status and message become the
 * `{"code": status, "message": text}` body every sandbox error has (./http.ts).
 */

/** An error that becomes an HTTP response. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}
