/**
 * The Collaboration service (docs/agent-host.md "Collaboration"; MindLink `/Collaboration/V1`), for tokens issued for
 * an agent (a super-user token is a 401): channels, their state (an IM's other party's presence), message history and sending (Text or
 * MessageParts, with Subject, IsAlert, Classification, SecurityContexts), the composing state, the agent's
 * metadata, and the `/Events` long poll over the agent's durable event buffer.
 *
 * The contract: 401 bad token; 403 channel not provisioned or not Active; 503 with Retry-After while the agent is
 * not Active (and when Symphony cannot be reached for a synchronous call); 410 on `/Events` when `instance` is not
 * the runtime's or `last-event` fell out of the buffer; 429 with Retry-After when a throttle is exceeded; 400 for a
 * malformed request, naming what is wrong. List parameters are accepted as comma lists and as repeated keys.
 */
import { AllegroError, AppNotInstalledError, AuthenticationError, HttpStatusError, PermissionDeniedError } from '../index.js';
import { HttpError } from '../sandbox/http-error.js';
import type { Router, SandboxRequest } from '../sandbox/http.js';
import { authenticate, jsonObject } from './auth.js';
import type { AgentHost } from './host.js';
import { labelsData, parseChannelId, parseParts, partsJson, partsToMessageMl, type MessagePart } from './message-parts.js';
import { decodeToken, encodeToken } from './paging.js';
import { requireChannelId } from './provisioning.js';
import { canonicalStreamId, describeFailure, isNotMember, messageJson, type AgentRuntime } from './runtime.js';
import { ActivationStates, type HostEvent, type HostEventType, type StoredChannel } from './store/types.js';

/** Longest message text and story, in characters (advertised on channels). */
const MAX_MESSAGE_LENGTH = 40_000;
const MAX_STORY_LENGTH = 40_000;
/** Largest `take` of a history page. */
const MAX_TAKE = 500;
const EVENT_TYPES: readonly HostEventType[] = ['message', 'meta-data', 'channel-state'];
/** A group containing a quantifier, itself quantified (or followed by a backreference-free repetition). */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,?\d*\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,?\d*\})/;

/** An agent's caller: its runtime, Active. @throws 401 (no agent token), 503 (not Active). */
async function activeAgent(host: AgentHost, req: SandboxRequest): Promise<AgentRuntime> {
  const caller = await authenticate(host, req);
  if (caller.kind !== 'agent') throw new HttpError(401, 'The super user may only call Provisioning; get a token for an agent');
  const runtime = host.runtime(caller.agentId);
  if (runtime === undefined || runtime.client === undefined) {
    const next = runtime?.nextAttemptAt;
    const seconds = next === undefined ? 5 : Math.max(1, Math.ceil((next - Date.now()) / 1000));
    throw new HttpError(503, `Agent ${caller.agentId} is not active${runtime?.lastError === undefined ? '' : ` (${runtime.lastError})`}`, { 'retry-after': String(seconds) });
  }
  return runtime;
}

/** A provisioned, Active channel of the agent. @throws 403. */
async function activeChannel(host: AgentHost, runtime: AgentRuntime, rawId: string): Promise<StoredChannel & { streamId: string }> {
  let channelId: string;
  try {
    channelId = requireChannelId(rawId);
  } catch {
    throw new HttpError(403, 'The channel is not provisioned for this agent');
  }
  const channel = await host.store.getChannel(runtime.agentId, channelId);
  if (channel === undefined) throw new HttpError(403, 'The channel is not provisioned for this agent');
  if (channel.state !== ActivationStates.Active || channel.streamId === undefined) throw new HttpError(403, `The channel is not active${channel.reason === undefined ? '' : ` (${channel.reason})`}`);
  return channel as StoredChannel & { streamId: string };
}

