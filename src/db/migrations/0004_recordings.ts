import type { Kysely } from 'kysely';

// The recorder (issue 4): the segment index, camera health, the maintenance log (W 6.6, M 2.2),
// defects, and exports. Portable column types only, as in 0001; times are epoch ms (UTC).

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per closed, synced segment file. Erasure by camera and time range walks
  // `segments_camera_start`; disk pressure (oldest first, all cameras) walks `segments_start`.
  // `erasing_at` marks a row whose file is being deleted (mark, unlink, delete the row), so that
  // start-up reconciliation can finish an interrupted erasure instead of serving a missing file.
  await db.schema
    .createTable('segments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('camera_id', 'text', (c) => c.notNull().references('cameras.id'))
    .addColumn('file', 'text', (c) => c.notNull().unique()) // relative to the recordings directory
    .addColumn('start_at', 'bigint', (c) => c.notNull())
    .addColumn('end_at', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('erasing_at', 'bigint')
    .execute();
  await db.schema.createIndex('segments_camera_start').on('segments').columns(['camera_id', 'start_at']).execute();
  await db.schema.createIndex('segments_start').on('segments').column('start_at').execute();

  // Current recording state per camera (W 2.3, M 2.2): recording | reconnecting | down | stopped.
  await db.schema
    .createTable('camera_health')
    .addColumn('camera_id', 'text', (c) => c.primaryKey().references('cameras.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('last_segment_at', 'bigint')
    .addColumn('last_error', 'text') // redacted: never a URL with credentials
    .addColumn('restarts', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // The maintenance log (W 6.6): which camera, result, when, by whom (null: the system).
  await db.schema
    .createTable('maintenance_checks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('camera_id', 'text', (c) => c.notNull().references('cameras.id'))
    .addColumn('checked_at', 'bigint', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull()) // ok | failed
    .addColumn('detail', 'text')
    .addColumn('checked_by', 'text') // user id; null when the periodic check did it
    .execute();
  await db.schema
    .createIndex('maintenance_checks_camera_time')
    .on('maintenance_checks')
    .columns(['camera_id', 'checked_at'])
    .execute();

  // A failed check opens a defect that stays open until the camera records again (W 6.6, M 2.2).
  await db.schema
    .createTable('camera_defects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('camera_id', 'text', (c) => c.notNull().references('cameras.id'))
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'bigint')
    .addColumn('closed_reason', 'text')
    .execute();
  await db.schema
    .createIndex('camera_defects_camera')
    .on('camera_defects')
    .columns(['camera_id', 'closed_at'])
    .execute();

  // Exports are personal data too (policy category `exports`): the sweeper erases them on time.
  await db.schema
    .createTable('exports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('entry_id', 'text', (c) => c.notNull()) // the logbook entry of the grant
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('camera_ids', 'text', (c) => c.notNull()) // JSON array
    .addColumn('window_from', 'bigint', (c) => c.notNull())
    .addColumn('window_to', 'bigint', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('disclosure_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull()) // running | done | failed
    .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0)) // 0..1
    .addColumn('directory', 'text', (c) => c.notNull().unique()) // relative to the exports directory
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('manifest_sha256', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('erasing_at', 'bigint')
    .execute();
  await db.schema.createIndex('exports_created').on('exports').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['exports', 'camera_defects', 'maintenance_checks', 'camera_health', 'segments']) {
    await db.schema.dropTable(table).execute();
  }
}
