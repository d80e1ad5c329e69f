/**
 * The only door-event module that touches Kysely: sources, API keys, events and rejection
 * counts. Rows become records here (JSON text parsed, epoch-ms columns as numbers).
 * Functions take an executor so the service runs them inside its own transaction.
 */
import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { groupByPartition, partitionTable } from './partitions.js';
import { ensurePartitions } from './partitions.repository.js';
import type { CsvMappingValue, EventResult, SourceKind } from './door-events.rules.js';

export type Executor = Kysely<Database>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** Events per insert statement (one parameter per column, or one JSON text, whatever the size). */
const INSERT_CHUNK = 5000;
/** Values per `in (...)` list. */
const IN_CHUNK = 500;

/** Which SQL a statement needs where the two databases differ (bulk insert only). */
const isSqlite = (db: Executor): boolean => !isPostgres(db);

// --- sources ----------------------------------------------------------------------------------

export interface SourceCounters {
  received: number;
  accepted: number;
  rejected: number;
  late: number;
  duplicate: number;
}

export interface SourceRecord {
  id: string;
  name: string;
  kind: SourceKind;
  csvMapping: CsvMappingValue | null;
  doorScope: string[];
  counters: SourceCounters;
  createdAt: number;
  updatedAt: number;
}

type SourceRow = Database['door_event_sources'];

function toSource(row: SourceRow): SourceRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as SourceKind,
    csvMapping: row.csv_mapping === null ? null : (JSON.parse(row.csv_mapping) as CsvMappingValue),
    doorScope: JSON.parse(row.door_scope) as string[],
    counters: {
      received: num(row.received),
      accepted: num(row.accepted),
      rejected: num(row.rejected),
      late: num(row.late),
      duplicate: num(row.duplicate),
    },
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export async function insertSource(db: Executor, record: SourceRecord): Promise<void> {
  await db
    .insertInto('door_event_sources')
    .values({
      id: record.id,
      name: record.name,
      kind: record.kind,
      csv_mapping: record.csvMapping === null ? null : JSON.stringify(record.csvMapping),
      door_scope: JSON.stringify(record.doorScope),
      received: 0,
      accepted: 0,
      rejected: 0,
      late: 0,
      duplicate: 0,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    })
    .execute();
}

export async function updateSource(db: Executor, record: SourceRecord): Promise<void> {
  await db
    .updateTable('door_event_sources')
    .set({
      name: record.name,
      csv_mapping: record.csvMapping === null ? null : JSON.stringify(record.csvMapping),
      door_scope: JSON.stringify(record.doorScope),
      updated_at: record.updatedAt,
    })
    .where('id', '=', record.id)
    .execute();
}

export async function findSource(db: Executor, id: string): Promise<SourceRecord | null> {
  const row = await db.selectFrom('door_event_sources').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toSource(row) : null;
}

export async function findSourceByName(db: Executor, name: string): Promise<SourceRecord | null> {
  const row = await db.selectFrom('door_event_sources').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toSource(row) : null;
}

export async function listSources(db: Executor): Promise<SourceRecord[]> {
  const rows = await db.selectFrom('door_event_sources').selectAll().orderBy('name').orderBy('id').execute();
  return rows.map(toSource);
}

