/**
 * Retention sweep benchmark (issue 6): a catch-up sweep after a day of downtime, erasing one day
 * of 64 cameras' 10-second segments (about 550,000 rows and real files) and 10 million door
 * events, on SQLite (a temp file, WAL, as in production). Measures the sweep's time and rates,
 * peak memory, the longest write transaction, and the latency of door-event inserts made by a
 * second connection (a worker thread, as ingest would) during the sweep.
 * Targets: no write transaction > 50 ms; >= 20,000 segments/s; >= 500,000 events/s.
 *
 * Sizes by environment for quick runs: BENCH_SWEEP_CAMERAS (64), BENCH_SWEEP_HOURS (24),
 * BENCH_SWEEP_EVENTS (10000000). Example: BENCH_SWEEP_HOURS=1 BENCH_SWEEP_EVENTS=500000 npm run bench sweep
 * PostgreSQL is not measured here: it needs the embedded server of the test setup.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { DAY, ManualClock, MINUTE } from '../src/lib/clock.js';
import { loadPolicy, retentionMs } from '../src/policy/index.js';
import { RetentionSweeper, storageDirs } from '../src/retention/sweeper.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CAMERAS = env('BENCH_SWEEP_CAMERAS', 64);
const HOURS = env('BENCH_SWEEP_HOURS', 24);
const EVENTS = env('BENCH_SWEEP_EVENTS', 10_000_000);
const SEGMENT_MS = 10_000;
const DOORS = 200;

const seconds = (t: number) => +((performance.now() - t) / 1000).toFixed(2);
const percentile = (sorted: number[], p: number) =>
  sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2) : null;

/** Registry rows, segment rows and files, door events: written directly, the fastest honest way. */
function fill(path: string, recordingsDir: string, from: number) {
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
  const segmentSeconds = seconds(t);

  t = performance.now();
  const step = (HOURS * 3_600_000) / EVENTS;
  const insert = db.prepare(`
    insert into door_events (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
    with recursive c(x) as (select @start union all select x + 1 from c where x < @end)
    select 'src', 'ev-' || x, @from + cast(x * @step as integer), @from + cast(x * @step as integer) + 2000,
           printf('dr-%04d', abs(random()) % ${DOORS}), printf('TAG-%05d', abs(random()) % 5000), 'granted',
           printf('{"sourceEventId":"ev-%d","door":"DR","tag":"TAG","result":"granted"}', x)
    from c`);
  db.transaction(() => {
    for (let start = 0; start < EVENTS; start += 1_000_000) {
      insert.run({ start, end: Math.min(EVENTS, start + 1_000_000) - 1, from, step });
    }
  })();
  const eventSeconds = seconds(t);
  db.pragma('synchronous = NORMAL');
  db.close();
  return { segments: perCamera * CAMERAS, segmentFillSeconds: segmentSeconds, eventFillSeconds: eventSeconds };
}

/** A second connection inserting one door event every 5 ms, as ingest would, timing each insert. */
const INGEST_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare("insert into door_events (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload) values ('src', ?, ?, ?, 'dr-0001', 'TAG-1', 'granted', '{}')");
const latencies = [];
let i = 0;
let stop = false;
parentPort.on('message', () => { stop = true; });
const tick = () => {
  if (stop) { parentPort.postMessage(latencies); db.close(); return; }
  const t = performance.now();
  insert.run('live-' + i++, workerData.now, workerData.now);
  latencies.push(performance.now() - t);
  setTimeout(tick, 5);
};
tick();
`;

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'protocam-bench-sweep-'));
  const path = join(dir, 'bench.db');
  const { recordingsDir, exportsDir } = storageDirs(dir);
  try {
    const db = openDatabase(`sqlite:${path}`);
    await migrateToLatest(db);
    await db.close();
    const policy = loadPolicy('maaswonen-2024').policy;
    const retention = retentionMs(policy, 'footage')!;
    // The day that became due while the sweeper was down: it started retention + 1 day ago.
    const now = Date.parse('2026-03-02T10:00:00Z');
    const from = now - retention - DAY;
    const filled = fill(path, recordingsDir, from);

    const app = openDatabase(`sqlite:${path}`);
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
    const worker = new Worker(INGEST_WORKER, {
      eval: true,
      workerData: { path, now, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    const t = performance.now();
    const result = await sweeper.sweep();
    const sweepSeconds = seconds(t);
    clearInterval(sampler);
    const latencies = await new Promise<number[]>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage('stop');
    });
    await worker.terminate();
    await app.close();
    const sorted = [...latencies].sort((a, b) => a - b);
    const footage = result.categories.find((c) => c.category === 'footage')!;
    const events = result.categories.find((c) => c.category === 'door-events')!;
    return {
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
        alarms: result.alarmsRaised,
      },
      memory: {
        peakRssDuringSweepMiB: Math.round(peakRss / 2 ** 20),
        maxRssProcessMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      },
      ingestDuringSweep: {
        inserts: latencies.length,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        maxMs: percentile(sorted, 100),
      },
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
