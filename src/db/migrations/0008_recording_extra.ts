import { sql, type Kysely } from 'kysely';

// The recorder (issue 4), two partial indexes that 0004 lacks. Both work on SQLite and PostgreSQL.

export async function up(db: Kysely<unknown>): Promise<void> {
  // One open defect per camera (W 6.6): the periodic and a manual check may run at the same
  // moment, and only a constraint keeps them from opening two.
  await db.schema
    .createIndex('camera_defects_one_open')
    .on('camera_defects')
    .column('camera_id')
    .unique()
    .where(sql.ref('closed_at'), 'is', null)
    .execute();
  // Start-up reconciliation looks for interrupted erasures; without this it scans every segment.
  await db.schema
    .createIndex('segments_erasing')
    .on('segments')
    .column('erasing_at')
    .where(sql.ref('erasing_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('segments_erasing').execute();
  await db.schema.dropIndex('camera_defects_one_open').execute();
}
