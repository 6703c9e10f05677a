/**
 * The Provisioning service (docs/agent-host.md "Provisioning"; MindLink `/Provisioning/V1`): agents (created agents
 * log on at once), their channels (adding one joins it), their metadata (a change is a MetaDataEvent), web users,
 * throttles, and the search for channel ids. Callers: the super user, or an agent whose ProvisioningMode allows
 * it — System (2) for everything, Self (3) for its own agent resource, channels and metadata; None (1), or
 * Unspecified (0) without `CanProvision`, gets 403.
 */
import { HttpError } from '../sandbox/http-error.js';
import type { Router, SandboxRequest } from '../sandbox/http.js';
import { authenticate, jsonObject, type Caller } from './auth.js';
import type { AgentHost } from './host.js';
import { identityJson, parseIdentity } from './identity.js';
import { parseChannelId } from './message-parts.js';
import { hashPassword } from './password.js';
import { canonicalStreamId, describeFailure, metaDataEvent } from './runtime.js';
import { ActivationStates, ConflictError, type StoredAgent, type StoredChannel, type StoredThrottle } from './store/types.js';

/** Throttle types: the interval a Threshold counts calls over. */
const THROTTLE_INTERVALS: Record<number, number> = { 0: 1000, 1: 60_000, 2: 3_600_000 };

const ID = /^[A-Za-z0-9._@:-]{1,128}$/;

function requireId(value: string | undefined, what: string): string {
  if (value === undefined || !ID.test(value)) throw new HttpError(400, `${what} must be 1 to 128 letters, digits or . _ @ : -`);
  return value;
}

/** A channel id as provisioned: `room:{streamId}` and `im:{streamId}` canonical, or `user:{userId}`. @throws HttpError 400. */
export function requireChannelId(channelId: string): string {
  const parsed = parseChannelId(channelId);
  if (parsed === undefined) throw new HttpError(400, `A channel id is room:{streamId}, im:{streamId} or user:{userId}; received ${JSON.stringify(channelId.slice(0, 140))}`);
  return parsed.kind === 'user' ? channelId : `${parsed.kind}:${canonicalStreamId(parsed.value) ?? parsed.value}`;
}

function optional<T>(body: Record<string, unknown>, name: string, type: 'string' | 'boolean' | 'number' | 'array', fallback: T): T {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (type === 'array' ? !Array.isArray(v) : typeof v !== type) throw new HttpError(400, `${name} must be ${type === 'array' ? 'an array' : `a ${type}`}`);
  return v as T;
}

function effectiveMode(agent: StoredAgent): number {
  return agent.provisioningMode !== 0 ? agent.provisioningMode : agent.canProvision ? 2 : 1;
}

/** The caller, if it may provision (`target`: the agent the call concerns, when it concerns one). @throws 401/403. */
async function provisioner(host: AgentHost, req: SandboxRequest, target?: string): Promise<Caller> {
  const caller = await authenticate(host, req);
  if (caller.kind === 'super') return caller;
  const agent = await host.store.getAgent(caller.agentId);
  const mode = agent === undefined ? 1 : effectiveMode(agent);
  if (mode === 2 || (mode === 3 && target === caller.agentId)) return caller;
  throw new HttpError(403, 'This agent is not permitted to provision this resource');
}

function channelJson(c: StoredChannel): Record<string, unknown> {
  return { Id: c.channelId, State: c.state, DisplayName: c.displayName ?? c.channelId, ...(c.reason === undefined ? {} : { Reason: c.reason }) };
}

async function agentJson(host: AgentHost, agent: StoredAgent): Promise<Record<string, unknown>> {
  const [channels, metadata, status] = await Promise.all([host.store.listChannels(agent.id), host.store.getMetadata(agent.id), host.store.getStatus(agent.id)]);
  const runtime = host.runtime(agent.id);
  return {
    Id: agent.id, UserName: agent.userName, Users: agent.users, Channels: channels.map(channelJson), MetaData: [...metadata].map(([Key, Value]) => ({ Key, Value })),
    CanProvision: agent.canProvision, ProvisioningMode: agent.provisioningMode, ManagementMode: agent.managementMode,
    State: runtime?.state ?? status?.state ?? ActivationStates.Idle,
    LastError: runtime?.lastError ?? status?.lastError ?? null,
    NextAttemptAt: runtime?.nextAttemptAt ?? status?.nextAttemptAt ?? null,
    Identity: identityJson(agent.identity),
  };
}