/** Apply the agent's throttles. @throws 429 with Retry-After. */
async function throttle(host: AgentHost, agentId: string): Promise<void> {
  const waitMs = host.throttles.take(agentId, await host.store.listThrottles());
  if (waitMs > 0) throw new HttpError(429, 'Throttled: too many calls for this agent', { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) });
}

/** A Symphony call's failure as the host's answer (403 not a member, 429, 503 unreachable, 400 bad content). */
async function symphonyFailure(runtime: AgentRuntime, channelId: string, err: unknown): Promise<never> {
  if (err instanceof HttpError) throw err;
  if (isNotMember(err)) {
    await runtime.membershipLost(channelId);
    throw new HttpError(403, 'The agent is no longer a member of the channel');
  }
  // An OBO agent's app lacks the permission: the admin must grant it (docs/agent-host.md "OBO agents").
  if (err instanceof PermissionDeniedError) throw new HttpError(403, err.message);
  // The session was refused (the runtime re-activates the agent): not Active until it has.
  if (err instanceof AppNotInstalledError || err instanceof AuthenticationError) throw new HttpError(503, `Agent ${runtime.agentId} is not active (${describeFailure(err)})`, { 'retry-after': '5' });
  if (err instanceof HttpStatusError && err.status === 429) throw new HttpError(429, 'Symphony is throttling this agent', { 'retry-after': String(Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000))) });
  if (err instanceof AllegroError && err.code === 'INVALID_ARGUMENT') throw new HttpError(400, err.message);
  if (err instanceof AllegroError && err.retryable) throw new HttpError(503, `Symphony is not reachable: ${describeFailure(err)}`, { 'retry-after': '5' });
  throw err;
}

/** IM channels whose other member is remembered, at most (the memory is dropped beyond). */
const MAX_IM_PARTIES = 10_000;

/**
 * Symphony's presence categories as MindLink's PresenceState (0 Unknown, 100 Available, 200 Busy, 300 DoNotDisturb,
 * 400 BeRightBack, 500 Away, 600 Offline): a call or a meeting is Busy, out of office and off work are Away.
 */
const PRESENCE_STATES: Readonly<Record<string, number>> = Object.freeze({
  AVAILABLE: 100, BUSY: 200, ON_THE_PHONE: 200, IN_A_MEETING: 200, DO_NOT_DISTURB: 300, BE_RIGHT_BACK: 400, AWAY: 500, OUT_OF_OFFICE: 500,
  OFF_WORK: 500, OFFLINE: 600,
});

/** MindLink's PresenceState of a Symphony presence category (0 Unknown for none or one it does not know). */
export function presenceState(category: string | undefined): number {
  return category !== undefined && Object.hasOwn(PRESENCE_STATES, category) ? PRESENCE_STATES[category]! : 0;
}

