import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createPgDatabase, DIALECTS } from '../../test/db.js';
import { principal, seedRegistry } from '../../test/access-fixtures.js';
import {
  addEvents,
  addSegments,
  addSource,
  eventIds,
  filesOnDisk,
  retentionServices,
  SEGMENT_MS,
} from '../../test/retention-fixtures.js';
import { migrateToLatest, openDatabase, type DialectName } from '../db/database.js';
import { DAY, ManualClock, MINUTE, systemClock } from '../lib/clock.js';
import { loadPolicy } from '../policy/index.js';
import { isEventHeld, isSegmentHeld } from '../holds/holds.rules.js';
import { RetentionSweeper, storageDirs } from './sweeper.js';

// kill -9 of a real sweeper process at random points of its sweep (M 6.6, M 6.7, W 2.4): no held
// data may be erased, and after start-up reconciliation no file is without its row or vice versa.

const POLICY = 'maaswonen-2024';
const SEGMENTS_PER_CAMERA = 600;
const EVENTS = 5000;
const policy = loadPolicy(POLICY).policy;

interface Child {
  process: ChildProcess;
  lines: AsyncIterator<string>;
}

function spawnChild(): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/sweeper-child.ts'], {
    cwd: process.cwd(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { process: child, lines };
}

async function expectLine(child: Child, text: string): Promise<void> {
  const next = await child.lines.next();
  if (next.done || next.value !== text) throw new Error(`sweeper child: expected "${text}", got ${String(next.value)}`);
}

async function seedRun(dialect: DialectName) {
  const dataDir = mkdtempSync(join(tmpdir(), 'protocam-crash-'));
  const url = dialect === 'sqlite' ? `sqlite:${join(dataDir, 'protocam.db')}` : await createPgDatabase();
  const db = openDatabase(url);
  await migrateToLatest(db);
  const now = Date.now();
  const clock = new ManualClock(now);
  const { recordingsDir, exportsDir } = storageDirs(dataDir);
  const seed = await seedRegistry(db.kysely, now);
  const sourceId = await addSource(db.kysely, now, seed.doorIds);
  const old = now - 29 * DAY;
  const segmentRows = [];
  for (let i = 0; i < SEGMENTS_PER_CAMERA; i++) {
    for (const cameraId of seed.cameraIds) segmentRows.push({ cameraId, startAt: old - i * SEGMENT_MS });
  }
  for (let i = 0; i < 50; i++) segmentRows.push({ cameraId: seed.cameraIds[0], startAt: now - i * SEGMENT_MS });
  const segmentIdList = await addSegments(db.kysely, recordingsDir, segmentRows);
  const eventRows = Array.from({ length: EVENTS }, (_, i) => ({
    doorId: seed.doorIds[i % 2]!,
    tag: `TAG-${i % 97}`,
    at: old - i * 2000,
  }));
  const eventIdList = await addEvents(db.kysely, sourceId, eventRows);
  const { holds } = retentionServices(db.kysely, clock, () => policy, {
    recordingsDir,
    exportsDir,
    intervalMs: MINUTE,
    threshold: { minFreeBytes: 0, minFreePercent: 0 },
  });
  // A hold in the middle of the due range: camera 1, door 1 and one tag.
  const hold = await holds.create(principal('u-mkw', ['manager-klant-wonen']), {
    cameraIds: [seed.cameraIds[0]],
    doorIds: [seed.doorIds[0]],
    tags: ['TAG-5'],
    from: old - 450 * SEGMENT_MS,
    to: old - 150 * SEGMENT_MS,
    reason: 'Police preservation order',
    linkType: 'police-order',
    linkRef: 'Sv 126ni',
  });
  const scope = { ...hold, cameraIds: hold.cameraIds, doorIds: hold.doorIds, tags: hold.tags };
  const heldSegments = new Set(
    segmentRows
      .map((r, i) => ({ ...r, id: segmentIdList[i]!, endAt: r.startAt + SEGMENT_MS }))
      .filter((s) => isSegmentHeld(s, [scope]))
      .map((s) => s.id),
  );
  const heldEvents = new Set(
    eventRows
      .map((e, i) => ({ doorId: e.doorId, tagCode: e.tag, occurredAt: e.at, id: eventIdList[i]! }))
      .filter((e) => isEventHeld(e, [scope]))
      .map((e) => e.id),
  );
  expect(heldSegments.size).toBeGreaterThan(100);
  expect(heldEvents.size).toBeGreaterThan(100);
  await db.close();
  return {
    url,
    dataDir,
    recordingsDir,
    exportsDir,
    heldSegments,
    heldEvents,
    segments: segmentRows.length,
    events: EVENTS,
  };
}

