import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb } from '../../test/db.js';
import { principal, seedRegistry, services, type Seed } from '../../test/access-fixtures.js';
import { addSegment, retentionServices, segmentIds } from '../../test/retention-fixtures.js';
import { TEST_ENCRYPTION_KEY } from '../../test/users-app.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { DAY, HOUR, ManualClock, MINUTE } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { createLogger } from '../lib/logger.js';
import { loadPolicy } from '../policy/index.js';
import { RegistryService } from '../registry/registry.service.js';
import { holdRoutes } from '../holds/holds.routes.js';
import { incidentRoutes } from '../incidents/incidents.routes.js';
import { ComplianceService } from './compliance.service.js';
import { retentionRoutes } from './retention.routes.js';
import { RetentionService } from './retention.service.js';
import type { RetentionSweeper } from './sweeper.js';

const USERS: Record<string, Principal> = {
  mkw: principal('u-mkw', ['manager-klant-wonen']),
  hm: principal('u-hm', ['huismeester']),
  tech: principal('u-tech', ['technisch-onderhoud']),
  admin: principal('u-admin', ['admin']),
};

describe('incident, hold, retention and compliance HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let seed: Seed;
  let clock: ManualClock;
  let sweeper: RetentionSweeper;
  let recordingsDir: string;
  let gate: ReturnType<typeof services>['gate'];
  const call = (who: string | null, method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: who ? { 'x-test-user': who } : {},
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    clock = new ManualClock('2026-03-02T10:00:00Z');
    const policy = loadPolicy('maaswonen-2024').policy;
    seed = await seedRegistry(db.kysely, clock.now());
    const dataDir = mkdtempSync(join(tmpdir(), 'protocam-routes-'));
    recordingsDir = join(dataDir, 'recordings');
    const built = retentionServices(db.kysely, clock, () => policy, {
      recordingsDir,
      exportsDir: join(dataDir, 'exports'),
      intervalMs: MINUTE,
      threshold: { minFreeBytes: 0, minFreePercent: 0 },
    });
    sweeper = built.sweeper;
    const access = services(db.kysely, policy, clock);
    const logbook = access.logbook;
    gate = access.gate;
    const registry = new RegistryService({
      db: db.kysely,
      clock,
      audit: built.audit,
      policy: () => policy,
      encryptionKey: TEST_ENCRYPTION_KEY,
    });
    const retention = new RetentionService({ db: db.kysely, clock, audit: built.audit, policy: () => policy, sweeper });
    const compliance = new ComplianceService({ db: db.kysely, clock, policy: () => policy, registry, logbook });
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (USERS[who] ?? null) : null);
      },
      routes: [
        incidentRoutes({ incidents: built.incidents, holds: built.holds }),
        holdRoutes(built.holds),
        retentionRoutes({ retention, compliance }),
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('registers, secures in one call, closes (releasing the hold) and reopens an incident', async () => {
    const body = {
      kind: 'vandalism',
      title: 'Broken mailbox',
      description: 'Mailbox forced open',
      occurredAt: '2026-03-02T09:30:00+01:00',
      cameraIds: [seed.cameraIds[0]],
      reporterKind: 'tenant',
    };
    expect((await call(null, 'POST', '/incidents', body)).statusCode).toBe(401);
    expect((await call('tech', 'POST', '/incidents', body)).json()).toMatchObject({
      error: { code: 'incidents-not-allowed' },
    });
    expect((await call('mkw', 'POST', '/incidents', { ...body, kind: 'accusation' })).statusCode).toBe(400);
    expect((await call('mkw', 'POST', '/incidents', { ...body, extra: 1 })).statusCode).toBe(400);
    const created = await call('mkw', 'POST', '/incidents', body);
    expect(created.statusCode).toBe(201);
    const incident = created.json<{ id: string; occurredAt: string }>();
    expect(incident.occurredAt).toBe('2026-03-02T08:30:00.000Z');

    const secured = await call('hm', 'POST', `/incidents/${incident.id}/secure`, { reason: 'Tenant asked (W 2.4)' });
    expect(secured.statusCode).toBe(201);
    const hold = secured.json<{ id: string; active: boolean; from: string; to: string }>();
    expect(hold).toMatchObject({ active: true, from: '2026-03-02T06:30:00.000Z', to: '2026-03-02T10:30:00.000Z' });
    expect((await call('tech', 'POST', `/incidents/${incident.id}/secure`, { reason: 'x' })).statusCode).toBe(403);

    const detail = (await call('mkw', 'GET', `/incidents/${incident.id}`)).json<{ holds: { id: string }[] }>();
    expect(detail.holds.map((h) => h.id)).toEqual([hold.id]);
    expect((await call('mkw', 'POST', `/incidents/${incident.id}/close`, {})).statusCode).toBe(409);
    expect(
      (await call('mkw', 'POST', `/incidents/${incident.id}/handle`, { outcome: 'irrevocable-judgment' })).json(),
    ).toMatchObject({ error: { code: 'outcome-invalid' } });
    const handled = await call('mkw', 'POST', `/incidents/${incident.id}/handle`, {
      outcome: 'irrevocable-judgment',
      judgmentDate: '2026-03-01',
    });
    expect(handled.json()).toMatchObject({ status: 'handled', outcomeDate: '2026-03-01T00:00:00.000Z' });
    expect((await call('mkw', 'POST', `/incidents/${incident.id}/close`, { note: 'Judgment final' })).statusCode).toBe(
      200,
    );
    expect((await call('mkw', 'GET', `/holds/${hold.id}`)).json()).toMatchObject({
      active: false,
      releaseReason: 'incident closed',
    });
    expect((await call('mkw', 'POST', `/incidents/${incident.id}/reopen`, {})).statusCode).toBe(400);
    expect(
      (await call('mkw', 'POST', `/incidents/${incident.id}/reopen`, { reason: 'Appeal after all' })).json(),
    ).toMatchObject({
      status: 'open',
      reopenCount: 1,
    });
    // Reopened: the hold its close released is secured again, as a new hold with the same window.
    const again = (await call('mkw', 'GET', `/incidents/${incident.id}`)).json<{
      holds: { id: string; active: boolean; from: string; to: string }[];
    }>().holds;
    expect(again.filter((h) => h.active)).toEqual([
      expect.objectContaining({ from: hold.from, to: hold.to }) as unknown,
    ]);
    expect(again.find((h) => h.active)!.id).not.toBe(hold.id);
    expect((await call('mkw', 'GET', '/incidents?status=open')).json<{ items: unknown[] }>().items).toHaveLength(1);
    expect((await call('mkw', 'GET', '/incidents/nope')).statusCode).toBe(404);
  });

  it('creates, lists, reviews and releases holds; overdue list; police orders need a reference', async () => {
    const window = { from: '2026-03-02T08:00:00+01:00', to: '2026-03-02T09:00:00+01:00' };
    expect(
      (
        await call('mkw', 'POST', '/holds', {
          cameraIds: [seed.cameraIds[1]],
          window,
          reason: 'Order',
          linkType: 'police-order',
        })
      ).json(),
    ).toMatchObject({ error: { code: 'hold-link-missing' } });
    const created = await call('mkw', 'POST', '/holds', {
      cameraIds: [seed.cameraIds[1]],
      window,
      reason: 'Preservation order',
      linkType: 'police-order',
      linkRef: 'Sv 126ni, OM 2026/33',
    });
    expect(created.statusCode).toBe(201);
    const hold = created.json<{ id: string }>();
    expect(
      (await call('mkw', 'GET', '/holds?active=true')).json<{ items: { id: string }[] }>().items.map((h) => h.id),
    ).toContain(hold.id);
    expect((await call('mkw', 'GET', '/holds/overdue')).json()).toEqual({ items: [] });
    clock.advance(91 * DAY);
    // Overdue: this hold, and the one the previous test secured again by reopening its incident.
    const overdue = (await call('mkw', 'GET', '/holds/overdue')).json<{ items: { id: string; linkType: string }[] }>()
      .items;
    expect(overdue.map((h) => h.id)).toContain(hold.id);
    expect(overdue.map((h) => h.linkType).sort()).toEqual(['incident', 'police-order']);
    // The compliance view lists it for the complex, linked for the web UI.
    const view = (await call('mkw', 'GET', `/compliance?complexId=${seed.complexId}`)).json<{
      groups: { complexId: string | null; items: { kind: string; link: { type: string; id: string } }[] }[];
    }>();
    const complex = view.groups.find((g) => g.complexId === seed.complexId)!;
    expect(complex.items).toContainEqual(
      expect.objectContaining({ kind: 'hold-review-overdue', link: { type: 'hold', id: hold.id } }),
    );
    expect((await call('mkw', 'POST', `/holds/${hold.id}/review`, { reason: 'Still needed' })).json()).toMatchObject({
      overdue: false,
    });
    expect(
      (await call('mkw', 'POST', `/holds/${hold.id}/release`, { reason: 'Order expired (126ni: 90 days)' })).json(),
    ).toMatchObject({
      active: false,
    });
    expect((await call('mkw', 'POST', `/holds/${hold.id}/release`, { reason: 'again' })).statusCode).toBe(409);
  });

  it('shows the plan, the impact of a proposed retention, erasure records and alarms; compliance per complex', async () => {
    const now = clock.now();
    await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], now - 30 * DAY);
    await addSegment(db.kysely, recordingsDir, seed.cameraIds[0], now - 2 * DAY);
    const plan = (await call('admin', 'GET', '/retention/plan')).json<{ erase: { count: number; reason: string }[] }>();
    expect(plan.erase).toHaveLength(1);
    expect(plan.erase[0]!.reason).toMatch(/older than 4w \(M 6\.6\)/);
    const impact = await call('mkw', 'POST', '/retention/impact', { retention: { footage: '24h' } });
    expect(impact.statusCode).toBe(200);
    const { current, proposed } = impact.json<{
      current: { erase: { count: number }[] };
      proposed: { erase: { count: number }[] };
    }>();
    expect(current.erase.reduce((n, l) => n + l.count, 0)).toBe(1);
    expect(proposed.erase.reduce((n, l) => n + l.count, 0)).toBe(2);
    expect((await call('mkw', 'POST', '/retention/impact', { retention: { footage: 'forever' } })).statusCode).toBe(
      400,
    );
    expect((await call('tech', 'GET', '/retention/plan')).statusCode).toBe(403);

    // A sweep after long downtime: erased, recorded, and an alarm that the legal maximum was exceeded.
    await sweeper.sweep();
    expect((await segmentIds(db.kysely)).size).toBe(1);
    const erasures = (await call('admin', 'GET', '/retention/erasures?category=footage')).json<{
      items: { count: number; targetId: string; reason: string }[];
    }>();
    expect(erasures.items).toEqual([
      expect.objectContaining({ count: 1, targetId: seed.cameraIds[0], reason: 'retention' }),
    ]);
    const alarms = (await call('admin', 'GET', '/alarms?unacknowledged=true')).json<{
      items: { id: string; kind: string }[];
    }>();
    expect(alarms.items.map((a) => a.kind)).toEqual(['retention-overdue']);

    // Compliance: alarm, camera down, open defect, entrance without sign, incident open too long.
    await db.kysely
      .insertInto('camera_health')
      .values({
        camera_id: seed.cameraIds[1],
        state: 'down',
        since: now - HOUR,
        last_segment_at: null,
        last_error: null,
        restarts: 3,
        updated_at: now,
      })
      .execute();
    await db.kysely
      .insertInto('camera_defects')
      .values({
        id: newId(),
        camera_id: seed.cameraIds[1],
        opened_at: now - HOUR,
        reason: 'No picture',
        closed_at: null,
        closed_reason: null,
      })
      .execute();
    await db.kysely.updateTable('cameras').set({ kind: 'real' }).execute();
    const building = await db.kysely.selectFrom('buildings').select('id').executeTakeFirstOrThrow();
    await db.kysely
      .insertInto('entrances')
      .values({
        id: newId(),
        building_id: building.id,
        name: 'Main door',
        is_general_entrance: 1,
        sign_present: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const noise = await call('mkw', 'POST', '/incidents', {
      kind: 'nuisance',
      title: 'Old noise complaint',
      description: 'Noise',
      occurredAt: new Date(now - HOUR).toISOString(),
      reporterKind: 'tenant',
    });
    // A consultation that never gets its finding or signature (M 6.4).
    const consultation = await gate.requestAccess(USERS.hm!, {
      purpose: 'incident-assessment',
      category: 'footage',
      scope: { cameraIds: [seed.cameraIds[0]] },
      from: now - 2 * HOUR,
      to: now - HOUR,
      reason: 'Who made the noise',
      incidentId: noise.json<{ id: string }>().id,
    });
    expect(consultation.status).toBe('granted');
    clock.advance(61 * DAY);
    const view = await call('mkw', 'GET', '/compliance');
    expect(view.statusCode).toBe(200);
    const groups = view.json<{
      groups: { complexId: string | null; items: { kind: string; link: { type: string } }[] }[];
      logbookIncluded: boolean;
    }>();
    expect(groups.logbookIncluded).toBe(true);
    const kinds = groups.groups.flatMap((g) => g.items.map((i) => `${i.kind}:${i.link.type}`));
    expect(kinds).toEqual(
      expect.arrayContaining([
        'alarm:alarm',
        'camera-down:camera',
        'camera-defect:camera-defect',
        'registry-finding:entrance',
        'incident-open-too-long:incident',
        'logbook-overdue:logbook-entry',
      ]),
    );
    expect((await call('tech', 'GET', '/compliance')).statusCode).toBe(403);
    const hm = (await call('hm', 'GET', '/compliance')).json<{ logbookIncluded: boolean }>();
    expect(hm.logbookIncluded).toBe(false);

    const ack = await call('admin', 'POST', `/alarms/${alarms.items[0]!.id}/acknowledge`);
    expect(ack.json()).toMatchObject({ acknowledgedBy: 'u-admin' });
    expect((await call('admin', 'POST', `/alarms/${alarms.items[0]!.id}/acknowledge`)).statusCode).toBe(409);
    expect((await call('admin', 'GET', '/alarms?unacknowledged=true')).json()).toEqual({ items: [] });
  });
});
