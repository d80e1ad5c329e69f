/**
 * The only recording module that touches Kysely: the segment index, camera health, the
 * maintenance log (W 6.6) and defects. Rows become records with numbers for epoch-ms columns.
 * Playback, export and the retention sweeper read segments through these functions too.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type SqliteDatabase from 'better-sqlite3';
import { isPostgres, sqliteHandle } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { BUCKET_MS, bucketOf, MAX_BUCKETS_PER_LISTING, segmentCacheFor } from './segment-cache.js';

export type Executor = Kysely<Database> | Transaction<Database>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  return typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT') && String(e.message).includes('UNIQUE');
}

// --- segments --------------------------------------------------------------------------------

export interface SegmentRecord {
  id: string;
  cameraId: string;
  /** Relative to the recordings directory: `<cameraId>/<runStamp>-<index>.ts`. */
  file: string;
  /** UTC epoch ms, inclusive. */
  startAt: number;
  /** UTC epoch ms, exclusive. */
  endAt: number;
  bytes: number;
  sha256: string;
  createdAt: number;
  /** Set while the sweeper erases the file (mark, unlink, delete the row). */
  erasingAt: number | null;
}

type SegmentRow = {
  id: string;
  camera_id: string;
  file: string;
  start_at: number;
  end_at: number;
  bytes: number;
  sha256: string;
  created_at: number;
  erasing_at: number | null;
};

const segmentRecord = (r: SegmentRow): SegmentRecord => ({
  id: r.id,
  cameraId: r.camera_id,
  file: r.file,
  startAt: num(r.start_at),
  endAt: num(r.end_at),
  bytes: num(r.bytes),
  sha256: r.sha256,
  createdAt: num(r.created_at),
  erasingAt: numOrNull(r.erasing_at),
});

/** The `segments` row of a record (snake_case columns). */
export function segmentRow(r: SegmentRecord) {
  return {
    id: r.id,
    camera_id: r.cameraId,
    file: r.file,
    start_at: r.startAt,
    end_at: r.endAt,
    bytes: r.bytes,
    sha256: r.sha256,
    created_at: r.createdAt,
    erasing_at: r.erasingAt,
  };
}

export async function insertSegment(db: Executor, r: SegmentRecord): Promise<void> {
  await db.insertInto('segments').values(segmentRow(r)).execute();
}

const segmentInsertStatements = new WeakMap<SqliteDatabase.Database, SqliteDatabase.Statement>();

/**
 * Inserts the rows of several sealed segments in one transaction; per record, true when it was
 * inserted, false when a row for its file already exists. The recorder writes every camera's
 * segments this way: cameras close segments at about the same moment, and a transaction per
 * row (Kysely compiling and SQLite preparing each) was a good part of its own CPU (issue 4).
 * On SQLite the statement is prepared once per connection, and run inside the transaction,
 * which holds the connection.
 */
export async function insertSegments(db: Kysely<Database>, records: readonly SegmentRecord[]): Promise<boolean[]> {
  if (records.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const handle = sqliteHandle(trx);
    if (handle) {
      let statement = segmentInsertStatements.get(handle);
      if (!statement) {
        statement = handle.prepare(
          'INSERT INTO segments (id, camera_id, file, start_at, end_at, bytes, sha256, created_at, erasing_at) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO NOTHING',
        );
        segmentInsertStatements.set(handle, statement);
      }
      const prepared = statement;
      return records.map(
        (r) =>
          prepared.run(r.id, r.cameraId, r.file, r.startAt, r.endAt, r.bytes, r.sha256, r.createdAt, r.erasingAt)
            .changes === 1,
      );
    }
    const inserted: boolean[] = [];
    for (const r of records) {
      const result = await trx
        .insertInto('segments')
        .values(segmentRow(r))
        .onConflict((oc) => oc.column('file').doNothing())
        .executeTakeFirst();
      inserted.push(Number(result.numInsertedOrUpdatedRows ?? 0) === 1);
    }
    return inserted;
  });
}

