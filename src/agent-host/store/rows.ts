/**
 * The rows of the agent host's tables as both SQL backends read them (./sqlite.ts, ./postgres.ts: the same tables and
 * columns, docs/agent-host.md "Storage"), and their conversion to the storage interface's types (./types.ts). JSON
 * columns are text; a boolean column is 0/1 in SQLite and a boolean in PostgreSQL.
 */
import type { ActivationState, HostEvent, HostEventType, IdentityRef, StoredAgent, StoredChannel, StoredThrottle } from './types.js';

/** A boolean column's value: 0 or 1 (SQLite), or a boolean (PostgreSQL). */
type Flag = number | boolean;

export interface AgentRow { id: string; user_name: string; identity: string; users: string; can_provision: Flag; provisioning_mode: number; management_mode: number }
export interface ChannelRow { agent_id: string; channel_id: string; state: number; reason: string | null; stream_id: string | null; display_name: string | null }
export interface EventRow { event_id: number; instance_id: string; type: string; channel_id: string | null; local: Flag; time: number; body: string; source_id: string | null }
export interface ThrottleRow { id: string; type: number; threshold: number; interval_ms: number; agents: string }

const isSet = (flag: Flag): boolean => flag === true || flag === 1;

export function toAgent(row: AgentRow): StoredAgent {
  return {
    id: row.id, userName: row.user_name, identity: JSON.parse(row.identity) as IdentityRef, users: JSON.parse(row.users) as string[],
    canProvision: isSet(row.can_provision), provisioningMode: row.provisioning_mode, managementMode: row.management_mode,
  };
}

export function toChannel(row: ChannelRow): StoredChannel {
  return {
    agentId: row.agent_id, channelId: row.channel_id, state: row.state as ActivationState,
    ...(row.reason === null ? {} : { reason: row.reason }), ...(row.stream_id === null ? {} : { streamId: row.stream_id }),
    ...(row.display_name === null ? {} : { displayName: row.display_name }),
  };
}

export function toEvent(row: EventRow): HostEvent {
  return {
    eventId: row.event_id, instanceId: row.instance_id, type: row.type as HostEventType, ...(row.channel_id === null ? {} : { channelId: row.channel_id }),
    local: isSet(row.local), time: row.time, body: JSON.parse(row.body) as Record<string, unknown>, ...(row.source_id === null ? {} : { sourceId: row.source_id }),
  };
}

export function toThrottle(row: ThrottleRow): StoredThrottle {
  return { id: row.id, type: row.type, threshold: row.threshold, intervalMs: row.interval_ms, agents: JSON.parse(row.agents) as string[] };
}
