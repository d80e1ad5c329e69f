/**
 * The only sweeper module that touches Kysely. Erasure works on time ranges over the time
 * indexes (`segments_start`, `door_events_time`, `exports_created`), with the active holds
 * compiled into the WHERE clause, so a batch is one bounded statement.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { isPostgres } from '../db/database.js';
import type { AlarmRow, Database, ErasureRecordRow } from '../db/schema.js';
import type { HoldScope } from '../holds/holds.rules.js';
import { newId } from '../lib/ids.js';
import type { ErasureTally } from './retention.rules.js';
import { eventTable, livePartitions } from '../door-events/partitions.repository.js';

export type Executor = Kysely<Database>;

// --- held predicates --------------------------------------------------------------------------

/** Matches the segments a hold covers (same rule as holds.rules segmentHeldBy). */
function segmentHeldSql(
  eb: ExpressionBuilder<Database, 'segments'>,
  holds: readonly HoldScope[],
): Expression<SqlBool> | null {
  const parts = holds
    .filter((h) => h.cameraIds.length > 0)
    .map((h) =>
      eb.and([eb('camera_id', 'in', [...h.cameraIds]), eb('start_at', '<', h.to), eb('end_at', '>=', h.from)]),
    );
  return parts.length ? eb.or(parts) : null;
}

/** Matches the door events a hold covers (same rule as holds.rules eventHeldBy). */
function eventHeldSql(
  eb: ExpressionBuilder<Database, 'door_events'>,
  holds: readonly HoldScope[],
): Expression<SqlBool> | null {
  const parts = holds
    .filter((h) => h.doorIds.length > 0 || h.tags.length > 0)
    .map((h) => {
      const who = [
        ...(h.doorIds.length ? [eb('door_id', 'in', [...h.doorIds])] : []),
        ...(h.tags.length ? [eb('tag_code', 'in', [...h.tags])] : []),
      ];
      return eb.and([eb('occurred_at', '>=', h.from), eb('occurred_at', '<', h.to), eb.or(who)]);
    });
  return parts.length ? eb.or(parts) : null;
}

// --- footage segments -------------------------------------------------------------------------

export interface SegmentItem {
  id: string;
  cameraId: string;
  file: string;
  bytes: number;
  startAt: number;
  endAt: number;
}

const segmentItem = (r: {
  id: string;
  camera_id: string;
  file: string;
  bytes: number | string;
  start_at: number | string;
  end_at: number | string;
}): SegmentItem => ({
  id: r.id,
  cameraId: r.camera_id,
  file: r.file,
  bytes: Number(r.bytes),
  startAt: Number(r.start_at),
  endAt: Number(r.end_at),
});

/**
 * The start time `offset` rows into [from, before) in start order, or null when fewer rows
 * remain: the upper bound of the next batch. A read outside the write transaction.
 */
export async function segmentBoundary(
  db: Executor,
  from: number,
  before: number,
  offset: number,
): Promise<number | null> {
  const row = await db
    .selectFrom('segments')
    .select('start_at')
    .where('start_at', '>=', from)
    .where('start_at', '<', before)
    .orderBy('start_at')
    .limit(1)
    .offset(offset)
    .executeTakeFirst();
  return row ? Number(row.start_at) : null;
}

/** Marks the unheld, unmarked segments starting in [from, to) for erasure and returns them. */
export async function markSegments(
  trx: Executor,
  range: { from: number; to: number; now: number; holds: readonly HoldScope[] },
): Promise<SegmentItem[]> {
  const rows = await trx
    .updateTable('segments')
    .set({ erasing_at: range.now })
    .where((eb) => {
      const held = segmentHeldSql(
        eb,
        range.holds.filter((h) => h.to > range.from),
      );
      const base = [eb('start_at', '>=', range.from), eb('start_at', '<', range.to), eb('erasing_at', 'is', null)];
      return eb.and(held ? [...base, eb.not(held)] : base);
    })
    .returning(['id', 'camera_id', 'file', 'bytes', 'start_at', 'end_at'])
    .execute();
  return rows.map(segmentItem);
}

