import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from '../lib/logger.js';
import { errorHandler, notFoundHandler } from './errors.js';
import type { Principal } from './principal.js';

export interface AppOptions {
  logger: Logger;
  version: string;
  /** Resolves the session cookie into a principal; throws (e.g. CSRF mismatch) to refuse the request. */
  authenticate: (request: FastifyRequest) => Promise<Principal | null>;
  /** Route plugins of the areas, each registered under /api. */
  routes: FastifyPluginAsyncZod[];
  /** Static web page(s), served at /. */
  web?: FastifyPluginAsyncZod;
  /** Trust X-Forwarded-For from a reverse proxy (sign-in limits count per client address). */
  trustProxy?: boolean;
  /** Largest accepted request body; large uploads get their own routes with their own limit. */
  bodyLimit?: number;
}

export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as Fastify's logger so the instance type stays the default one that plugins expect.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    trustProxy: options.trustProxy ?? false,
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Protocam API',
        version: options.version,
        description: 'Camera and key-tag protocol enforcement for housing corporations.',
      },
      components: {
        securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'protocam_session' } },
      },
    },
    transform: jsonSchemaTransform,
  });

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    request.principal = await options.authenticate(request);
  });
  app.addHook('onSend', async (_request, reply) => {
    // Responses may hold personal data: never cache them, never let them be framed.
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
  });

  await app.register(
    async (api) => {
      api.get(
        '/health',
        { schema: { tags: ['system'], response: { 200: z.object({ status: z.literal('ok'), version: z.string() }) } } },
        () => ({ status: 'ok' as const, version: options.version }),
      );
      api.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
      for (const routes of options.routes) await api.register(routes);
    },
    { prefix: '/api' },
  );
  if (options.web) await app.register(options.web);
  return app;
}
