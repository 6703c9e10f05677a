/**
 * The administrative actions of a running sandbox (`RunningSandbox.admin`, implemented in ./server.ts), which the
 * control API (./routes/control.ts, docs/sandbox.md "Control API") exposes over HTTP.
 */
import type { OboPermission } from '../errors.js';
import type { DeliveryAttempt } from './partner-delivery.js';
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
  /** Enable an OBO app for the pod, and send its partner callback (`appEnabled`) when it has one. */
  enableApp(appId: string): Promise<void>;
  /** Disable an OBO app: its authentication and the sessions it opened are refused (401). */
  disableApp(appId: string): Promise<void>;
  /** Set an app's permissions (`ACT_AS_USER` is implicit). */
  setAppPermissions(appId: string, permissions: readonly OboPermission[]): Promise<void>;
  /** Set (or, with `undefined`, remove) an app's partner callback. */
  setAppCallback(appId: string, callback: { url: string; apiKey: string } | undefined): Promise<void>;
  /** Install an app for users (by id). */
  installApp(appId: string, userIds: readonly number[]): Promise<void>;
  /** Uninstall an app for users (by id): the sessions it opened for them are refused (401). */
  uninstallApp(appId: string, userIds: readonly number[]): Promise<void>;
  /**
   * Register the pod's Agent at `url` (default: the sandbox's own), and send `agentRegistered` to every enabled app
   * with a partner callback when the URL changes.
   */
  registerAgent(url?: string): Promise<void>;
  /** The partner callback deliveries attempted so far (the last 200), oldest first. */
  callbackAttempts(): DeliveryAttempt[];
  /** Wait until no partner callback is being delivered (delivered, or given up). */
  callbacksSettled(): Promise<void>;
  /** Whether IMs and MIMs need the members to be connected. */
  setImRequiresConnection(required: boolean): Promise<void>;
  /** Whether a user may send files (attachments). */
  setCanSendFiles(userId: number, allowed: boolean): Promise<void>;
  /**
   * A user submits a Symphony Elements form: raises SYMPHONYELEMENTSACTION for the sender of the form's message (the
   * sandbox renders no forms; this stands in for a person clicking).
   */
  submitForm(action: FormSubmission): Promise<void>;
}
