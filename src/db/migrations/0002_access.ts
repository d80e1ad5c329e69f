import { sql, type Kysely } from 'kysely';

// The access gate and the logbook (issue 3). Portable column types only, as in 0001.
// `incidents`, `subject_requests` and `disclosures` are minimal here: the gate needs them to
// check a purpose's `requires`; their own issues add columns and services later.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull()) // damage|nuisance|vandalism|pollution|crime|calamity|other
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('complex_id', 'text', (c) => c.references('complexes.id'))
    .addColumn('status', 'text', (c) => c.notNull()) // open|handled|closed
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subject_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    // The data subject's own tag, when the request covers key-tag data (M 4: only one's own tag).
    .addColumn('subject_tag', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('disclosures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('recipient_kind', 'text', (c) => c.notNull()) // police|insurer|court-proceedings|legitimate-interest-third-party
    .addColumn('incident_id', 'text', (c) => c.references('incidents.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('requester_id', 'text', (c) => c.notNull())
    .addColumn('requester_label', 'text', (c) => c.notNull())
    .addColumn('requester_roles', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('window_from', 'bigint', (c) => c.notNull())
    .addColumn('window_to', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('disclosure_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull()) // pending|approved|rejected|refused|claimed
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'bigint')
    .addColumn('decision_entry_id', 'text')
    .addColumn('grant_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('access_requests_status')
    .on('access_requests')
    .columns(['status', 'created_at'])
    .execute();
  await db.schema.createIndex('access_requests_requester').on('access_requests').column('requester_id').execute();

  await db.schema
    .createTable('grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique()) // SHA-256 of the token; the token is never stored
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('window_from', 'bigint', (c) => c.notNull())
    .addColumn('window_to', 'bigint', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('disclosure_id', 'text')
    .addColumn('access_request_id', 'text')
    .addColumn('entry_id', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('logbook_records')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull()) // consultation|refusal|approval|finding|signature
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_label', 'text', (c) => c.notNull())
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text')
    .addColumn('category', 'text')
    .addColumn('reason', 'text')
    .addColumn('scope', 'text')
    .addColumn('window_from', 'bigint')
    .addColumn('window_to', 'bigint')
    .addColumn('incident_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('disclosure_id', 'text')
    .addColumn('access_request_id', 'text')
    .addColumn('grant_id', 'text')
    .addColumn('entry_id', 'text') // finding/signature: the consultation they refer to
    .addColumn('refusal_code', 'text')
    .addColumn('text', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('logbook_records_kind_time')
    .on('logbook_records')
    .columns(['kind', 'occurred_at'])
    .execute();
  await db.schema.createIndex('logbook_records_entry').on('logbook_records').columns(['entry_id', 'kind']).execute();
  await db.schema.createIndex('logbook_records_user').on('logbook_records').column('user_id').execute();

  await db.schema
    .createTable('chain_signatures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull()) // Ed25519, base64
    .addColumn('signed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('chain_signatures_seq').on('chain_signatures').columns(['chain', 'seq']).execute();

  // The head exists from the start so that the first concurrent appends contend on one row.
  await sql`insert into chain_heads (chain, seq, hash) values (${'logbook'}, 0, ${'0'.repeat(64)})`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db
    .deleteFrom('chain_heads' as never)
    .where('chain' as never, '=', 'logbook' as never)
    .execute();
  for (const table of [
    'chain_signatures',
    'logbook_records',
    'grants',
    'access_requests',
    'disclosures',
    'subject_requests',
    'incidents',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
