/**
 * Bulk fill of the hourly door-event partitions (0012) for the witness-search benchmark
 * (bench/door-events.bench.ts): N events spread evenly over four weeks, random doors (of
 * `doors`) and tags (of `tags`), 10 % denied, with a realistic raw payload. The fastest honest
 * way per database: all rows are generated into one staging table without indexes, copied from
 * it into each hour's partition (created with the application's own DDL, partitionDdl), and the
 * partitions' indexes are built after the copy.
 * - SQLite: recursive CTEs inside SQLite, one transaction, journal_mode=MEMORY and
 *   synchronous=OFF for the fill only (the integer key is the rowid: rows are appended).
 * - PostgreSQL: INSERT ... SELECT FROM generate_series; foreign-key triggers skipped during the
 *   fill (session_replication_role = replica: the generated rows only name doors and the source
 *   that exist). Staging and partitions are created in the fill's own transaction, so with the
 *   bench server's wal_level=minimal their rows skip the WAL.
 * Event ids are 1..N in time order, as the app's arrival-order integer keys would be.
 */
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { partitionEnd, partitionOf, partitionStart, partitionTable } from '../src/door-events/partitions.js';
import { partitionDdl } from '../src/door-events/partitions.repository.js';

export interface FillSpec {
  rows: number;
  sourceId: string;
  /** Epoch ms of the first event; the last is at `from + span`. */
  from: number;
  span: number;
  doors: number;
  tags: number;
}

export const doorIdOf = (i: number): string => `dr-${String(i).padStart(4, '0')}`;
export const tagOf = (i: number): string => `TAG-${String(i).padStart(5, '0')}`;

const STAGING_COLUMNS = `id integer primary key, source_id text, source_event_id text, occurred_at bigint,
  received_at bigint, door_id text, tag_code text, result text, raw_payload text`;

/**
 * The hours that `rows` events spread evenly over [from, from + span) fall in (event x occurs at
 * `from + floor(x * step)`), each with the event numbers x that may fall in it, a little wider:
 * inserts filter by time exactly. Shared with bench/sweep.bench.ts.
 */
export function hourRanges(spec: { from: number; span: number; rows: number }) {
  const step = spec.span / spec.rows;
  const hours = [];
  for (let hour = partitionOf(spec.from); partitionStart(hour) < spec.from + spec.span; hour++) {
    const first = Math.max(0, Math.floor((partitionStart(hour) - spec.from) / step) - 2);
    const last = Math.min(spec.rows - 1, Math.ceil((partitionEnd(hour) - spec.from) / step) + 2);
    if (first <= last) hours.push({ hour, first, last, start: partitionStart(hour), end: partitionEnd(hour) });
  }
  return { step, hours };
}

const CHUNK = 2_000_000;

export interface FillTimes {
  insertSeconds: number;
  indexSeconds: number;
  /** Rows per second of the whole fill (insert and index build). */
  rowsPerSecond: number;
}

const seconds = (t: number) => +((performance.now() - t) / 1000).toFixed(1);

export function fillSqlite(path: string, spec: FillSpec): FillTimes {
  const db = new SqliteDatabase(path);
  try {
    // Not OFF: better-sqlite3 opens connections in SQLite's defensive mode, which refuses OFF (the
    // pragma then silently leaves WAL on, and the fill wrote every page twice). MEMORY keeps the
    // rollback journal in memory: the same for a fill that is thrown away if it fails.
    const mode = db.pragma('journal_mode = MEMORY', { simple: true }) as string;
    if (mode !== 'memory') throw new Error(`the fill could not leave WAL (journal_mode is ${mode})`);
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000');
    db.pragma('temp_store = MEMORY');
    // Index builds sort with a helper thread (the machine has two cores).
    db.pragma('threads = 2');
    db.exec(`CREATE TABLE fill_events (${STAGING_COLUMNS})`);
    const step = spec.span / spec.rows;
    const insert = db.prepare(`
      INSERT INTO fill_events
        (id, source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
      WITH RECURSIVE c(x) AS (SELECT @start UNION ALL SELECT x + 1 FROM c WHERE x < @end),
        r(x, at, door, tag, denied) AS (
          SELECT x, @from + CAST(x * @step AS INTEGER), abs(random()) % @doors, abs(random()) % @tags,
                 abs(random()) % 10 = 0
          FROM c)
      SELECT x + 1, @source, 'ev-' || x, at, at + 2000,
             printf('dr-%04d', door), printf('TAG-%05d', tag), CASE WHEN denied THEN 'denied' ELSE 'granted' END,
             printf('{"sourceEventId":"ev-%d","occurredAt":"%s","door":"DR-%04d","tag":"TAG-%05d","result":"%s"}',
                    x, strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch'), door, tag,
                    CASE WHEN denied THEN 'denied' ELSE 'granted' END)
      FROM r`);
    const { hours } = hourRanges(spec);
    const catalog = db.prepare(`INSERT INTO door_event_partitions (hour, state, created_at) VALUES (?, 'live', ?)`);
    let t = performance.now();
    db.transaction(() => {
      for (let start = 0; start < spec.rows; start += CHUNK) {
        insert.run({
          start,
          end: Math.min(spec.rows, start + CHUNK) - 1,
          from: spec.from,
          step,
          doors: spec.doors,
          tags: spec.tags,
          source: spec.sourceId,
        });
      }
      for (const r of hours) {
        db.exec(partitionDdl(r.hour, false).table);
        db.prepare(
          `INSERT INTO ${partitionTable(r.hour)} SELECT * FROM fill_events
           WHERE id BETWEEN ? AND ? AND occurred_at >= ? AND occurred_at < ? ORDER BY id`,
        ).run(r.first + 1, r.last + 1, r.start, r.end);
        catalog.run(r.hour, Date.now());
      }
      db.exec('DROP TABLE fill_events');
    })();
    const insertSeconds = seconds(t);
    t = performance.now();
    for (const r of hours) for (const s of partitionDdl(r.hour, false).indexes) db.exec(s);
    db.exec('ANALYZE');
    const indexSeconds = seconds(t);
    db.pragma('journal_mode = WAL');
    return { insertSeconds, indexSeconds, rowsPerSecond: Math.round(spec.rows / (insertSeconds + indexSeconds)) };
  } finally {
    db.close();
  }
}

