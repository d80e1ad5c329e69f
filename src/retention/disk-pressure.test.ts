import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry, type Seed } from '../../test/access-fixtures.js';
import { addSegment, filesOnDisk, retentionServices, segmentIds } from '../../test/retention-fixtures.js';
import type { Db } from '../db/database.js';
import { HOUR, ManualClock, MINUTE } from '../lib/clock.js';
import { loadPolicy } from '../policy/index.js';
import type { HoldService } from '../holds/holds.service.js';
import type { RetentionSweeper } from './sweeper.js';
import { statfsFreeSpace, type FreeSpace } from './storage.js';

// Disk pressure: the oldest unheld footage goes first; held footage is never erased for space,
// and when only held footage is left, recording stops and the alarm says so.
// Runs on a real 2 MiB tmpfs when the test may mount one (root); otherwise on an injected
// reading computed from the files present (the mode is printed).

const CAPACITY = 2 * 1024 * 1024;
const SEGMENT_BYTES = 256 * 1024;
const MIN_FREE = 512 * 1024;

function tryMountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${CAPACITY}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Free space as a small disk would report it: capacity minus the files present. */
function injectedFreeSpace(dir: string): FreeSpace {
  return {
    read: () => {
      let used = 0;
      for (const file of filesOnDisk(dir)) used += statSync(join(dir, file)).size;
      return Promise.resolve({ freeBytes: CAPACITY - used, totalBytes: CAPACITY });
    },
  };
}