/**
 * The longest segment the index holds, so that "segments overlapping a window" walks the
 * (camera_id, start_at) index from `from - MAX_SEGMENT_MS` rather than from the camera's first
 * segment. The recorder cuts about every 10 s and restarts a camera silent for three segment
 * lengths, so no segment comes near this.
 */
export const MAX_SEGMENT_MS = 10 * 60_000;

/**
 * A camera's segments that overlap [from, to), ordered by start. Segments being erased are
 * left out: they are about to disappear and must not be served or exported.
 *
 * Served from memory where the hours of the window have not changed since they were read
 * (segment-cache.ts): one read of the hours' change counters (`segment_buckets`, kept by
 * triggers, so a sweep in another process is seen at once), then only the changed hours from
 * the index. Inside a transaction the rows are read directly, because that transaction may see
 * writes that are not committed. Records are frozen: they are shared between listings.
 */
export async function listSegments(db: Executor, cameraId: string, from: number, to: number): Promise<SegmentRecord[]> {
  if (!(to > from)) return [];
  const lower = from - MAX_SEGMENT_MS;
  const first = bucketOf(lower);
  const last = bucketOf(to - 1);
  if (db.isTransaction || last - first + 1 > MAX_BUCKETS_PER_LISTING) {
    return selectSegments(db, cameraId, lower, to, from);
  }
  const cache = segmentCacheFor(db);
  // Counters first, rows second: a change between the two reads only costs a reload later.
  const counters = await db
    .selectFrom('segment_buckets')
    .select(['bucket', 'version'])
    .where('camera_id', '=', cameraId)
    .where('bucket', '>=', first)
    .where('bucket', '<=', last)
    .orderBy('bucket')
    .execute();
  const hours = new Array<readonly SegmentRecord[] | undefined>(counters.length);
  let staleFrom = -1;
  let staleTo = -1;
  for (let i = 0; i < counters.length; i++) {
    const bucket = Number(counters[i]!.bucket);
    hours[i] = cache.get(cameraId, bucket, Number(counters[i]!.version));
    if (hours[i] === undefined) {
      if (staleFrom < 0) staleFrom = bucket;
      staleTo = bucket;
    }
  }
  if (staleFrom >= 0) {
    const BUCKET_END = Number.MIN_SAFE_INTEGER; // any end: every row that starts in the hours
    const rows = await selectSegments(db, cameraId, staleFrom * BUCKET_MS, (staleTo + 1) * BUCKET_MS, BUCKET_END);
    const byBucket = new Map<number, SegmentRecord[]>();
    for (const row of rows) {
      const bucket = bucketOf(row.startAt);
      const list = byBucket.get(bucket);
      if (list) list.push(row);
      else byBucket.set(bucket, [row]);
    }
    for (let i = 0; i < counters.length; i++) {
      if (hours[i] !== undefined) continue;
      const bucket = Number(counters[i]!.bucket);
      hours[i] = cache.set(cameraId, bucket, Number(counters[i]!.version), byBucket.get(bucket) ?? []);
    }
  }
  const segments: SegmentRecord[] = [];
  for (const hour of hours) {
    for (const s of hour!) if (s.startAt >= lower && s.startAt < to && s.endAt > from) segments.push(s);
  }
  return segments;
}

/**
 * Rows with `startFrom <= start_at < startTo` and `end_at > endAfter`, not being erased, by
 * start. One index range read on `segments_camera_start`; the database packs the rows into one
 * JSON text, because building thousands of row objects in the driver costs several times more
 * than parsing one JSON array (bench/recording-index.bench.ts).
 */
