import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The recorder (issue 4): a change counter per camera and hour of segments, kept by triggers.
 *
 * Playback and export list a camera's segments (a day is 8,640 rows) far more often than an
 * hour of them changes. src/recording/segment-cache.ts keeps hours in memory and asks this
 * table, one small index read, whether an hour changed since it was loaded. Triggers keep the
 * counters, so every writer is covered without knowing about the cache: the recorder's
 * indexer, start-up reconciliation and the retention sweeper, also in another process (the
 * CLI). Rows are never deleted by the triggers: a counter only grows, so a cached hour can
 * never match a counter value that was reached by different rows.
 * `bucket` is `start_at / 3600000` (integer division, the same on both databases).
 */

const BUCKET_MS = 3_600_000;

const isPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('segment_buckets')
    .addColumn('camera_id', 'text', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('segment_buckets_pk', ['camera_id', 'bucket'])
    .execute();
  // Existing segments: every hour that has rows starts at version 1.
  await sql`insert into segment_buckets (camera_id, bucket, version)
    select camera_id, start_at / ${sql.lit(BUCKET_MS)}, 1 from segments group by camera_id, start_at / ${sql.lit(BUCKET_MS)}`.execute(
    db,
  );
  if (isPostgres(db)) {
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
    return;
  }
  const touch = (row: 'new' | 'old') =>
    sql`insert into segment_buckets (camera_id, bucket, version) values (${sql.raw(row)}.camera_id, ${sql.raw(row)}.start_at / ${sql.lit(BUCKET_MS)}, 1)
      on conflict (camera_id, bucket) do update set version = version + 1;`;
  await sql`create trigger segments_insert_bucket after insert on segments begin ${touch('new')} end`.execute(db);
  await sql`create trigger segments_delete_bucket after delete on segments begin ${touch('old')} end`.execute(db);
  await sql`create trigger segments_update_bucket after update on segments begin ${touch('old')} ${touch('new')} end`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isPostgres(db)) {
    await sql`drop trigger segments_touch_bucket on segments`.execute(db);
    await sql`drop function segment_buckets_touch()`.execute(db);
  } else {
    for (const name of ['segments_insert_bucket', 'segments_delete_bucket', 'segments_update_bucket'])
      await sql`drop trigger ${sql.id(name)}`.execute(db);
  }
  await db.schema.dropTable('segment_buckets').execute();
}