/** The oldest unheld, unmarked segments of all cameras (disk pressure), at most `limit`. */
export async function oldestUnheldSegments(
  db: Executor,
  holds: readonly HoldScope[],
  limit: number,
): Promise<SegmentItem[]> {
  const rows = await db
    .selectFrom('segments')
    .select(['id', 'camera_id', 'file', 'bytes', 'start_at', 'end_at'])
    .where((eb) => {
      const held = segmentHeldSql(eb, holds);
      return held ? eb.and([eb('erasing_at', 'is', null), eb.not(held)]) : eb('erasing_at', 'is', null);
    })
    .orderBy('start_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(segmentItem);
}

/** Marks the given segments for erasure, unless marked already or held by `holds` (read under the lock). */
export async function markSegmentIds(
  trx: Executor,
  ids: readonly string[],
  now: number,
  holds: readonly HoldScope[],
): Promise<SegmentItem[]> {
  if (ids.length === 0) return [];
  const rows = await trx
    .updateTable('segments')
    .set({ erasing_at: now })
    .where((eb) => {
      const held = segmentHeldSql(eb, holds);
      const base = [eb('id', 'in', [...ids]), eb('erasing_at', 'is', null)];
      return eb.and(held ? [...base, eb.not(held)] : base);
    })
    .returning(['id', 'camera_id', 'file', 'bytes', 'start_at', 'end_at'])
    .execute();
  return rows.map(segmentItem);
}

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** Deletes marked rows whose files are gone. Only marked rows: an unmarked row may have a file. */
export async function deleteMarkedSegments(trx: Executor, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  for (const part of chunks(ids, 900)) {
    const result = await trx
      .deleteFrom('segments')
      .where('id', 'in', part)
      .where('erasing_at', 'is not', null)
      .executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

/** Rows left marked by an interrupted erasure (start-up reconciliation). */
export async function markedSegments(db: Executor, limit: number): Promise<SegmentItem[]> {
  const rows = await db
    .selectFrom('segments')
    .select(['id', 'camera_id', 'file', 'bytes', 'start_at', 'end_at'])
    .where('erasing_at', 'is not', null)
    .limit(limit)
    .execute();
  return rows.map(segmentItem);
}

/** The oldest unheld, unmarked segment starting before `before`, if any. */
export async function oldestUnheldSegment(
  db: Executor,
  before: number,
  holds: readonly HoldScope[],
): Promise<{ cameraId: string; startAt: number } | undefined> {
  const row = await db
    .selectFrom('segments')
    .select(['camera_id', 'start_at'])
    .where((eb) => {
      const held = segmentHeldSql(eb, holds);
      const base = [eb('start_at', '<', before), eb('erasing_at', 'is', null)];
      return eb.and(held ? [...base, eb.not(held)] : base);
    })
    .orderBy('start_at')
    .limit(1)
    .executeTakeFirst();
  return row ? { cameraId: row.camera_id, startAt: Number(row.start_at) } : undefined;
}

export interface GroupCount {
  targetId: string;
  count: number;
  bytes: number;
  from: number;
  to: number;
}

/** Per camera: unmarked segments starting before `before`, held or not (dry runs, impact). */
export async function segmentCounts(
  db: Executor,
  before: number,
  holds: readonly HoldScope[],
  held: boolean,
): Promise<GroupCount[]> {
  const rows = await db
    .selectFrom('segments')
    .select((eb) => [
      'camera_id as targetId',
      eb.fn.countAll<number>().as('count'),
      eb.fn.sum<number>('bytes').as('bytes'),
      eb.fn.min<number>('start_at').as('from'),
      eb.fn.max<number>('end_at').as('to'),
    ])
    .where((eb) => {
      const predicate = segmentHeldSql(eb, holds);
      const base = [eb('start_at', '<', before), eb('erasing_at', 'is', null)];
      if (held) return predicate ? eb.and([...base, predicate]) : eb.lit(false);
      return eb.and(predicate ? [...base, eb.not(predicate)] : base);
    })
    .groupBy('camera_id')
    .execute();
  return rows.map(groupCount);
}

const groupCount = (r: {
  targetId: string;
  count: number | string;
  bytes: number | string | null;
  from: number | string;
  to: number | string;
}): GroupCount => ({
  targetId: r.targetId,
  count: Number(r.count),
  bytes: Number(r.bytes ?? 0),
  from: Number(r.from),
  to: Number(r.to),
});

/** The cameras that record (disk pressure stops them all when only held footage is left). */
export async function activeCameraIds(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('cameras').select('id').where('status', '=', 'active').execute();
  return rows.map((r) => r.id);
}

// --- door events (hourly partitions, src/door-events/partitions.ts) -----------------------------

/** The `offset`-th event time in [from, before) of one hour's partition, ascending. */
export async function eventBoundary(
  db: Executor,
  hour: number,
  from: number,
  before: number,
  offset: number,
): Promise<number | null> {
  const row = await db
    .selectFrom(eventTable(hour))
    .select('occurred_at')
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', before)
    .orderBy('occurred_at')
    .limit(1)
    .offset(offset)
    .executeTakeFirst();
  return row ? Number(row.occurred_at) : null;
}

/**
 * Deletes the unheld door events in [from, to) of one hour's partition with one set-based
 * statement (the raw payload goes with its row, M 6.7) and returns per door what was erased, for
 * the erasure record. No row travels to the application: PostgreSQL aggregates the DELETE's
 * RETURNING on the server; SQLite counts first in the same write transaction (a single writer,
 * so nothing can slip in). Used where a hold keeps the hour from being dropped whole, and for the
 * hour that retention's cut-off falls in.
 */
export async function eraseEventRange(
  trx: Executor,
  hour: number,
  range: { from: number; to: number; holds: readonly HoldScope[] },
): Promise<ErasureTally[]> {
  const table = eventTable(hour);
  const holds = range.holds.filter((h) => h.to > range.from && h.from < range.to);
  const unheld = (eb: ExpressionBuilder<Database, 'door_events'>) => {
    const held = eventHeldSql(eb, holds);
    const base = [eb('occurred_at', '>=', range.from), eb('occurred_at', '<', range.to)];
    return eb.and(held ? [...base, eb.not(held)] : base);
  };
  let rows: GroupCount[];
  if (isPostgres(trx)) {
    const gone = trx
      .deleteFrom(table)
      .where(unheld)
      .returning((eb) => [
        'door_id',
        'occurred_at',
        eb.fn.coalesce(eb.fn<number>('length', ['raw_payload']), eb.lit(0)).as('payload'),
      ]);
    const result = await trx
      .with('gone', () => gone)
      .selectFrom('gone')
      .select((eb) => [
        'door_id as targetId',
        eb.fn.countAll<number>().as('count'),
        eb.fn.sum<number>('payload').as('bytes'),
        eb.fn.min<number>('occurred_at').as('from'),
        eb.fn.max<number>('occurred_at').as('to'),
      ])
      .groupBy('door_id')
      .execute();
    rows = result.map(groupCount);
  } else {
    rows = (await eventGroups(trx, hour).where(unheld).execute()).map(groupCount);
    if (rows.length > 0) await trx.deleteFrom(table).where(unheld).execute();
  }
  return rows.map((r) => ({ targetType: 'door', ...r }));
}

/** Per door: count, payload bytes and time range of the selected door events of one hour. */
const eventGroups = (db: Executor, hour: number) =>
  db
    .selectFrom(eventTable(hour))
    .select((eb) => [
      'door_id as targetId',
      eb.fn.countAll<number>().as('count'),
      eb.fn.sum<number>(eb.fn.coalesce(eb.fn<number>('length', ['raw_payload']), eb.lit(0))).as('bytes'),
      eb.fn.min<number>('occurred_at').as('from'),
      eb.fn.max<number>('occurred_at').as('to'),
    ])
    .groupBy('door_id');

/**
 * Per door, what a whole hour's partition holds with row ids in (aboveId, toId]: the erasure
 * record of a dropped hour. Read before the drop's transactions (it reads every row, which must
 * not happen under the write lock); rows that arrive later are counted in the last one.
 */
export async function eventTallies(
  db: Executor,
  hour: number,
  ids: { above: number; to?: number },
): Promise<ErasureTally[]> {
  let query = eventGroups(db, hour).where('id', '>', ids.above);
  if (ids.to !== undefined) query = query.where('id', '<=', ids.to);
  return (await query.execute()).map((r) => ({ targetType: 'door', ...groupCount(r) }));
}

/** Adds per-door counts of several hours into one line per door. */
function mergeByDoor(groups: GroupCount[]): GroupCount[] {
  const byDoor = new Map<string, GroupCount>();
  for (const g of groups) {
    const seen = byDoor.get(g.targetId);
    byDoor.set(
      g.targetId,
      seen
        ? {
            targetId: g.targetId,
            count: seen.count + g.count,
            bytes: seen.bytes + g.bytes,
            from: Math.min(seen.from, g.from),
            to: Math.max(seen.to, g.to),
          }
        : g,
    );
  }
  return [...byDoor.values()];
}

export async function oldestUnheldEvent(
  db: Executor,
  before: number,
  holds: readonly HoldScope[],
): Promise<{ doorId: string; occurredAt: number } | undefined> {
  for (const hour of await livePartitions(db, { to: before })) {
    const row = await db
      .selectFrom(eventTable(hour))
      .select(['door_id', 'occurred_at'])
      .where((eb) => {
        const held = eventHeldSql(eb, holds);
        return held ? eb.and([eb('occurred_at', '<', before), eb.not(held)]) : eb('occurred_at', '<', before);
      })
      .orderBy('occurred_at')
      .limit(1)
      .executeTakeFirst();
    if (row) return { doorId: row.door_id, occurredAt: Number(row.occurred_at) };
  }
  return undefined;
}

export async function eventCounts(
  db: Executor,
  before: number,
  holds: readonly HoldScope[],
  held: boolean,
): Promise<GroupCount[]> {
  const groups: GroupCount[] = [];
  for (const hour of await livePartitions(db, { to: before })) {
    const rows = await eventGroups(db, hour)
      .where((eb) => {
        const predicate = eventHeldSql(eb, holds);
        const base = eb('occurred_at', '<', before);
        if (held) return predicate ? eb.and([base, predicate]) : eb.lit(false);
        return predicate ? eb.and([base, eb.not(predicate)]) : base;
      })
      .execute();
    groups.push(...rows.map(groupCount));
  }
  return mergeByDoor(groups);
}

export async function anyDoorEvents(db: Executor): Promise<boolean> {
  for (const hour of await livePartitions(db)) {
    if (await db.selectFrom(eventTable(hour)).select('id').limit(1).executeTakeFirst()) return true;
  }
  return false;
}

// --- exports ------------------------------------------------------------------------------------

export interface ExportItem {
  id: string;
  directory: string;
  bytes: number;
  createdAt: number;
  cameraIds: string[];
  from: number;
  to: number;
  incidentId: string | null;
}

/** Finished or failed exports created before `before` and not yet marked (a running one is still written). */
export async function dueExports(db: Executor, before: number, limit: number): Promise<ExportItem[]> {
  const rows = await db
    .selectFrom('exports')
    .select(['id', 'directory', 'bytes', 'created_at', 'camera_ids', 'window_from', 'window_to', 'incident_id'])
    .where('created_at', '<', before)
    .where('erasing_at', 'is', null)
    .where('status', '!=', 'running')
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map(exportItem);
}

const exportItem = (r: {
  id: string;
  directory: string;
  bytes: number;
  created_at: number;
  camera_ids: string;
  window_from: number;
  window_to: number;
  incident_id: string | null;
}): ExportItem => ({
  id: r.id,
  directory: r.directory,
  bytes: Number(r.bytes),
  createdAt: Number(r.created_at),
  cameraIds: JSON.parse(r.camera_ids) as string[],
  from: Number(r.window_from),
  to: Number(r.window_to),
  incidentId: r.incident_id,
});

export async function markExports(trx: Executor, ids: readonly string[], now: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await trx
    .updateTable('exports')
    .set({ erasing_at: now })
    .where('id', 'in', [...ids])
    .where('erasing_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function markedExports(db: Executor): Promise<ExportItem[]> {
  const rows = await db
    .selectFrom('exports')
    .select(['id', 'directory', 'bytes', 'created_at', 'camera_ids', 'window_from', 'window_to', 'incident_id'])
    .where('erasing_at', 'is not', null)
    .execute();
  return rows.map(exportItem);
}

export async function deleteMarkedExport(trx: Executor, id: string): Promise<void> {
  await trx.deleteFrom('exports').where('id', '=', id).where('erasing_at', 'is not', null).execute();
}

// --- erasure records, runs ------------------------------------------------------------------------

/**
 * Adds a batch's tallies to the run's records (one per run, category, reason and target), in
 * the transaction that commits the erasure, so the record can never miss what was erased.
 */
export async function addErasures(
  trx: Executor,
  record: {
    runId: string;
    category: string;
    reason: string;
    policyId: string;
    retentionMs: number | null;
    now: number;
  },
  tallies: readonly ErasureTally[],
): Promise<void> {
  if (tallies.length === 0) return;
  await trx
    .insertInto('erasure_records')
    .values(
      tallies.map((t) => ({
        id: newId(),
        run_id: record.runId,
        category: record.category,
        reason: record.reason,
        target_type: t.targetType,
        target_id: t.targetId,
        from_at: t.from,
        to_at: t.to,
        count: t.count,
        bytes: t.bytes,
        policy_id: record.policyId,
        retention_ms: record.retentionMs,
        created_at: record.now,
        updated_at: record.now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['run_id', 'category', 'reason', 'target_id']).doUpdateSet({
        count: sql`erasure_records.count + excluded.count`,
        bytes: sql`erasure_records.bytes + excluded.bytes`,
        from_at: sql`case when excluded.from_at < erasure_records.from_at then excluded.from_at else erasure_records.from_at end`,
        to_at: sql`case when excluded.to_at > erasure_records.to_at then excluded.to_at else erasure_records.to_at end`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
}

export interface ErasureFilter {
  from?: number | undefined;
  to?: number | undefined;
  category?: string | undefined;
  runId?: string | undefined;
  limit?: number | undefined;
}

export function listErasures(db: Executor, filter: ErasureFilter): Promise<ErasureRecordRow[]> {
  let q = db.selectFrom('erasure_records').selectAll();
  if (filter.from !== undefined) q = q.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) q = q.where('created_at', '<', filter.to);
  if (filter.category) q = q.where('category', '=', filter.category);
  if (filter.runId) q = q.where('run_id', '=', filter.runId);
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(filter.limit ?? 500)
    .execute();
}

export async function startRun(db: Executor, run: { id: string; at: number; policyId: string }): Promise<void> {
  await db
    .insertInto('sweep_runs')
    .values({ id: run.id, started_at: run.at, finished_at: null, policy_id: run.policyId, summary: null, error: null })
    .execute();
}

export async function finishRun(
  db: Executor,
  id: string,
  at: number,
  summary: unknown,
  error: string | null,
): Promise<void> {
  await db
    .updateTable('sweep_runs')
    .set({ finished_at: at, summary: JSON.stringify(summary), error })
    .where('id', '=', id)
    .execute();
}

export function lastRuns(db: Executor, limit: number) {
  return db.selectFrom('sweep_runs').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
}

// --- alarms -------------------------------------------------------------------------------------

export interface AlarmInput {
  key: string;
  kind: string;
  severity: 'error' | 'warning';
  complexId: string | null;
  targetType: string | null;
  targetId: string | null;
  message: string;
  messageNl: string;
  details: Record<string, unknown>;
}

/** Raises an alarm, or refreshes the open one with the same key. Returns true when it is new. */
export async function raiseAlarm(db: Executor, alarm: AlarmInput, now: number): Promise<boolean> {
  const updated = await db
    .updateTable('alarms')
    .set({
      last_seen_at: now,
      message: alarm.message,
      message_nl: alarm.messageNl,
      details: JSON.stringify(alarm.details),
    })
    .where('key', '=', alarm.key)
    .where('cleared_at', 'is', null)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) > 0) return false;
  await db
    .insertInto('alarms')
    .values({
      id: newId(),
      key: alarm.key,
      kind: alarm.kind,
      severity: alarm.severity,
      complex_id: alarm.complexId,
      target_type: alarm.targetType,
      target_id: alarm.targetId,
      message: alarm.message,
      message_nl: alarm.messageNl,
      details: JSON.stringify(alarm.details),
      raised_at: now,
      last_seen_at: now,
      cleared_at: null,
      acknowledged_at: null,
      acknowledged_by: null,
    })
    .execute();
  return true;
}

/** The condition is gone. The alarm stays listed until someone acknowledges it. */
export async function clearAlarm(db: Executor, key: string, now: number): Promise<void> {
  await db
    .updateTable('alarms')
    .set({ cleared_at: now })
    .where('key', '=', key)
    .where('cleared_at', 'is', null)
    .execute();
}

export function listAlarms(
  db: Executor,
  filter: { unacknowledged?: boolean; kind?: string; limit?: number },
): Promise<AlarmRow[]> {
  let q = db.selectFrom('alarms').selectAll();
  if (filter.unacknowledged) q = q.where('acknowledged_at', 'is', null);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  return q
    .orderBy('raised_at', 'desc')
    .orderBy('id')
    .limit(filter.limit ?? 500)
    .execute();
}

export function findAlarm(db: Executor, id: string): Promise<AlarmRow | undefined> {
  return db.selectFrom('alarms').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function acknowledgeAlarm(db: Executor, id: string, by: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('alarms')
    .set({ acknowledged_at: now, acknowledged_by: by })
    .where('id', '=', id)
    .where('acknowledged_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
