import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { createTestDb } from '../../test/db.js';
import { registryRoutes } from './registry.routes.js';
import { RegistryService } from './registry.service.js';

const PRINCIPALS: Record<string, Principal> = {
  admin: {
    userId: 'u-admin',
    username: 'beheerder',
    displayName: 'Beheerder',
    roles: ['admin'],
    sessionId: 's1',
    secondFactorDone: true,
  },
  huismeester: {
    userId: 'u-hm',
    username: 'jan',
    displayName: 'Jan',
    roles: ['huismeester'],
    sessionId: 's2',
    secondFactorDone: true,
  },
};
const PASSWORD = 'Http-secret-pw-77';

const refusalCodes = (response: { json: <T>() => T }) =>
  response.json<{ error: { details: { refusals: { code: string }[] } } }>().error.details.refusals.map((r) => r.code);

describe('registry HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let complexId: string;
  let buildingId: string;
  let outdoorAreaId: string;

  const as = (who: keyof typeof PRINCIPALS | null) => (who ? { 'x-test-user': who } : {});
  const call = (
    who: keyof typeof PRINCIPALS | null,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
  ) => app.inject({ method, url: `/api${url}`, headers: as(who), ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const clock = new ManualClock('2026-03-02T10:00:00Z');
    const policy = loadPolicy('wooninvest-2021').policy;
    const registry = new RegistryService({
      db: db.kysely,
      clock,
      audit: new AuditTrail(clock),
      policy: () => policy,
      encryptionKey: randomBytes(32),
    });
    await registry.ensureOrganisation('WoonInvest');
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (PRINCIPALS[who] ?? null) : null);
      },
      routes: [registryRoutes(registry)],
    });
    complexId = (await call('admin', 'POST', '/complexes', { name: 'De Linde', ownership: 'corporation' })).json().id;
    buildingId = (await call('admin', 'POST', '/buildings', { complexId, name: 'Blok A' })).json().id;
    outdoorAreaId = (await call('admin', 'POST', '/areas', { buildingId, name: 'Plein', areaType: 'outdoor' })).json()
      .id;
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  const camera = (over: object = {}) => ({
    buildingId,
    name: 'Hal',
    goals: ['protect-persons'],
    streamUrl: `rtsp://admin:${PASSWORD}@cam1.local:554/live?channel=1`,
    credentials: { username: 'cam', password: PASSWORD },
    connectionSecured: true,
    ...over,
  });

  it('requires a signed-in user for reads and an administrator for writes', async () => {
    expect((await call(null, 'GET', '/complexes')).statusCode).toBe(401);
    const read = await call('huismeester', 'GET', '/complexes');
    expect(read.statusCode).toBe(200);
    expect(read.json<{ items: { name: string }[] }>().items.map((c) => c.name)).toEqual(['De Linde']);
    for (const [method, url, payload] of [
      ['POST', '/complexes', { name: 'X', ownership: 'corporation' }],
      ['PATCH', `/complexes/${complexId}`, { name: 'Y' }],
      ['POST', '/cameras', camera()],
      ['DELETE', `/complexes/${complexId}`, undefined],
    ] as const) {
      const response = await call('huismeester', method, url, payload);
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('admin-only');
    }
  });

  it('rejects unknown fields and oversize strings with 400 validation-failed', async () => {
    const unknown = await call('admin', 'POST', '/complexes', { name: 'X', ownership: 'corporation', owner: 'me' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([400, 'validation-failed']);
    const nested = await call(
      'admin',
      'POST',
      '/cameras',
      camera({ placement: { insideDwelling: false, aimedAtMoon: true } }),
    );
    expect([nested.statusCode, nested.json().error.code]).toEqual([400, 'validation-failed']);
    const long = await call('admin', 'POST', '/complexes', { name: 'x'.repeat(201), ownership: 'corporation' });
    expect([long.statusCode, long.json().error.code]).toEqual([400, 'validation-failed']);
    const longPassword = await call(
      'admin',
      'POST',
      '/cameras',
      camera({ credentials: { username: 'a', password: 'p'.repeat(201) } }),
    );
    expect(longPassword.statusCode).toBe(400);
    const badOwnership = await call('admin', 'POST', '/complexes', { name: 'X', ownership: 'private' });
    expect(badOwnership.statusCode).toBe(400);
    const badQuery = await call('admin', 'GET', '/cameras?color=red');
    expect(badQuery.statusCode).toBe(400);
    const badUrl = await call('admin', 'POST', '/cameras', camera({ streamUrl: 'ftp://cam1.local/x' }));
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.body).not.toContain('cam1.local');
  });

  it('trims names', async () => {
    const created = await call('admin', 'POST', '/buildings', { complexId, name: '  Blok C  ' });
    expect(created.json().name).toBe('Blok C');
  });

  it('never returns the stream URL or credentials, only that they are set and a redacted host', async () => {
    const created = await call('admin', 'POST', '/cameras', camera());
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    for (const response of [
      created,
      await call('admin', 'GET', `/cameras/${id}`),
      await call('huismeester', 'GET', '/cameras'),
    ]) {
      expect(response.body).not.toContain(PASSWORD);
      expect(response.body).not.toContain('channel=1');
      expect(response.body).not.toContain('admin:');
    }
    expect(created.json()).toMatchObject({
      streamUrlSet: true,
      credentialsSet: true,
      streamHost: 'rtsp://cam1.local:554/…',
      status: 'inactive',
    });
  });

  const refusalCases: [string, object][] = [
    ['camera-is-dummy', { kind: 'dummy' }],
    ['camera-not-secured', { connectionSecured: false }],
    ['hidden-camera-requirements', { kind: 'hidden', hidden: { suspicion: 'Till shortfalls' } }],
    ['placement-inside-dwelling', { placement: { insideDwelling: true } }],
    ['placement-front-door', { placement: { aimedAtFrontDoor: true } }],
    ['placement-workplace', { placement: { aimedAtWorkplace: true, workplaceReason: 'Staff safety' } }],
    ['placement-public-road-without-reason', { placement: { showsPublicRoad: true } }],
    ['placement-outdoor-without-reason', { placement: { outdoor: true } }],
    ['camera-without-goal', { goals: [] }],
    ['camera-without-stream', { streamUrl: null }],
  ];

  it.each(refusalCases)(
    'activation refused for %s: 422 activation-refused with the code in details',
    async (code, over) => {
      const id = (await call('admin', 'POST', '/cameras', camera(over))).json().id;
      const response = await call('admin', 'POST', `/cameras/${id}/activate`);
      expect(response.statusCode).toBe(422);
      const body = response.json();
      expect(body.error.code).toBe('activation-refused');
      const refusals = body.error.details.refusals as {
        code: string;
        message: string;
        messageNl: string;
        articles: string[];
      }[];
      expect(refusals.map((r) => r.code)).toEqual([code]);
      expect(refusals[0]!.messageNl.length).toBeGreaterThan(0);
      expect((await call('admin', 'GET', `/cameras/${id}`)).json().status).toBe('inactive');
      const check = (await call('admin', 'GET', `/cameras/${id}/refusals`)).json<{
        activatable: boolean;
        refusals: { code: string }[];
      }>();
      expect(check.activatable).toBe(false);
      expect(check.refusals.map((r) => r.code)).toEqual([code]);
    },
  );

  it('W intro: activation in a VvE complex answers 422 with complex-not-responsible', async () => {
    const vve = (await call('admin', 'POST', '/complexes', { name: 'VvE Park', ownership: 'vve' })).json().id;
    const building = (await call('admin', 'POST', '/buildings', { complexId: vve, name: 'Park' })).json().id;
    const id = (await call('admin', 'POST', '/cameras', camera({ buildingId: building }))).json().id;
    const response = await call('admin', 'POST', `/cameras/${id}/activate`);
    expect(response.statusCode).toBe(422);
    expect(refusalCodes(response)).toEqual(['complex-not-responsible']);
  });

  it('activates, refuses a rule-breaking edit, deactivates, and keeps an ever-active camera', async () => {
    const id = (
      await call(
        'admin',
        'POST',
        '/cameras',
        camera({ areaId: outdoorAreaId, placement: { outdoorReason: 'Bicycle theft' } }),
      )
    ).json().id;
    expect((await call('huismeester', 'POST', `/cameras/${id}/activate`)).statusCode).toBe(403);
    const activated = await call('admin', 'POST', `/cameras/${id}/activate`);
    expect([activated.statusCode, activated.json().status]).toEqual([200, 'active']);
    const again = await call('admin', 'POST', `/cameras/${id}/activate`);
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'camera-already-active']);
    const edit = await call('admin', 'PATCH', `/cameras/${id}`, { placement: { outdoorReason: null } });
    expect([edit.statusCode, edit.json().error.code]).toEqual([422, 'camera-update-refused']);
    expect(refusalCodes(edit)).toEqual(['placement-outdoor-without-reason']);
    const deleteActive = await call('admin', 'DELETE', `/cameras/${id}`);
    expect([deleteActive.statusCode, deleteActive.json().error.code]).toEqual([409, 'camera-was-active']);
    const off = await call('admin', 'POST', `/cameras/${id}/deactivate`, { reason: 'Maintenance' });
    expect([off.statusCode, off.json().status]).toEqual([200, 'inactive']);
    expect((await call('admin', 'POST', `/cameras/${id}/deactivate`)).json().error.code).toBe('camera-not-active');
    expect((await call('admin', 'DELETE', `/cameras/${id}`)).statusCode).toBe(409);
  });

  it('unknown ids answer 404 <thing>-not-found; a missing reference answers with its own code', async () => {
    for (const [url, code] of [
      ['/complexes/none', 'complex-not-found'],
      ['/buildings/none', 'building-not-found'],
      ['/entrances/none', 'entrance-not-found'],
      ['/areas/none', 'area-not-found'],
      ['/cameras/none', 'camera-not-found'],
      ['/doors/none', 'door-not-found'],
    ]) {
      const response = await call('admin', 'GET', url!);
      expect([response.statusCode, response.json().error.code]).toEqual([404, code]);
    }
    const missing = await call('admin', 'POST', '/cameras', camera({ buildingId: 'none' }));
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'building-not-found']);
    const patchMissing = await call('admin', 'PATCH', '/doors/none', { name: 'X' });
    expect(patchMissing.statusCode).toBe(404);
  });

  it('hidden cameras exist only for administrators', async () => {
    const id = (await call('admin', 'POST', '/cameras', camera({ kind: 'hidden', name: 'Kassa kantoor' }))).json().id;
    expect((await call('admin', 'GET', `/cameras/${id}`)).statusCode).toBe(200);
    const hidden = await call('huismeester', 'GET', `/cameras/${id}`);
    expect([hidden.statusCode, hidden.json().error.code]).toEqual([404, 'camera-not-found']);
    expect((await call('huismeester', 'GET', '/cameras?kind=hidden')).json().items).toEqual([]);
  });

  it('manages entrances and doors, and reports an entrance without a sign once a camera is active', async () => {
    const building = (await call('admin', 'POST', '/buildings', { complexId, name: 'Blok S' })).json().id;
    const entrance = await call('admin', 'POST', '/entrances', { buildingId: building, name: 'Hoofdingang' });
    expect(entrance.json()).toMatchObject({ isGeneralEntrance: true, signPresent: false });
    const door = await call('admin', 'POST', '/doors', {
      buildingId: building,
      entranceId: entrance.json().id,
      name: 'Voordeur',
      code: 'S-1',
    });
    expect(door.statusCode).toBe(201);
    const dup = await call('admin', 'POST', '/doors', { buildingId: building, name: 'Dubbel', code: 'S-1' });
    expect([dup.statusCode, dup.json().error.code]).toEqual([409, 'door-code-taken']);
    expect((await call('admin', 'GET', `/doors?buildingId=${building}`)).json().items).toHaveLength(1);

    const findings = async () =>
      (await call('huismeester', 'GET', '/compliance/registry'))
        .json<{ findings: { targetId: string }[] }>()
        .findings.filter((f) => f.targetId === entrance.json<{ id: string }>().id);
    expect(await findings()).toEqual([]);
    const id = (await call('admin', 'POST', '/cameras', camera({ buildingId: building }))).json().id;
    expect((await call('admin', 'POST', `/cameras/${id}/activate`)).statusCode).toBe(200);
    const [finding] = await findings();
    expect(finding).toMatchObject({ code: 'entrance-without-sign', articles: ['W 3.2'] });
    await call('admin', 'PATCH', `/entrances/${entrance.json().id}`, { signPresent: true });
    expect(await findings()).toEqual([]);
    expect((await call('admin', 'DELETE', `/doors/${door.json().id}`)).statusCode).toBe(204);
  });

  it('deletes empty items only', async () => {
    const complex = (await call('admin', 'POST', '/complexes', { name: 'Leeg', ownership: 'social' })).json().id;
    const building = (await call('admin', 'POST', '/buildings', { complexId: complex, name: 'B' })).json().id;
    const blocked = await call('admin', 'DELETE', `/complexes/${complex}`);
    expect([blocked.statusCode, blocked.json().error.code]).toEqual([409, 'complex-not-empty']);
    expect((await call('admin', 'DELETE', `/buildings/${building}`)).statusCode).toBe(204);
    expect((await call('admin', 'DELETE', `/complexes/${complex}`)).statusCode).toBe(204);
  });

  it('publishes the registry routes in the OpenAPI document', async () => {
    const doc = (await app.inject('/api/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/cameras/{id}/activate', '/api/compliance/registry', '/api/doors']),
    );
  });
});
