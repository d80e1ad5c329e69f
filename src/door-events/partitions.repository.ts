/**
 * SQL of the hourly door-event partitions (see partitions.ts). The catalog table
 * `door_event_partitions` names every partition and its state: `live` (queried and written) or
 * `erasing` (retention marked it for dropping and wrote its erasure record; queries skip it, and
 * the next sweep finishes the drop if a crash came between). Every partition has the same columns
 * and indexes; Kysely sees each one under the type `door_events`.
 */
import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { partitionEnd, partitionOf, partitionStart, partitionTable } from './partitions.js';

export type Executor = Kysely<Database>;

/** A partition's table under the one type all partitions share (the name is built from an integer). */
export const eventTable = (hour: number): 'door_events' => partitionTable(hour) as 'door_events';

/** The indexes of every partition, as they were on the single table before 0012. */
const INDEXES: readonly { suffix: string; unique: boolean; columns: string }[] = [
  // Idempotency: a controller's resent event lands in the same hour, so (source, event id) is
  // unique per partition. The same id resent with another hour of occurrence is another event.
  { suffix: 'source_event', unique: true, columns: 'source_id, source_event_id' },
  // Witness search and denied attempts at a door (0010).
  { suffix: 'door_time_tag', unique: false, columns: 'door_id, occurred_at, result, tag_code' },
  // A tag's events (M 3.5: only on a concrete suspicion, through the gate).
  { suffix: 'tag_time', unique: false, columns: 'tag_code, occurred_at' },
  // Retention inside a partition that a hold keeps from being dropped whole.
  { suffix: 'time', unique: false, columns: 'occurred_at' },
];

export const partitionIndexNames = (hour: number): string[] =>
  INDEXES.map((i) => `${partitionTable(hour)}_${i.suffix}`);

/**
 * The DDL of one hour's table and of its indexes (idempotent statements), for either database.
 * Text, not builders, so that bulk fills (bench/) create partitions exactly as ingest does.
 */
export function partitionDdl(hour: number, postgres: boolean): { table: string; indexes: string[] } {
  const name = partitionTable(hour);
  const id = postgres ? `id bigint primary key default nextval('door_event_ids')` : 'id integer primary key';
  const table = `create table if not exists ${name} (
      ${id},
      source_id text not null references door_event_sources (id),
      source_event_id text not null,
      occurred_at bigint not null,
      received_at bigint not null,
      door_id text not null references doors (id),
      tag_code text not null,
      result text not null,
      raw_payload text,
      check (occurred_at >= ${partitionStart(hour)} and occurred_at < ${partitionEnd(hour)})
    )`;
  const indexes = INDEXES.map(
    (i) => `create ${i.unique ? 'unique ' : ''}index if not exists ${name}_${i.suffix} on ${name} (${i.columns})`,
  );
  return { table, indexes };
}

/** Creates one hour's table and indexes (idempotent). */
export async function createPartitionTable(db: Executor, hour: number): Promise<void> {
  const ddl = partitionDdl(hour, isPostgres(db));
  for (const statement of [ddl.table, ...ddl.indexes]) await sql.raw(statement).execute(db);
}

/** How many door events are stored (all live partitions). */
export async function countDoorEvents(db: Executor): Promise<number> {
  let total = 0;
  for (const hour of await livePartitions(db)) {
    const row = await db
      .selectFrom(eventTable(hour))
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    total += Number(row.n);
  }
  return total;
}

/**
 * Makes sure the partitions of these hours exist, inside the caller's transaction. The catalog row
 * is the claim: whoever inserts it creates the table, so concurrent ingest on PostgreSQL does not
 * race two CREATE TABLEs (the second insert waits for the first transaction and then conflicts).
 */
export async function ensurePartitions(db: Executor, hours: Iterable<number>, now: number): Promise<void> {
  for (const hour of hours) {
    const claimed = await db
      .insertInto('door_event_partitions')
      .values({ hour, state: 'live', created_at: now })
      .onConflict((oc) => oc.column('hour').doNothing())
      .executeTakeFirst();
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0) > 0) await createPartitionTable(db, hour);
  }
}

/** Live partitions whose hour overlaps [from, to] (both optional), ascending. */
export async function livePartitions(db: Executor, window: { from?: number; to?: number } = {}): Promise<number[]> {
  let query = db.selectFrom('door_event_partitions').select('hour').where('state', '=', 'live');
  if (window.from !== undefined) query = query.where('hour', '>=', partitionOf(window.from));
  if (window.to !== undefined) query = query.where('hour', '<=', partitionOf(window.to));
  return (await query.orderBy('hour').execute()).map((r) => Number(r.hour));
}

/** Partitions that retention marked and has not finished dropping (a crash came between). */
export async function erasingPartitions(db: Executor): Promise<{ hour: number; countedToId: number }[]> {
  const rows = await db
    .selectFrom('door_event_partitions')
    .select(['hour', 'counted_to_id'])
    .where('state', '=', 'erasing')
    .orderBy('hour')
    .execute();
  return rows.map((r) => ({ hour: Number(r.hour), countedToId: Number(r.counted_to_id ?? 0) }));
}

/**
 * Marks a live partition for dropping, remembering up to which row id its erasure record counted;
 * false when it is not (or no longer) live.
 */
export async function markErasing(trx: Executor, hour: number, countedToId: number): Promise<boolean> {
  const result = await trx
    .updateTable('door_event_partitions')
    .set({ state: 'erasing', counted_to_id: countedToId })
    .where('hour', '=', hour)
    .where('state', '=', 'live')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Highest row id in a partition (0 when empty): rows inserted later have higher ids. */
export async function highestId(db: Executor, hour: number): Promise<number> {
  const row = await db
    .selectFrom(eventTable(hour))
    .select((eb) => eb.fn.max<number | null>('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** Drops one index of a marked partition (each its own short transaction). */
export async function dropPartitionIndex(db: Executor, name: string): Promise<void> {
  await sql`drop index if exists ${sql.id(name)}`.execute(db);
}

/**
 * PostgreSQL: takes a marked partition's lock before counting its last rows, so no insert can land
 * between that count and the drop. (SQLite's write transaction already excludes every other writer.)
 */
export async function lockPartition(trx: Executor, hour: number): Promise<void> {
  if (isPostgres(trx)) await sql`lock table ${sql.table(partitionTable(hour))} in access exclusive mode`.execute(trx);
}

/** Drops a marked partition's table and its catalog row. */
export async function dropPartitionTable(trx: Executor, hour: number): Promise<void> {
  await sql`drop table if exists ${sql.table(partitionTable(hour))}`.execute(trx);
  await trx.deleteFrom('door_event_partitions').where('hour', '=', hour).execute();
}

/** Removes an empty live partition's table and catalog row (no erasure record: nothing was in it). */
export async function dropIfEmpty(trx: Executor, hour: number): Promise<boolean> {
  const any = await trx.selectFrom(eventTable(hour)).select('id').limit(1).executeTakeFirst();
  if (any) return false;
  await dropPartitionTable(trx, hour);
  return true;
}

/** Every stored door event, for tests and tools: the union of the live partitions, in time order. */
export async function allDoorEvents(db: Executor) {
  const rows = [];
  for (const hour of await livePartitions(db)) {
    rows.push(...(await db.selectFrom(eventTable(hour)).selectAll().orderBy('occurred_at').orderBy('id').execute()));
  }
  return rows;
}
