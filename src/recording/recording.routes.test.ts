import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { ManualClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { newId } from '../lib/ids.js';
import { createTestDb } from '../../test/db.js';
import { recordingWorld } from '../../test/recording-fixtures.js';
import { MaintenanceService } from './maintenance.service.js';
import { insertSegment, upsertHealth } from './recording.repository.js';
import { recordingRoutes } from './recording.routes.js';

const who = (userId: string, roles: string[], secondFactorDone = true): Principal => ({
  userId,
  username: userId,
  displayName: userId,
  roles,
  sessionId: `s-${userId}`,
  secondFactorDone,
});
const PRINCIPALS: Record<string, Principal> = {
  tech: who('u-tech', ['onderhoudsbedrijf']),
  admin: who('u-admin', ['admin']),
  caretaker: who('u-hm', ['wijkbeheerder']),
  halfway: who('u-half', ['onderhoudsbedrijf'], false),
};

describe('recording HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let cameraId: string;
  let complexId: string;

  const call = (user: string | null, method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: user ? { 'x-test-user': user } : {},
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const clock = new ManualClock('2026-03-02T10:00:00Z');
    const world = await recordingWorld(db.kysely, clock);
    complexId = world.complexId;
    cameraId = await world.camera({ name: 'Hal', streamUrl: 'file:///tmp/a.ts' });
    await insertSegment(db.kysely, {
      id: newId(),
      cameraId,
      file: `${cameraId}/x.ts`,
      startAt: clock.now() - 20_000,
      endAt: clock.now() - 10_000,
      bytes: 1,
      sha256: 'd'.repeat(64),
      createdAt: clock.now(),
      erasingAt: null,
    });
    await upsertHealth(db.kysely, {
      cameraId,
      state: 'reconnecting',
      since: clock.now() - 5_000,
      lastSegmentAt: clock.now() - 10_000,
      lastError: 'Connection timed out',
      restarts: 2,
      updatedAt: clock.now(),
    });
    const maintenance = new MaintenanceService({
      db: db.kysely,
      clock,
      audit: world.audit,
      policy: () => world.policy,
    });
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const user = request.headers['x-test-user'];
        return Promise.resolve(typeof user === 'string' ? (PRINCIPALS[user] ?? null) : null);
      },
      routes: [recordingRoutes(maintenance)],
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('shows health and outages per complex to maintenance staff and administrators', async () => {
    const health = await call('tech', 'GET', `/recording/health?complexId=${complexId}`);
    expect(health.statusCode).toBe(200);
    expect(health.json<{ items: unknown[] }>().items).toEqual([
      expect.objectContaining({
        cameraId,
        cameraName: 'Hal',
        state: 'reconnecting',
        since: '2026-03-02T09:59:55.000Z',
        lastError: 'Connection timed out',
        restarts: 2,
        openDefect: null,
      }),
    ]);
    const outages = await call('admin', 'GET', '/recording/outages');
    expect(outages.statusCode).toBe(200);
    expect(outages.json<{ complexes: { complexId: string; cameras: unknown[] }[] }>().complexes).toEqual([
      expect.objectContaining({ complexId, cameras: [expect.objectContaining({ cameraId })] }),
    ]);
  });

  it('records a manual check (W 6.6) and lists it with the maintenance log and defects', async () => {
    const created = await call('tech', 'POST', '/recording/maintenance-checks', { cameraId, note: 'Checked on site' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ cameraId, result: 'ok', checkedBy: 'u-tech' });
    const log = await call('admin', 'GET', `/recording/maintenance-checks?cameraId=${cameraId}&limit=10`);
    expect(log.statusCode).toBe(200);
    expect(log.json<{ items: { detail: string }[] }>().items[0]!.detail).toContain('Checked on site');
    const defects = await call('tech', 'GET', '/recording/defects?status=open');
    expect(defects.json()).toEqual({ items: [], nextOffset: null });
  });

  it('refuses without sign-in, without the capability, and bad input, with stable codes', async () => {
    const code = async (response: Promise<{ statusCode: number; json: <T>() => T }>) => {
      const r = await response;
      return [r.statusCode, r.json<{ error: { code: string } }>().error.code];
    };
    expect(await code(call(null, 'GET', '/recording/health'))).toEqual([401, 'not-signed-in']);
    expect(await code(call('halfway', 'GET', '/recording/health'))).toEqual([401, 'second-factor-required']);
    expect(await code(call('caretaker', 'GET', '/recording/health'))).toEqual([403, 'maintenance-log-forbidden']);
    expect(await code(call('caretaker', 'GET', '/recording/defects'))).toEqual([403, 'maintenance-log-forbidden']);
    expect(await code(call('admin', 'POST', '/recording/maintenance-checks', { cameraId }))).toEqual([
      403,
      'maintenance-check-forbidden',
    ]);
    expect(await code(call('tech', 'POST', '/recording/maintenance-checks', { cameraId: 'nope' }))).toEqual([
      404,
      'camera-not-found',
    ]);
    const bad = await call('tech', 'POST', '/recording/maintenance-checks', { cameraId, extra: 1 });
    expect(bad.statusCode).toBe(400);
    const badQuery = await call('tech', 'GET', '/recording/defects?status=sideways');
    expect(badQuery.statusCode).toBe(400);
    const tooLong = await call('tech', 'POST', '/recording/maintenance-checks', { cameraId, note: 'x'.repeat(1001) });
    expect(tooLong.statusCode).toBe(400);
  });
});