/** A query list parameter: repeated keys and comma lists, both. */
export function listParameter(query: URLSearchParams, name: string): string[] {
  return query.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function channelResource(c: StoredChannel): Record<string, unknown> {
  return {
    Id: c.channelId, DisplayName: c.displayName ?? c.channelId, Description: '', Subject: null, EmailAddress: null, CanAcceptFiles: false, IsReadOnly: false,
    MaxMessageLength: MAX_MESSAGE_LENGTH, MaxStoryLength: MAX_STORY_LENGTH, Metadata: null, Classification: null, SecurityContexts: null,
  };
}

/** The filters of an `/Events` request. */
export interface EventFilter {
  types: Set<string> | undefined;
  channels: Set<string> | undefined;
  regex: RegExp | undefined;
  /** `remote` drops the agent's own messages, `local` keeps only them. */
  origins: Set<string> | undefined;
}

/** Parse the `/Events` filters. @throws HttpError 400 naming the parameter. */
export function parseEventFilter(query: URLSearchParams): EventFilter {
  const types = listParameter(query, 'types');
  for (const t of types) if (!(EVENT_TYPES as readonly string[]).includes(t)) throw new HttpError(400, `types must be a list of ${EVENT_TYPES.join(', ')}; received ${JSON.stringify(t)}`);
  const origins = listParameter(query, 'origins').map((o) => o.toLowerCase());
  for (const o of origins) if (o !== 'remote' && o !== 'local') throw new HttpError(400, `origins must be a list of remote, local; received ${JSON.stringify(o)}`);
  const channels = listParameter(query, 'channels').map((c) => {
    try {
      return requireChannelId(c);
    } catch {
      return c;
    }
  });
  const pattern = query.get('regex') ?? '';
  if (pattern.length > 256) throw new HttpError(400, 'regex must be at most 256 characters');
  // A quantified group that itself holds a quantifier ((a+)+, (x*y)*) can backtrack exponentially and block the
  // server: refused (JavaScript has no regex time limit).
  if (NESTED_QUANTIFIER.test(pattern)) throw new HttpError(400, 'regex must not repeat a group that contains a repetition (such as (a+)+)');
  let regex: RegExp | undefined;
  try {
    regex = pattern === '' ? undefined : new RegExp(pattern, 'u');
  } catch {
    throw new HttpError(400, 'regex is not a valid regular expression');
  }
  return {
    types: types.length === 0 ? undefined : new Set(types), channels: channels.length === 0 ? undefined : new Set(channels), regex,
    origins: origins.length === 0 || origins.length === 2 ? undefined : new Set(origins),
  };
}

/** Whether an event passes the filter. */
export function eventMatches(event: HostEvent, filter: EventFilter): boolean {
  if (filter.types !== undefined && !filter.types.has(event.type)) return false;
  if (filter.channels !== undefined && event.channelId !== undefined && !filter.channels.has(event.channelId)) return false;
  if (filter.origins !== undefined && !filter.origins.has(event.local ? 'local' : 'remote')) return false;
  if (filter.regex !== undefined && event.type === 'message') {
    filter.regex.lastIndex = 0;
    if (!filter.regex.test(String(event.body.Content ?? ''))) return false;
  }
  return true;
}

function nonNegativeInteger(query: URLSearchParams, name: string, fallback: number): number {
  const v = query.get(name);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, `${name} must be a non-negative integer; received ${JSON.stringify(v.slice(0, 32))}`);
  return Number(v);
}

/**
 * Watch the agent's buffer from now on: `wait(ms)` resolves once an event was buffered since the watch began (at
 * once if one already was), `ms` pass, `signal` fires or the host closes. `stop()` ends the watch.
 */
function watchBuffer(host: AgentHost, agentId: string, signal: AbortSignal): { wait(ms: number): Promise<void>; stop(): void } {
  let buffered = false;
  let wake: (() => void) | undefined;
  const stopWatching = host.store.watchEvents(agentId, () => {
    buffered = true;
    wake?.();
  });
  return {
    wait(ms) {
      if (buffered || signal.aborted || host.closing.signal.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          host.closing.signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wake = done;
        signal.addEventListener('abort', done, { once: true });
        host.closing.signal.addEventListener('abort', done, { once: true });
      });
    },
    stop: stopWatching,
  };
}

