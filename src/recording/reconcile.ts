/**
 * Start-up reconciliation of the segment index with the recordings directory (issue 4;
 * ENGINEERING: "reconcile both ways at start-up"). Also callable by the retention sweeper.
 *
 * - rows marked `erasing_at`: an erasure that was interrupted; the file is unlinked if still
 *   there and the row deleted, so nothing half-erased is ever served;
 * - rows without files: the file is gone (erased by hand, lost disk); the row is deleted and
 *   logged, so playback and export never promise footage that does not exist;
 * - files without rows: closed segments of earlier runs (a crash between close and index, or
 *   the file that was open when the process died): indexed if they play, removed if not.
 *
 * Runs currently being written are skipped (`skipRuns`); the live recorder indexes those.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SYSTEM_ACTOR, type AuditTrail } from '../audit/audit.js';
import {
  listSegments as listSegmentFilesInDirectory,
  parseSegmentName,
  type SegmentFile,
} from '../media/segment-recorder.js';
import {
  deleteSegments,
  listCamerasWithSegments,
  listErasingSegments,
  listRecorderCameras,
  listSegmentFiles,
} from './recording.repository.js';
import { RunIndexer, type IndexerDeps } from './segment-indexer.js';
import {
  cameraDirectory,
  fsyncDirectory,
  isSafeCameraId,
  removeFile,
  resolveSegmentPath,
  RUN_LIST,
  segmentFileOf,
} from './segment-files.js';

export interface ReconcileDeps extends IndexerDeps {
  audit: AuditTrail;
}

export interface ReconcileOptions {
  /** `<cameraId>/<runStamp>` of runs a live recorder is writing or still indexing. */
  skipRuns?: ReadonlySet<string>;
  /** Only these cameras (default: every camera directory and every camera with rows). */
  cameraIds?: readonly string[];
}

export interface ReconcileReport {
  erasuresFinished: number;
  rowsWithoutFilesDeleted: number;
  filesIndexed: number;
  filesRemoved: number;
  /** Directories under recordings/ that belong to no registered camera (left alone). */
  unknownDirectories: string[];
}

export const runKey = (cameraId: string, run: string): string => `${cameraId}/${run}`;

async function readDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Finishes erasures that a crash interrupted: unlink (if present), then delete the row, in
 * batches. Safe to run while the sweeper works: both only move towards "gone".
 */
export async function finishInterruptedErasures(deps: ReconcileDeps): Promise<number> {
  let finished = 0;
  for (;;) {
    const rows = await listErasingSegments(deps.db, 500);
    if (rows.length === 0) return finished;
    for (const row of rows) {
      try {
        await removeFile(resolveSegmentPath(deps.recordingsDir, row.file));
      } catch (error) {
        // A row whose path leaves the recordings directory names no file of ours: drop the row.
        if (!(error instanceof RangeError)) throw error;
      }
    }
    await deps.db.transaction().execute(async (trx) => {
      const deleted = await deleteSegments(
        trx,
        rows.map((r) => r.id),
      );
      finished += deleted;
      await deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: 'segments.erasure-finished',
        targetType: 'segments',
        context: {
          count: deleted,
          from: Math.min(...rows.map((r) => r.startAt)),
          to: Math.max(...rows.map((r) => r.endAt)),
        },
      });
    });
    deps.logger.warn({ count: rows.length }, 'finished interrupted segment erasures');
  }
}

export async function reconcileRecordings(
  deps: ReconcileDeps,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    erasuresFinished: await finishInterruptedErasures(deps),
    rowsWithoutFilesDeleted: 0,
    filesIndexed: 0,
    filesRemoved: 0,
    unknownDirectories: [],
  };
  const skip = options.skipRuns ?? new Set<string>();
  const known = new Set((await listRecorderCameras(deps.db)).map((c) => c.id));
  const cameraIds =
    options.cameraIds ??
    [
      ...new Set([
        ...(await readDirectory(deps.recordingsDir)).filter(isSafeCameraId),
        ...(await listCamerasWithSegments(deps.db)),
      ]),
    ].sort();
  for (const cameraId of cameraIds) {
    if (!known.has(cameraId)) {
      report.unknownDirectories.push(cameraId);
      deps.logger.warn({ directory: cameraId }, 'recordings directory of an unknown camera left alone');
      continue;
    }
    await reconcileCamera(deps, cameraId, skip, report);
  }
  if (report.filesIndexed || report.filesRemoved || report.rowsWithoutFilesDeleted || report.erasuresFinished) {
    deps.logger.info({ ...report }, 'recordings reconciled');
  }
  return report;
}

async function reconcileCamera(
  deps: ReconcileDeps,
  cameraId: string,
  skip: ReadonlySet<string>,
  report: ReconcileReport,
): Promise<void> {
  const directory = cameraDirectory(deps.recordingsDir, cameraId);
  let files: SegmentFile[];
  try {
    files = await listSegmentFilesInDirectory(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    files = [];
  }
  const rows = await listSegmentFiles(deps.db, cameraId);
  const onDisk = new Set(files.map((f) => segmentFileOf(cameraId, f.name)));

  // Rows without files.
  const orphans = rows.filter((row) => !onDisk.has(row.file));
  if (orphans.length > 0) {
    await deps.db.transaction().execute(async (trx) => {
      report.rowsWithoutFilesDeleted += await deleteSegments(
        trx,
        orphans.map((r) => r.id),
      );
      await deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: 'segments.rows-without-files-deleted',
        targetType: 'camera',
        targetId: cameraId,
        context: { count: orphans.length, files: orphans.slice(0, 20).map((r) => r.file) },
      });
    });
    deps.logger.warn(
      { cameraId, count: orphans.length, files: orphans.slice(0, 5).map((r) => r.file) },
      'segment rows without files deleted',
    );
  }

  // Files without rows, per run.
  const rowByFile = new Map(rows.map((r) => [r.file, r]));
  const runs = new Map<string, { name: string; indexed: boolean }[]>();
  for (const file of files) {
    const list = runs.get(file.run) ?? [];
    list.push({ name: file.name, indexed: rowByFile.has(segmentFileOf(cameraId, file.name)) });
    runs.set(file.run, list);
  }
  for (const [run, runFiles] of runs) {
    if (skip.has(runKey(cameraId, run))) continue;
    if (runFiles.every((f) => f.indexed)) continue;
    const indexed = new Map<string, { startAt: number; endAt: number }>();
    for (const f of runFiles) {
      const row = rowByFile.get(segmentFileOf(cameraId, f.name));
      if (row) indexed.set(f.name, { startAt: row.startAt, endAt: row.endAt });
    }
    const indexer = new RunIndexer(deps, cameraId, run, { live: false, indexed });
    indexer.markEnded();
    const result = await indexer.poll().finally(() => indexer.close());
    report.filesIndexed += result.indexed.length;
    report.filesRemoved += result.removed.length;
  }

  // Segment lists of runs whose segments are all gone (erased by retention) are dropped.
  const runsOnDisk = new Set(files.map((f) => f.run));
  let removedLists = false;
  for (const name of await readDirectory(directory)) {
    const run = RUN_LIST.exec(name)?.[1];
    if (!run || runsOnDisk.has(run) || skip.has(runKey(cameraId, run))) continue;
    if (!parseSegmentName(`${run}-000000.ts`)) continue;
    removedLists = (await removeFile(join(directory, name))) || removedLists;
  }
  if (removedLists) await fsyncDirectory(directory);
}
