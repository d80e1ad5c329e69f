import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { DAY, ManualClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { recordingWorld, type RecordingWorld } from '../../test/recording-fixtures.js';
import {
  closeDefect,
  deleteSegments,
  findHealth,
  findSegment,
  findOpenDefect,
  insertDefect,
  insertMaintenanceCheck,
  insertSegment,
  insertSegments,
  isUniqueViolation,
  lastSystemCheckAt,
  latestSegment,
  listDefects,
  listErasingSegments,
  listLatestSegments,
  listMaintenanceChecks,
  listRecorderCameras,
  listSegmentFiles,
  listSegments,
  upsertHealth,
  type SegmentRecord,
} from './recording.repository.js';

const T0 = Date.parse('2026-03-02T00:00:00Z');
const SEG = 10_000;

function segment(cameraId: string, i: number, over: Partial<SegmentRecord> = {}): SegmentRecord {
  return {
    id: newId(),
    cameraId,
    file: `${cameraId}/20260302T000000000Z-${String(i).padStart(6, '0')}.ts`,
    startAt: T0 + i * SEG,
    endAt: T0 + (i + 1) * SEG,
    bytes: 1000 + i,
    sha256: 'a'.repeat(64),
    createdAt: T0 + (i + 1) * SEG,
    erasingAt: null,
    ...over,
  };
}

describe.each(DIALECTS)('recording repository on %s', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let world: RecordingWorld;
  let cameraA: string;
  let cameraB: string;

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    world = await recordingWorld(db.kysely, clock);
    cameraA = await world.camera({ streamUrl: 'file:///tmp/a.ts' });
    cameraB = await world.camera({ streamUrl: 'file:///tmp/b.ts' });
  });
  afterEach(async () => {
    await db.close();
  });

  it('lists the segments that overlap [from, to), ordered by start, without those being erased', async () => {
    for (let i = 0; i < 10; i++) await insertSegment(db.kysely, segment(cameraA, i));
    await insertSegment(db.kysely, segment(cameraB, 3));
    await insertSegment(db.kysely, segment(cameraA, 10, { erasingAt: T0 }));

    // 25 s .. 45 s: segment 2 (20-30) reaches in from before, 3 (30-40) and 4 (40-50) start inside.
    const hits = await listSegments(db.kysely, cameraA, T0 + 25_000, T0 + 45_000);
    expect(hits.map((s) => s.startAt - T0)).toEqual([20_000, 30_000, 40_000]);
    expect(hits[0]).toMatchObject({ cameraId: cameraA, bytes: 1002, erasingAt: null });
    // A window that starts exactly where a segment ends does not include it.
    expect((await listSegments(db.kysely, cameraA, T0 + 30_000, T0 + 30_001)).map((s) => s.startAt - T0)).toEqual([
      30_000,
    ]);
    expect(await listSegments(db.kysely, cameraA, T0 + 5_000, T0 + 5_000)).toEqual([]);
    // The row being erased is not served.
    expect((await listSegments(db.kysely, cameraA, T0, T0 + DAY)).map((s) => s.startAt - T0)).not.toContain(100_000);
    expect((await listErasingSegments(db.kysely)).map((s) => s.startAt - T0)).toEqual([100_000]);

    expect((await latestSegment(db.kysely, cameraA))?.startAt).toBe(T0 + 90_000);
    expect((await listLatestSegments(db.kysely, cameraA, 3)).map((s) => (s.startAt - T0) / SEG)).toEqual([7, 8, 9]);
    expect(await latestSegment(db.kysely, 'no-such-camera')).toBeNull();
    // Live view: the newest of those that start inside a window.
    const window = { from: T0 + 20_000, to: T0 + 60_000 };
    expect((await listLatestSegments(db.kysely, cameraA, 3, window)).map((s) => (s.startAt - T0) / SEG)).toEqual([
      3, 4, 5,
    ]);
    const erasing = (await listErasingSegments(db.kysely))[0]!;
    expect(await findSegment(db.kysely, erasing.id)).toBeNull();
    expect((await findSegment(db.kysely, hits[0]!.id))?.startAt).toBe(T0 + 20_000);

    const files = await listSegmentFiles(db.kysely, cameraA);
    expect(files).toHaveLength(11);
    expect(
      await deleteSegments(
        db.kysely,
        files.map((f) => f.id),
      ),
    ).toBe(11);
    expect(await listSegments(db.kysely, cameraA, T0, T0 + DAY)).toEqual([]);
  });

  it('refuses a second row for the same file', async () => {
    const first = segment(cameraA, 0);
    await insertSegment(db.kysely, first);
    const error = await insertSegment(db.kysely, { ...first, id: newId() }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it('inserts several segments in one call, telling which files already had a row; listings see them', async () => {
    const existing = segment(cameraA, 1);
    await insertSegment(db.kysely, existing);
    const batch = [segment(cameraA, 0), { ...existing, id: newId() }, segment(cameraB, 2)];
    expect(await insertSegments(db.kysely, batch)).toEqual([true, false, true]);
    expect(await insertSegments(db.kysely, [])).toEqual([]);
    const rows = await listSegments(db.kysely, cameraA, T0, T0 + DAY);
    expect(rows.map((r) => r.id)).toEqual([batch[0]!.id, existing.id]);
    expect(rows[0]).toEqual(batch[0]);
    expect((await listSegments(db.kysely, cameraB, T0, T0 + DAY)).map((r) => r.id)).toEqual([batch[2]!.id]);
  });

  it('keeps one health row per camera (upsert)', async () => {
    const base = {
      cameraId: cameraA,
      state: 'reconnecting' as const,
      since: T0,
      lastSegmentAt: null,
      lastError: 'Connection refused',
      restarts: 1,
      updatedAt: T0,
    };
    await upsertHealth(db.kysely, base);
    await upsertHealth(db.kysely, { ...base, state: 'recording', since: T0 + 5, lastSegmentAt: T0 + 5, restarts: 2 });
    expect(await findHealth(db.kysely, cameraA)).toMatchObject({ state: 'recording', since: T0 + 5, restarts: 2 });
    expect(await findHealth(db.kysely, cameraB)).toBeNull();
  });

  it('W 6.6: the maintenance log and defects are listed per complex; one open defect per camera', async () => {
    const other = await world.registry.createComplex(
      { id: 'u-admin', label: 'beheerder' },
      {
        name: 'Het Anker',
        ownership: 'corporation',
      },
    );
    const otherBuilding = await world.registry.createBuilding(
      { id: 'u-admin', label: 'beheerder' },
      { complexId: other.id, name: 'Blok Z' },
    );
    const cameraC = await world.camera({ buildingId: otherBuilding.id, streamUrl: 'file:///tmp/c.ts' });
    await insertMaintenanceCheck(db.kysely, {
      id: newId(),
      cameraId: cameraA,
      checkedAt: T0,
      result: 'ok',
      detail: 'Recorded',
      checkedBy: null,
    });
    await insertMaintenanceCheck(db.kysely, {
      id: newId(),
      cameraId: cameraC,
      checkedAt: T0 + 1,
      result: 'failed',
      detail: 'No recording',
      checkedBy: 'u-tech',
    });
    const page = { includeHidden: false, limit: 10, offset: 0 };
    const mine = await listMaintenanceChecks(db.kysely, { ...page, complexId: world.complexId });
    expect(mine.map((c) => [c.cameraId, c.complexName, c.result])).toEqual([[cameraA, 'De Linde', 'ok']]);
    expect((await listMaintenanceChecks(db.kysely, page)).map((c) => c.cameraId)).toEqual([cameraC, cameraA]);
    expect((await listMaintenanceChecks(db.kysely, { ...page, result: 'failed' })).map((c) => c.checkedBy)).toEqual([
      'u-tech',
    ]);
    expect(await lastSystemCheckAt(db.kysely)).toBe(T0);

    const defect = {
      id: newId(),
      cameraId: cameraC,
      openedAt: T0,
      reason: 'No recording',
      closedAt: null,
      closedReason: null,
    };
    await insertDefect(db.kysely, defect);
    const second = await insertDefect(db.kysely, { ...defect, id: newId() }).catch((e: unknown) => e);
    expect(isUniqueViolation(second)).toBe(true);
    expect((await findOpenDefect(db.kysely, cameraC))?.id).toBe(defect.id);
    expect(await listDefects(db.kysely, { ...page, complexId: world.complexId })).toEqual([]);
    expect((await listDefects(db.kysely, { ...page, status: 'open' })).map((d) => d.complexName)).toEqual([
      'Het Anker',
    ]);

    expect(await closeDefect(db.kysely, defect.id, T0 + 10, 'The camera records again.')).toBe(true);
    expect(await closeDefect(db.kysely, defect.id, T0 + 11, 'again')).toBe(false);
    expect(await findOpenDefect(db.kysely, cameraC)).toBeNull();
    // Closed, a new one may open.
    await insertDefect(db.kysely, { ...defect, id: newId(), openedAt: T0 + 20 });
    expect((await listDefects(db.kysely, { ...page, status: 'closed' }))[0]).toMatchObject({
      closedAt: T0 + 10,
      closedReason: 'The camera records again.',
    });
  });

  it('lists cameras with their complex, hidden ones only when asked', async () => {
    const hidden = await world.camera({
      kind: 'hidden',
      streamUrl: 'file:///tmp/h.ts',
      hidden: { suspicion: 'Theft from the office', dpiaReference: 'DPIA-1', endDate: '2026-03-20T00:00:00Z' },
    });
    const dummy = await world.camera({ kind: 'dummy' });
    const all = await listRecorderCameras(db.kysely);
    expect(all.map((c) => c.id).sort()).toEqual([cameraA, cameraB, hidden, dummy].sort());
    expect(all.find((c) => c.id === hidden)).toMatchObject({
      kind: 'hidden',
      status: 'active',
      hiddenEndDate: Date.parse('2026-03-20T00:00:00Z'),
      complexId: world.complexId,
    });
    expect((await listRecorderCameras(db.kysely, { activeOnly: true })).map((c) => c.id)).not.toContain(dummy);
    expect((await listRecorderCameras(db.kysely, { includeHidden: false })).map((c) => c.id)).not.toContain(hidden);
  });
});
