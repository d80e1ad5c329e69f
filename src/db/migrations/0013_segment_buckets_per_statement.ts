import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL only: the change counters of 0011 (`segment_buckets`) are raised once per statement
 * and hour instead of once per row.
 *
 * Per row, every segment a sweep marks or deletes ran one or two upserts of its hour's counter,
 * and two transactions touching the same hours in different row orders could deadlock (the
 * sweeper marking one batch while deleting the rows of the one before; the recorder's batched
 * insert next to reconciliation). Statement triggers with transition tables upsert each touched
 * hour once, in (camera, hour) order, so every writer takes the counters' locks in the same
 * order. The cache needs only that a counter grows whenever its hour changes (0011).
 * SQLite keeps its row triggers: it has no statement triggers, and one writer at a time.
 */

const BUCKET_MS = 3_600_000;

const isPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** Upserts the counters of every (camera, hour) in `rows`, a query over transition tables. */
const touchBuckets = (rows: string) => `
  insert into segment_buckets (camera_id, bucket, version)
    select camera_id, start_at / ${BUCKET_MS}, 1 from (${rows}) touched
    group by camera_id, start_at / ${BUCKET_MS}
    order by camera_id, start_at / ${BUCKET_MS}
  on conflict (camera_id, bucket) do update set version = segment_buckets.version + 1;`;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop trigger segments_touch_bucket on segments`.execute(db);
  await sql`drop function segment_buckets_touch()`.execute(db);
  const functions = {
    segment_buckets_inserted: touchBuckets('select camera_id, start_at from new_rows'),
    segment_buckets_deleted: touchBuckets('select camera_id, start_at from old_rows'),
    segment_buckets_updated: touchBuckets(
      'select camera_id, start_at from old_rows union all select camera_id, start_at from new_rows',
    ),
  };
  for (const [name, body] of Object.entries(functions)) {
    await sql`create function ${sql.id(name)}() returns trigger language plpgsql as ${sql.lit(
      `begin ${body} return null; end`,
    )}`.execute(db);
  }
  await sql`create trigger segments_inserted_bucket after insert on segments
    referencing new table as new_rows for each statement execute function segment_buckets_inserted()`.execute(db);
  await sql`create trigger segments_deleted_bucket after delete on segments
    referencing old table as old_rows for each statement execute function segment_buckets_deleted()`.execute(db);
  await sql`create trigger segments_updated_bucket after update on segments
    referencing old table as old_rows new table as new_rows
    for each statement execute function segment_buckets_updated()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  for (const name of ['inserted', 'deleted', 'updated']) {
    await sql`drop trigger ${sql.id(`segments_${name}_bucket`)} on segments`.execute(db);
    await sql`drop function ${sql.id(`segment_buckets_${name}`)}()`.execute(db);
  }
  // 0011's row trigger, as it was.
  await sql`create function segment_buckets_touch() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        insert into segment_buckets (camera_id, bucket, version) values (old.camera_id, old.start_at / ${sql.lit(BUCKET_MS)}, 1)
          on conflict (camera_id, bucket) do update set version = segment_buckets.version + 1;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        insert into segment_buckets (camera_id, bucket, version) values (new.camera_id, new.start_at / ${sql.lit(BUCKET_MS)}, 1)
          on conflict (camera_id, bucket) do update set version = segment_buckets.version + 1;
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger segments_touch_bucket after insert or update or delete on segments
    for each row execute function segment_buckets_touch()`.execute(db);
}
