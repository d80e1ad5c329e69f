/**
 * Bulk fill of door_events for the witness-search benchmark (bench/door-events.bench.ts):
 * N events spread evenly over four weeks, random doors (of `doors`) and tags (of `tags`),
 * 10 % denied, with a realistic raw payload. The fastest honest way per database:
 * - SQLite: a recursive CTE inside SQLite, one transaction, journal_mode=MEMORY and
 *   synchronous=OFF for the fill only; the unique and the three secondary indexes are built
 *   after the fill (the integer key is the rowid: rows are appended).
 * - PostgreSQL: INSERT ... SELECT FROM generate_series, the primary key, the unique index
 *   and the secondary indexes dropped during the fill and rebuilt after it; foreign-key
 *   triggers skipped during the fill (session_replication_role = replica: the generated rows
 *   only name doors and the source that exist). The table is truncated in the fill's own
 *   transaction, so with the bench server's wal_level=minimal the rows skip the WAL (written
 *   once, to the table, instead of twice).
 * Event ids are 1..N in time order, as the app's arrival-order integer keys (0007) would be.
 */
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

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

// The indexes as migrations 0007 and 0010 leave them; the unique (source, source event id) index
// is dropped and rebuilt with the others.
const SECONDARY = [
  'CREATE UNIQUE INDEX door_events_source_event ON door_events (source_id, source_event_id)',
  'CREATE INDEX door_events_door_time_tag ON door_events (door_id, occurred_at, result, tag_code)',
  'CREATE INDEX door_events_tag_time ON door_events (tag_code, occurred_at)',
  'CREATE INDEX door_events_time ON door_events (occurred_at)',
];
const DROP_SECONDARY = [
  'door_events_source_event',
  'door_events_door_time_tag',
  'door_events_tag_time',
  'door_events_time',
].map((name) => `DROP INDEX ${name}`);

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
    for (const s of DROP_SECONDARY) db.exec(s);
    const step = spec.span / spec.rows;
    const insert = db.prepare(`
      INSERT INTO door_events
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
    })();
    const insertSeconds = seconds(t);
    t = performance.now();
    for (const s of SECONDARY) db.exec(s);
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
    await client.query('BEGIN');
    // Truncated in this transaction: with wal_level=minimal the inserted rows are not WAL-logged.
    await client.query('TRUNCATE door_events');
    await client.query('ALTER TABLE door_events DROP CONSTRAINT door_events_pkey');
    for (const s of DROP_SECONDARY) await client.query(s);
    for (let start = 0; start < spec.rows; start += CHUNK) {
      await client.query(
        `INSERT INTO door_events
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
    await client.query('COMMIT');
    const insertSeconds = seconds(t);
    t = performance.now();
    await client.query('ALTER TABLE door_events ADD CONSTRAINT door_events_pkey PRIMARY KEY (id)');
    for (const s of SECONDARY) await client.query(s);
    await client.query(
      `SELECT setval(pg_get_serial_sequence('door_events', 'id'), (SELECT max(id) FROM door_events) + 1, false)`,
    );
    await client.query('VACUUM ANALYZE door_events');
    const indexSeconds = seconds(t);
    return { insertSeconds, indexSeconds, rowsPerSecond: Math.round(spec.rows / (insertSeconds + indexSeconds)) };
  } finally {
    await client.end();
  }
}