describe.each(DIALECTS)('disk pressure (%s)', (dialect) => {
  let db: Db;
  let clock: ManualClock;
  let seed: Seed;
  let recordingsDir: string;
  let mounted: boolean;
  let sweeper: RetentionSweeper;
  let holds: HoldService;
  const manager = principal('u-mkw', ['manager-klant-wonen']);

  beforeEach(async () => {
    db = await createTestDb(dialect);
    clock = new ManualClock('2026-03-02T10:00:00Z');
    const dataDir = mkdtempSync(join(tmpdir(), 'protocam-disk-'));
    recordingsDir = join(dataDir, 'recordings');
    mkdirSync(recordingsDir);
    mounted = tryMountTmpfs(recordingsDir);
    console.warn(`disk pressure (${dialect}): ${mounted ? 'real 2 MiB tmpfs' : 'injected free-space reading'}`);
    seed = await seedRegistry(db.kysely, clock.now());
    const policy = loadPolicy('maaswonen-2024').policy;
    ({ sweeper, holds } = retentionServices(db.kysely, clock, () => policy, {
      recordingsDir,
      exportsDir: join(dataDir, 'exports'),
      intervalMs: MINUTE,
      threshold: { minFreeBytes: MIN_FREE, minFreePercent: 0 },
      freeSpace: mounted ? statfsFreeSpace : injectedFreeSpace(recordingsDir),
    }));
  });
  afterEach(async () => {
    if (mounted) execFileSync('umount', [recordingsDir]);
    await db.close();
  });

  /** Seven 256 KiB segments, oldest first, alternating cameras: about 1.75 of 2 MiB used. */
  async function fill(): Promise<string[]> {
    const ids = [];
    for (let i = 0; i < 7; i++) {
      ids.push(
        await addSegment(
          db.kysely,
          recordingsDir,
          seed.cameraIds[i % 2]!,
          clock.now() - (7 - i) * MINUTE,
          SEGMENT_BYTES,
        ),
      );
    }
    return ids;
  }

  it('erases the oldest unheld footage first, before its retention, and raises an alarm', async () => {
    const ids = await fill();
    const before = await statfsOrInjected();
    expect(before.freeBytes).toBeLessThan(MIN_FREE);
    const result = await sweeper.sweep();
    expect(result.disk.underPressure).toBe(false);
    expect(result.disk.erasedForSpace).toBeGreaterThan(0);
    const left = await segmentIds(db.kysely);
    // Oldest first: what is gone is a prefix of the ids in age order.
    const gone = ids.filter((id) => !left.has(id));
    expect(gone).toEqual(ids.slice(0, gone.length));
    expect(left.has(ids[6]!)).toBe(true);
    expect((await statfsOrInjected()).freeBytes).toBeGreaterThanOrEqual(MIN_FREE);
    expect(result.alarmsRaised).toContain('disk-pressure');
    expect(sweeper.disk.shouldRecord(seed.cameraIds[0])).toBe(true);
    const records = await db.kysely
      .selectFrom('erasure_records')
      .selectAll()
      .where('reason', '=', 'disk-pressure')
      .execute();
    expect(records.reduce((n, r) => n + Number(r.count), 0)).toBe(gone.length);
    expect(records.reduce((n, r) => n + Number(r.bytes), 0)).toBe(gone.length * SEGMENT_BYTES);
  });

  it('never erases held footage for space: skips it, and stops recording when only held footage is left', async () => {
    const ids = await fill();
    // The two oldest are held: space comes from the next ones.
    await holds.create(manager, {
      cameraIds: [...seed.cameraIds],
      from: clock.now() - 8 * MINUTE,
      to: clock.now() - 5 * MINUTE - 1,
      reason: 'Police preservation order',
      linkType: 'police-order',
      linkRef: 'Sv 126ni',
    });
    await sweeper.sweep();
    let left = await segmentIds(db.kysely);
    expect(left.has(ids[0]!) && left.has(ids[1]!)).toBe(true);
    expect(left.has(ids[2]!)).toBe(false);

    // Now everything is held and the disk is too full again: recording stops, the alarm says so.
    for (let i = 0; (await statfsOrInjected()).freeBytes >= MIN_FREE; i++) {
      await addSegment(db.kysely, recordingsDir, seed.cameraIds[i % 2]!, clock.now() - i * 1000, SEGMENT_BYTES);
    }
    const all = await holds.create(manager, {
      cameraIds: [...seed.cameraIds],
      from: clock.now() - HOUR,
      to: clock.now() + HOUR,
      reason: 'Incident under investigation',
      linkType: 'police-order',
      linkRef: 'Sv 126ni',
    });
    const stops: (readonly string[])[] = [];
    sweeper.disk.onChange((stopped) => stops.push(stopped));
    const before = await segmentIds(db.kysely);
    const result = await sweeper.sweep();
    expect(await segmentIds(db.kysely)).toEqual(before);
    expect(result.disk.underPressure).toBe(true);
    expect(new Set(result.disk.stoppedCameras)).toEqual(new Set(seed.cameraIds));
    expect(sweeper.disk.shouldRecord(seed.cameraIds[0])).toBe(false);
    expect(stops).toHaveLength(1);
    const alarm = await db.kysely
      .selectFrom('alarms')
      .selectAll()
      .where('kind', '=', 'recording-stopped')
      .executeTakeFirstOrThrow();
    expect(alarm.message).toMatch(/held footage only: recording is stopped for 2 camera/);
    expect(alarm.cleared_at).toBeNull();

    // Releasing the hold makes the footage erasable for space again; recording resumes.
    await holds.release(manager, all.id, 'Investigation closed');
    clock.advance(MINUTE);
    const after = await sweeper.sweep();
    expect(after.disk.stoppedCameras).toEqual([]);
    expect(sweeper.disk.shouldRecord(seed.cameraIds[0])).toBe(true);
    expect(stops.at(-1)).toEqual([]);
    left = await segmentIds(db.kysely);
    expect(left.size).toBeLessThan(before.size);
    const cleared = await db.kysely
      .selectFrom('alarms')
      .selectAll()
      .where('kind', '=', 'recording-stopped')
      .executeTakeFirstOrThrow();
    expect(cleared.cleared_at).not.toBeNull();
  });

  function statfsOrInjected() {
    return (mounted ? statfsFreeSpace : injectedFreeSpace(recordingsDir)).read(recordingsDir);
  }
});