async function selectSegments(
  db: Executor,
  cameraId: string,
  startFrom: number,
  startTo: number,
  endAfter: number,
): Promise<SegmentRecord[]> {
  const query = isPostgres(db)
    ? sql<{
        list: string | null;
      }>`select json_agg(json_build_array(id, file, start_at, end_at, bytes, sha256, created_at) order by start_at)::text as list
        from segments where camera_id = ${cameraId} and start_at >= ${startFrom} and start_at < ${startTo} and end_at > ${endAfter} and erasing_at is null`
    : sql<{
        list: string | null;
      }>`select json_group_array(json_array(id, file, start_at, end_at, bytes, sha256, created_at)) as list
        from (select id, file, start_at, end_at, bytes, sha256, created_at from segments
              where camera_id = ${cameraId} and start_at >= ${startFrom} and start_at < ${startTo} and end_at > ${endAfter} and erasing_at is null
              order by start_at)`;
  const { rows } = await query.execute(db);
  const list = rows[0]?.list;
  if (!list) return [];
  const packed = JSON.parse(list) as [
    string,
    string,
    number | string,
    number | string,
    number | string,
    string,
    number | string,
  ][];
  const segments = packed.map(([id, file, startAt, endAt, bytes, sha256, createdAt]): SegmentRecord => ({
    id,
    cameraId,
    file,
    startAt: Number(startAt),
    endAt: Number(endAt),
    bytes: Number(bytes),
    sha256,
    createdAt: Number(createdAt),
    erasingAt: null,
  }));
  // SQLite does not promise that an aggregate sees the subquery's order; sorted input sorts in linear time.
  return segments.sort((a, b) => a.startAt - b.startAt);
}

/**
 * The newest `count` segments of a camera, oldest first (live view, health), optionally only
 * those that start in [window.from, window.to). Segments being erased are left out.
 */
export async function listLatestSegments(
  db: Executor,
  cameraId: string,
  count: number,
  window?: { from: number; to: number },
): Promise<SegmentRecord[]> {
  let query = db.selectFrom('segments').selectAll().where('camera_id', '=', cameraId).where('erasing_at', 'is', null);
  if (window) query = query.where('start_at', '>=', window.from).where('start_at', '<', window.to);
  const rows = await query.orderBy('start_at', 'desc').limit(count).execute();
  return rows.map(segmentRecord).reverse();
}

export async function latestSegment(db: Executor, cameraId: string): Promise<SegmentRecord | null> {
  const [latest] = await listLatestSegments(db, cameraId, 1);
  return latest ?? null;
}

/** One segment by its id; a segment being erased is already gone for readers (playback, frames). */
export async function findSegment(db: Executor, id: string): Promise<SegmentRecord | null> {
  const row = await db
    .selectFrom('segments')
    .selectAll()
    .where('id', '=', id)
    .where('erasing_at', 'is', null)
    .executeTakeFirst();
  return row ? segmentRecord(row) : null;
}

/** Every indexed file of a camera (`file` column), for reconciliation with the directory. */
export async function listSegmentFiles(
  db: Executor,
  cameraId: string,
): Promise<{ id: string; file: string; startAt: number; endAt: number }[]> {
  const rows = await db
    .selectFrom('segments')
    .select(['id', 'file', 'start_at', 'end_at'])
    .where('camera_id', '=', cameraId)
    .execute();
  return rows.map((r) => ({ id: r.id, file: r.file, startAt: num(r.start_at), endAt: num(r.end_at) }));
}

/** Cameras that have segment rows (a camera directory may be gone while rows remain). */
export async function listCamerasWithSegments(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('segments').select('camera_id').distinct().execute();
  return rows.map((r) => r.camera_id);
}

/** Rows marked by an erasure that did not finish (a crash between mark and delete). */
export async function listErasingSegments(db: Executor, limit = 1000): Promise<SegmentRecord[]> {
  const rows = await db
    .selectFrom('segments')
    .selectAll()
    .where('erasing_at', 'is not', null)
    .orderBy('erasing_at')
    .limit(limit)
    .execute();
  return rows.map(segmentRecord);
}