/** Adds a batch's counts to the source's counters (this also serialises batches of one source). */
export async function addToCounters(db: Executor, id: string, add: SourceCounters, now: number): Promise<void> {
  await db
    .updateTable('door_event_sources')
    .set({
      received: sql<number>`received + ${add.received}`,
      accepted: sql<number>`accepted + ${add.accepted}`,
      rejected: sql<number>`rejected + ${add.rejected}`,
      late: sql<number>`late + ${add.late}`,
      duplicate: sql<number>`duplicate + ${add.duplicate}`,
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

// --- doors ------------------------------------------------------------------------------------

/** Door ids by code, for the given codes (unknown codes are absent). */
export async function doorIdsByCode(db: Executor, codes: string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (let i = 0; i < codes.length; i += IN_CHUNK) {
    const rows = await db
      .selectFrom('doors')
      .select(['id', 'code'])
      .where('code', 'in', codes.slice(i, i + IN_CHUNK))
      .execute();
    for (const row of rows) result.set(row.code, row.id);
  }
  return result;
}

/** Which of the given door ids exist. */
export async function existingDoorIds(db: Executor, ids: string[]): Promise<Set<string>> {
  const result = new Set<string>();
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const rows = await db
      .selectFrom('doors')
      .select('id')
      .where('id', 'in', ids.slice(i, i + IN_CHUNK))
      .execute();
    for (const row of rows) result.add(row.id);
  }
  return result;
}

// --- API keys ---------------------------------------------------------------------------------

export interface ApiKeyRecord {
  id: string;
  sourceId: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

export async function insertApiKey(db: Executor, record: ApiKeyRecord, keyHash: string): Promise<void> {
  await db
    .insertInto('door_event_api_keys')
    .values({
      id: record.id,
      source_id: record.sourceId,
      key_hash: keyHash,
      prefix: record.prefix,
      created_at: record.createdAt,
      revoked_at: record.revokedAt,
    })
    .execute();
}

const toKey = (row: Database['door_event_api_keys']): ApiKeyRecord => ({
  id: row.id,
  sourceId: row.source_id,
  prefix: row.prefix,
  createdAt: num(row.created_at),
  revokedAt: numOrNull(row.revoked_at),
});

export async function findApiKeyByHash(db: Executor, keyHash: string): Promise<ApiKeyRecord | null> {
  const row = await db.selectFrom('door_event_api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  return row ? toKey(row) : null;
}

export async function findApiKey(db: Executor, sourceId: string, id: string): Promise<ApiKeyRecord | null> {
  const row = await db
    .selectFrom('door_event_api_keys')
    .selectAll()
    .where('id', '=', id)
    .where('source_id', '=', sourceId)
    .executeTakeFirst();
  return row ? toKey(row) : null;
}

export async function listApiKeys(db: Executor, sourceId: string): Promise<ApiKeyRecord[]> {
  const rows = await db
    .selectFrom('door_event_api_keys')
    .selectAll()
    .where('source_id', '=', sourceId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toKey);
}

export async function revokeApiKey(db: Executor, id: string, now: number): Promise<void> {
  await db.updateTable('door_event_api_keys').set({ revoked_at: now }).where('id', '=', id).execute();
}

// --- events -----------------------------------------------------------------------------------

/** One event of a batch; the source and the time of arrival are the batch's. */
export interface NewEvent {
  sourceEventId: string;
  occurredAt: number;
  doorId: string;
  tagCode: string;
  result: EventResult;
  rawPayload: string | null;
}

/**
 * The whole chunk travels in one short statement whose text never changes, instead of a
 * multi-row `values` list of 500 x 9 parameters that Kysely compiles and SQLite prepares anew
 * for every chunk. SQLite unpacks one JSON array of rows with jsonb_each: the text is converted
 * to SQLite's binary JSON once, and the six `->>` per row then read binary values; json_each
 * gave each row's text to `->>` to parse again (about 2 µs of CPU per event more, so that the
 * insert cost more than a bare prepared-statement loop; with jsonb_each it costs less).
 * PostgreSQL unnests one array per column. The id is assigned by the database in arrival order
 * (0007_door_events_keys).
 */
function insertChunk(db: Executor, table: string, sourceId: string, receivedAt: number, events: NewEvent[]) {
  const into = sql.table(table);
  if (isSqlite(db)) {
    const rows = JSON.stringify(
      events.map((e) => [e.sourceEventId, e.occurredAt, e.doorId, e.tagCode, e.result, e.rawPayload]),
    );
    // `where true` tells SQLite's parser that `on conflict` belongs to the insert (upsert), not to a join.
    return sql`insert into ${into}
        (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
      select ${sourceId}, value ->> 0, value ->> 1, ${receivedAt}, value ->> 2, value ->> 3, value ->> 4, value ->> 5
      from jsonb_each(${rows}) where true
      on conflict (source_id, source_event_id) do nothing`.execute(db);
  }
  return sql`insert into ${into}
      (source_id, source_event_id, occurred_at, received_at, door_id, tag_code, result, raw_payload)
    select ${sourceId}, u.sid, u.occ, ${receivedAt}, u.door, u.tag, u.res, u.raw
    from unnest(${events.map((e) => e.sourceEventId)}::text[], ${events.map((e) => e.occurredAt)}::bigint[],
                ${events.map((e) => e.doorId)}::text[], ${events.map((e) => e.tagCode)}::text[],
                ${events.map((e) => e.result)}::text[], ${events.map((e) => e.rawPayload)}::text[])
      as u(sid, occ, door, tag, res, raw)
    on conflict (source_id, source_event_id) do nothing`.execute(db);
}

/**
 * Inserts a batch of one source into the partitions of the hours its events occurred in (creating
 * them as needed, in the caller's transaction), skipping events already stored for (source,
 * source event id) in that hour. Returns how many rows were actually inserted.
 */
export async function insertEvents(
  db: Executor,
  sourceId: string,
  receivedAt: number,
  events: NewEvent[],
): Promise<number> {
  const byHour = groupByPartition(events);
  await ensurePartitions(db, byHour.keys(), receivedAt);
  let inserted = 0;
  for (const [hour, inHour] of byHour) {
    for (let i = 0; i < inHour.length; i += INSERT_CHUNK) {
      const chunk = inHour.slice(i, i + INSERT_CHUNK);
      const result = await insertChunk(db, partitionTable(hour), sourceId, receivedAt, chunk);
      inserted += Number(result.numAffectedRows ?? 0);
    }
  }
  return inserted;
}

// --- rejections -------------------------------------------------------------------------------

export interface RejectionCount {
  reason: string;
  count: number;
  lastSeenAt: number;
}

export async function addRejections(db: Executor, sourceId: string, counts: Map<string, number>, now: number) {
  for (const [reason, count] of counts) {
    await db
      .insertInto('door_event_rejections')
      .values({ source_id: sourceId, reason, count, last_seen_at: now })
      .onConflict((oc) =>
        oc.columns(['source_id', 'reason']).doUpdateSet({
          count: sql<number>`door_event_rejections.count + ${count}`,
          last_seen_at: now,
        }),
      )
      .execute();
  }
}

export async function listRejections(db: Executor, sourceId: string): Promise<RejectionCount[]> {
  const rows = await db
    .selectFrom('door_event_rejections')
    .select(['reason', 'count', 'last_seen_at'])
    .where('source_id', '=', sourceId)
    .orderBy('reason')
    .execute();
  return rows.map((r) => ({ reason: r.reason, count: num(r.count), lastSeenAt: num(r.last_seen_at) }));
}
