/**
 * The sandbox's control API under `/sandbox/v1` (served only with `control: true`): fault rules, key rotation,
 * the Object Store entitlement, and new users. Sandbox-specific; not part of Symphony's API.
 */
import { canonicalId, optionalField, requireObject, requiredField } from '../body.js';
import type { Faults } from '../faults.js';
import { HttpError } from '../http-error.js';
import type { Router } from '../http.js';
import type { NewSandboxUser, SandboxAdmin } from '../admin.js';

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
      return { status: 201, json: await admin.createUser(user) };
    });
}
