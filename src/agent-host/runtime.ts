/**
 * The agent runtime (docs/agent-host.md "Agent state machine"): one Symphony identity kept logged on through the
 * library's public client (`AllegroClient`), with presence AVAILABLE, its provisioned channels joined, and a
 * datafeed whose events are buffered durably before the library acknowledges them. An `obo` identity logs on through
 * its app instead (./obo-agent.ts): no keys and no datafeed, so it is Active once logged on with its channels joined,
 * and its session ends when the app's or the user's authentication is refused.
 *
 * States (MindLink's ProvisionedAgentState): 1 Activating — logging on, joining channels, or waiting in backoff
 * after a failure; 2 Active — the client is up and the datafeed healthy; 0 Idle — stopped (deleted, host closing).
 * Any failure (login, Key Manager, datafeed read, network, the store) moves an Active agent back to Activating and
 * retries, forever, with capped exponential backoff and jitter; `lastError` and `nextAttemptAt` say why and when.
 *
 * Channels (ProvisionedChannelState): joining confirms membership (a room the agent is not in is joined with
 * add-member; `user:{id}` creates the IM) and fetches the content key; a join that fails for a reason retrying will not
 * fix is not retried (Idle with the reason); one that fails because Symphony is unreachable fails the activation
 * instead. Losing membership (a datafeed event, or a send refused as not a member) → Idle and a ChannelStateEvent.
 *
 * Each runtime start gets a fresh instance id (the `InstanceId` of its events); event ids continue the agent's
 * durable sequence.
 */
import { randomUUID } from 'node:crypto';
import { AllegroClient, AllegroError, ContentKeyUnavailableError, HttpStatusError, type AllegroConfigInput, type DatafeedEvent, type DecodedMessage, type HistoryMessage } from '../index.js';
import type { OboApp } from '../obo/index.js';
import { sleepOrWake } from '../util/async.js';
import { toBase64Url, tryFromBase64 } from '../util/bytes.js';
import type { HostTunables } from './config.js';
import { clientConfig, IdentityUnavailableError } from './identity.js';
import { COLLABORATION_NS, parseChannelId, partsJson, readLabels, readPresentationMl } from './message-parts.js';
import { OboAgent } from './obo-agent.js';
import { encodeToken } from './paging.js';
import {
  ActivationStates, LeaseLostError, type ActivationState, type AgentHostStore, type AgentLease, type NewHostEvent, type StoredAgent, type StoredChannel,
} from './store/types.js';

/** The library's retries within one activation (the runtime's own backoff does the rest). */
export const SESSION_RETRY: AllegroConfigInput = { retry: { maxAttempts: 2, initialIntervalMillis: 100, maxIntervalMillis: 1000 } };

/** How long a lease lasts, and how often it is renewed. */
const LEASE_TTL_MS = 30_000;
const LEASE_RENEW_MS = 10_000;

/** What a runtime needs from its host. */
export interface RuntimeContext {
  store: AgentHostStore;
  /** This host process's id (the lease owner). */
  owner: string;
  /** BDK configuration keys shared by every agent (their `bot` comes from the agent). */
  symphony: AllegroConfigInput;
  /** The host's OBO apps by app id (./obo-agent.ts), shared by the `obo` agents. */
  oboApps: ReadonlyMap<string, OboApp>;
  tunables: HostTunables;
  /** Unexpected failures worth a line in the host's log (never secrets). */
  log: (line: string) => void;
}

/** What an agent is logged on with: a service account's client, or an OBO user's session. */
export type AgentSession = AllegroClient | OboAgent;

/** A message as the Collaboration API answers it (MindLink's message fields). */
export type MessageJson = Record<string, unknown>;

/** The text of a failure for `LastError` and logs: the library's code and message (never a secret). */
export function describeFailure(err: unknown): string {
  if (err instanceof AllegroError) return `${err.code}: ${err.message}`;
  return 'Internal error of the agent host';
}