async function existingAgent(host: AgentHost, id: string): Promise<StoredAgent> {
  const agent = await host.store.getAgent(id);
  if (agent === undefined) throw new HttpError(404, `No agent ${id}`);
  return agent;
}

function metadataEntries(value: unknown): Map<string, string> {
  const entries = new Map<string, string>();
  if (Array.isArray(value)) {
    value.forEach((e, i) => {
      const o = e as Record<string, unknown> | null;
      if (typeof o?.Key !== 'string' || o.Key === '' || (o.Value !== null && typeof o.Value !== 'string')) throw new HttpError(400, `MetaData[${i}] must be {Key: string, Value: string}`);
      entries.set(o.Key, (o.Value as string | null) ?? '');
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new HttpError(400, `MetaData.${k} must be a string`);
      entries.set(k, v);
    }
  } else throw new HttpError(400, 'MetaData must be an array of {Key, Value} or an object of strings');
  return entries;
}

/** Add a channel to an agent (joining it when the agent is Active) and answer its state. */
async function addChannel(host: AgentHost, agentId: string, channelId: string): Promise<StoredChannel> {
  const channel: StoredChannel = { agentId, channelId, state: ActivationStates.Activating };
  await host.store.putChannel(channel);
  return (await host.runtime(agentId)?.joinChannel(channel)) ?? channel;
}

/** Apply a metadata change and tell the agent's event stream. */
async function metadataChanged(host: AgentHost, agentId: string, changes: Array<[string, string | null]>): Promise<void> {
  await host.appendEvents(agentId, changes.map(([k, v]) => metaDataEvent(k, v)));
}

/** Register the Provisioning routes. */
export function provisioningRoutes(router: Router, host: AgentHost): void {
  const { store } = host;

  router.add('GET', '/Provisioning/V1/Agents', async (req) => {
    // A Self agent may list (itself only).
    const who = await authenticate(host, req);
    const caller = await provisioner(host, req, who.kind === 'agent' ? who.agentId : undefined);
    const agents = await store.listAgents();
    const visible = caller.kind === 'super' || effectiveMode((await store.getAgent(caller.agentId))!) === 2 ? agents : agents.filter((a) => a.id === caller.agentId);
    return { json: await Promise.all(visible.map((a) => agentJson(host, a))) };
  });

  router.add('GET', '/Provisioning/V1/Agents/:id', async (req) => {
    await provisioner(host, req, req.params.id);
    return { json: await agentJson(host, await existingAgent(host, req.params.id!)) };
  });

  router.add('PUT', '/Provisioning/V1/Agents/:id', async (req) => {
    const id = requireId(req.params.id, 'The agent id');
    const caller = await provisioner(host, req, id);
    const body = jsonObject(req);
    if (body.Id !== undefined && body.Id !== null && body.Id !== id) throw new HttpError(400, `Id ${JSON.stringify(body.Id)} does not match the agent id of the path (${id})`);
    const previous = await store.getAgent(id);
    const userName = optional<string>(body, 'UserName', 'string', previous?.userName ?? '');
    if (userName === '') throw new HttpError(400, 'UserName (the Symphony username of the agent) is required');
    const identity = body.Identity === undefined || body.Identity === null
      ? previous?.identity ?? (() => { throw new HttpError(400, 'Identity is required: {Kind: "rsa", Username, PrivateKeyPath | PrivateKeyEnv}, {Kind: "certificate", …} or {Kind: "obo", AppId, UserId | Username}'); })()
      : parseIdentity(body.Identity, userName, (host.config.oboApps ?? []).map((a) => a.appId));
    const users = optional<unknown[]>(body, 'Users', 'array', previous?.users ?? []);
    for (const [i, u] of users.entries()) {
      if (typeof u !== 'string' || (await store.getUser(u)) === undefined) throw new HttpError(400, `Users[${i}] must be the id of a provisioned user; received ${JSON.stringify(u)}`);
    }
    const provisioningMode = optional<number>(body, 'ProvisioningMode', 'number', previous?.provisioningMode ?? 0);
    const managementMode = optional<number>(body, 'ManagementMode', 'number', previous?.managementMode ?? 0);
    if (![0, 1, 2, 3].includes(provisioningMode)) throw new HttpError(400, 'ProvisioningMode must be 0 Unspecified, 1 None, 2 System or 3 Self');
    if (![0, 1].includes(managementMode)) throw new HttpError(400, 'ManagementMode must be 0 None or 1 Group');
    const canProvision = optional<boolean>(body, 'CanProvision', 'boolean', previous?.canProvision ?? false);
    // An agent with Self rights may not raise its own rights.
    if (caller.kind === 'agent' && previous !== undefined && (canProvision !== previous.canProvision || provisioningMode !== previous.provisioningMode)) {
      throw new HttpError(403, 'An agent may not change its own provisioning rights');
    }
    const channelIds = body.Channels === undefined || body.Channels === null ? undefined : optional<unknown[]>(body, 'Channels', 'array', []).map((c, i) => {
      const cid = typeof c === 'string' ? c : (c as { Id?: unknown } | null)?.Id;
      if (typeof cid !== 'string') throw new HttpError(400, `Channels[${i}] must be {Id: channel id}`);
      return requireChannelId(cid);
    });
    const metadata = body.MetaData === undefined || body.MetaData === null ? undefined : metadataEntries(body.MetaData);
    const agent: StoredAgent = { id, userName, identity, users: users as string[], canProvision, provisioningMode, managementMode };
    await store.putAgent(agent);
    if (metadata !== undefined) await store.setMetadata(id, metadata);
    await host.startAgent(agent);
    if (channelIds !== undefined) {
      const existing = new Set((await store.listChannels(id)).map((c) => c.channelId));
      for (const cid of existing) if (!channelIds.includes(cid)) await store.deleteChannel(id, cid);
      for (const cid of channelIds) if (!existing.has(cid)) await addChannel(host, id, cid);
    }
    return { json: await agentJson(host, agent) };
  });

  router.add('DELETE', '/Provisioning/V1/Agents/:id', async (req) => {
    await provisioner(host, req);
    await existingAgent(host, req.params.id!);
    await host.stopAgent(req.params.id!);
    await store.deleteAgent(req.params.id!);
    host.throttles.forget({ agentId: req.params.id! });
    return { status: 204 };
  });

  router.add('GET', '/Provisioning/V1/Agents/:id/Channels', async (req) => {
    await provisioner(host, req, req.params.id);
    await existingAgent(host, req.params.id!);
    return { json: (await store.listChannels(req.params.id!)).map(channelJson) };
  });

  router.add('GET', '/Provisioning/V1/Agents/:id/Channels/:cid', async (req) => {
    await provisioner(host, req, req.params.id);
    await existingAgent(host, req.params.id!);
    const channel = await store.getChannel(req.params.id!, requireChannelId(req.params.cid!));
    if (channel === undefined) throw new HttpError(404, `Agent ${req.params.id} has no channel ${req.params.cid}`);
    return { json: channelJson(channel) };
  });

  router.add('PUT', '/Provisioning/V1/Agents/:id/Channels/:cid', async (req) => {
    await provisioner(host, req, req.params.id);
    await existingAgent(host, req.params.id!);
    return { json: channelJson(await addChannel(host, req.params.id!, requireChannelId(req.params.cid!))) };
  });

  router.add('DELETE', '/Provisioning/V1/Agents/:id/Channels/:cid', async (req) => {
    await provisioner(host, req, req.params.id);
    await existingAgent(host, req.params.id!);
    if (!(await store.deleteChannel(req.params.id!, requireChannelId(req.params.cid!)))) throw new HttpError(404, `Agent ${req.params.id} has no channel ${req.params.cid}`);
    return { status: 204 };
  });

  router.add('GET', '/Provisioning/V1/Agents/:id/MetaData', async (req) => {
    await provisioner(host, req, req.params.id);
    await existingAgent(host, req.params.id!);
    return { json: [...(await store.getMetadata(req.params.id!))].map(([Key, Value]) => ({ Key, Value })) };
  });

  router.add('PUT', '/Provisioning/V1/Agents/:id/MetaData', async (req) => {
    await provisioner(host, req, req.params.id);
    const id = (await existingAgent(host, req.params.id!)).id;
    const entries = metadataEntries(req.json());
    const before = await store.getMetadata(id);
    await store.setMetadata(id, entries);
    const changes: Array<[string, string | null]> = [...entries].filter(([k, v]) => before.get(k) !== v);
    for (const k of before.keys()) if (!entries.has(k)) changes.push([k, null]);
    await metadataChanged(host, id, changes);
    return { json: [...entries].map(([Key, Value]) => ({ Key, Value })) };
  });

  router.add('GET', '/Provisioning/V1/Agents/:id/MetaData/:key', async (req) => {
    await provisioner(host, req, req.params.id);
    const value = (await store.getMetadata((await existingAgent(host, req.params.id!)).id)).get(req.params.key!);
    if (value === undefined) throw new HttpError(404, `Agent ${req.params.id} has no metadata ${req.params.key}`);
    return { json: value };
  });

  router.add('PUT', '/Provisioning/V1/Agents/:id/MetaData/:key', async (req) => {
    await provisioner(host, req, req.params.id);
    const id = (await existingAgent(host, req.params.id!)).id;
    const body = req.json();
    const value = typeof body === 'string' ? body : (body as { Value?: unknown } | null)?.Value;
    if (typeof value !== 'string') throw new HttpError(400, 'The body must be the value as a JSON string, or {Value: string}');
    await store.putMetadataValue(id, req.params.key!, value);
    await metadataChanged(host, id, [[req.params.key!, value]]);
    return { json: value };
  });

  router.add('DELETE', '/Provisioning/V1/Agents/:id/MetaData/:key', async (req) => {
    await provisioner(host, req, req.params.id);
    const id = (await existingAgent(host, req.params.id!)).id;
    if (!(await store.deleteMetadataValue(id, req.params.key!))) throw new HttpError(404, `Agent ${req.params.id} has no metadata ${req.params.key}`);
    await metadataChanged(host, id, [[req.params.key!, null]]);
    return { status: 204 };
  });

  router.add('GET', '/Provisioning/V1/Users', async (req) => {
    await provisioner(host, req);
    return { json: (await store.listUsers()).map((u) => ({ Id: u.id, UserName: u.userName })) };
  });

  router.add('GET', '/Provisioning/V1/Users/:id', async (req) => {
    await provisioner(host, req);
    const user = await store.getUser(req.params.id!);
    if (user === undefined) throw new HttpError(404, `No user ${req.params.id}`);
    return { json: { Id: user.id, UserName: user.userName } };
  });

  router.add('PUT', '/Provisioning/V1/Users/:id', async (req) => {
    await provisioner(host, req);
    const id = requireId(req.params.id, 'The user id');
    const body = jsonObject(req);
    const previous = await store.getUser(id);
    const userName = optional<string>(body, 'UserName', 'string', previous?.userName ?? '');
    if (!/^[^\s]{1,128}$/.test(userName)) throw new HttpError(400, 'UserName must be 1 to 128 characters without spaces');
    const password = optional<string | undefined>(body, 'Password', 'string', undefined);
    if (password === undefined && previous === undefined) throw new HttpError(400, 'Password is required for a new user');
    if (password !== undefined && (password.length < 8 || password.length > 1024)) throw new HttpError(400, 'Password must be 8 to 1,024 characters');
    const passwordHash = password === undefined ? previous!.passwordHash : await hashPassword(password);
    try {
      await store.putUser({ id, userName, passwordHash });
    } catch (err) {
      if (err instanceof ConflictError) throw new HttpError(409, err.message);
      throw err;
    }
    return { json: { Id: id, UserName: userName } };
  });

  router.add('DELETE', '/Provisioning/V1/Users/:id', async (req) => {
    await provisioner(host, req);
    if (!(await store.deleteUser(req.params.id!))) throw new HttpError(404, `No user ${req.params.id}`);
    return { status: 204 };
  });

  const throttleJson = (t: StoredThrottle) => ({ Id: t.id, Type: t.type, Threshold: t.threshold, IntervalMs: t.intervalMs, Agents: t.agents });

  router.add('GET', '/Provisioning/V1/Throttles', async (req) => {
    await provisioner(host, req);
    return { json: (await store.listThrottles()).map(throttleJson) };
  });

  router.add('GET', '/Provisioning/V1/Throttles/:id', async (req) => {
    await provisioner(host, req);
    const t = await store.getThrottle(req.params.id!);
    if (t === undefined) throw new HttpError(404, `No throttle ${req.params.id}`);
    return { json: throttleJson(t) };
  });

  router.add('PUT', '/Provisioning/V1/Throttles/:id', async (req) => {
    await provisioner(host, req);
    const id = requireId(req.params.id, 'The throttle id');
    const body = jsonObject(req);
    const type = optional<number>(body, 'Type', 'number', 1);
    if (THROTTLE_INTERVALS[type] === undefined) throw new HttpError(400, 'Type must be 0 (per second), 1 (per minute) or 2 (per hour)');
    const threshold = optional<number>(body, 'Threshold', 'number', 0);
    if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > 1_000_000) throw new HttpError(400, 'Threshold must be an integer from 1 to 1,000,000');
    const intervalMs = optional<number>(body, 'IntervalMs', 'number', THROTTLE_INTERVALS[type]!);
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > 86_400_000) throw new HttpError(400, 'IntervalMs must be an integer from 1 to 86,400,000');
    const agents = optional<unknown[]>(body, 'Agents', 'array', []);
    if (agents.some((a) => typeof a !== 'string')) throw new HttpError(400, 'Agents must be an array of agent ids');
    const throttle: StoredThrottle = { id, type, threshold, intervalMs, agents: agents as string[] };
    await store.putThrottle(throttle);
    host.throttles.forget({ throttleId: id });
    return { json: throttleJson(throttle) };
  });

  router.add('DELETE', '/Provisioning/V1/Throttles/:id', async (req) => {
    await provisioner(host, req);
    if (!(await store.deleteThrottle(req.params.id!))) throw new HttpError(404, `No throttle ${req.params.id}`);
    host.throttles.forget({ throttleId: req.params.id! });
    return { status: 204 };
  });

  router.add('GET', '/Provisioning/V1/Channels', async (req) => {
    const caller = await provisioner(host, req, req.query.get('agent') ?? undefined);
    const agentId = req.query.get('agent') ?? (caller.kind === 'agent' ? caller.agentId : undefined);
    if (agentId === undefined) throw new HttpError(400, 'agent (the id of the agent whose identity searches) is required for the super user');
    await existingAgent(host, agentId);
    const client = host.runtime(agentId)?.client;
    if (client === undefined) throw new HttpError(503, `Agent ${agentId} is not active`, { 'retry-after': '5' });
    const query = (req.query.get('query') ?? '').toLowerCase();
    let streams;
    try {
      streams = await client.pod.streams({ types: ['ROOM', 'IM'], limit: 1000 });
    } catch (err) {
      throw new HttpError(503, `Symphony could not list the streams: ${describeFailure(err)}`, { 'retry-after': '5' });
    }
    return {
      json: streams.filter((s) => query === '' || (s.name ?? '').toLowerCase().includes(query) || s.id.toLowerCase().includes(query))
        .map((s) => ({ Id: `${s.type === 'ROOM' ? 'room' : 'im'}:${canonicalStreamId(s.id) ?? s.id}`, DisplayName: s.name ?? s.id, Type: s.type, Active: s.active })),
    };
  });
}