export async function deleteSegments(db: Executor, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  // Bounded IN lists: SQLite allows 32k parameters, PostgreSQL 65k; stay far below both.
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const result = await db.deleteFrom('segments').where('id', 'in', chunk).executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

// --- cameras, as the recorder sees them ------------------------------------------------------

export interface RecorderCamera {
  id: string;
  name: string;
  kind: string;
  status: string;
  hiddenEndDate: number | null;
  buildingId: string;
  complexId: string;
  complexName: string;
  /**
   * Changes whenever the stream address or credentials are written (their sealed values,
   * never decrypted here): the recorder decrypts a running camera's stream again only then.
   */
  streamVersion: string;
}

/**
 * Cameras with their complex; `activeOnly` for the recorder's sync. No secrets: those come
 * from the registry's decryptStream only.
 */
export async function listRecorderCameras(
  db: Executor,
  filter: { activeOnly?: boolean; complexId?: string; cameraId?: string; includeHidden?: boolean } = {},
): Promise<RecorderCamera[]> {
  let query = db
    .selectFrom('cameras')
    .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
    .innerJoin('complexes', 'complexes.id', 'buildings.complex_id')
    .select([
      'cameras.id as id',
      'cameras.name as name',
      'cameras.kind as kind',
      'cameras.status as status',
      'cameras.hidden_end_date as hidden_end_date',
      'cameras.building_id as building_id',
      'complexes.id as complex_id',
      'complexes.name as complex_name',
      'cameras.stream_url_enc as stream_url_enc',
      'cameras.credentials_enc as credentials_enc',
    ]);
  if (filter.activeOnly) query = query.where('cameras.status', '=', 'active');
  if (filter.complexId) query = query.where('complexes.id', '=', filter.complexId);
  if (filter.cameraId) query = query.where('cameras.id', '=', filter.cameraId);
  if (filter.includeHidden === false) query = query.where('cameras.kind', '!=', 'hidden');
  const rows = await query.orderBy('complexes.name').orderBy('cameras.name').orderBy('cameras.id').execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: r.kind,
    status: r.status,
    hiddenEndDate: numOrNull(r.hidden_end_date),
    buildingId: r.building_id,
    complexId: r.complex_id,
    complexName: r.complex_name,
    streamVersion: `${r.stream_url_enc ?? ''}|${r.credentials_enc ?? ''}`,
  }));
}

// --- camera health ---------------------------------------------------------------------------

export type HealthState = 'recording' | 'reconnecting' | 'down' | 'stopped';

export interface HealthRecord {
  cameraId: string;
  state: HealthState;
  /** When the current state began (for reconnecting/down: when recording stopped). */
  since: number;
  lastSegmentAt: number | null;
  /** Redacted; never a URL with credentials. */
  lastError: string | null;
  restarts: number;
  updatedAt: number;
}

type HealthRow = {
  camera_id: string;
  state: string;
  since: number;
  last_segment_at: number | null;
  last_error: string | null;
  restarts: number;
  updated_at: number;
};

const healthRecord = (r: HealthRow): HealthRecord => ({
  cameraId: r.camera_id,
  state: r.state as HealthState,
  since: num(r.since),
  lastSegmentAt: numOrNull(r.last_segment_at),
  lastError: r.last_error,
  restarts: num(r.restarts),
  updatedAt: num(r.updated_at),
});

export async function upsertHealth(db: Executor, h: HealthRecord): Promise<void> {
  const values = {
    state: h.state,
    since: h.since,
    last_segment_at: h.lastSegmentAt,
    last_error: h.lastError,
    restarts: h.restarts,
    updated_at: h.updatedAt,
  };
  await db
    .insertInto('camera_health')
    .values({ camera_id: h.cameraId, ...values })
    .onConflict((oc) => oc.column('camera_id').doUpdateSet(values))
    .execute();
}

