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
import { invalid } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { errorHandler, notFoundHandler } from './errors.js';
import type { Principal } from './principal.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route keeps what it receives apart from the hash chains and judges each record itself
     * (door-event batches: one odd record must not refuse the batch), so the edge does not check
     * its text for unpaired surrogates.
     */
    acceptsIllFormedText?: boolean;
  }
}

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

  // Before any schema sees the body: text with an unpaired UTF-16 surrogate (JSON can carry one
  // as "\ud800") has no UTF-8 form, so a database would store something else than was hashed
  // into the logbook and audit chains, and verify would report tampering that never happened.
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.config.acceptsIllFormedText) return;
    const path = illFormedTextAt(request.body, 'body');
    if (path !== null)
      throw invalid('text-not-well-formed', `${path}: text contains an unpaired UTF-16 surrogate`, { field: path });
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

/** An unpaired surrogate: a high one not followed by a low one, or a low one without a high one before it. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where in a parsed JSON value a string (or key) is not well-formed UTF-16, as `body.a.0.b`; null when none is. */
export function illFormedTextAt(value: unknown, path: string): string | null {
  if (typeof value === 'string') return UNPAIRED_SURROGATE.test(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedTextAt(value[i], `${path}.${i}`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (UNPAIRED_SURROGATE.test(key)) return `${path}.${key}`;
      const found = illFormedTextAt(item, `${path}.${key}`);
      if (found !== null) return found;
    }
  }
  return null;
}
