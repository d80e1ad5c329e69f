import type { Kysely } from 'kysely';

// Key tags and door events (issue 5). Portable column types only, as in 0001.
// Door events refer to a tag by its code, never to a person; holders live apart, encrypted.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('door_event_sources')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull()) // http|csv|mqtt
    .addColumn('csv_mapping', 'text') // JSON, see door-events.rules.ts CsvMapping
    .addColumn('door_scope', 'text', (c) => c.notNull()) // JSON array of door ids
    .addColumn('received', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('accepted', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rejected', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('late', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('duplicate', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('door_event_api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source_id', 'text', (c) => c.notNull().references('door_event_sources.id'))
    .addColumn('key_hash', 'text', (c) => c.notNull().unique()) // SHA-256 hex; the key itself is never stored
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('door_event_api_keys_source').on('door_event_api_keys').column('source_id').execute();

  await db.schema
    .createTable('door_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source_id', 'text', (c) => c.notNull().references('door_event_sources.id'))
    .addColumn('source_event_id', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('door_id', 'text', (c) => c.notNull().references('doors.id'))
    .addColumn('tag_code', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull()) // granted|denied|other
    .addColumn('raw_payload', 'text') // erased together with the event
    .addUniqueConstraint('door_events_source_event', ['source_id', 'source_event_id'])
    .execute();
  await db.schema.createIndex('door_events_door_time').on('door_events').columns(['door_id', 'occurred_at']).execute();
  await db.schema.createIndex('door_events_tag_time').on('door_events').columns(['tag_code', 'occurred_at']).execute();
  await db.schema.createIndex('door_events_time').on('door_events').column('occurred_at').execute();

  await db.schema
    .createTable('door_event_rejections')
    .addColumn('source_id', 'text', (c) => c.notNull().references('door_event_sources.id'))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('door_event_rejections_pk', ['source_id', 'reason'])
    .execute();

  await db.schema
    .createTable('tag_holders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull()) // tenant|household-member|staff|contractor
    .addColumn('reference', 'text', (c) => c.notNull().unique()) // random short code, not personal
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('address_enc', 'text')
    .addColumn('contact_enc', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('key_tags')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tag_code', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) => c.notNull()) // issued|blocked|returned
    .addColumn('holder_id', 'text', (c) => c.references('tag_holders.id'))
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('notice_given_at', 'bigint', (c) => c.notNull()) // M 3.5, M 7
    .addColumn('blocked_at', 'bigint')
    .addColumn('returned_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_tags_holder').on('key_tags').column('holder_id').execute();

  // Who held a tag when: a reissued tag must not link its earlier events to the new holder.
  await db.schema
    .createTable('key_tag_assignments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tag_id', 'text', (c) => c.notNull().references('key_tags.id'))
    .addColumn('holder_id', 'text', (c) => c.notNull().references('tag_holders.id'))
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('notice_given_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('key_tag_assignments_tag')
    .on('key_tag_assignments')
    .columns(['tag_id', 'issued_at'])
    .execute();
  await db.schema.createIndex('key_tag_assignments_holder').on('key_tag_assignments').column('holder_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'key_tag_assignments',
    'key_tags',
    'tag_holders',
    'door_event_rejections',
    'door_events',
    'door_event_api_keys',
    'door_event_sources',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