/** Register the Collaboration routes. */
export function collaborationRoutes(router: Router, host: AgentHost): void {
  const { store } = host;

  router.add('GET', '/Collaboration/V1/Channels', async (req) => {
    const runtime = await activeAgent(host, req);
    const channels = (await store.listChannels(runtime.agentId)).filter((c) => c.state === ActivationStates.Active);
    return { json: channels.map(channelResource) };
  });

  router.add('GET', '/Collaboration/V1/Channels/:id', async (req) => {
    const runtime = await activeAgent(host, req);
    return { json: channelResource(await activeChannel(host, runtime, req.params.id!)) };
  });

  // The other member of each IM channel (an IM's members never change), by agent and stream.
  const imParties = new Map<string, number | undefined>();
  router.add('GET', '/Collaboration/V1/Channels/:id/State', async (req) => {
    const runtime = await activeAgent(host, req);
    const channel = await activeChannel(host, runtime, req.params.id!);
    const kind = parseChannelId(channel.channelId)!.kind;
    // A room has no one presence: Unknown (0), as MindLink answers for chat rooms.
    if (kind === 'room') return { json: { Subject: null, PresenceState: 0, PresenceText: '' } };
    await throttle(host, runtime.agentId);
    const client = runtime.client!;
    try {
      const key = `${runtime.agentId}\u0000${channel.streamId}`;
      if (!imParties.has(key)) {
        if (imParties.size >= MAX_IM_PARTIES) imParties.clear();
        const others = kind === 'user' ? [Number(channel.channelId.slice('user:'.length))] : (await client.pod.streamInfo(channel.streamId)).members.filter((m) => m !== client.userId);
        imParties.set(key, others.length === 1 ? others[0] : undefined);
      }
      const party = imParties.get(key);
      const category = party === undefined ? undefined : (await client.pod.userPresence(party)).category;
      return { json: { Subject: null, PresenceState: presenceState(category), PresenceText: category ?? '' } };
    } catch (err) {
      // A presence the pod will not tell (no such user, not entitled) is Unknown; only a transient failure is an error.
      if (err instanceof AllegroError && !err.retryable) return { json: { Subject: null, PresenceState: 0, PresenceText: '' } };
      return symphonyFailure(runtime, channel.channelId, err);
    }
  });

  router.add('GET', '/Collaboration/V1/Channels/:id/Messages', async (req) => {
    const runtime = await activeAgent(host, req);
    const channel = await activeChannel(host, runtime, req.params.id!);
    const take = nonNegativeInteger(req.query, 'take', 50);
    if (take < 1 || take > MAX_TAKE) throw new HttpError(400, `take must be from 1 to ${MAX_TAKE}`);
    const beforeToken = req.query.get('before');
    const before = beforeToken === null || beforeToken === '' ? undefined : decodeToken(beforeToken);
    await throttle(host, runtime.agentId);
    try {
      // The page before a message: up to its time inclusive (messages of the same millisecond), without it.
      const page = await runtime.client!.pod.history(channel.streamId, { limit: take + (before === undefined ? 0 : 1), ...(before === undefined ? {} : { before: before.timestamp + 1 }) });
      const messages = page.filter((m) => canonicalStreamId(m.messageId) !== before?.messageId && (before === undefined || m.timestamp <= before.timestamp)).slice(-take);
      return { json: messages.map((m) => messageJson(m, channel.channelId)) };
    } catch (err) {
      return symphonyFailure(runtime, channel.channelId, err);
    }
  });

  router.add('POST', '/Collaboration/V1/Channels/:id/Messages', async (req) => {
    const runtime = await activeAgent(host, req);
    const channel = await activeChannel(host, runtime, req.params.id!);
    const body = jsonObject(req);
    const hasText = body.Text !== undefined && body.Text !== null;
    const hasParts = body.MessageParts !== undefined && body.MessageParts !== null;
    if (hasText === hasParts) throw new HttpError(400, 'A message needs exactly one of Text and MessageParts');
    if (hasText && typeof body.Text !== 'string') throw new HttpError(400, 'Text must be a string');
    const parts: MessagePart[] = hasText ? [{ kind: 'PlainText', Text: body.Text as string }] : parseParts(body.MessageParts);
    const subject = body.Subject === undefined || body.Subject === null ? undefined : body.Subject;
    if (subject !== undefined && typeof subject !== 'string') throw new HttpError(400, 'Subject must be a string');
    const isAlert = body.IsAlert === undefined || body.IsAlert === null ? false : body.IsAlert;
    if (typeof isAlert !== 'boolean') throw new HttpError(400, 'IsAlert must be a boolean');
    const classification = body.Classification ?? null;
    if (classification !== null && typeof classification !== 'string') throw new HttpError(400, 'Classification must be a string');
    const contexts = body.SecurityContexts ?? null;
    if (contexts !== null && (!Array.isArray(contexts) || contexts.some((c) => typeof c !== 'string'))) throw new HttpError(400, 'SecurityContexts must be an array of strings');
    const messageMl = partsToMessageMl(parts, subject);
    if (messageMl.length > MAX_MESSAGE_LENGTH * 4) throw new HttpError(400, `The message is longer than ${MAX_MESSAGE_LENGTH} characters`);
    const labels = { IsAlert: isAlert, Classification: classification as string | null, SecurityContexts: contexts as string[] | null };
    await throttle(host, runtime.agentId);
    const client = runtime.client!;
    try {
      const data = labelsData(labels);
      const messageId = canonicalStreamId(await client.pod.send(channel.streamId, messageMl, data === undefined ? {} : { data }))!;
      const timestamp = Date.now();
      return {
        json: {
          Id: messageId, ChannelId: channel.channelId, SenderId: `user:${client.userId}`, IsAlert: isAlert, Timestamp: timestamp,
          Token: encodeToken({ timestamp, messageId }), Text: hasText ? body.Text : parts.map((p) => ('Text' in p ? p.Text : '')).join(''), Subject: subject ?? null,
          MessageParts: partsJson(parts), Classification: labels.Classification, SecurityContexts: labels.SecurityContexts,
        },
      };
    } catch (err) {
      return symphonyFailure(runtime, channel.channelId, err);
    }
  });

  router.add('POST', '/Collaboration/V1/Channels/:id/Me', async (req) => {
    const runtime = await activeAgent(host, req);
    await activeChannel(host, runtime, req.params.id!);
    const body = jsonObject(req);
    if (typeof body.IsComposing !== 'boolean') throw new HttpError(400, 'IsComposing must be a boolean');
    // Symphony has no composing indicator for the library's client: accepted, answered 200, not forwarded.
    return { json: { IsComposing: body.IsComposing } };
  });

  router.add('GET', '/Collaboration/V1/Metadata', async (req) => {
    const runtime = await activeAgent(host, req);
    return { json: [...(await store.getMetadata(runtime.agentId))].map(([Key, Value]) => ({ Key, Value })) };
  });

  router.add('GET', '/Collaboration/V1/Events', async (req) => {
    const runtime = await activeAgent(host, req);
    const lastEvent = nonNegativeInteger(req.query, 'last-event', 0);
    const instance = req.query.get('instance');
    const filter = parseEventFilter(req.query);
    if (instance !== null && instance !== '' && instance !== runtime.instanceId) throw new HttpError(410, 'The event stream instance is gone (the agent restarted); start again from last-event=0 without instance');
    const deadline = Date.now() + host.config.tunables.eventsWaitMs;
    let cursor = lastEvent;
    for (;;) {
      // Watch before reading: an event buffered between the read and the wait is not missed.
      const watch = watchBuffer(host, runtime.agentId, req.signal);
      try {
        const window = await store.readEvents(runtime.agentId, cursor, host.config.tunables.eventsPerAnswer);
        if (cursor > 0 && cursor < window.prunedThrough) throw new HttpError(410, `Events after ${cursor} are no longer buffered; start again from last-event=0`);
        const matching = window.events.filter((e) => eventMatches(e, filter));
        if (matching.length > 0) return { json: matching.map((e) => ({ ...e.body, EventId: e.eventId, InstanceId: runtime.instanceId })) };
        cursor = window.events.at(-1)?.eventId ?? cursor;
        if (window.events.length > 0) continue;
        const left = deadline - Date.now();
        if (left <= 0 || req.signal.aborted || host.closing.signal.aborted) return { json: [] };
        await watch.wait(left);
      } finally {
        watch.stop();
      }
    }
  });
}
