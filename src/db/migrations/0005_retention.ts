import { sql, type Kysely } from 'kysely';

// Incidents, holds (veiligstellen), the retention sweeper's erasure records and alarms (issue 6).
// Portable column types only, as in 0001; times are epoch ms (UTC); lists are JSON text.

export async function up(db: Kysely<unknown>): Promise<void> {
  // The incident lifecycle (M "Begrippen", W 2.4): columns are nullable or defaulted so the
  // minimal writer of 0002 (used by the gate's tests) keeps working.
  const incidentColumns: [string, 'text' | 'bigint', string | number | null][] = [
    ['reporter_kind', 'text', null], // tenant|visitor|third-party|emergency-services|police|manager (W 2.4)
    ['reporter_note', 'text', null],
    ['assessed_by', 'text', null], // user id of the person who judged it an incident (M 3.5)
    ['camera_ids', 'text', '[]'],
    ['door_ids', 'text', '[]'],
    ['outcome', 'text', null], // resolved|no-further-action|settled|irrevocable-judgment
    ['outcome_date', 'bigint', null], // date of the irrevocable judgment (M 6.6, M 6.7)
    ['outcome_note', 'text', null],
    ['handled_at', 'bigint', null],
    ['handled_by', 'text', null],
    ['closed_at', 'bigint', null],
    ['closed_by', 'text', null],
    ['reopen_count', 'bigint', 0],
  ];
  for (const [name, type, fallback] of incidentColumns) {
    await db.schema
      .alterTable('incidents')
      .addColumn(name, type, (c) => (fallback === null ? c : c.notNull().defaultTo(fallback)))
      .execute();
  }
  await db.schema.createIndex('incidents_status').on('incidents').columns(['status', 'created_at']).execute();

  // Every lifecycle step, so a reopened incident keeps its history (registered, handled, closed, reopened).
  await db.schema
    .createTable('incident_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
    .addColumn('seq', 'bigint', (c) => c.notNull()) // 1, 2, ... per incident: steps may share a millisecond
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('by_id', 'text')
    .addColumn('by_label', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('outcome', 'text')
    .execute();
  await db.schema
    .createIndex('incident_history_incident')
    .on('incident_history')
    .columns(['incident_id', 'seq'])
    .unique()
    .execute();

  // A hold is a time range over cameras, doors or tags, never a copy (W 2.4, M 2.4, M 6.6-6.7).
  await db.schema
    .createTable('holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('camera_ids', 'text', (c) => c.notNull()) // JSON arrays
    .addColumn('door_ids', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('window_from', 'bigint', (c) => c.notNull())
    .addColumn('window_to', 'bigint', (c) => c.notNull())
    .addColumn('complex_id', 'text')
    .addColumn('owner_id', 'text')
    .addColumn('owner_label', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('link_type', 'text', (c) => c.notNull()) // incident|request|disclosure|police-order
    .addColumn('link_id', 'text')
    .addColumn('link_ref', 'text') // e.g. the police order's reference and legal basis
    .addColumn('review_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('released_at', 'bigint')
    .addColumn('released_by', 'text')
    .addColumn('release_reason', 'text')
    .execute();
  await db.schema.createIndex('holds_active').on('holds').columns(['released_at', 'review_at']).execute();
  await db.schema.createIndex('holds_link').on('holds').columns(['link_type', 'link_id']).execute();

  // One row per sweep run, category, reason and target: what was erased, never the content.
  await db.schema
    .createTable('erasure_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull()) // retention|disk-pressure
    .addColumn('target_type', 'text', (c) => c.notNull()) // camera|door|export
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('from_at', 'bigint', (c) => c.notNull())
    .addColumn('to_at', 'bigint', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('retention_ms', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('erasure_records_run_target', ['run_id', 'category', 'reason', 'target_id'])
    .execute();
  await db.schema.createIndex('erasure_records_time').on('erasure_records').column('created_at').execute();

  await db.schema
    .createTable('sweep_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('summary', 'text') // JSON counts per category
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('sweep_runs_started').on('sweep_runs').column('started_at').execute();

  // Compliance alarms. `key` identifies the condition (kind + target) so a repeated finding
  // updates the open alarm instead of adding one per sweep.
  await db.schema
    .createTable('alarms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull()) // retention-overdue|disk-pressure|recording-stopped|...
    .addColumn('severity', 'text', (c) => c.notNull()) // error|warning
    .addColumn('complex_id', 'text')
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('message_nl', 'text', (c) => c.notNull())
    .addColumn('details', 'text') // JSON, never content
    .addColumn('raised_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('cleared_at', 'bigint')
    .addColumn('acknowledged_at', 'bigint')
    .addColumn('acknowledged_by', 'text')
    .execute();
  await db.schema.createIndex('alarms_key').on('alarms').columns(['key', 'cleared_at']).execute();

  // The row that hold creation and the sweeper's marking both lock first, so that a hold and
  // an erasure batch never interleave (PostgreSQL row lock; SQLite's write lock does the same).
  await db.schema
    .createTable('retention_locks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into retention_locks (name, version) values (${'holds'}, 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['retention_locks', 'alarms', 'sweep_runs', 'erasure_records', 'holds', 'incident_history']) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.dropIndex('incidents_status').execute();
  for (const name of [
    'reporter_kind',
    'reporter_note',
    'assessed_by',
    'camera_ids',
    'door_ids',
    'outcome',
    'outcome_date',
    'outcome_note',
    'handled_at',
    'handled_by',
    'closed_at',
    'closed_by',
    'reopen_count',
  ]) {
    await db.schema.alterTable('incidents').dropColumn(name).execute();
  }
}
