/**
 * One token renewed on 401, by the rule every session of allegro-ts follows (docs/symphony-apis.md §1.8): keep the
 * token until a request with it is refused; a refusal of a token that has since been replaced is simply retried;
 * otherwise one login runs (single-flight: every caller meanwhile shares it), at most once per minimum interval, so
 * that a storm of 401s costs one login and a credential the pod keeps refusing does not loop. The OBO app token and
 * each OBO user token (auth/app-session.ts) are one each.
 */
import type { AuthHook } from '../http/http-client.js';

/** A token, how to get a new one, and the shortest time between two renewals after a 401. */
export interface RenewableTokenOptions {
  /** Get a new token (a login). Its failure is the failure of whoever waited for it. */
  login: () => Promise<string>;
  /** Shortest time between two logins after a 401, in milliseconds; 0 = no minimum. */
  minRefreshIntervalMs: number;
  now?: () => number;
}

/** A token renewed on 401. */
export class RenewableToken {
  readonly #o: RenewableTokenOptions;
  readonly #now: () => number;
  #token: string | undefined;
  #inFlight: Promise<string> | undefined;
  #lastLogin: number | undefined;
  /** Logins performed (successful ones). */
  logins = 0;

  constructor(options: RenewableTokenOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The current token, logging in if there is none. */
  token(): Promise<string> {
    return this.#token === undefined ? this.#login() : Promise.resolve(this.#token);
  }

  /**
   * After a 401 on `used`: true when a newer token exists (already, or after a login); false when a login is not
   * allowed yet (the minimum interval since the last one).
   * @throws whatever the login throws.
   */
  async refresh(used: string | undefined): Promise<boolean> {
    if (this.#token !== undefined && this.#token !== used) return true;
    if (this.#inFlight !== undefined) {
      await this.#inFlight;
      return true;
    }
    if (this.#lastLogin !== undefined && this.#now() - this.#lastLogin < this.#o.minRefreshIntervalMs) return false;
    this.#token = undefined;
    await this.#login();
    return true;
  }

  /** An auth hook sending the token in `header`, refreshed on 401. */
  hook(header: string): AuthHook {
    return {
      headers: async () => ({ [header]: await this.token() }),
      onUnauthorized: (used) => this.refresh(used[header]),
    };
  }

  #login(): Promise<string> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#lastLogin = this.#now();
    const login = this.#o.login().then((token) => {
      this.#token = token;
      this.logins++;
      return token;
    }).finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = login;
    return login;
  }
}
