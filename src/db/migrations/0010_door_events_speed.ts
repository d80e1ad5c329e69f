import { sql, type Kysely } from 'kysely';

// Door events (issue 5, "Benchmarks": a witness search over 30 million events under 100 ms).
//
// The witness search (and the denied attempts at a door) read door_events by door and time and
// need only result and tag_code besides. With door_events_door_time (door_id, occurred_at) every
// match cost a read of its table row, at a random place in a table of tens of GB: on PostgreSQL
// at 30 million events the search took 100 ms at the median and over a second cold, almost all
// of it waiting for those pages. door_events_door_time_tag (door_id, occurred_at, result,
// tag_code) answers these queries from the index alone (SQLite: covering index; PostgreSQL:
// index-only scan), a few adjacent leaf pages per door. It replaces the narrower index, which it
// serves in full (same leading columns); nothing else changes and no row is touched.
// Frozen history: never edit, add a new migration.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX door_events_door_time`.execute(db);
  await sql`CREATE INDEX door_events_door_time_tag ON door_events (door_id, occurred_at, result, tag_code)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX door_events_door_time_tag`.execute(db);
  await sql`CREATE INDEX door_events_door_time ON door_events (door_id, occurred_at)`.execute(db);
}
