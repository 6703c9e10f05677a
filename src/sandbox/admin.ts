/**
 * The administrative actions of a running sandbox (`RunningSandbox.admin`, implemented in ./server.ts), which the
 * control API (./routes/control.ts, docs/sandbox.md "Control API") exposes over HTTP.
 */
import type { Profile } from './store/profiles.js';

/** A user to add with {@link SandboxAdmin.createUser}. */
export interface NewSandboxUser {
  username: string;
  displayName?: string;
  type?: 'NORMAL' | 'SYSTEM';
  /** SPKI PEM of the user's login key; absent: the sandbox generates a key pair and returns the private key. */
  publicKeyPem?: string;
  /** Directory fields (title, department, location, …). */
  profile?: Profile;
}

/** A Symphony Elements form submitted by a user, for {@link SandboxAdmin.submitForm}. */
export interface FormSubmission {
  /** The stream the form was posted in. */
  streamId: string;
  /** The user who submitted it (a member of the stream). */
  userId: number;
  /** The message that carries the form. */
  formMessageId: string;
  /** The form's id (its `<form id>`). */
  formId: string;
  /** What the user entered, by field name. */
  formValues: Record<string, unknown>;
}

/** Administrative actions on a running sandbox. */
export interface SandboxAdmin {
  /** Rotate a stream's content key; returns the new rotation id. Old rotations stay available for history. */
  rotate(streamId: string): Promise<string>;
  /** Switch the pod's Object Store entitlement. */
  setObjectStoreEntitlement(enabled: boolean): Promise<void>;
  /** Add a user; generates a login key pair unless `publicKeyPem` is given. */
  createUser(user: NewSandboxUser): Promise<{ userId: number; privateKeyPem?: string }>;
  /**
   * A user submits a Symphony Elements form: raises SYMPHONYELEMENTSACTION for the sender of the form's message (the
   * sandbox renders no forms; this stands in for a person clicking).
   */
  submitForm(action: FormSubmission): Promise<void>;
}
