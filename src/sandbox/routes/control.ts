/**
 * The sandbox's control API under `/sandbox/v1` (served only with `control: true`): fault rules, key rotation,
 * the Object Store entitlement, new users, Symphony Elements forms submitted as a user would, the pod's policies and
 * users' entitlements, and OBO apps (enable, disable, permissions, partner callback, installations, the registered
 * Agent, the callback deliveries). Sandbox-specific; not part of Symphony's API.
 */
import type { OboPermission } from '../../errors.js';
import { canonicalId, optionalField, parseUserId, requireArray, requireObject, requiredField } from '../body.js';
import type { Faults } from '../faults.js';
import { HttpError } from '../http-error.js';
import type { Router } from '../http.js';
import type { NewSandboxUser, SandboxAdmin } from '../admin.js';
import { parseProfile } from '../seed.js';

/** Register the control routes. */
export function controlRoutes(router: Router, faults: Faults, admin: SandboxAdmin): void {
  router
    .add('GET', '/sandbox/v1/faults', () => ({ json: faults.list() }))
    .add('POST', '/sandbox/v1/faults', (req) => ({ status: 201, json: faults.add(req.json() as never) }))
    .add('DELETE', '/sandbox/v1/faults', () => {
      faults.clear();
      return { status: 204 };
    })
    .add('POST', '/sandbox/v1/streams/:id/rotate', async (req) => ({ json: { rotationId: Number(await admin.rotate(canonicalId(req.params.id!, 'id'))) } }))
    .add('PUT', '/sandbox/v1/entitlements', async (req) => {
      const objectStore = requiredField(requireObject(req.json()), 'objectStore', 'boolean');
      await admin.setObjectStoreEntitlement(objectStore);
      return { json: { objectStore } };
    })
    .add('POST', '/sandbox/v1/users', async (req) => {
      const body = requireObject(req.json());
      const user: NewSandboxUser = { username: requiredField(body, 'username', 'string') };
      const displayName = optionalField(body, 'displayName', 'string');
      if (displayName !== undefined) user.displayName = displayName;
      const type = optionalField(body, 'type', 'string');
      if (type !== undefined && type !== 'SYSTEM' && type !== 'NORMAL') throw new HttpError(400, 'Field "type" must be NORMAL or SYSTEM');
      if (type !== undefined) user.type = type;
      const publicKeyPem = optionalField(body, 'publicKeyPem', 'string');
      if (publicKeyPem !== undefined) user.publicKeyPem = publicKeyPem;
      const profile = optionalField(body, 'profile', 'object');
      if (profile !== undefined) user.profile = parseProfile(profile);
      return { status: 201, json: await admin.createUser(user) };
    })
    .add('PUT', '/sandbox/v1/policies', async (req) => {
      const imRequiresConnection = requiredField(requireObject(req.json()), 'imRequiresConnection', 'boolean');
      await admin.setImRequiresConnection(imRequiresConnection);
      return { json: { imRequiresConnection } };
    })
    .add('PUT', '/sandbox/v1/users/:uid/entitlements', async (req) => {
      const canSendFiles = requiredField(requireObject(req.json()), 'canSendFiles', 'boolean');
      await admin.setCanSendFiles(parseUserId(req.params.uid, 'uid'), canSendFiles);
      return { json: { canSendFiles } };
    })
    .add('POST', '/sandbox/v1/apps/:appId/enable', async (req) => {
      await admin.enableApp(req.params.appId!);
      return { json: { appId: req.params.appId, enabled: true } };
    })
    .add('POST', '/sandbox/v1/apps/:appId/disable', async (req) => {
      await admin.disableApp(req.params.appId!);
      return { json: { appId: req.params.appId, enabled: false } };
    })
    .add('PUT', '/sandbox/v1/apps/:appId/permissions', async (req) => {
      const permissions = requireArray(requiredField(requireObject(req.json()), 'permissions', 'array'), 'permissions') as OboPermission[];
      await admin.setAppPermissions(req.params.appId!, permissions);
      return { json: { appId: req.params.appId, permissions } };
    })
    .add('PUT', '/sandbox/v1/apps/:appId/callback', async (req) => {
      const body = requireObject(req.json());
      await admin.setAppCallback(req.params.appId!, { url: requiredField(body, 'url', 'string'), apiKey: requiredField(body, 'apiKey', 'string') });
      return { status: 204 };
    })
    .add('DELETE', '/sandbox/v1/apps/:appId/callback', async (req) => {
      await admin.setAppCallback(req.params.appId!, undefined);
      return { status: 204 };
    })
    .add('POST', '/sandbox/v1/streams/:id/forms', async (req) => {
      const body = requireObject(req.json());
      await admin.submitForm({
        streamId: req.params.id!, userId: parseUserId(body.userId, 'userId'), formMessageId: requiredField(body, 'formMessageId', 'string'),
        formId: requiredField(body, 'formId', 'string'), formValues: optionalField(body, 'formValues', 'object') ?? {},
      });
      return { status: 204 };
    });
  for (const action of ['install', 'uninstall'] as const) {
    router.add('POST', `/sandbox/v1/apps/:appId/${action}`, async (req) => {
      const userIds = requireArray(requiredField(requireObject(req.json()), 'userIds', 'array'), 'userIds').map((id) => parseUserId(id, 'userIds'));
      await (action === 'install' ? admin.installApp(req.params.appId!, userIds) : admin.uninstallApp(req.params.appId!, userIds));
      return { json: { appId: req.params.appId, [action === 'install' ? 'installed' : 'uninstalled']: userIds } };
    });
  }
  router
    .add('POST', '/sandbox/v1/agent/register', async (req) => {
      const url = req.body.length === 0 ? undefined : optionalField(requireObject(req.json()), 'url', 'string');
      await admin.registerAgent(url);
      return { status: 204 };
    })
    .add('GET', '/sandbox/v1/callbacks', () => ({ json: admin.callbackAttempts() }));
}
