// Types for the two node-forge modules src/crypto/rsa-forge.ts imports directly (instead of the whole library, which
// would put TLS, PKCS#12, X.509 and more into every browser bundle). @types/node-forge types only the root module.
declare module 'node-forge/lib/rsa.js' {
  import type forge from 'node-forge';
  const rsa: typeof forge.pki.rsa;
  export default rsa;
}

declare module 'node-forge/lib/jsbn.js' {
  import type forge from 'node-forge';
  const jsbn: typeof forge.jsbn;
  export default jsbn;
}
