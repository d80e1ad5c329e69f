/**
 * Retention sweep benchmark (issue 6): a catch-up sweep after a day of downtime, erasing one day
 * of 64 cameras' 10-second segments (about 550,000 rows and real files) and 10 million door
 * events, on SQLite (a temp file, WAL, as in production). Measures the sweep's time and rates,
 * peak memory, the longest write transaction, and the latency of door-event inserts made by a
 * second connection (a worker thread, as ingest would) during the sweep. The same run measures
 * the limits of this machine (see `baselines`): the file system's unlink rate and SQLite's bare
 * range-delete rate for the same rows.
 * Targets: no write transaction > 50 ms; >= 20,000 segments/s; >= 500,000 events/s.
 *
 * Sizes by environment for quick runs: BENCH_SWEEP_CAMERAS (64), BENCH_SWEEP_HOURS (24),
 * BENCH_SWEEP_EVENTS (10000000), BENCH_SWEEP_DIR (the OS temp dir).
 * Example: BENCH_SWEEP_HOURS=1 BENCH_SWEEP_EVENTS=500000 npm run bench sweep
 * BENCH_SWEEP_DB=postgres runs the same sweep on a throwaway PostgreSQL (fsync on, as in
 * production); ingest is then probed through the application's pool, which is other connections
 * there, and the bare range-delete baseline is SQLite's only.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { startBackgroundCheckpoints } from '../src/db/checkpointer.js';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { DAY, ManualClock, MINUTE } from '../src/lib/clock.js';
import { hourRanges } from './door-events.fill.js';
import { withEmbeddedPostgres } from './postgres.js';
import { loadPolicy, retentionMs } from '../src/policy/index.js';
import { RetentionSweeper, storageDirs } from '../src/retention/sweeper.js';
import { partitionEnd, partitionOf, partitionStart, partitionTable } from '../src/door-events/partitions.js';
import { ensurePartitions, eventTable } from '../src/door-events/partitions.repository.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CAMERAS = env('BENCH_SWEEP_CAMERAS', 64);
const HOURS = env('BENCH_SWEEP_HOURS', 24);
const EVENTS = env('BENCH_SWEEP_EVENTS', 10_000_000);
const SEGMENT_MS = 10_000;
const DOORS = 200;
const POSTGRES = process.env.BENCH_SWEEP_DB === 'postgres';

const seconds = (t: number) => +((performance.now() - t) / 1000).toFixed(2);
const percentile = (sorted: number[], p: number) =>
  sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2) : null;

/** Registry rows, segment rows and files, door events: written directly, the fastest honest way. */
/** Creates the door-event partitions of these hours through the application (see sweepRun). */
type MakePartitions = (hours: number[]) => Promise<void>;

/** The hours the fill writes events to, and the hour ingest writes to during the sweep. */
const fillHours = (from: number, now: number) => [
  ...new Set([...eventHours(from, EVENTS).hours.map((h) => h.hour), partitionOf(now)]),
];

