import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { createPartitionTable } from '../../door-events/partitions.repository.js';
import { partitionEnd, partitionStart, partitionTable } from '../../door-events/partitions.js';

// Door events (issue 6, "Benchmark": erase at least 500,000 events per second, no write lock over
// 50 ms): one table per hour of occurrence, so that retention drops an expired hour instead of
// deleting its rows from three randomly ordered indexes. Existing rows move into their hour's
// table in (occurred_at, id) order; the single door_events table goes. Partition tables are
// created by partitions.repository.ts at ingest; a change of their shape needs a migration that
// alters every existing partition.

const COLUMNS = [
  'source_id',
  'source_event_id',
  'occurred_at',
  'received_at',
  'door_id',
  'tag_code',
  'result',
  'raw_payload',
] as const;

const isPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(untyped: Kysely<unknown>): Promise<void> {
  const db = untyped as Kysely<Database>;
  await untyped.schema
    .createTable('door_event_partitions')
    .addColumn('hour', 'bigint', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // While erasing: the highest row id the erasure record counted (rows above came in later).
    .addColumn('counted_to_id', 'bigint')
    .execute();
  if (isPostgres(untyped)) {
    // One id sequence for all partitions, continuing after the existing rows.
    await sql`create sequence door_event_ids`.execute(db);
    await sql`select setval('door_event_ids', coalesce((select max(id) from door_events), 0) + 1, false)`.execute(db);
  }
  const columns = sql.join(COLUMNS.map((c) => sql.ref(c)));
  const hours = await sql<{ hour: number | string }>`
    select distinct cast(floor(occurred_at / 3600000.0) as bigint) as hour from door_events order by 1`.execute(db);
  const now = Date.now();
  for (const { hour: raw } of hours.rows) {
    const hour = Number(raw);
    await db.insertInto('door_event_partitions').values({ hour, state: 'live', created_at: now }).execute();
    await createPartitionTable(db, hour);
    await sql`insert into ${sql.table(partitionTable(hour))} (id, ${columns})
      select id, ${columns} from door_events
      where occurred_at >= ${partitionStart(hour)} and occurred_at < ${partitionEnd(hour)}
      order by occurred_at, id`.execute(db);
  }
  await untyped.schema.dropTable('door_events').execute();
}

export async function down(untyped: Kysely<unknown>): Promise<void> {
  const db = untyped as Kysely<Database>;
  const postgres = isPostgres(untyped);
  let table = untyped.schema.createTable('door_events');
  table = postgres
    ? table.addColumn('id', 'bigint', (c) => c.notNull().generatedByDefaultAsIdentity().primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey());
  await table
    .addColumn('source_id', 'text', (c) => c.notNull().references('door_event_sources.id'))
    .addColumn('source_event_id', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('door_id', 'text', (c) => c.notNull().references('doors.id'))
    .addColumn('tag_code', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('raw_payload', 'text')
    .execute();
  const columns = sql.join(COLUMNS.map((c) => sql.ref(c)));
  const partitions = await db.selectFrom('door_event_partitions').select('hour').orderBy('hour').execute();
  for (const { hour: raw } of partitions) {
    const hour = Number(raw);
    // SQLite's ids restart per partition: the single table numbers rows anew in time order.
    await sql`insert into door_events (${columns})
      select ${columns} from ${sql.table(partitionTable(hour))} order by occurred_at, id`.execute(db);
    await sql`drop table ${sql.table(partitionTable(hour))}`.execute(db);
  }
  await untyped.schema.dropTable('door_event_partitions').execute();
  if (postgres) {
    await sql`drop sequence door_event_ids`.execute(db);
    await sql`select setval(pg_get_serial_sequence('door_events', 'id'), coalesce(max(id), 0) + 1, false)
      from door_events`.execute(db);
  }
  await sql`create unique index door_events_source_event on door_events (source_id, source_event_id)`.execute(db);
  await sql`create index door_events_door_time_tag on door_events (door_id, occurred_at, result, tag_code)`.execute(db);
  await sql`create index door_events_tag_time on door_events (tag_code, occurred_at)`.execute(db);
  await sql`create index door_events_time on door_events (occurred_at)`.execute(db);
}
