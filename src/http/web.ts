import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFoundHandler } from './errors.js';

/** Where `npm run build:web` (vite) writes the web interface; the same path from src/ and dist/. */
export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * The app loads only its own hashed script and style files and talks only to /api, so the
 * policy allows nothing inline and nothing from elsewhere. Footage (later) is same-origin too.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MISSING_BUILD_PAGE = `<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Protocam</title></head>
<body><h1>Protocam</h1>
<p>De webinterface is niet gebouwd. Voer <code>npm run build:web</code> uit en start Protocam opnieuw.
De API werkt wel: <a href="/api/health">/api/health</a>.</p>
<p lang="en">The web interface has not been built. Run <code>npm run build:web</code> and restart Protocam.
The API works: <a href="/api/health">/api/health</a>.</p>
</body></html>`;

/**
 * The web interface (React, built by Vite to static files): files under `root`, and for
 * every other GET outside /api the app's index.html, so that deep links (/logbook?status=…)
 * load the app, which routes in the browser. Unknown /api paths stay JSON 404s. Without a
 * build, every page answers 503 with a message saying how to build it.
 */
export function webApp(options: { root?: string; onMissing?: (root: string) => void } = {}): FastifyPluginAsyncZod {
  const root = options.root ?? WEB_ROOT;
  const indexFile = join(root, 'index.html');
  return async (app) => {
    app.addHook('onSend', async (request, reply) => {
      void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      // Vite names assets by content hash: they may be cached; index.html and the API may not.
      if (request.url.startsWith('/assets/')) void reply.header('cache-control', 'public, max-age=31536000, immutable');
    });

    if (!existsSync(indexFile)) {
      options.onMissing?.(root);
      app.get('/*', { schema: { hide: true } }, (request, reply) => {
        if (request.url.startsWith('/api/')) return notFoundHandler(request, reply);
        return reply.status(503).header('content-type', 'text/html; charset=utf-8').send(MISSING_BUILD_PAGE);
      });
      return;
    }

    const index = readFileSync(indexFile, 'utf8');
    const sendIndex = (reply: FastifyReply) => reply.header('content-type', 'text/html; charset=utf-8').send(index);
    await app.register(fastifyStatic, { root, wildcard: false, index: false, serve: true });
    app.get('/', { schema: { hide: true } }, (_request, reply) => sendIndex(reply));
    app.get('/*', { schema: { hide: true } }, (request, reply) => {
      if (request.url.startsWith('/api/') || request.url.startsWith('/assets/')) return notFoundHandler(request, reply);
      return sendIndex(reply);
    });
  };
}