async function fill(path: string, recordingsDir: string, from: number, sweepAt: number, partitions: MakePartitions) {
  const db = new SqliteDatabase(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = from;
  db.prepare(`insert into organisations (id, name, created_at, updated_at) values ('org', 'Corp', ?, ?)`).run(now, now);
  db.prepare(
    `insert into complexes (id, organisation_id, code, name, address, ownership, created_at, updated_at)
     values ('cx', 'org', null, 'Complex', null, 'corporation', ?, ?)`,
  ).run(now, now);
  db.prepare(
    `insert into buildings (id, complex_id, name, address, created_at, updated_at) values ('b', 'cx', 'B', null, ?, ?)`,
  ).run(now, now);
  const camera = db.prepare(
    `insert into cameras (id, building_id, area_id, entrance_id, name, location, kind, goals, placement, stream_url_enc,
       credentials_enc, connection_secured, hidden_suspicion, hidden_dpia_reference, hidden_end_date, status,
       activated_at, activated_by, created_at, updated_at)
     values (?, 'b', null, null, ?, null, 'real', '[]', '{}', null, null, 1, null, null, null, 'active', ?, 'u', ?, ?)`,
  );
  const door = db.prepare(
    `insert into doors (id, building_id, entrance_id, name, code, location, created_at, updated_at) values (?, 'b', null, ?, ?, null, ?, ?)`,
  );
  db.transaction(() => {
    for (let c = 0; c < CAMERAS; c++) camera.run(`cam-${c}`, `Camera ${c}`, now, now, now);
    for (let d = 0; d < DOORS; d++) door.run(`dr-${String(d).padStart(4, '0')}`, `Door ${d}`, `D${d}`, now, now);
    db.prepare(
      `insert into door_event_sources (id, name, kind, csv_mapping, door_scope, received, accepted, rejected, late, duplicate, created_at, updated_at)
       values ('src', 'src', 'http', null, '[]', 0, 0, 0, 0, 0, ?, ?)`,
    ).run(now, now);
  })();

  let t = performance.now();
  const perCamera = Math.floor((HOURS * 3_600_000) / SEGMENT_MS);
  const segment = db.prepare(
    `insert into segments (id, camera_id, file, start_at, end_at, bytes, sha256, created_at, erasing_at)
     values (?, ?, ?, ?, ?, 188, '', ?, null)`,
  );
  const body = Buffer.alloc(188, 0x47);
  for (let c = 0; c < CAMERAS; c++) mkdirSync(join(recordingsDir, `cam-${c}`), { recursive: true });
  db.transaction(() => {
    for (let i = 0; i < perCamera; i++) {
      const start = from + i * SEGMENT_MS;
      for (let c = 0; c < CAMERAS; c++) {
        const file = `cam-${c}/${start}.ts`;
        writeFileSync(join(recordingsDir, file), body);
        segment.run(`s-${c}-${i}`, `cam-${c}`, file, start, start + SEGMENT_MS, start + SEGMENT_MS);
      }
    }
  })();
  // The files of a real catch-up were written weeks ago: flush them, so that deleting them does
  // not compete with the write-back of the fill.
  execFileSync('sync');
  const segmentSeconds = seconds(t);

  t = performance.now();
  await partitions(fillHours(from, sweepAt));
  insertEvents(db, from, EVENTS, 'ev');
  const eventSeconds = seconds(t);
  db.pragma('synchronous = NORMAL');
  db.close();
  // The same for the database: its rows were written over weeks, not just now. Without this the
  // fill's gigabyte of dirty pages is written back during the sweep, and the kernel throttles the
  // sweep's own writes for it (seen: longest transactions up to 56 ms and 18,000-23,000
  // segments/s, where the same sweep after a flushed fill gave 21 ms and 34,000/s).
  execFileSync('sync');
  return { segments: perCamera * CAMERAS, segmentFillSeconds: segmentSeconds, eventFillSeconds: eventSeconds };
}

/** The hours of the day from `from` that `count` evenly spread events fall in (see hourRanges). */
const eventHours = (from: number, count: number) => hourRanges({ from, span: HOURS * 3_600_000, rows: count });

/**
 * `count` door events spread evenly over the day from `from`, at random doors and tags, into the
 * hourly partitions (`table(hour)` names each; they exist, with their indexes, as ingest makes them).
 */
function insertEvents(
  db: SqliteDatabase.Database,
  from: number,
  count: number,
  prefix: string,
  table: (hour: number) => string = partitionTable,
) {
  const { step, hours } = eventHours(from, count);
  db.transaction(() => {
    for (const { hour, first: lo, last: hi } of hours) {
      db.prepare(
        `insert into ${table(hour)} (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
         with recursive c(x) as (select @lo union all select x + 1 from c where x < @hi),
           t(x, at) as (select x, @from + cast(x * @step as integer) from c)
         select 'src', '${prefix}-' || x, at, at + 2000,
                printf('dr-%04d', abs(random()) % ${DOORS}), printf('TAG-%05d', abs(random()) % 5000), 'granted',
                printf('{"sourceEventId":"ev-%d","door":"DR","tag":"TAG","result":"granted"}', x)
         from t where at >= @start and at < @end`,
      ).run({ lo, hi, from, step, start: partitionStart(hour), end: partitionEnd(hour) });
    }
  })();
}

/**
 * The limits of this machine, measured in the same run: the file system deleting the same kind
 * of files with the same concurrency, and SQLite deleting the same kind of door events by time
 * range in transactions of 20,000 rows with nothing else (no holds, no erasure records).
 */
async function baselines(dir: string, path: string | null, from: number) {
  const files: string[] = [];
  const count = Math.min(20_000, CAMERAS * Math.floor((HOURS * 3_600_000) / SEGMENT_MS));
  const body = Buffer.alloc(188, 0x47);
  mkdirSync(join(dir, 'bare'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const file = join(dir, 'bare', `${i}.ts`);
    writeFileSync(file, body);
    files.push(file);
  }
  execFileSync('sync');
  let t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < files.length) await unlink(files[next++]!);
    }),
  );
  const unlinkPerSecond = Math.round(count / ((performance.now() - t) / 1000));
  const fileSystemUnlink = { files: count, concurrency: 32, perSecond: unlinkPerSecond };
  if (path === null) return { fileSystemUnlink };

  const events = Math.min(EVENTS, 1_000_000);
  const db = new SqliteDatabase(path);
  db.pragma('busy_timeout = 5000');
  // One table with the indexes every partition has, as door events were stored before 0012.
  db.exec(`create table bare_events (id integer primary key, source_id text not null, source_event_id text not null,
      occurred_at integer not null, received_at integer not null, door_id text not null, tag_code text not null,
      result text not null, raw_payload text);
    create unique index bare_events_source_event on bare_events (source_id, source_event_id);
    create index bare_events_door_time_tag on bare_events (door_id, occurred_at, result, tag_code);
    create index bare_events_tag_time on bare_events (tag_code, occurred_at);
    create index bare_events_time on bare_events (occurred_at);`);
  insertEvents(db, from, events, 'bare', () => 'bare_events');
  const checkpoints = startBackgroundCheckpoints(db, path);
  const bound = db.prepare(
    'select occurred_at from bare_events where occurred_at >= ? order by occurred_at limit 1 offset 20000',
  );
  const erase = db.prepare('delete from bare_events where occurred_at >= ? and occurred_at < ?');
  let lo = Number.MIN_SAFE_INTEGER;
  let longest = 0;
  let deleted = 0;
  t = performance.now();
  for (;;) {
    const row = bound.get(lo) as { occurred_at: number } | undefined;
    // Always forward: more than a batch of rows can share one time (the ingest probes' rows do).
    const hi = row ? Math.max(row.occurred_at, lo + 1) : Number.MAX_SAFE_INTEGER;
    const started = performance.now();
    deleted += erase.run(lo, hi).changes;
    longest = Math.max(longest, performance.now() - started);
    if (!row) break;
    lo = hi;
  }
  const eventDeletePerSecond = Math.round(deleted / ((performance.now() - t) / 1000));
  await checkpoints.stop();
  db.close();
  return {
    fileSystemUnlink,
    sqliteRangeDelete: {
      events: deleted,
      rowsPerTransaction: 20_000,
      perSecond: eventDeletePerSecond,
      longestMs: +longest.toFixed(1),
    },
  };
}

