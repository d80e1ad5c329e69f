/**
 * Reads of the segment index for playback, live view, still frames and exports. The recorder
 * (src/recording) owns writing the index; `insertSegment` here exists for tests, benchmarks and
 * tools that index files they made themselves.
 */
import type { Kysely } from 'kysely';
import type { Database, SegmentsTable } from '../db/schema.js';
import { listSegments, MAX_SEGMENT_MS } from '../recording/recording.repository.js';

export type Executor = Kysely<Database>;

export { MAX_SEGMENT_MS } from '../recording/recording.repository.js';

export interface IndexedSegment {
  id: string;
  cameraId: string;
  /** Relative to the recordings directory. */
  file: string;
  startAt: number;
  endAt: number;
  bytes: number;
  sha256: string;
}

const COLUMNS = ['id', 'camera_id', 'file', 'start_at', 'end_at', 'bytes', 'sha256'] as const;

type Row = Pick<SegmentsTable, (typeof COLUMNS)[number]>;

const toSegment = (row: Row): IndexedSegment => ({
  id: row.id,
  cameraId: row.camera_id,
  file: row.file,
  startAt: Number(row.start_at),
  endAt: Number(row.end_at),
  bytes: Number(row.bytes),
  sha256: row.sha256,
});

/** Segments of one camera that overlap [from, to), in recording order; segments being erased are left out. */
export async function segmentsOverlapping(
  db: Executor,
  cameraId: string,
  from: number,
  to: number,
): Promise<IndexedSegment[]> {
  return listSegments(db, cameraId, from, to);
}

/** How many segments of a camera start in [from, before): a stable media sequence number for live view. */
export async function countSegmentsBetween(
  db: Executor,
  cameraId: string,
  from: number,
  before: number,
): Promise<number> {
  const row = await db
    .selectFrom('segments')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('camera_id', '=', cameraId)
    .where('start_at', '>=', from)
    .where('start_at', '<', before)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The segment of a camera that holds instant `at` (start <= at < end), if any. */
export async function segmentAt(db: Executor, cameraId: string, at: number): Promise<IndexedSegment | undefined> {
  const row = await db
    .selectFrom('segments')
    .select(COLUMNS)
    .where('camera_id', '=', cameraId)
    .where('start_at', '>', at - MAX_SEGMENT_MS)
    .where('start_at', '<=', at)
    .where('end_at', '>', at)
    .where('erasing_at', 'is', null)
    .orderBy('start_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toSegment(row) : undefined;
}

export async function insertSegments(db: Executor, segments: readonly IndexedSegment[], createdAt: number) {
  if (segments.length === 0) return;
  await db
    .insertInto('segments')
    .values(
      segments.map((s) => ({
        id: s.id,
        camera_id: s.cameraId,
        file: s.file,
        start_at: s.startAt,
        end_at: s.endAt,
        bytes: s.bytes,
        sha256: s.sha256,
        created_at: createdAt,
        erasing_at: null,
      })),
    )
    .execute();
}

/** Camera names for manifests and viewers. */
export async function cameraNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('cameras')
    .select(['id', 'name'])
    .where('id', 'in', [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