type Run = Awaited<ReturnType<typeof seedRun>>;

/** After a kill: the invariants before and after reconciliation. Returns what is left. */
async function verify(run: Run): Promise<{ segments: number; events: number }> {
  const db = openDatabase(run.url);
  try {
    const rows = await db.kysely.selectFrom('segments').select(['id', 'file', 'erasing_at']).execute();
    const files = filesOnDisk(run.recordingsDir);
    const ids = new Set(rows.map((r) => r.id));
    // No held segment or event erased.
    for (const id of run.heldSegments) expect(ids.has(id)).toBe(true);
    const events = await eventIds(db.kysely);
    for (const id of run.heldEvents) expect(events.has(id)).toBe(true);
    // Before reconciliation: a file never outlives its row; an unmarked row always has its file.
    const rowFiles = new Set(rows.map((r) => r.file));
    for (const file of files) expect(rowFiles.has(file)).toBe(true);
    for (const row of rows) if (row.erasing_at === null) expect(files.has(row.file)).toBe(true);
    for (const row of rows.filter((r) => run.heldSegments.has(r.id))) {
      expect(row.erasing_at).toBeNull();
    }
    // Start-up reconciliation finishes interrupted erasures: rows and files agree exactly.
    const sweeper = new RetentionSweeper({
      db: db.kysely,
      clock: systemClock,
      policy: () => policy,
      recordingsDir: run.recordingsDir,
      exportsDir: run.exportsDir,
      intervalMs: MINUTE,
      threshold: { minFreeBytes: 0, minFreePercent: 0 },
    });
    await sweeper.reconcile();
    const after = await db.kysely.selectFrom('segments').select(['file']).execute();
    expect(filesOnDisk(run.recordingsDir)).toEqual(new Set(after.map((r) => r.file)));
    // Erasure records were written with the marks and deletes: they count exactly what went.
    const records = await db.kysely.selectFrom('erasure_records').select(['category', 'count']).execute();
    const recorded = (category: string) =>
      records.filter((r) => r.category === category).reduce((n, r) => n + Number(r.count), 0);
    const eventsLeft = (await eventIds(db.kysely)).size;
    expect(recorded('footage')).toBe(run.segments - after.length);
    expect(recorded('door-events')).toBe(run.events - eventsLeft);
    return { segments: after.length, events: eventsLeft };
  } finally {
    await db.close();
  }
}

const RUNS: Record<DialectName, number> = { sqlite: 20, postgres: 4 };

describe.each(DIALECTS)('kill -9 during sweeps (%s)', (dialect) => {
  it(`leaves no held data erased and rows and files consistent after ${RUNS[dialect]} random kills`, async () => {
    // Calibration: one sweep to completion tells how long a sweep of this size takes here.
    const next = spawnChild();
    const calibration = await seedRun(dialect);
    await expectLine(next, 'ready');
    next.process.stdin!.write(
      JSON.stringify({ url: calibration.url, dataDir: calibration.dataDir, policy: POLICY }) + '\n',
    );
    await expectLine(next, 'started');
    const t0 = performance.now();
    await expectLine(next, 'done');
    const sweepMs = performance.now() - t0;
    const left = await verify(calibration);
    expect(left.segments).toBe(calibration.heldSegments.size + 50);
    expect(left.events).toBe(calibration.heldEvents.size);

    let killedMidSweep = 0;
    // Each child loads its modules while the previous run is killed and checked.
    let ahead = spawnChild();
    for (let i = 0; i < RUNS[dialect]; i++) {
      const child = ahead;
      ahead = spawnChild();
      const run = await seedRun(dialect);
      await expectLine(child, 'ready');
      child.process.stdin!.write(JSON.stringify({ url: run.url, dataDir: run.dataDir, policy: POLICY }) + '\n');
      await expectLine(child, 'started');
      // The calibration run is the slowest (cold code paths): aim within the first 70 % of it.
      const delay = Math.random() * sweepMs * 0.7;
      const exited = new Promise((resolve) => child.process.once('exit', resolve));
      const finished = expectLine(child, 'done').then(
        () => true,
        () => false,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.process.kill('SIGKILL');
      await exited;
      if (!(await finished)) killedMidSweep += 1;
      await verify(run);
    }
    ahead.process.kill('SIGKILL');
    next.process.kill('SIGKILL');
    // Most kills must land inside a sweep, or the test proves little.
    expect(killedMidSweep).toBeGreaterThanOrEqual(Math.ceil(RUNS[dialect] * 0.5));
    console.warn(
      `kill -9 (${dialect}): ${killedMidSweep}/${RUNS[dialect]} runs killed mid-sweep; sweep ~${Math.round(sweepMs)} ms`,
    );
  }, 600_000);
});
