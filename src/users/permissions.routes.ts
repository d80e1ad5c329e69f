/**
 * GET /api/auth/permissions: what the signed-in user may do under the policy in force, so the
 * web interface shows only what the user can use. Read-only and derived from the policy: the
 * routes of each area still check for themselves (a menu is no guard).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIN_ROLE, requirePrincipal } from '../http/principal.js';
import {
  CAPABILITIES,
  canSeePersonalData,
  hasCapability,
  isAllowed,
  PURPOSE_LABELS,
  PURPOSES,
  type Policy,
} from '../policy/index.js';

const Label = z.object({ nl: z.string(), en: z.string() });
export const PermissionsResponse = z.object({
  admin: z.boolean(),
  roles: z.array(z.object({ id: z.string(), name: Label })),
  capabilities: z.array(z.enum(CAPABILITIES)),
  seesPersonalData: z.boolean(),
  purposes: z.array(
    z.object({
      id: z.enum(PURPOSES),
      label: Label,
      /** The categories this user may use the purpose on (a subset of the purpose's). */
      categories: z.array(z.string()),
      requires: z.string(),
      fourEyes: z.boolean(),
      maxLookback: z.string().nullable(),
      articles: z.array(z.string()),
    }),
  ),
});
export type Permissions = z.infer<typeof PermissionsResponse>;

/** Pure: the permissions of a set of roles under a policy. */
export function permissionsOf(policy: Policy, roles: readonly string[]): Permissions {
  const purposes = PURPOSES.flatMap((id) => {
    const rule = policy.purposes[id];
    if (!rule) return [];
    const categories = rule.categories.filter((category) => isAllowed(policy, roles, id, category));
    if (categories.length === 0) return [];
    return [
      {
        id,
        label: PURPOSE_LABELS[id],
        categories,
        requires: rule.requires,
        fourEyes: rule.fourEyes,
        maxLookback: rule.maxLookback ?? null,
        articles: rule.articles,
      },
    ];
  });
  return {
    admin: roles.includes(ADMIN_ROLE),
    roles: roles.map((id) => {
      const role = policy.roles.find((candidate) => candidate.id === id);
      return {
        id,
        name: role?.name ?? { nl: id === ADMIN_ROLE ? 'Beheerder' : id, en: id === ADMIN_ROLE ? 'Administrator' : id },
      };
    }),
    capabilities: CAPABILITIES.filter((capability) => hasCapability(policy, roles, capability)),
    seesPersonalData: canSeePersonalData(policy, roles),
    purposes,
  };
}

export function permissionsRoutes(policy: () => Policy): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/auth/permissions',
      { schema: { tags: ['auth'], response: { 200: PermissionsResponse } } },
      async (request) => permissionsOf(policy(), requirePrincipal(request).roles),
    );
  };
}