/** The same data as `fill`, written into PostgreSQL with generate_series; the files are the same. */
async function fillPostgres(
  url: string,
  recordingsDir: string,
  from: number,
  sweepAt: number,
  partitions: MakePartitions,
) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const now = from;
    await client.query(`insert into organisations (id, name, created_at, updated_at) values ('org', 'Corp', $1, $1)`, [
      now,
    ]);
    await client.query(
      `insert into complexes (id, organisation_id, code, name, address, ownership, created_at, updated_at)
       values ('cx', 'org', null, 'Complex', null, 'corporation', $1, $1)`,
      [now],
    );
    await client.query(
      `insert into buildings (id, complex_id, name, address, created_at, updated_at) values ('b', 'cx', 'B', null, $1, $1)`,
      [now],
    );
    await client.query(
      `insert into cameras (id, building_id, area_id, entrance_id, name, location, kind, goals, placement, stream_url_enc,
         credentials_enc, connection_secured, hidden_suspicion, hidden_dpia_reference, hidden_end_date, status,
         activated_at, activated_by, created_at, updated_at)
       select 'cam-' || c, 'b', null, null, 'Camera ' || c, null, 'real', '[]', '{}', null, null, 1, null, null, null,
         'active', $1, 'u', $1, $1
       from generate_series(0, $2 - 1) c`,
      [now, CAMERAS],
    );
    await client.query(
      `insert into doors (id, building_id, entrance_id, name, code, location, created_at, updated_at)
       select 'dr-' || lpad(d::text, 4, '0'), 'b', null, 'Door ' || d, 'D' || d, null, $1, $1
       from generate_series(0, $2 - 1) d`,
      [now, DOORS],
    );
    await client.query(
      `insert into door_event_sources (id, name, kind, csv_mapping, door_scope, received, accepted, rejected, late,
         duplicate, created_at, updated_at)
       values ('src', 'src', 'http', null, '[]', 0, 0, 0, 0, 0, $1, $1)`,
      [now],
    );

    let t = performance.now();
    const perCamera = Math.floor((HOURS * 3_600_000) / SEGMENT_MS);
    const body = Buffer.alloc(188, 0x47);
    for (let c = 0; c < CAMERAS; c++) {
      mkdirSync(join(recordingsDir, `cam-${c}`), { recursive: true });
      for (let i = 0; i < perCamera; i++)
        writeFileSync(join(recordingsDir, `cam-${c}/${from + i * SEGMENT_MS}.ts`), body);
    }
    await client.query(
      `insert into segments (id, camera_id, file, start_at, end_at, bytes, sha256, created_at, erasing_at)
       select 's-' || c || '-' || i, 'cam-' || c, 'cam-' || c || '/' || ($1::bigint + i * $2::bigint) || '.ts',
         $1::bigint + i * $2::bigint, $1::bigint + (i + 1) * $2::bigint, 188, '', $1::bigint + (i + 1) * $2::bigint, null
       from generate_series(0, $3 - 1) i, generate_series(0, $4 - 1) c`,
      [from, SEGMENT_MS, perCamera, CAMERAS],
    );
    execFileSync('sync');
    const segmentSeconds = seconds(t);

    t = performance.now();
    await partitions(fillHours(from, sweepAt));
    const { step, hours } = eventHours(from, EVENTS);
    for (const { hour, first: lo, last: hi } of hours) {
      await client.query(
        `insert into ${partitionTable(hour)} (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
         select 'src', 'ev-' || x, at, at + 2000,
           'dr-' || lpad(floor(random() * $4)::int::text, 4, '0'), 'TAG-' || lpad(floor(random() * 5000)::int::text, 5, '0'),
           'granted', format('{"sourceEventId":"ev-%s","door":"DR","tag":"TAG","result":"granted"}', x)
         from (select x, $1::bigint + floor(x * $2::float8)::bigint as at from generate_series($3::bigint, $5::bigint) x) r
         where at >= $6 and at < $7`,
        [from, step, lo, DOORS, hi, partitionStart(hour), partitionEnd(hour)],
      );
    }
    await client.query('analyze');
    // As for SQLite: the fill's writes go to disk now, not during the sweep (a checkpoint writes
    // PostgreSQL's dirty buffers, sync the kernel's).
    await client.query('checkpoint');
    execFileSync('sync');
    return { segments: perCamera * CAMERAS, segmentFillSeconds: segmentSeconds, eventFillSeconds: seconds(t) };
  } finally {
    await client.end();
  }
}

