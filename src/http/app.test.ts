import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError, refused } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { buildApp } from './app.js';

describe('HTTP edge', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildApp({
      logger: createLogger('silent'),
      version: '9.9.9',
      authenticate: () => Promise.resolve(null),
      bodyLimit: 1024,
      routes: [
        async (api) => {
          api.post(
            '/echo',
            { schema: { body: z.strictObject({ name: z.string().trim().min(1).max(20) }) } },
            (request) => ({ name: request.body.name }),
          );
          api.get('/refuse', () => {
            throw refused('camera-is-dummy', 'A dummy camera cannot record');
          });
          api.get('/crash', () => {
            throw new Error('SQLITE_CONSTRAINT: secret table detail');
          });
          api.get('/internal', () => {
            throw new DomainError('internal', 'chain-head-missing', 'detail for the log only');
          });
        },
      ],
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers health and serves the OpenAPI document', async () => {
    expect((await app.inject('/api/health')).json()).toEqual({ status: 'ok', version: '9.9.9' });
    const doc = (await app.inject('/api/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/health');
  });

  it('rejects unknown fields and over-long strings with a stable code naming the field', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/api/echo', payload: { name: 'a', admin: true } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('validation-failed');
    const long = await app.inject({ method: 'POST', url: '/api/echo', payload: { name: 'x'.repeat(21) } });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.message).toContain('name');
  });

  it('answers malformed JSON and oversized bodies with 4xx codes', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('malformed-json');
    const big = await app.inject({ method: 'POST', url: '/api/echo', payload: { name: 'x'.repeat(5000) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('body-too-large');
  });

  it('refuses text with an unpaired surrogate before any route sees it (it has no UTF-8 form to store and hash)', async () => {
    for (const name of ['a\ud800b', 'x\udc00', '\udfff\ud800']) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/echo',
        headers: { 'content-type': 'application/json' },
        payload: `{"name": ${JSON.stringify(name)}}`,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'text-not-well-formed', details: { field: 'body.name' } });
    }
    // A proper pair (an emoji) is text like any other.
    const emoji = await app.inject({ method: 'POST', url: '/api/echo', payload: { name: 'ok \u{1F600}' } });
    expect(emoji.json()).toEqual({ name: 'ok \u{1F600}' });
  });

  it('maps domain refusals to 422 with their code', async () => {
    const response = await app.inject('/api/refuse');
    expect(response.statusCode).toBe(422);
    expect(response.json()).toEqual({ error: { code: 'camera-is-dummy', message: 'A dummy camera cannot record' } });
  });

  it('never shows internal details to a client', async () => {
    for (const url of ['/api/crash', '/api/internal']) {
      const response = await app.inject(url);
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toMatch(/SQLITE|secret|detail/);
      expect(response.json().error.code).toBe('internal-error');
    }
  });

  it('answers unknown routes with 404 and marks responses not cacheable', async () => {
    const response = await app.inject('/api/nope');
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('route-not-found');
    expect(response.headers['cache-control']).toBe('no-store');
  });
});
