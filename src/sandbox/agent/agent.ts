/**
 * The sandbox's Agent as its routes use it (docs/sandbox.md "Agent API"): the encryptor (./encryptor.ts) fed by
 * the Key Manager's state under the Key Manager's own rule (../routes/keys.ts `contentKeyFor`: a member of a stream
 * gets its keys), the directory of the V4 shapes (./v4.ts) over the store, and the reading of a stored message or a
 * logged event as the Agent answers it — decrypted for its reader; a message that cannot be decrypted keeps its
 * metadata and gets a `diagnostic` instead of content. The datahose reads as the Agent's compliance account
 * ({@link CESERVICE}), which may fetch every stream's keys, as a real Agent's `ceservice` user does.
 */
import { AllegroError, type MentionedUser } from '../../index.js';
import type { SandboxContext } from '../context.js';
import { HttpError } from '../http-error.js';
import { contentKeyFor, streamContentKey } from '../routes/keys.js';
import type { LoggedEvent } from '../store/events.js';
import type { Message } from '../store/messages.js';
import { profileOf } from '../store/profiles.js';
import { AgentEncryptor } from './encryptor.js';
import { v4Event, v4Message, type V4Content, type V4Directory } from './v4.js';

/** The reader id of the Agent's compliance account: the datahose decrypts every stream as it. */
export const CESERVICE = -1;

/** Why a message has no content: the error's own words (never plaintext or keys; docs/errors.md). */
function diagnosticOf(err: unknown): string {
  if (err instanceof AllegroError || err instanceof HttpError) return err.message;
  return 'The message could not be read';
}

/** The Agent of one sandbox. */
export class SandboxAgent {
  readonly encryptor: AgentEncryptor;
  readonly directory: V4Directory;
  readonly #ctx: SandboxContext;

  constructor(ctx: SandboxContext) {
    this.#ctx = ctx;
    const { store } = ctx;
    this.encryptor = new AgentEncryptor({
      contentKey: (userId, streamId, rotationId) =>
        (userId === CESERVICE ? streamContentKey(ctx, streamId, rotationId) : contentKeyFor(ctx, userId, streamId, rotationId)),
      entityKey: () => store.pod.require().entityKey,
    });
    this.directory = {
      get podId() {
        return store.pod.require().podId;
      },
      user(id) {
        const u = store.users.get(id);
        if (u === undefined) return undefined;
        const { firstName, lastName } = profileOf(u.displayName, store.profiles.get(id));
        return { id: u.id, username: u.username, displayName: u.displayName, email: u.email, firstName, lastName };
      },
      stream(id) {
        const s = store.streams.get(id);
        return s === undefined ? undefined : { ...s, members: store.streams.members(id).map((m) => m.userId) };
      },
    };
  }

  /** The resolver of `<mention>` elements: the pod's users by id or e-mail address. */
  readonly resolveMention = (by: { userId: number } | { email: string }): MentionedUser | undefined => {
    const u = 'userId' in by ? this.#ctx.store.users.get(by.userId) : this.#ctx.store.users.byEmail(by.email);
    return u === undefined ? undefined : { userId: u.id, displayName: u.displayName };
  };

  /** The content of a stored message for `readerId`, or why there is none. */
  async content(readerId: number, m: Message): Promise<V4Content> {
    try {
      const decoded = await this.encryptor.decode(readerId, m.streamId, m.posted);
      return { presentationML: decoded.presentationML, entityJson: decoded.entityJson };
    } catch (err) {
      return { diagnostic: diagnosticOf(err) };
    }
  }

  /** `V4Message` of a stored message, decrypted for `readerId`; `realTime` for a datafeed event's message. */
  async message(readerId: number, m: Message, realTime = false): Promise<Record<string, unknown>> {
    const replacedBy = this.#ctx.store.edits.replacedBy(m.messageId);
    return v4Message(this.directory, m, await this.content(readerId, m), { realTime, ...(replacedBy === undefined ? {} : { replacedBy }) });
  }

  /** `V4Event` of a logged event, its message (if any) decrypted for `readerId`. */
  async event(readerId: number, e: LoggedEvent): Promise<Record<string, unknown>> {
    return v4Event(this.directory, e, e.message === undefined ? undefined : await this.message(readerId, e.message, true));
  }

  /** Wipe the encryptor's cached keys. */
  close(): void {
    this.encryptor.close();
  }
}