export async function fillPostgres(url: string, spec: FillSpec): Promise<FillTimes> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET maintenance_work_mem = '2GB'`);
    await client.query(`SET max_parallel_maintenance_workers = 2`);
    await client.query(`SET session_replication_role = replica`);
    const step = spec.span / spec.rows;
    let t = performance.now();
    const { hours } = hourRanges(spec);
    await client.query('BEGIN');
    // Created in this transaction: with wal_level=minimal the inserted rows are not WAL-logged.
    await client.query(`CREATE TABLE fill_events (${STAGING_COLUMNS.replace('integer primary key', 'bigint')})`);
    for (let start = 0; start < spec.rows; start += CHUNK) {
      await client.query(
        `INSERT INTO fill_events
           (id, source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
         SELECT x + 1, $3, 'ev-' || x, at, at + 2000, 'dr-' || lpad(door::text, 4, '0'), 'TAG-' || lpad(tag::text, 5, '0'),
                CASE WHEN denied THEN 'denied' ELSE 'granted' END,
                '{"sourceEventId":"ev-' || x || '","occurredAt":"' ||
                  to_char(to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ||
                  '","door":"DR-' || lpad(door::text, 4, '0') || '","tag":"TAG-' || lpad(tag::text, 5, '0') ||
                  '","result":"' || CASE WHEN denied THEN 'denied' ELSE 'granted' END || '"}'
         FROM (SELECT x, $4::bigint + floor(x * $5::float8)::bigint AS at,
                      floor(random() * $6)::int AS door, floor(random() * $7)::int AS tag,
                      random() < 0.1 AS denied
               FROM generate_series($1::bigint, $2::bigint) AS x) AS r`,
        [start, Math.min(spec.rows, start + CHUNK) - 1, spec.sourceId, spec.from, step, spec.doors, spec.tags],
      );
    }
    for (const r of hours) {
      // The table without its key: the key is built with the other indexes, after the copy.
      await client.query(
        partitionDdl(r.hour, true).table.replace(`id bigint primary key default`, `id bigint not null default`),
      );
      await client.query(
        `INSERT INTO ${partitionTable(r.hour)} SELECT * FROM fill_events
         WHERE id BETWEEN $1 AND $2 AND occurred_at >= $3 AND occurred_at < $4`,
        [r.first + 1, r.last + 1, r.start, r.end],
      );
      await client.query(`INSERT INTO door_event_partitions (hour, state, created_at) VALUES ($1, 'live', $2)`, [
        r.hour,
        Date.now(),
      ]);
    }
    await client.query('DROP TABLE fill_events');
    await client.query('COMMIT');
    const insertSeconds = seconds(t);
    t = performance.now();
    for (const r of hours) {
      const table = partitionTable(r.hour);
      await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_pkey PRIMARY KEY (id)`);
      for (const s of partitionDdl(r.hour, true).indexes) await client.query(s);
    }
    await client.query(`SELECT setval('door_event_ids', $1::bigint + 1, false)`, [spec.rows]);
    await client.query('VACUUM ANALYZE');
    const indexSeconds = seconds(t);
    return { insertSeconds, indexSeconds, rowsPerSecond: Math.round(spec.rows / (insertSeconds + indexSeconds)) };
  } finally {
    await client.end();
  }
}