/** A second connection inserting one door event every 5 ms, as ingest would, timing each insert. */
const INGEST_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
db.pragma('journal_mode = WAL');
// As in production: checkpoints are the background checkpointer's, never an insert's.
db.pragma('wal_autocheckpoint = 0');
const insert = db.prepare("insert into " + workerData.table + " (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload) values ('src', ?, ?, ?, 'dr-0001', 'TAG-1', 'granted', '{}')");
const latencies = [];
let busy = 0;
let i = 0;
let stop = false;
parentPort.on('message', () => { stop = true; });
const tick = () => {
  if (stop) { parentPort.postMessage({ latencies, busy }); db.close(); return; }
  const t = performance.now();
  try {
    insert.run('live-' + i++, workerData.now, workerData.now);
    latencies.push(performance.now() - t);
  } catch (error) {
    // Waited the whole busy timeout: ingest would have failed. Counted, never hidden.
    if (error.code !== 'SQLITE_BUSY') throw error;
    busy += 1;
  }
  setTimeout(tick, 5);
};
tick();
`;

export async function run(): Promise<Record<string, unknown>> {
  // BENCH_SWEEP_DIR puts the data elsewhere (e.g. /dev/shm) to separate the file system's cost.
  const dir = mkdtempSync(join(process.env.BENCH_SWEEP_DIR ?? tmpdir(), 'protocam-bench-sweep-'));
  try {
    if (!POSTGRES) return await sweepRun(dir, null);
    chmodSync(dir, 0o777); // initdb runs as an unprivileged user when the bench runs as root
    return await withEmbeddedPostgres(dir, (url) => sweepRun(dir, url));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fills, sweeps and measures; `postgresUrl` null means the embedded default, a SQLite file in `dir`. */
async function sweepRun(dir: string, postgresUrl: string | null): Promise<Record<string, unknown>> {
  const path = join(dir, 'bench.db');
  const url = postgresUrl ?? `sqlite:${path}`;
  const { recordingsDir, exportsDir } = storageDirs(dir);
  const db = openDatabase(url);
  await migrateToLatest(db);
  const policy = loadPolicy('maaswonen-2024').policy;
  const retention = retentionMs(policy, 'footage')!;
  // The day that became due while the sweeper was down: it started retention + 1 day ago.
  const now = Date.parse('2026-03-02T10:00:00Z');
  const from = now - retention - DAY;
  // The door-event partitions of that day, and of the hour ingest writes to during the sweep, as
  // ingest creates them (with their indexes). Their foreign keys need the doors and the source,
  // which the fill writes first.
  const filled = postgresUrl
    ? await fillPostgres(postgresUrl, recordingsDir, from, now, (hours) => ensurePartitions(db.kysely, hours, now))
    : await fill(path, recordingsDir, from, now, (hours) => ensurePartitions(db.kysely, hours, now));
  await db.close();

  const app = openDatabase(url);
  const clock = new ManualClock(now);
  const sweeper = new RetentionSweeper({
    db: app.kysely,
    clock,
    policy: () => policy,
    recordingsDir,
    exportsDir,
    intervalMs: MINUTE,
    threshold: { minFreeBytes: 0, minFreePercent: 0 },
  });
  // SQLite only: PostgreSQL's probe below already goes through other connections (the pool).
  const worker = postgresUrl
    ? null
    : new Worker(INGEST_WORKER, {
        eval: true,
        workerData: {
          path,
          now,
          table: partitionTable(partitionOf(now)),
          driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        },
      });
  await new Promise((resolve) => setTimeout(resolve, 200));
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  // Ingest in the server shares the sweeper's connection (one per process, queries queue in
  // order): one door event every 5 ms through it, timed from request to commit.
  const sameConnection: number[] = [];
  let probing = true;
  let probeCount = 0;
  const probe = async () => {
    while (probing) {
      const started = performance.now();
      await app.kysely
        .insertInto(eventTable(partitionOf(now)))
        .values({
          source_id: 'src',
          source_event_id: `same-${probeCount++}`,
          occurred_at: now,
          received_at: now,
          door_id: 'dr-0002',
          tag_code: 'TAG-2',
          result: 'granted',
          raw_payload: '{}',
        })
        .execute();
      sameConnection.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const probing$ = probe();
  const t = performance.now();
  // The probe stops whatever the sweep does, so a failed sweep reports its own error.
  const result = await sweeper.sweep().finally(() => (probing = false));
  const sweepSeconds = seconds(t);
  await probing$;
  clearInterval(sampler);
  const { latencies, busy } = worker
    ? await new Promise<{ latencies: number[]; busy: number }>((resolve) => {
        worker.once('message', resolve);
        worker.postMessage('stop');
      })
    : { latencies: [], busy: 0 };
  await worker?.terminate();
  await app.close();
  const bare = await baselines(dir, postgresUrl ? null : path, from);
  const sorted = [...latencies].sort((a, b) => a - b);
  const sortedSame = [...sameConnection].sort((a, b) => a - b);
  const footage = result.categories.find((c) => c.category === 'footage')!;
  const events = result.categories.find((c) => c.category === 'door-events')!;
  return {
    database: postgresUrl ? 'postgres' : 'sqlite',
    sizes: { cameras: CAMERAS, hours: HOURS, segments: filled.segments, events: EVENTS },
    fill: filled,
    loadavgBefore: loadavg(),
    sweep: {
      seconds: sweepSeconds,
      segmentsErased: footage.erased,
      segmentSeconds: footage.ms / 1000,
      segmentsPerSecond: Math.round(footage.erased / (footage.ms / 1000)),
      eventsErased: events.erased,
      eventSeconds: events.ms / 1000,
      eventsPerSecond: Math.round(events.erased / (events.ms / 1000)),
      writeTransactions: result.transactions,
      longestWriteTransactionMs: +result.longestTransactionMs.toFixed(1),
      longestWriteTransactionMsByCategory: Object.fromEntries(
        result.categories.map((c) => [c.category, c.longestTransactionMs]),
      ),
      alarms: result.alarmsRaised,
    },
    memory: {
      peakRssDuringSweepMiB: Math.round(peakRss / 2 ** 20),
      maxRssProcessMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    ingestSameConnectionDuringSweep: {
      note: postgresUrl
        ? "through the application's pool, as in the server: other connections than the sweeper's transaction"
        : 'as in the server: ingest and the scheduled sweeper share the connection',
      inserts: sameConnection.length,
      p50Ms: percentile(sortedSame, 50),
      p95Ms: percentile(sortedSame, 95),
      p99Ms: percentile(sortedSame, 99),
      maxMs: percentile(sortedSame, 100),
    },
    ingestDuringSweep: worker
      ? {
          note: 'another connection (as the server while `protocam sweep` runs in another process); SQLite write locks are not fair',
          inserts: latencies.length,
          failedBusy: busy,
          p50Ms: percentile(sorted, 50),
          p95Ms: percentile(sorted, 95),
          p99Ms: percentile(sorted, 99),
          maxMs: percentile(sorted, 100),
        }
      : null,
    limitsOfThisMachine: bare,
    targets: {
      longestWriteTransactionMs: 50,
      segmentsPerSecond: 20_000,
      eventsPerSecond: 500_000,
      met: {
        writeLock: result.longestTransactionMs <= 50,
        segments: footage.erased / (footage.ms / 1000) >= 20_000,
        events: events.erased / (events.ms / 1000) >= 500_000,
      },
    },
    loadavgAfter: loadavg(),
  };
}
