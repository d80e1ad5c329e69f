import { PostgresAdapter, sql, type Kysely } from 'kysely';

// Door events (issue 5, "Benchmarks"): the random text primary key of 0003 cost a B-tree insert at
// a random place per event, about half of the write cost. The key is now an integer assigned in
// arrival order (SQLite: `integer primary key`, the rowid itself, no extra index; PostgreSQL: an
// identity column), so the table and its key are appended to. Idempotency stays with the unique
// (source_id, source_event_id), now a unique index so that later fills can drop and rebuild it.
// Existing rows are copied in (occurred_at, id) order, so their ids follow time; new rows get ids
// in arrival order. Retention deletes by `occurred_at < x` keep door_events_time.

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

/** The two databases differ in how an integer key is made (and how the key constraint is named). */
const isPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

async function createIndexes(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('door_events_source_event')
    .on('door_events')
    .columns(['source_id', 'source_event_id'])
    .unique()
    .execute();
  await db.schema.createIndex('door_events_door_time').on('door_events').columns(['door_id', 'occurred_at']).execute();
  await db.schema.createIndex('door_events_tag_time').on('door_events').columns(['tag_code', 'occurred_at']).execute();
  await db.schema.createIndex('door_events_time').on('door_events').column('occurred_at').execute();
}

/** Copies door_events into a table with an integer (or, going down, text) key and swaps the tables. */
async function rebuild(db: Kysely<unknown>, integerKey: boolean): Promise<void> {
  const postgres = isPostgres(db);
  let table = db.schema.createTable('door_events_rebuilt');
  // PostgreSQL: the key constraint is added after the swap, under 0003's name.
  if (postgres)
    table = integerKey
      ? table.addColumn('id', 'bigint', (c) => c.notNull().generatedByDefaultAsIdentity())
      : table.addColumn('id', 'text', (c) => c.notNull());
  else table = table.addColumn('id', integerKey ? 'integer' : 'text', (c) => c.primaryKey());
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
  if (integerKey) {
    await sql`insert into door_events_rebuilt (${columns})
      select ${columns} from door_events order by occurred_at, id`.execute(db);
  } else {
    // Back to text keys: the integer becomes its decimal text, unique as before.
    await sql`insert into door_events_rebuilt (id, ${columns})
      select cast(id as text), ${columns} from door_events order by id`.execute(db);
  }
  await db.schema.dropTable('door_events').execute();
  await db.schema.alterTable('door_events_rebuilt').renameTo('door_events').execute();

  if (postgres) {
    // Named as 0003 named it, so that tools (and the benchmark fill) find it under the same name.
    await sql`alter table door_events add constraint door_events_pkey primary key (id)`.execute(db);
    if (integerKey) {
      // The identity continues after the copied rows.
      await sql`select setval(pg_get_serial_sequence('door_events', 'id'), coalesce(max(id), 0) + 1, false)
        from door_events`.execute(db);
    }
  }
  await createIndexes(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, true);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, false);
}
