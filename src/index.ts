/**
 * allegro-ts: end-to-end encryption for Symphony bots and extension apps, in-process, without an API Agent.
 * The package root re-exports the crypto core (`allegro-ts/crypto`) and the error model (`allegro-ts/errors`).
 */
export * from './crypto/index.js';
export * from './errors.js';
