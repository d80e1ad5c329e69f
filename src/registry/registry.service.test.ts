import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditChain } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { DAY, ManualClock } from '../lib/clock.js';
import { DomainError } from '../lib/errors.js';
import { loadPolicy, type Policy } from '../policy/index.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import type { CameraCreateInput } from './registry.schemas.js';
import { RegistryService } from './registry.service.js';

const admin = { id: 'u-admin', label: 'beheerder' };
const PASSWORD = 'S3cret-camera-pw!';
const URL_PASSWORD = 'url-pw-9f2';
const SUSPICION = 'Cash missing from the till on three Fridays';

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

const refusalCodes = (error: DomainError) => (error.details?.refusals as { code: string }[]).map((r) => r.code);

describe.each(DIALECTS)('registry service on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let policy: Policy;
  let registry: RegistryService;
  let complexId: string;
  let buildingId: string;
  let entranceId: string;
  let outdoorAreaId: string;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    policy = loadPolicy('wooninvest-2021').policy;
    registry = new RegistryService({
      db: db.kysely,
      clock,
      audit: new AuditTrail(clock),
      policy: () => policy,
      encryptionKey: randomBytes(32),
    });
    await registry.ensureOrganisation('WoonInvest');
    complexId = (await registry.createComplex(admin, { name: 'De Linde', code: 'C-101', ownership: 'corporation' })).id;
    buildingId = (await registry.createBuilding(admin, { complexId, name: 'Blok A' })).id;
    entranceId = (
      await registry.createEntrance(admin, {
        buildingId,
        name: 'Hoofdingang',
        isGeneralEntrance: true,
        signPresent: false,
      })
    ).id;
    outdoorAreaId = (await registry.createArea(admin, { buildingId, name: 'Fietsenplein', areaType: 'outdoor' })).id;
  });
  afterEach(async () => {
    await db.close();
  });

  const valid = (over: Partial<CameraCreateInput> = {}): CameraCreateInput => ({
    buildingId,
    name: 'Hal begane grond',
    location: 'Boven de liften',
    goals: ['protect-persons', 'record-incidents'],
    streamUrl: `rtsps://viewer:${URL_PASSWORD}@cam1.local:554/stream1?token=abc`,
    credentials: { username: 'cam', password: PASSWORD },
    connectionSecured: true,
    ...over,
  });

  const auditRows = () => db.kysely.selectFrom('audit_events').selectAll().orderBy('seq').execute();

  it('ensureOrganisation creates the organisation once', async () => {
    const again = await registry.ensureOrganisation('Other name');
    expect(again.name).toBe('WoonInvest');
    expect((await auditRows()).filter((r) => r.action === 'organisation.created')).toHaveLength(1);
  });

  it('a valid camera activates, is audited with before and after, and can be deactivated but not deleted', async () => {
    const created = await registry.createCamera(admin, valid());
    expect(created.status).toBe('inactive');
    const activated = await registry.activateCamera(admin, created.id);
    expect(activated).toMatchObject({ status: 'active', activatedBy: 'u-admin', everActivated: true });
    const audit = (await auditRows()).find((r) => r.action === 'camera.activated')!;
    expect(audit).toMatchObject({
      outcome: 'success',
      target_type: 'camera',
      target_id: created.id,
      actor_id: 'u-admin',
    });
    expect(JSON.parse(audit.before!).status).toBe('inactive');
    expect(JSON.parse(audit.after!).status).toBe('active');

    expect((await rejection(registry.activateCamera(admin, created.id))).code).toBe('camera-already-active');
    const off = await registry.deactivateCamera(admin, created.id, 'Renovation of the hall');
    expect(off.status).toBe('inactive');
    expect((await rejection(registry.deleteCamera(admin, created.id))).code).toBe('camera-was-active');
    expect((await registry.getCamera(created.id)).status).toBe('inactive');
    expect(
      (await auditRows()).some(
        (r) => r.action === 'camera.deactivated' && JSON.parse(r.context!).reason === 'Renovation of the hall',
      ),
    ).toBe(true);
    expect(await verifyAuditChain(db.kysely)).toMatchObject({ ok: true });
  });

  it('a never-activated camera can be deleted, with an audit record', async () => {
    const created = await registry.createCamera(admin, valid());
    await registry.deleteCamera(admin, created.id);
    expect((await rejection(registry.getCamera(created.id))).code).toBe('camera-not-found');
    expect((await auditRows()).some((r) => r.action === 'camera.deleted' && r.target_id === created.id)).toBe(true);
  });

  const refusalCases: [string, () => CameraCreateInput, (() => Promise<void>)?][] = [
    ['camera-is-dummy', () => valid({ kind: 'dummy' })],
    ['camera-not-secured', () => valid({ credentials: null, streamUrl: 'rtsps://cam1.local/stream' })],
    ['camera-not-secured', () => valid({ connectionSecured: false })],
    [
      'hidden-camera-requirements',
      () => valid({ kind: 'hidden', hidden: { suspicion: SUSPICION, endDate: '2026-03-20T00:00:00Z' } }),
    ],
    ['placement-inside-dwelling', () => valid({ placement: { insideDwelling: true } })],
    ['placement-front-door', () => valid({ placement: { aimedAtFrontDoor: true, frontDoorReason: 'Break-ins' } })],
    ['placement-workplace', () => valid({ placement: { aimedAtWorkplace: true } })],
    ['placement-public-road-without-reason', () => valid({ placement: { showsPublicRoad: true } })],
    ['placement-outdoor-without-reason', () => valid({ areaId: outdoorAreaId })],
    ['camera-without-goal', () => valid({ goals: [] })],
    ['camera-without-stream', () => valid({ streamUrl: null })],
  ];

  it.each(refusalCases)(
    'refusal %s prevents activation, leaves the camera inactive and is audited as refused',
    async (code, input) => {
      const created = await registry.createCamera(admin, input());
      const error = await rejection(registry.activateCamera(admin, created.id));
      expect(error.kind).toBe('refused');
      expect(error.code).toBe('activation-refused');
      expect(refusalCodes(error)).toContain(code);
      expect((await registry.getCamera(created.id)).status).toBe('inactive');
      const refusedRow = (await auditRows()).find(
        (r) => r.action === 'camera.activated' && r.target_id === created.id,
      )!;
      expect(refusedRow.outcome).toBe('refused');
      expect(JSON.parse(refusedRow.context!).refusals).toContain(code);
    },
  );

  it('W intro: a camera in a VvE complex can be registered but never activated', async () => {
    const vve = await registry.createComplex(admin, { name: 'VvE Parkzicht', ownership: 'vve' });
    const vveBuilding = await registry.createBuilding(admin, { complexId: vve.id, name: 'Parkzicht' });
    const created = await registry.createCamera(admin, valid({ buildingId: vveBuilding.id }));
    const error = await rejection(registry.activateCamera(admin, created.id));
    expect(refusalCodes(error)).toEqual(['complex-not-responsible']);
    expect((await registry.getCamera(created.id)).status).toBe('inactive');
  });

  it('W intro: a complex with active cameras cannot become a VvE complex until they are deactivated', async () => {
    const camera = await registry.createCamera(admin, valid());
    await registry.activateCamera(admin, camera.id);
    const error = await rejection(registry.updateComplex(admin, complexId, { ownership: 'vve' }));
    expect([error.kind, error.code]).toEqual(['refused', 'complex-has-active-cameras']);
    expect((await registry.getComplex(complexId)).ownership).toBe('corporation');
    await registry.deactivateCamera(admin, camera.id);
    expect((await registry.updateComplex(admin, complexId, { ownership: 'vve' })).responsible).toBe(false);
  });

  it('W intro: a concurrent activation and ownership change never leave an active camera in a VvE complex', async () => {
    for (let round = 0; round < 5; round++) {
      const complex = await registry.createComplex(admin, { name: `Race ${round}`, ownership: 'corporation' });
      const building = await registry.createBuilding(admin, { complexId: complex.id, name: 'B' });
      const camera = await registry.createCamera(admin, valid({ buildingId: building.id }));
      await Promise.allSettled([
        registry.activateCamera(admin, camera.id),
        registry.updateComplex(admin, complex.id, { ownership: 'vve' }),
      ]);
      const [after, owner] = [await registry.getCamera(camera.id), await registry.getComplex(complex.id)];
      expect(after.status === 'active' && owner.ownership === 'vve').toBe(false);
    }
  });

  it('W 3.4: a valid hidden camera activates; once past its end date it is found for deactivation and the recorder is refused', async () => {
    const created = await registry.createCamera(
      admin,
      valid({
        kind: 'hidden',
        hidden: { suspicion: SUSPICION, dpiaReference: 'DPIA-2026-07', endDate: '2026-03-12T10:00:00Z' },
      }),
    );
    await registry.activateCamera(admin, created.id);
    expect(await registry.findExpiredHiddenCameras(clock.now())).toEqual([]);
    expect((await registry.decryptStream(created.id)).streamUrl).toContain(URL_PASSWORD);
    clock.advance(11 * DAY);
    expect((await registry.findExpiredHiddenCameras(clock.now())).map((c) => c.id)).toEqual([created.id]);
    expect((await rejection(registry.decryptStream(created.id))).code).toBe('hidden-camera-expired');
    expect((await registry.compliance()).findings.map((f) => f.code)).toContain('hidden-camera-expired');
  });

  it('stores the stream URL and credentials encrypted and never returns them', async () => {
    const created = await registry.createCamera(admin, valid());
    const raw = await db.kysely
      .selectFrom('cameras')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    const rawText = JSON.stringify(raw);
    for (const secret of [PASSWORD, URL_PASSWORD, 'token=abc', 'viewer']) expect(rawText).not.toContain(secret);
    expect(raw.stream_url_enc).toMatch(/^v1\./);
    expect(raw.credentials_enc).toMatch(/^v1\./);

    const views = [created, await registry.getCamera(created.id), ...(await registry.listCameras()).items];
    for (const view of views) {
      const text = JSON.stringify(view);
      for (const secret of [PASSWORD, URL_PASSWORD, 'token=abc', 'viewer', 'stream1'])
        expect(text).not.toContain(secret);
      expect(view).toMatchObject({ streamUrlSet: true, credentialsSet: true, streamHost: 'rtsps://cam1.local:554/…' });
    }

    await registry.activateCamera(admin, created.id);
    expect(await registry.decryptStream(created.id)).toEqual({
      streamUrl: `rtsps://viewer:${URL_PASSWORD}@cam1.local:554/stream1?token=abc`,
      credentials: { username: 'cam', password: PASSWORD },
    });
  });

  it('audits every change with before and after, and no audit row holds a secret or the suspicion', async () => {
    const camera = await registry.createCamera(admin, valid());
    await registry.updateCamera(admin, camera.id, {
      credentials: { username: 'cam', password: 'New-pw-123' },
      name: 'Hal',
    });
    await registry.activateCamera(admin, camera.id);
    await registry.deactivateCamera(admin, camera.id);
    const hidden = await registry.createCamera(
      admin,
      valid({
        kind: 'hidden',
        hidden: { suspicion: SUSPICION, dpiaReference: 'DPIA-1', endDate: '2026-03-20T00:00:00Z' },
      }),
    );
    await registry.updateCamera(admin, hidden.id, { hidden: { suspicion: `${SUSPICION} and Saturdays` } });
    const door = await registry.createDoor(admin, { buildingId, entranceId, name: 'Voordeur', code: 'D-001' });
    await registry.updateDoor(admin, door.id, { name: 'Hoofddeur' });
    await registry.deleteDoor(admin, door.id);
    await registry.updateEntrance(admin, entranceId, { signPresent: true });
    await registry.updateBuilding(admin, buildingId, { address: 'Lindelaan 1' });

    const rows = await auditRows();
    const actions = rows.map((r) => r.action);
    for (const action of [
      'complex.created',
      'building.created',
      'entrance.created',
      'area.created',
      'camera.created',
      'camera.updated',
      'camera.activated',
      'camera.deactivated',
      'door.created',
      'door.updated',
      'door.deleted',
      'entrance.updated',
      'building.updated',
    ]) {
      expect(actions).toContain(action);
    }
    for (const row of rows) {
      const text = JSON.stringify(row);
      for (const secret of [PASSWORD, 'New-pw-123', URL_PASSWORD, 'token=abc', SUSPICION])
        expect(text).not.toContain(secret);
    }
    const update = rows.find((r) => r.action === 'camera.updated' && r.target_id === camera.id)!;
    expect(JSON.parse(update.before!)).toMatchObject({
      name: 'Hal begane grond',
      credentials: '[set]',
      streamUrl: '[set]',
    });
    expect(JSON.parse(update.after!)).toMatchObject({ name: 'Hal', credentials: '[changed]', streamUrl: '[set]' });
    const hiddenUpdate = rows.find((r) => r.action === 'camera.updated' && r.target_id === hidden.id)!;
    expect(JSON.parse(hiddenUpdate.after!).hidden).toMatchObject({ suspicion: '[changed]', dpiaReference: 'DPIA-1' });
    expect(rows.find((r) => r.action === 'door.deleted')!.before).toContain('D-001');
    expect(await verifyAuditChain(db.kysely)).toMatchObject({ ok: true });
  });

  it('editing an active camera so it would break a rule is refused; harmless edits pass', async () => {
    const camera = await registry.createCamera(admin, valid());
    await registry.activateCamera(admin, camera.id);
    const error = await rejection(registry.updateCamera(admin, camera.id, { placement: { showsPublicRoad: true } }));
    expect([error.kind, error.code]).toEqual(['refused', 'camera-update-refused']);
    expect(refusalCodes(error)).toEqual(['placement-public-road-without-reason']);
    expect((await registry.getCamera(camera.id)).placement.showsPublicRoad).toBe(false);
    expect((await rejection(registry.updateCamera(admin, camera.id, { kind: 'dummy' }))).code).toBe(
      'camera-update-refused',
    );
    expect(
      (
        await rejection(
          registry.updateCamera(admin, camera.id, { credentials: null, streamUrl: 'rtsps://cam1.local/s' }),
        )
      ).code,
    ).toBe('camera-update-refused');
    const ok = await registry.updateCamera(admin, camera.id, {
      placement: { showsPublicRoad: true, publicRoadReason: 'Entrance is on the pavement' },
    });
    expect(ok).toMatchObject({ status: 'active', placement: { showsPublicRoad: true } });
    expect((await registry.updateCamera(admin, camera.id, { name: 'Hal noord' })).name).toBe('Hal noord');
  });

  it('making an area outdoor is refused while an active camera in it has no outdoor reason', async () => {
    const hall = await registry.createArea(admin, { buildingId, name: 'Hal', areaType: 'hall' });
    const camera = await registry.createCamera(admin, valid({ areaId: hall.id }));
    await registry.activateCamera(admin, camera.id);
    const error = await rejection(registry.updateArea(admin, hall.id, { outdoor: true }));
    expect(error.code).toBe('area-update-refused');
    expect((await registry.getArea(hall.id)).outdoor).toBe(false);
    expect((await registry.updateArea(admin, hall.id, { name: 'Centrale hal' })).name).toBe('Centrale hal');
  });

  it('W 3.2: an entrance without a sign is a finding only when the complex has an active camera', async () => {
    const camera = await registry.createCamera(admin, valid());
    expect((await registry.compliance()).findings).toEqual([]);
    await registry.activateCamera(admin, camera.id);
    const report = await registry.compliance();
    expect(report.policyId).toBe('wooninvest-2021');
    expect(report.findings.map((f) => [f.code, f.targetId, f.complexId])).toEqual([
      ['entrance-without-sign', entranceId, complexId],
    ]);
    expect(report.findings[0]!.articles).toEqual(['W 3.2']);
    await registry.updateEntrance(admin, entranceId, { signPresent: true });
    expect((await registry.compliance()).findings).toEqual([]);
  });

  it('references must exist and belong to the same building; unknown ids answer <thing>-not-found', async () => {
    expect((await rejection(registry.createBuilding(admin, { complexId: 'nope', name: 'X' }))).code).toBe(
      'complex-not-found',
    );
    expect((await rejection(registry.createCamera(admin, valid({ buildingId: 'nope' })))).code).toBe(
      'building-not-found',
    );
    expect((await rejection(registry.createCamera(admin, valid({ areaId: 'nope' })))).code).toBe('area-not-found');
    const other = await registry.createBuilding(admin, { complexId, name: 'Blok B' });
    expect((await rejection(registry.createCamera(admin, valid({ buildingId: other.id, entranceId })))).code).toBe(
      'entrance-not-in-building',
    );
    for (const [get, code] of [
      [() => registry.getComplex('x'), 'complex-not-found'],
      [() => registry.getBuilding('x'), 'building-not-found'],
      [() => registry.getEntrance('x'), 'entrance-not-found'],
      [() => registry.getArea('x'), 'area-not-found'],
      [() => registry.getCamera('x'), 'camera-not-found'],
      [() => registry.getDoor('x'), 'door-not-found'],
      [() => registry.activateCamera(admin, 'x'), 'camera-not-found'],
    ] as const) {
      const error = await rejection(get());
      expect([error.kind, error.code]).toEqual(['not-found', code]);
    }
  });

  it('door codes are unique; parents with children cannot be deleted', async () => {
    await registry.createDoor(admin, { buildingId, name: 'Voordeur', code: 'D-001' });
    expect((await rejection(registry.createDoor(admin, { buildingId, name: 'Andere', code: 'D-001' }))).code).toBe(
      'door-code-taken',
    );
    expect((await rejection(registry.deleteBuilding(admin, buildingId))).code).toBe('building-not-empty');
    expect((await rejection(registry.deleteComplex(admin, complexId))).code).toBe('complex-not-empty');
    expect(
      (await rejection(registry.createComplex(admin, { name: 'Dubbel', code: 'C-101', ownership: 'corporation' })))
        .code,
    ).toBe('complex-code-taken');
  });

  it('hidden cameras are left out for those who may not see them', async () => {
    const hidden = await registry.createCamera(admin, valid({ kind: 'hidden', name: 'Kassa' }));
    await registry.createCamera(admin, valid());
    expect((await registry.listCameras({}, { includeHidden: false })).items.map((c) => c.kind)).toEqual(['real']);
    expect((await registry.listCameras({}, { includeHidden: true })).items).toHaveLength(2);
    expect((await rejection(registry.getCamera(hidden.id, { includeHidden: false }))).code).toBe('camera-not-found');
  });

  it('lists page with limit and offset', async () => {
    for (const name of ['A', 'B', 'C']) await registry.createCamera(admin, valid({ name }));
    const first = await registry.listCameras({ limit: 2 });
    expect(first.items.map((c) => c.name)).toEqual(['A', 'B']);
    expect(first.nextOffset).toBe(2);
    const second = await registry.listCameras({ limit: 2, offset: first.nextOffset! });
    expect(second).toMatchObject({ items: [{ name: 'C' }], nextOffset: null });
    expect((await registry.listCameras({ status: 'active' })).items).toEqual([]);
    expect((await registry.listCameras({ complexId })).items).toHaveLength(3);
  });
});
