/**
 * `allegro-ts/crypto`: the Symphony-compatible crypto core. CiphertextTransport v1–v3, the legacy 48-byte key
 * wrap, entity (hashtag/cashtag) encryption v1/v2, search tokens, RSA key unwrap and RS512 login JWTs, and the
 * AES-256-GCM backends they run on. Formats: docs/wire-formats.md. Re-exports only; no logic here.
 */
export type { AeadBackend, AeadBackendName, AeadKey, SealLayout } from './aead.js';
export { GCM_TAG_LENGTH } from './aead.js';
export { AES_KEY_LENGTH, AesKey } from './aes-key.js';
export { aeadBackendNames, getAeadBackend } from './backends.js';
export type { EntityOptions } from './entity.js';
export { decryptEntity, encryptEntityV1, encryptEntityV2, entityTypeaheadPrefix, ENTITY_V1_PREFIX, ENTITY_V2_PREFIX, TYPEAHEAD_PREFIX_LENGTHS } from './entity.js';
export { LEGACY_WRAPPED_KEY_LENGTH, unwrapLegacyKey, wrapLegacyKey } from './legacy-wrap.js';
export type { JwtClaims, JwtSignClaims, JwtVerifyOptions, RsaKeyPairPem, RsaPadding } from './rsa.js';
export { DEFAULT_JWT_LIFETIME_SECONDS, generateRsaKeyPair, MAX_JWT_LIFETIME_SECONDS, RsaPrivateKey, RsaPublicKey, signJwtRs512, unwrapKey, verifyJwtRs512 } from './rsa.js';
export type { TokenizeOptions } from './search-tokens.js';
export { hashedTokens, hashedTokensWithSalt, plainTokens, tokenize } from './search-tokens.js';
export type { CiphertextTransport, DecryptOptions, EncryptOptions, ParseOptions, TransportKey } from './transport.js';
export {
  decryptText,
  decryptTransport,
  DEFAULT_MAX_TRANSPORT_LENGTH,
  EncryptionMode,
  encryptText,
  encryptTransport,
  parseTransport,
  READABLE_TRANSPORT_VERSIONS,
  serializeTransport,
  transportFromBase64,
  TransportSizes,
} from './transport.js';
