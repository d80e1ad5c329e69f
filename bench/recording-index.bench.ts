/**
 * Segment index benchmark (issue 4): listing one camera's segments for one day (8,640
 * segments of 10 s) out of a week of four cameras (241,920 rows), on SQLite (a temp file, WAL,
 * as in production). Target: under 5 ms. Also the newest segments (live view) and the
 * latest segment (health, maintenance check).
 * Rerun on a quiet machine: `npm run bench recording-index`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Insertable } from 'kysely';
import type { SegmentsTable } from '../src/db/schema.js';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { DAY, ManualClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { latestSegment, listLatestSegments, listSegments } from '../src/recording/recording.repository.js';
import { recordingWorld } from '../test/recording-fixtures.js';

const CAMERAS = 4;
const DAYS = 7;
const SEGMENT_MS = 10_000;
const PER_DAY = DAY / SEGMENT_MS; // 8,640

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function timed(times: number, fn: () => Promise<unknown>) {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50Ms: +percentile(samples, 50).toFixed(3), p95Ms: +percentile(samples, 95).toFixed(3), runs: times };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bench-index-'));
  const db = openDatabase(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await migrateToLatest(db);
    const clock = new ManualClock('2026-03-09T00:00:00Z');
    const world = await recordingWorld(db.kysely, clock);
    const cameras: string[] = [];
    for (let c = 0; c < CAMERAS; c++) cameras.push(await world.camera({ streamUrl: `file:///tmp/${c}.ts` }));
    const start = clock.now() - DAYS * DAY;
    const fillStarted = performance.now();
    for (const cameraId of cameras) {
      const total = DAYS * PER_DAY;
      for (let i = 0; i < total; i += 1_000) {
        const rows: Insertable<SegmentsTable>[] = [];
        for (let j = i; j < Math.min(total, i + 1_000); j++) {
          rows.push({
            id: newId(),
            camera_id: cameraId,
            file: `${cameraId}/r-${String(j).padStart(7, '0')}.ts`,
            start_at: start + j * SEGMENT_MS,
            end_at: start + (j + 1) * SEGMENT_MS,
            bytes: 2_500_000,
            sha256: 'e'.repeat(64),
            created_at: start + (j + 1) * SEGMENT_MS,
            erasing_at: null,
          });
        }
        // Chunks of 100 rows: SQLite's limit on bound parameters per statement.
        await db.kysely.transaction().execute(async (trx) => {
          for (let k = 0; k < rows.length; k += 100)
            await trx
              .insertInto('segments')
              .values(rows.slice(k, k + 100))
              .execute();
        });
      }
    }
    const fillMs = performance.now() - fillStarted;
    const camera = cameras[1]!;
    const dayFrom = start + 3 * DAY;
    let count = 0;
    const day = await timed(50, async () => {
      count = (await listSegments(db.kysely, camera, dayFrom, dayFrom + DAY)).length;
    });
    // The index range scan alone (no rows to JavaScript): what the index costs, apart from materialising rows.
    const indexOnly = await timed(50, () =>
      db.kysely
        .selectFrom('segments')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('camera_id', '=', camera)
        .where('start_at', '>=', dayFrom)
        .where('start_at', '<', dayFrom + DAY)
        .executeTakeFirst(),
    );
    const hour = await timed(200, () =>
      listSegments(db.kysely, camera, dayFrom + 5 * 3_600_000, dayFrom + 6 * 3_600_000),
    );
    const live = await timed(200, () => listLatestSegments(db.kysely, camera, 6));
    const latest = await timed(200, () => latestSegment(db.kysely, camera));
    return {
      database: 'sqlite',
      rows: CAMERAS * DAYS * PER_DAY,
      fillSeconds: +(fillMs / 1000).toFixed(1),
      oneDay: { segments: count, ...day, targetMs: 5, met: day.p95Ms < 5 },
      oneDayIndexOnly: indexOnly,
      oneHour: hour,
      latestSix: live,
      latestOne: latest,
      loadavg: loadavg(),
    };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
