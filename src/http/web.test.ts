import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { buildApp } from './app.js';
import { CONTENT_SECURITY_POLICY, webApp } from './web.js';

describe('serving the web interface', () => {
  let app: FastifyInstance | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    app = null;
    dir = null;
  });

  const start = async (root: string, missing: string[] = []) => {
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: () => Promise.resolve(null),
      routes: [],
      web: webApp({ root, onMissing: (r) => missing.push(r) }),
    });
    return app;
  };

  it('serves files and, for any other path outside /api, the app (SPA fallback), always with the strict CSP', async () => {
    dir = mkdtempSync(join(tmpdir(), 'protocam-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    const web = await start(dir);

    for (const url of ['/', '/logbook?status=signed', '/admin/users']) {
      const page = await web.inject({ url });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<div id="root">');
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(page.headers['cache-control']).toBe('no-store');
    }
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    const script = await web.inject({ url: '/assets/index-abc.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['cache-control']).toContain('immutable');
    expect((await web.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
    const api = await web.inject({ url: '/api/nothing' });
    expect(api.statusCode).toBe(404);
    expect(api.json().error.code).toBe('route-not-found');
    expect((await web.inject({ url: '/api/health' })).json().status).toBe('ok');
  });

  it('without a build: a clear 503 page saying how to build, the API still works, no crash', async () => {
    const missing: string[] = [];
    const web = await start(join(tmpdir(), 'protocam-no-such-build'), missing);
    expect(missing).toHaveLength(1);
    const page = await web.inject({ url: '/registry' });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('npm run build:web');
    expect((await web.inject({ url: '/api/health' })).statusCode).toBe(200);
    expect((await web.inject({ url: '/api/nothing' })).statusCode).toBe(404);
  });
});