/** A Symphony stream id in its canonical form (URL-safe base64, no padding), or `undefined`. */
export function canonicalStreamId(id: string): string | undefined {
  const bytes = id.length <= 512 ? tryFromBase64(id) : undefined;
  return bytes === undefined || bytes.length === 0 ? undefined : toBase64Url(bytes);
}

/** True when a failure means the agent is not (or no longer) a member of the stream. */
export function isNotMember(err: unknown): boolean {
  if (err instanceof ContentKeyUnavailableError) return err.reason === 'not-a-member';
  return err instanceof HttpStatusError && (err.status === 403 || err.status === 404);
}

/** True when retrying may fix the failure (Symphony unreachable or overloaded), by the library's classification. */
function isTransient(err: unknown): boolean {
  return err instanceof AllegroError && err.retryable && !isNotMember(err);
}

/** One agent kept online. */
export class AgentRuntime {
  readonly agentId: string;
  readonly instanceId = randomUUID();
  #agent: StoredAgent;
  readonly #ctx: RuntimeContext;
  readonly #stop = new AbortController();
  #state: ActivationState = ActivationStates.Activating;
  #lastError: string | undefined;
  #nextAttemptAt: number | undefined;
  #client: AgentSession | undefined;
  #lease: AgentLease | undefined;
  #loop: Promise<void> | undefined;
  #renewal: NodeJS.Timeout | undefined;
  /** Wakes the backoff sleep early (a re-provisioned agent). */
  #wake = new AbortController();

  constructor(agent: StoredAgent, ctx: RuntimeContext) {
    this.agentId = agent.id;
    this.#agent = agent;
    this.#ctx = ctx;
  }

  get state(): ActivationState {
    return this.#state;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get nextAttemptAt(): number | undefined {
    return this.#nextAttemptAt;
  }

  /** The session while Active. */
  get client(): AgentSession | undefined {
    return this.#state === ActivationStates.Active ? this.#client : undefined;
  }

  /** The Symphony user id, once logged on. */
  get userId(): number | undefined {
    return this.#client?.userId;
  }

  /**
   * Claim the agent and start the activation loop. Resolves once the lease is held (not when Active). With `held`
   * (a lease the host's lease keeper holds and renews, src/agent-host/lease.ts) it runs under that lease instead.
   */
  async start(held?: AgentLease): Promise<boolean> {
    const lease = held ?? await this.#ctx.store.claimAgent(this.agentId, this.#ctx.owner, LEASE_TTL_MS);
    if (lease === undefined) return false;
    this.#lease = lease;
    if (held === undefined) {
      this.#renewal = setInterval(() => void this.#renew(), LEASE_RENEW_MS);
      this.#renewal.unref();
    }
    await this.#saveStatus();
    this.#loop = this.#run();
    return true;
  }

  async #renew(): Promise<void> {
    if (this.#lease === undefined) return;
    try {
      const renewed = await this.#ctx.store.renewLease(this.#lease, LEASE_TTL_MS);
      if (renewed === undefined) {
        this.#ctx.log(`agent ${this.agentId}: lease lost; stopping`);
        void this.stop();
      } else this.#lease = renewed;
    } catch (err) {
      this.#ctx.log(`agent ${this.agentId}: lease renewal failed: ${describeFailure(err)}`);
    }
  }

  /** A new definition of the agent (PUT): a changed identity logs on again at once. */
  redefine(agent: StoredAgent): void {
    const relog = JSON.stringify(agent.identity) !== JSON.stringify(this.#agent.identity) || agent.userName !== this.#agent.userName;
    this.#agent = agent;
    if (relog) this.#restartSession('the agent was re-provisioned');
  }

  /** Drop the session and activate again (without waiting for the backoff). */
  #restartSession(why: string): void {
    this.#lastError = why;
    this.#sessionEnded?.();
    this.#wake.abort();
  }

  #sessionEnded: (() => void) | undefined;

