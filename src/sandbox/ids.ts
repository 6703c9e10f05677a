/**
 * Identifiers as Symphony forms them: user ids carry the pod id in bits 36..62 and the user number in bits 0..35
 * (`PodAndUserId`, docs/protocol.md §2.1); stream, message and attachment ids are random bytes written as
 * URL-safe base64 without padding (the form public API paths use; docs/symphony-apis.md §3.3).
 */
import { randomBytes } from 'node:crypto';
import { toBase64, toBase64Url, tryFromBase64 } from '../util/bytes.js';

const USER_BITS = 36;
const POD_MASK = 2 ** 27 - 1;

/** The user id of user number `n` on pod `podId`. */
export function userIdOf(podId: number, n: number): number {
  return podId * 2 ** USER_BITS + n;
}

/** The pod id carried in a user id. */
export function podIdOf(userId: number): number {
  return Math.floor(userId / 2 ** USER_BITS) & POD_MASK;
}

/** A new random id of `bytes` bytes, URL-safe base64 without padding. */
export function newId(bytes = 24): string {
  return toBase64Url(randomBytes(bytes));
}

/** The standard-base64 form of an id (as SocialMessage `threadId` carries it). */
export function standardBase64Id(id: string): string {
  return toBase64(tryFromBase64(id) ?? new Uint8Array(0));
}

/** The URL-safe form (no padding) of a standard or URL-safe base64 id, as public API answers carry ids. */
export function urlSafeBase64Id(id: string): string {
  return toBase64Url(tryFromBase64(id) ?? new Uint8Array(0));
}