export async function findHealth(db: Executor, cameraId: string): Promise<HealthRecord | null> {
  const row = await db.selectFrom('camera_health').selectAll().where('camera_id', '=', cameraId).executeTakeFirst();
  return row ? healthRecord(row) : null;
}

export async function listHealth(db: Executor, cameraIds?: readonly string[]): Promise<HealthRecord[]> {
  if (cameraIds && cameraIds.length === 0) return [];
  let query = db.selectFrom('camera_health').selectAll();
  if (cameraIds) query = query.where('camera_id', 'in', [...cameraIds]);
  return (await query.orderBy('camera_id').execute()).map(healthRecord);
}

// --- maintenance log (W 6.6) -----------------------------------------------------------------

export type CheckResult = 'ok' | 'failed';

export interface MaintenanceCheckRecord {
  id: string;
  cameraId: string;
  checkedAt: number;
  result: CheckResult;
  detail: string | null;
  /** A user id; null for the periodic system check. */
  checkedBy: string | null;
}

export interface MaintenanceCheckListItem extends MaintenanceCheckRecord {
  cameraName: string;
  complexId: string;
  complexName: string;
}

export async function insertMaintenanceCheck(db: Executor, r: MaintenanceCheckRecord): Promise<void> {
  await db
    .insertInto('maintenance_checks')
    .values({
      id: r.id,
      camera_id: r.cameraId,
      checked_at: r.checkedAt,
      result: r.result,
      detail: r.detail,
      checked_by: r.checkedBy,
    })
    .execute();
}

export interface CheckFilter {
  complexId?: string | undefined;
  cameraId?: string | undefined;
  result?: CheckResult | undefined;
  includeHidden: boolean;
  limit: number;
  offset: number;
}

/** The maintenance log, newest first, per complex through cameras -> buildings. */
export async function listMaintenanceChecks(db: Executor, filter: CheckFilter): Promise<MaintenanceCheckListItem[]> {
  let query = db
    .selectFrom('maintenance_checks')
    .innerJoin('cameras', 'cameras.id', 'maintenance_checks.camera_id')
    .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
    .innerJoin('complexes', 'complexes.id', 'buildings.complex_id')
    .select([
      'maintenance_checks.id as id',
      'maintenance_checks.camera_id as camera_id',
      'maintenance_checks.checked_at as checked_at',
      'maintenance_checks.result as result',
      'maintenance_checks.detail as detail',
      'maintenance_checks.checked_by as checked_by',
      'cameras.name as camera_name',
      'complexes.id as complex_id',
      'complexes.name as complex_name',
    ]);
  if (filter.complexId) query = query.where('complexes.id', '=', filter.complexId);
  if (filter.cameraId) query = query.where('maintenance_checks.camera_id', '=', filter.cameraId);
  if (filter.result) query = query.where('maintenance_checks.result', '=', filter.result);
  if (!filter.includeHidden) query = query.where('cameras.kind', '!=', 'hidden');
  const rows = await query
    .orderBy('maintenance_checks.checked_at', 'desc')
    .orderBy('maintenance_checks.id')
    .limit(filter.limit)
    .offset(filter.offset)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    cameraId: r.camera_id,
    checkedAt: num(r.checked_at),
    result: r.result as CheckResult,
    detail: r.detail,
    checkedBy: r.checked_by,
    cameraName: r.camera_name,
    complexId: r.complex_id,
    complexName: r.complex_name,
  }));
}

/** When the periodic (system) check last ran, for any camera; null if never. */
export async function lastSystemCheckAt(db: Executor): Promise<number | null> {
  const row = await db
    .selectFrom('maintenance_checks')
    .select((eb) => eb.fn.max('checked_at').as('last'))
    .where('checked_by', 'is', null)
    .executeTakeFirst();
  return numOrNull(row?.last);
}

// --- defects ---------------------------------------------------------------------------------

export interface DefectRecord {
  id: string;
  cameraId: string;
  openedAt: number;
  reason: string;
  closedAt: number | null;
  closedReason: string | null;
}

