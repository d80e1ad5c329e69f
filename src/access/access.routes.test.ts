import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb } from '../../test/db.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { accessRoutes } from './access.routes.js';
import { addIncident, principal, seedRegistry, services, type Seed } from '../../test/access-fixtures.js';
import { requireGrant } from './grant.guard.js';

const USERS: Record<string, Principal> = {
  hm: principal('u-hm', ['huismeester']),
  hm2: principal('u-hm2', ['huismeester']),
  mkw: principal('u-mkw', ['manager-klant-wonen']),
  mvg: principal('u-mvg', ['manager-vastgoed']),
};

describe('access and logbook HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let seed: Seed;
  let incidentId: string;
  const call = (
    who: string | null,
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
    headers: Record<string, string> = {},
  ) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: { ...(who ? { 'x-test-user': who } : {}), ...headers },
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const { gate, logbook, clock } = services(db.kysely, loadPolicy('maaswonen-2024').policy);
    seed = await seedRegistry(db.kysely, clock.now());
    incidentId = await addIncident(db.kysely, clock.now());
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (USERS[who] ?? null) : null);
      },
      routes: [
        accessRoutes({ gate, logbook }),
        // A stand-in data route, shaped like the playback route of the recorder issue.
        async (api) => {
          api.get('/test-footage/:cameraId', async (request) => {
            const { cameraId } = request.params as { cameraId: string };
            const at = Date.parse((request.query as { at: string }).at);
            const grant = await requireGrant(gate, request, { category: 'footage', cameraId, at });
            return { served: cameraId, grant: grant.id };
          });
        },
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('grants, serves only in scope, records finding and signature, lists and exports', async () => {
    const body = {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [seed.cameraIds[0]] },
      window: { from: '2026-03-02T08:00:00+01:00', to: '2026-03-02T09:00:00+01:00' },
      reason: 'Broken door',
      incidentId,
    };
    expect((await call(null, 'POST', '/access/requests', body)).statusCode).toBe(401);
    const res = await call('hm', 'POST', '/access/requests', body);
    expect(res.statusCode).toBe(201);
    const { token, entryId } = res.json<{ token: string; entryId: string }>();
    const header = { 'x-protocam-grant': token };
    expect(
      (await call('hm', 'GET', `/test-footage/${seed.cameraIds[0]}?at=2026-03-02T07:30:00Z`, undefined, header)).json(),
    ).toMatchObject({ served: seed.cameraIds[0] });
    expect((await call('hm', 'GET', `/test-footage/${seed.cameraIds[0]}?at=2026-03-02T07:30:00Z`)).statusCode).toBe(
      404,
    );
    expect(
      (await call('hm2', 'GET', `/test-footage/${seed.cameraIds[0]}?at=2026-03-02T07:30:00Z`, undefined, header)).json()
        .error.code,
    ).toBe('grant-not-found');
    expect(
      (await call('hm', 'GET', `/test-footage/${seed.cameraIds[1]}?at=2026-03-02T07:30:00Z`, undefined, header)).json()
        .error.code,
    ).toBe('outside-grant');
    expect(
      (await call('hm', 'GET', `/test-footage/${seed.cameraIds[0]}?at=2026-03-02T09:30:00Z`, undefined, header))
        .statusCode,
    ).toBe(403);
    expect((await call('hm', 'GET', '/access/grant', undefined, header)).json()).toMatchObject({
      entryId,
      category: 'footage',
    });

    const refused = await call('hm', 'POST', '/access/requests', {
      ...body,
      category: 'door-events',
      purpose: 'accusation',
      scope: { tag: 'T1' },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'access-refused', details: { reason: 'purpose-unknown' } });

    expect((await call('hm', 'POST', `/logbook/${entryId}/finding`, { text: 'Door kicked at 07:41' })).statusCode).toBe(
      201,
    );
    expect((await call('hm', 'POST', `/logbook/${entryId}/signature`)).json().error.code).toBe('sign-not-allowed');
    const signed = await call('mkw', 'POST', `/logbook/${entryId}/signature`);
    expect(signed.statusCode).toBe(201);
    expect(signed.json()).toMatchObject({ status: 'signed' });

    expect((await call('hm', 'GET', '/logbook')).statusCode).toBe(403);
    const list = await call('mkw', 'GET', `/logbook?status=signed&cameraId=${seed.cameraIds[0]}`);
    expect(list.json().items.map((e: { entryId: string }) => e.entryId)).toEqual([entryId]);
    const csv = await call('mkw', 'GET', '/logbook/export.csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body).toContain('Door kicked at 07:41');
    const pdf = await call('mvg', 'GET', '/logbook/export.pdf');
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect((await call('mkw', 'GET', '/logbook/overdue')).json()).toEqual({ items: [] });
    expect((await call('mkw', 'GET', '/logbook/verify')).json()).toMatchObject({ ok: true, checked: 4 });
    expect((await call('mkw', 'GET', '/logbook/verify?strategy=walk')).json()).toMatchObject({ ok: true, checked: 4 });
    expect((await call('mkw', 'GET', '/logbook/verify?strategy=trust-me')).statusCode).toBe(400);
  });

  it('four-eyes over HTTP', async () => {
    const calamity = await addIncident(db.kysely, Date.parse('2026-03-02T10:00:00Z'), 'calamity');
    const res = await call('mkw', 'POST', '/access/requests', {
      category: 'tag-holders',
      purpose: 'calamity-witness-search',
      scope: { tag: 'TAG-1' },
      window: { from: '2026-03-02T06:00:00Z', to: '2026-03-02T07:00:00Z' },
      reason: 'Fire: find witnesses',
      incidentId: calamity,
    });
    expect(res.statusCode).toBe(202);
    const { requestId } = res.json<{ requestId: string }>();
    expect(
      (await call('mvg', 'GET', '/access/requests?status=pending')).json().items.map((r: { id: string }) => r.id),
    ).toContain(requestId);
    expect((await call('mkw', 'POST', `/access/requests/${requestId}/approve`)).json().error.code).toBe(
      'self-approval',
    );
    expect((await call('mvg', 'POST', `/access/requests/${requestId}/approve`)).json()).toMatchObject({
      status: 'approved',
    });
    const grant = await call('mkw', 'POST', `/access/requests/${requestId}/grant`);
    expect(grant.statusCode).toBe(201);
    expect(grant.json().token).toEqual(expect.any(String));
  });

  it('rejects unbounded input at the edge', async () => {
    const res = await call('hm', 'POST', '/access/requests', {
      category: 'footage',
      purpose: 'x'.repeat(65),
      scope: {},
      window: { from: 'x', to: 'y' },
      reason: 'r',
    });
    expect(res.statusCode).toBe(400);
  });
});
