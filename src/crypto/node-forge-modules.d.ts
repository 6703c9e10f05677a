// Types for the node-forge modules src/crypto/rsa-forge.ts and rsa-forge-random.ts import directly (instead of the
// whole library, which would put TLS, PKCS#12, X.509 and more into every browser bundle). @types/node-forge types
// only the root module.
declare module 'node-forge/lib/forge.js' {
  /** The shared namespace object every node-forge module adds itself to; only what rsa-forge-random.ts touches. */
  const forge: {
    random?: {
      getBytes(count: number, callback?: (err: Error | null, bytes: string) => void): string | undefined;
      getBytesSync(count: number): string;
    };
  };
  export default forge;
}

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
