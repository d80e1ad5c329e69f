/**
 * The only door-event module that touches Kysely: sources, API keys, events and rejection
 * counts. Rows become records here (JSON text parsed, epoch-ms columns as numbers).
 * Functions take an executor so the service runs them inside its own transaction.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { CsvMappingValue, EventResult, SourceKind } from './door-events.rules.js';

export type Executor = Kysely<Database>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** Rows per multi-row insert: 9 columns x 500 stays far below SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 500;
/** Values per `in (...)` list. */
const IN_CHUNK = 500;

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

export interface NewEvent {
  id: string;
  sourceId: string;
  sourceEventId: string;
  occurredAt: number;
  receivedAt: number;
  doorId: string;
  tagCode: string;
  result: EventResult;
  rawPayload: string | null;
}

/**
 * Multi-row inserts that skip events already stored for (source, source event id).
 * Returns how many rows were actually inserted.
 */
export async function insertEvents(db: Executor, events: NewEvent[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const rows = events.slice(i, i + INSERT_CHUNK).map((e) => ({
      id: e.id,
      source_id: e.sourceId,
      source_event_id: e.sourceEventId,
      occurred_at: e.occurredAt,
      received_at: e.receivedAt,
      door_id: e.doorId,
      tag_code: e.tagCode,
      result: e.result,
      raw_payload: e.rawPayload,
    }));
    const result = await db
      .insertInto('door_events')
      .values(rows)
      .onConflict((oc) => oc.columns(['source_id', 'source_event_id']).doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
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
