/**
 * The Agent API's system operations (agent-api-public.yaml, docs/sandbox.md "Agent API"): health
 * (`/agent/v3/health`, `/agent/v3/health/extended`), information about the Agent (`/agent/v1/info`) and the echo
 * test (`/agent/v1/util/echo`). The sandbox's Agent runs in the sandbox's process, so its pod, Key Manager and
 * datafeed are always up; it reports the version of the Agent API it implements.
 */
import { optionalField, requireObject } from '../body.js';
import type { SandboxContext } from '../context.js';
import type { Router } from '../http.js';

/** The version of agent-api-public.yaml the sandbox's Agent implements. */
export const AGENT_API_VERSION = '25.8.1';

/** Register the Agent's system routes. */
export function agentRoutes(router: Router, ctx: SandboxContext): void {
  const up = { status: 'UP', version: AGENT_API_VERSION };
  router
    .add('GET', '/agent/v3/health', () => ({ json: { status: 'UP', version: AGENT_API_VERSION } }))
    .add('GET', '/agent/v3/health/extended', () => ({
      json: {
        services: { pod: up, key_manager: up, datafeed: up },
        status: 'UP',
        users: { agentservice: { authType: 'RSA', status: 'UP' }, ceservice: { authType: 'RSA', status: 'UP' } },
        version: AGENT_API_VERSION,
      },
    }))
    .add('GET', '/agent/v1/info', () => {
      const url = new URL(ctx.urls.agentUrl);
      return {
        json: {
          ipAddress: url.hostname.replace(/^\[|\]$/g, ''), hostname: url.hostname, serverFqdn: url.host, version: AGENT_API_VERSION, url: ctx.urls.agentUrl,
          onPrem: true, mt: false, commitId: 'sandbox',
        },
      };
    })
    .add('POST', '/agent/v1/util/echo', (req) => {
      ctx.sessionUser(req);
      const message = optionalField(requireObject(req.json()), 'message', 'string');
      return { json: message === undefined ? {} : { message } };
    });
}
