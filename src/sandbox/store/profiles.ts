/**
 * The directory fields of users (docs/sandbox.md "Seed file"): what `UserV2` documents beyond the account itself —
 * first and last name, title, company, department, division, location, job function, phone numbers, and the
 * user-search filters' market coverage, responsibility and instrument — one JSON row per user, seeded or set by the
 * control API. A user without a row has the defaults of {@link profileOf}.
 */
import { Tx } from './transaction.js';
import type { Db } from './sqlite.js';

/** The directory fields of a user; every one optional. */
export interface Profile {
  firstName?: string;
  lastName?: string;
  title?: string;
  company?: string;
  department?: string;
  division?: string;
  location?: string;
  jobFunction?: string;
  workPhoneNumber?: string;
  mobilePhoneNumber?: string;
  marketCoverage?: string;
  responsibility?: string;
  instrument?: string;
}

/** The fields of {@link Profile} that `UserV2` carries. */
export const USER_FIELDS = [
  'firstName', 'lastName', 'title', 'company', 'department', 'division', 'location', 'jobFunction', 'workPhoneNumber', 'mobilePhoneNumber',
] as const satisfies ReadonlyArray<keyof Profile>;

/** Every field of {@link Profile}: those of `UserV2`, and those only user search filters on (`UserSearchFilter`). */
export const PROFILE_FIELDS = [...USER_FIELDS, 'marketCoverage', 'responsibility', 'instrument'] as const satisfies ReadonlyArray<keyof Profile>;

/** The company of a user whose profile names none. */
export const DEFAULT_COMPANY = 'Sandbox';

/**
 * A user's profile with its defaults: first and last name split from the display name at its first space, company
 * {@link DEFAULT_COMPANY}.
 */
export function profileOf(displayName: string, stored: Profile | undefined): Profile & { firstName: string; lastName: string; company: string } {
  const [first, ...rest] = displayName.split(' ');
  return { ...stored, firstName: stored?.firstName ?? first ?? '', lastName: stored?.lastName ?? rest.join(' '), company: stored?.company ?? DEFAULT_COMPANY };
}

/** The `user_profiles` table. */
export class ProfileTable {
  readonly #get;
  readonly #all;
  readonly #set;

  constructor(db: Db) {
    this.#get = db.prepare<[number], { profile: string }>('SELECT profile FROM user_profiles WHERE user_id = ?');
    this.#all = db.prepare<[], { user_id: number; profile: string }>('SELECT user_id, profile FROM user_profiles');
    this.#set = db.prepare('INSERT INTO user_profiles (user_id, profile) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET profile = excluded.profile');
  }

  /** The stored profile of a user, if any. */
  get(userId: number): Profile | undefined {
    const r = Number.isSafeInteger(userId) ? this.#get.get(userId) : undefined;
    return r === undefined ? undefined : (JSON.parse(r.profile) as Profile);
  }

  /** Every stored profile, by user id. */
  all(): Map<number, Profile> {
    return new Map(this.#all.all().map((r) => [r.user_id, JSON.parse(r.profile) as Profile]));
  }

  set(tx: Tx, userId: number, profile: Profile): void {
    Tx.check(tx);
    this.#set.run(userId, JSON.stringify(profile));
  }
}
