import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

/**
 * The minimal sign-in page. The page is read once at start-up; its script talks only to
 * /api, so a strict content security policy fits it.
 */
export function minimalWeb(): FastifyPluginAsyncZod {
  const page = readFileSync(fileURLToPath(new URL('../../web/minimal/index.html', import.meta.url)), 'utf8');
  return async (app) => {
    app.get('/', { schema: { hide: true } }, (_request, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header(
          'content-security-policy',
          "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )
        .send(page),
    );
  };
}
