/**
 * The administrative actions of a running sandbox (`RunningSandbox.admin`, implemented in ./server.ts), which the
 * control API (./routes/control.ts, docs/sandbox.md "Control API") exposes over HTTP.
 */

/** A user to add with {@link SandboxAdmin.createUser}. */
export interface NewSandboxUser {
  username: string;
  displayName?: string;
  type?: 'NORMAL' | 'SYSTEM';
  /** SPKI PEM of the user's login key; absent: the sandbox generates a key pair and returns the private key. */
  publicKeyPem?: string;
}

/** Administrative actions on a running sandbox. */
export interface SandboxAdmin {
  /** Rotate a stream's content key; returns the new rotation id. Old rotations stay available for history. */
  rotate(streamId: string): Promise<string>;
  /** Switch the pod's Object Store entitlement. */
  setObjectStoreEntitlement(enabled: boolean): Promise<void>;
  /** Add a user; generates a login key pair unless `publicKeyPem` is given. */
  createUser(user: NewSandboxUser): Promise<{ userId: number; privateKeyPem?: string }>;
}
