import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/principal.js';
import type { LoadedPolicy } from '../policy/index.js';

/**
 * The policy in force, with its legal warnings. Any signed-in user may read it: it is the
 * published protocol (W 7, M 7), not personal data.
 */
export function policyRoutes(deps: { loaded: LoadedPolicy }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/policy',
      {
        schema: {
          tags: ['policy'],
          response: {
            200: z.object({
              ref: z.string(),
              hash: z.string(),
              policy: z.unknown(),
              warnings: z.array(
                z.object({ path: z.string(), code: z.string(), message: z.string(), articles: z.array(z.string()) }),
              ),
            }),
          },
        },
      },
      async (request) => {
        requirePrincipal(request);
        const { ref, hash, policy, warnings } = deps.loaded;
        return { ref, hash, policy, warnings };
      },
    );
  };
}