  /** Stop: datafeed, client and lease. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort();
      this.#wake.abort();
      this.#sessionEnded?.();
      clearInterval(this.#renewal);
    }
    await this.#loop;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) await this.#ctx.store.releaseLease(lease).catch(() => undefined);
  }

  async #saveStatus(): Promise<void> {
    if (this.#lease === undefined) return;
    await this.#ctx.store.setStatus(this.#lease, {
      state: this.#state, instanceId: this.instanceId, ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      ...(this.#nextAttemptAt === undefined ? {} : { nextAttemptAt: this.#nextAttemptAt }),
    });
  }

  async #setState(state: ActivationState, lastError?: string, nextAttemptAt?: number): Promise<void> {
    this.#state = state;
    this.#lastError = lastError;
    this.#nextAttemptAt = nextAttemptAt;
    try {
      await this.#saveStatus();
    } catch (err) {
      if (err instanceof LeaseLostError) void this.stop();
      else this.#ctx.log(`agent ${this.agentId}: status not saved: ${describeFailure(err)}`);
    }
  }

  async #run(): Promise<void> {
    const { backoffInitialMs, backoffMaxMs } = this.#ctx.tunables;
    let delay = backoffInitialMs;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.#setState(ActivationStates.Activating, this.#lastError);
      let failure: unknown;
      try {
        const client = await this.#activate();
        if (signal.aborted) {
          await client.close();
          break;
        }
        this.#client = client;
        const session = this.#listen(client);
        if (await session.created) {
          await this.#setState(ActivationStates.Active);
          delay = backoffInitialMs;
        }
        failure = await session.ended;
        this.#state = ActivationStates.Activating;
        this.#client = undefined;
        await client.close().catch(() => undefined);
      } catch (err) {
        failure = err;
      }
      if (signal.aborted) break;
      if (failure !== undefined) this.#lastError = describeFailure(failure);
      // Full jitter over the upper half: between delay/2 and delay.
      const wait = Math.round(delay / 2 + Math.random() * (delay / 2));
      await this.#setState(ActivationStates.Activating, this.#lastError, Date.now() + wait);
      if (!this.#wake.signal.aborted) await sleepOrWake(wait, this.#wake.signal);
      if (!signal.aborted) this.#wake = new AbortController();
      delay = Math.min(delay * 2, backoffMaxMs);
    }
    this.#client = undefined;
    this.#state = ActivationStates.Idle;
    await this.#setState(ActivationStates.Idle, undefined).catch(() => undefined);
  }

  /** Log on, set presence, join the channels that are not Idle. */
  async #activate(): Promise<AgentSession> {
    const identity = this.#agent.identity;
    let client: AgentSession;
    if (identity.kind === 'obo') {
      const app = this.#ctx.oboApps.get(identity.appId);
      if (app === undefined) throw new IdentityUnavailableError(`The OBO app ${identity.appId} is not configured in this host (oboApps)`);
      client = await OboAgent.logOn(app, identity);
    } else client = await AllegroClient.create(clientConfig(identity, { ...SESSION_RETRY, ...this.#ctx.symphony }));
    try {
      await client.pod.setPresence('AVAILABLE');
      for (const channel of await this.#ctx.store.listChannels(this.agentId)) {
        if (channel.state !== ActivationStates.Idle) await this.#join(client, channel, false);
      }
      return client;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Run the datafeed: `created` resolves true once the feed exists (events from then on reach the buffer), false if
   * it ended first; `ended` resolves with the failure that ended it, or undefined when the runtime stopped. An OBO
   * agent has no datafeed: it is up at once, until its session is refused or closed.
   */
  #listen(client: AgentSession): { created: Promise<boolean>; ended: Promise<unknown> } {
    if (client instanceof OboAgent) {
      this.#sessionEnded = () => void client.close();
      const ended = client.ended.finally(() => {
        this.#sessionEnded = undefined;
      });
      return { created: Promise.resolve(true), ended };
    }
    let failure: unknown;
    const feed = client.datafeed({
      onError: (err) => {
        failure ??= err;
        feed.stop();
      },
    });
    this.#sessionEnded = () => feed.stop();
    let over = false;
    const ended = feed.listen((event) => this.#onEvent(client, event)).then(
      () => (this.#stop.signal.aborted ? undefined : failure ?? new Error('the session was restarted')),
      (err: unknown) => err,
    ).finally(() => {
      over = true;
      this.#sessionEnded = undefined;
    });
    const created = new Promise<boolean>((resolve) => {
      const look = () => {
        if (feed.feedId !== undefined) resolve(true);
        else if (over) resolve(false);
        else setTimeout(look, 20);
      };
      look();
    });
    return { created, ended };
  }

  /** Buffer events for the agent (fenced by its lease), then prune the buffer to `eventBufferSize`. */
  async appendEvents(events: NewHostEvent[]): Promise<void> {
    if (events.length === 0 || this.#lease === undefined) return;
    await this.#ctx.store.appendEvents(this.#lease, events);
    await this.#ctx.store.pruneEvents(this.agentId, this.#ctx.tunables.eventBufferSize);
  }

  /** A datafeed event, buffered (the library acknowledges it once this resolves). */
  async #onEvent(client: AllegroClient, event: DatafeedEvent): Promise<void> {
    const threadId = canonicalStreamId(String(event.message?.threadId ?? event.payload.threadId ?? ''));
    if (threadId === undefined) return;
    const channels = await this.#ctx.store.listChannels(this.agentId);
    const channel = channels.find((c) => c.streamId === threadId);
    if (channel === undefined) return;
    if (event.name === 'SOCIALMESSAGE') {
      if (event.message === undefined || channel.state !== ActivationStates.Active) return;
      const message = messageJson(event.message, channel.channelId);
      await this.appendEvents([{
        type: 'message', channelId: channel.channelId, local: event.message.fromUserId === client.userId, time: event.message.timestamp, sourceId: event.eventId,
        body: {
          __type: `MessageEvent:${COLLABORATION_NS}`, ChannelId: channel.channelId, Sender: message.SenderId, SenderAlias: message.SenderAlias, Subject: message.Subject,
          Content: message.Text, MessageParts: message.MessageParts, Token: message.Token, IsAlert: message.IsAlert, Classification: message.Classification,
          SecurityContexts: message.SecurityContexts, SecurityContext: message.SecurityContexts, DataAttributes: null, Time: event.message.timestamp,
        },
      }]);
      return;
    }
    const kind = String(event.payload.event ?? '');
    const affected = Number(event.payload.affectedUserId ?? 0);
    const lost = kind === 'DEACTIVATE_ROOM' || (kind === 'LEAVE_ROOM' && affected === client.userId);
    if (lost && channel.state === ActivationStates.Active) await this.#loseChannel(channel, kind === 'DEACTIVATE_ROOM' ? 'The room was deactivated' : 'The agent is no longer a member', event.eventId);
  }

  /** A channel that lost its membership: Idle, and a ChannelStateEvent. */
  async #loseChannel(channel: StoredChannel, reason: string, sourceId?: string): Promise<void> {
    if (this.#lease === undefined) return;
    const updated = await this.#ctx.store.updateChannel(this.#lease, { ...channel, state: ActivationStates.Idle, reason });
    if (updated) await this.appendEvents([channelStateEvent(channel.channelId, false, sourceId)]);
  }

  /** A send or read refused because the agent is not a member: the channel becomes Idle. */
  async membershipLost(channelId: string): Promise<void> {
    const channel = await this.#ctx.store.getChannel(this.agentId, channelId);
    if (channel !== undefined && channel.state === ActivationStates.Active) await this.#loseChannel(channel, 'The agent is no longer a member');
  }

  /**
   * Join a provisioned channel (PUT Agents/{id}/Channels/{cid}): Activating, then Active or Idle with a reason. While
   * the agent is not Active, the channel stays Activating and is joined on activation.
   */
  async joinChannel(channel: StoredChannel): Promise<StoredChannel> {
    const client = this.client;
    if (client === undefined) return channel;
    return this.#join(client, channel, true);
  }

  async #join(client: AgentSession, channel: StoredChannel, standalone: boolean): Promise<StoredChannel> {
    const lease = this.#lease;
    if (lease === undefined) return channel;
    let result: StoredChannel;
    try {
      const resolved = await this.#resolveChannel(client, channel.channelId);
      // (An OBO agent holds no key: the Agent encrypts what it sends.)
      if (client instanceof AllegroClient) await client.keys.currentContentKey(resolved.streamId);
      result = { ...channel, state: ActivationStates.Active, streamId: resolved.streamId, ...(resolved.displayName === undefined ? {} : { displayName: resolved.displayName }) };
      delete result.reason;
    } catch (err) {
      // Symphony unreachable: not the channel's fault; the agent's activation fails (or the channel waits for it).
      if (isTransient(err) && !standalone) throw err;
      result = { ...channel, state: isTransient(err) ? ActivationStates.Activating : ActivationStates.Idle, reason: isNotMember(err) ? 'The agent is not a member and could not join' : describeFailure(err) };
    }
    const wasActive = channel.state === ActivationStates.Active;
    if (await this.#ctx.store.updateChannel(lease, result)) {
      if (result.state === ActivationStates.Active && !wasActive) await this.appendEvents([channelStateEvent(channel.channelId, true)]);
      if (result.state === ActivationStates.Idle && wasActive) await this.appendEvents([channelStateEvent(channel.channelId, false)]);
    }
    return result;
  }

  /** The stream of a channel id, joined: membership confirmed (added when missing), the IM created for `user:`. */
  async #resolveChannel(client: AgentSession, channelId: string): Promise<{ streamId: string; displayName?: string }> {
    const parsed = parseChannelId(channelId)!;
    if (parsed.kind === 'user') {
      const userId = Number(parsed.value);
      const streamId = canonicalStreamId(await client.pod.createIm([userId]))!;
      const [user] = await client.pod.users({ ids: [userId] });
      return { streamId, ...(user === undefined ? {} : { displayName: user.displayName }) };
    }
    const streamId = canonicalStreamId(parsed.value)!;
    const streams = await client.pod.streams({ types: [parsed.kind === 'room' ? 'ROOM' : 'IM'], limit: 1000 });
    const listed = streams.find((s) => canonicalStreamId(s.id) === streamId);
    if (listed === undefined) {
      if (parsed.kind === 'im') throw new HttpStatusError(404, 'POST /pod/v1/streams/list', { serverMessage: 'The agent is not in this IM' });
      await client.pod.addMember(streamId, client.userId);
    }
    return { streamId, ...(listed?.name === undefined ? {} : { displayName: listed.name }) };
  }
}

/** A ChannelStateEvent's buffered form. */
function channelStateEvent(channelId: string, active: boolean, sourceId?: string): NewHostEvent {
  const time = Date.now();
  return {
    type: 'channel-state', channelId, local: false, time, ...(sourceId === undefined ? {} : { sourceId }),
    body: { __type: `ChannelStateEvent:${COLLABORATION_NS}`, ChannelId: channelId, Active: active, Time: time },
  };
}

/** A MetaDataEvent's buffered form. */
export function metaDataEvent(key: string, value: string | null): NewHostEvent {
  const time = Date.now();
  return { type: 'meta-data', local: false, time, body: { __type: `MetaDataEvent:${COLLABORATION_NS}`, Key: key, Value: value, Time: time } };
}

/** A decrypted message as MindLink's message resource. */
export function messageJson(message: DecodedMessage | HistoryMessage, channelId: string): MessageJson {
  const { parts, subject } = readPresentationMl(message.presentationML, message.entityJson);
  const labels = readLabels(message.entityJson);
  const subjectLine = subject === undefined ? '' : `${subject}\n`;
  const id = canonicalStreamId(message.messageId) ?? message.messageId;
  return {
    Id: id, ChannelId: channelId, SenderId: `user:${message.fromUserId}`, SenderAlias: '', Subject: subject ?? null,
    Text: subject !== undefined && message.text.startsWith(subjectLine) ? message.text.slice(subjectLine.length) : message.text,
    MessageParts: partsJson(parts), Timestamp: message.timestamp, Token: encodeToken({ timestamp: message.timestamp, messageId: id }),
    IsAlert: labels.IsAlert, Classification: labels.Classification, SecurityContexts: labels.SecurityContexts,
  };
}