export interface DefectListItem extends DefectRecord {
  cameraName: string;
  complexId: string;
  complexName: string;
}

type DefectRow = {
  id: string;
  camera_id: string;
  opened_at: number;
  reason: string;
  closed_at: number | null;
  closed_reason: string | null;
};

const defectRecord = (r: DefectRow): DefectRecord => ({
  id: r.id,
  cameraId: r.camera_id,
  openedAt: num(r.opened_at),
  reason: r.reason,
  closedAt: numOrNull(r.closed_at),
  closedReason: r.closed_reason,
});

export async function findOpenDefect(db: Executor, cameraId: string): Promise<DefectRecord | null> {
  const row = await db
    .selectFrom('camera_defects')
    .selectAll()
    .where('camera_id', '=', cameraId)
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  return row ? defectRecord(row) : null;
}

export async function listOpenDefects(db: Executor): Promise<DefectRecord[]> {
  const rows = await db.selectFrom('camera_defects').selectAll().where('closed_at', 'is', null).execute();
  return rows.map(defectRecord);
}

/**
 * Opens a defect. The partial unique index `camera_defects_one_open` refuses a second open
 * defect for the same camera with a unique violation (see isUniqueViolation); callers check
 * findOpenDefect first, so the violation only means a concurrent check won the race.
 */
export async function insertDefect(db: Executor, r: DefectRecord): Promise<void> {
  await db
    .insertInto('camera_defects')
    .values({
      id: r.id,
      camera_id: r.cameraId,
      opened_at: r.openedAt,
      reason: r.reason,
      closed_at: r.closedAt,
      closed_reason: r.closedReason,
    })
    .execute();
}

export async function closeDefect(db: Executor, id: string, closedAt: number, reason: string): Promise<boolean> {
  const result = await db
    .updateTable('camera_defects')
    .set({ closed_at: closedAt, closed_reason: reason })
    .where('id', '=', id)
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface DefectFilter {
  complexId?: string | undefined;
  cameraId?: string | undefined;
  status?: 'open' | 'closed' | 'all' | undefined;
  includeHidden: boolean;
  limit: number;
  offset: number;
}

/** Defects, newest first, per complex through cameras -> buildings. */
export async function listDefects(db: Executor, filter: DefectFilter): Promise<DefectListItem[]> {
  let query = db
    .selectFrom('camera_defects')
    .innerJoin('cameras', 'cameras.id', 'camera_defects.camera_id')
    .innerJoin('buildings', 'buildings.id', 'cameras.building_id')
    .innerJoin('complexes', 'complexes.id', 'buildings.complex_id')
    .select([
      'camera_defects.id as id',
      'camera_defects.camera_id as camera_id',
      'camera_defects.opened_at as opened_at',
      'camera_defects.reason as reason',
      'camera_defects.closed_at as closed_at',
      'camera_defects.closed_reason as closed_reason',
      'cameras.name as camera_name',
      'complexes.id as complex_id',
      'complexes.name as complex_name',
    ]);
  if (filter.complexId) query = query.where('complexes.id', '=', filter.complexId);
  if (filter.cameraId) query = query.where('camera_defects.camera_id', '=', filter.cameraId);
  if (filter.status === 'open') query = query.where('camera_defects.closed_at', 'is', null);
  if (filter.status === 'closed') query = query.where('camera_defects.closed_at', 'is not', null);
  if (!filter.includeHidden) query = query.where('cameras.kind', '!=', 'hidden');
  const rows = await query
    .orderBy('camera_defects.opened_at', 'desc')
    .orderBy('camera_defects.id')
    .limit(filter.limit)
    .offset(filter.offset)
    .execute();
  return rows.map((r) => ({
    ...defectRecord(r),
    cameraName: r.camera_name,
    complexId: r.complex_id,
    complexName: r.complex_name,
  }));
}
