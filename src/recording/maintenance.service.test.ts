import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import type { Principal } from '../http/principal.js';
import { DAY, HOUR, ManualClock } from '../lib/clock.js';
import { DomainError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { ADMIN, recordingWorld, SUSPICION, type RecordingWorld } from '../../test/recording-fixtures.js';
import { MaintenanceService } from './maintenance.service.js';
import { findOpenDefect, insertSegment, upsertHealth } from './recording.repository.js';

const principal = (userId: string, roles: string[]): Principal => ({
  userId,
  username: userId,
  displayName: userId,
  roles,
  sessionId: `s-${userId}`,
  secondFactorDone: true,
});
const TECH = principal('u-tech', ['onderhoudsbedrijf']); // W 6.6: maintenance-log
const ADMIN_USER = principal('u-admin', ['admin']);
const CARETAKER = principal('u-hm', ['wijkbeheerder']);

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe.each(DIALECTS)('maintenance checks and defects on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let world: RecordingWorld;
  let service: MaintenanceService;
  let recording: string;
  let silent: string;
  let hidden: string;
  let dummy: string;
  let inactive: string;

  const segmentEndingAt = (cameraId: string, endAt: number) =>
    insertSegment(db.kysely, {
      id: newId(),
      cameraId,
      file: `${cameraId}/${newId()}.ts`,
      startAt: endAt - 10_000,
      endAt,
      bytes: 100,
      sha256: 'c'.repeat(64),
      createdAt: endAt,
      erasingAt: null,
    });

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    world = await recordingWorld(db.kysely, clock);
    service = new MaintenanceService({ db: db.kysely, clock, audit: world.audit, policy: () => world.policy });
    recording = await world.camera({ name: 'Hal', streamUrl: 'file:///tmp/a.ts' });
    silent = await world.camera({ name: 'Lift', streamUrl: 'file:///tmp/b.ts' });
    hidden = await world.camera({
      name: 'Kantoor',
      kind: 'hidden',
      streamUrl: 'file:///tmp/h.ts',
      hidden: { suspicion: SUSPICION, dpiaReference: 'DPIA-9', endDate: '2026-03-20T00:00:00Z' },
    });
    dummy = await world.camera({ name: 'Nep', kind: 'dummy' });
    inactive = await world.camera({ name: 'Uit', streamUrl: 'file:///tmp/c.ts', inactive: true });
    await segmentEndingAt(recording, clock.now() - 60_000);
    await segmentEndingAt(hidden, clock.now() - 60_000);
  });
  afterEach(async () => {
    await db.close();
  });

  it('W 6.6: the periodic check logs every camera that should record and opens one defect per failing camera', async () => {
    expect(service.intervalMs()).toBe(7 * DAY); // wooninvest-2021: weekly
    const summary = await service.runDueCheck();
    expect(summary).toMatchObject({ checked: 3, failed: 1, defectsOpened: 1, defectsClosed: 0 });
    expect(await service.runDueCheck()).toBeNull();

    const log = await service.listChecks(ADMIN_USER);
    expect(log.items.map((c) => [c.cameraId, c.result, c.checkedBy]).sort()).toEqual(
      [
        [recording, 'ok', null],
        [silent, 'failed', null],
        [hidden, 'ok', null],
      ].sort(),
    );
    expect(log.items.map((c) => c.cameraId)).not.toContain(dummy);
    expect(log.items.map((c) => c.cameraId)).not.toContain(inactive);
    const defect = await findOpenDefect(db.kysely, silent);
    expect(defect?.reason).toBe('No recording of this camera exists.');

    // A week later the silent camera still fails: still one open defect; the others now fail too.
    clock.advance(7 * DAY);
    const second = await service.runDueCheck();
    expect(second).toMatchObject({ checked: 3, failed: 3, defectsOpened: 2 });
    expect((await findOpenDefect(db.kysely, silent))?.id).toBe(defect!.id);

    // The camera records again: its defect closes (the recorder's hook), with the reason.
    await segmentEndingAt(silent, clock.now() - 1_000);
    expect(await service.closeDefectIfRecording(silent)).toBe(true);
    expect(await service.closeDefectIfRecording(silent)).toBe(false);
    expect(await findOpenDefect(db.kysely, silent)).toBeNull();
    // A deactivated camera's defect closes at the next check: it no longer should record.
    await world.registry.deactivateCamera(ADMIN, recording, 'Renovation');
    clock.advance(7 * DAY);
    const third = await service.runDueCheck();
    expect(third?.defectsClosed).toBeGreaterThanOrEqual(1);
    expect(await findOpenDefect(db.kysely, recording)).toBeNull();

    const defects = await service.listDefects(ADMIN_USER, { status: 'closed' });
    expect(defects.items.map((d) => [d.cameraId, d.closedReason]).sort()).toEqual(
      [
        [silent, 'The camera records again.'],
        [recording, 'The camera no longer records by decision (deactivated, or its period ended).'],
      ].sort(),
    );
    const actions = (await db.kysely.selectFrom('audit_events').select('action').execute()).map((r) => r.action);
    // silent, then recording and hidden, then silent again (its last segment is two weeks old by now).
    expect(actions.filter((a) => a === 'camera.defect-opened')).toHaveLength(4);
    expect(actions.filter((a) => a === 'camera.defect-closed')).toHaveLength(2);
    expect(actions.filter((a) => a === 'maintenance.periodic-check')).toHaveLength(3);
    expect(await verifyAuditChain(db.kysely)).toMatchObject({ ok: true });
  });

  it('W 6.6: maintenance staff record a manual check with a note; others may not', async () => {
    const check = await service.manualCheck(TECH, { cameraId: silent, note: 'Lens covered with paint' });
    expect(check).toMatchObject({
      cameraId: silent,
      cameraName: 'Lift',
      complexName: 'De Linde',
      result: 'failed',
      checkedBy: 'u-tech',
    });
    expect(check.detail).toContain('Note: Lens covered with paint');
    expect(await findOpenDefect(db.kysely, silent)).not.toBeNull();
    expect((await service.manualCheck(TECH, { cameraId: recording })).result).toBe('ok');

    expect((await rejection(service.manualCheck(ADMIN_USER, { cameraId: silent }))).code).toBe(
      'maintenance-check-forbidden',
    );
    expect((await rejection(service.manualCheck(CARETAKER, { cameraId: silent }))).code).toBe(
      'maintenance-check-forbidden',
    );
    expect((await rejection(service.manualCheck(TECH, { cameraId: inactive }))).code).toBe('camera-not-recording');
    // Hidden cameras do not exist for maintenance staff (W 3.4).
    expect((await rejection(service.manualCheck(TECH, { cameraId: hidden }))).code).toBe('camera-not-found');
    expect((await rejection(service.manualCheck(TECH, { cameraId: '' }))).code).toBe('validation-failed');
    const audited = await db.kysely
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'maintenance.checked')
      .execute();
    expect(audited.map((a) => [a.actor_id, a.target_id])).toEqual([
      ['u-tech', silent],
      ['u-tech', recording],
    ]);
  });

  it('W 2.3: health and outages per complex, hidden cameras for administrators only', async () => {
    await upsertHealth(db.kysely, {
      cameraId: recording,
      state: 'recording',
      since: clock.now() - HOUR,
      lastSegmentAt: clock.now() - 60_000,
      lastError: null,
      restarts: 0,
      updatedAt: clock.now(),
    });
    await upsertHealth(db.kysely, {
      cameraId: silent,
      state: 'down',
      since: clock.now() - 2 * HOUR,
      lastSegmentAt: null,
      lastError: 'Connection refused',
      restarts: 7,
      updatedAt: clock.now(),
    });
    const techView = await service.listHealth(TECH);
    expect(techView.map((h) => [h.cameraName, h.state]).sort()).toEqual([
      ['Hal', 'recording'],
      ['Lift', 'down'],
    ]);
    const adminView = await service.listHealth(ADMIN_USER, { complexId: world.complexId });
    expect(adminView.find((h) => h.cameraId === hidden)).toMatchObject({ state: 'stopped', shouldRecord: true });
    expect(adminView.map((h) => h.cameraId)).not.toContain(dummy);

    const outages = await service.listOutages(TECH);
    expect(outages).toHaveLength(1);
    expect(outages[0]).toMatchObject({ complexId: world.complexId, complexName: 'De Linde' });
    expect(outages[0]!.cameras.map((c) => [c.cameraName, c.state, c.since])).toEqual([
      ['Lift', 'down', new Date(clock.now() - 2 * HOUR).toISOString()],
    ]);
    expect((await service.listOutages(ADMIN_USER))[0]!.cameras.map((c) => c.cameraName).sort()).toEqual([
      'Kantoor',
      'Lift',
    ]);
    expect(await service.listOutages(TECH, { complexId: 'elsewhere' })).toEqual([]);

    expect((await rejection(service.listHealth(CARETAKER))).code).toBe('maintenance-log-forbidden');
    expect((await rejection(service.listChecks(CARETAKER))).code).toBe('maintenance-log-forbidden');
    expect((await rejection(service.listDefects(CARETAKER))).code).toBe('maintenance-log-forbidden');
  });
});
