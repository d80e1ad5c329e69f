/**
 * Indexes the segments of one ffmpeg run: a row is written only after the file is closed
 * (a later file exists, or the run ended) and sealed (hashed and fsync'ed, directory too).
 * Times come from the run's segment list (see placeSegment in recording.rules.ts). The last
 * file of a run that ended abruptly has no list entry: it is probed, indexed if it plays and
 * removed if it does not. Used live by the recorder and at start-up by reconciliation.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { isDatabaseBusy, isDatabaseUnavailable } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { MediaTools } from '../media/ffmpeg.js';
import { redactText } from '../media/redact.js';
import { listSegments, parseSegmentName, SEGMENT_EXTENSION } from '../media/segment-recorder.js';
import { insertSegments, latestSegment, type SegmentRecord } from './recording.repository.js';
import {
  DEFAULT_REANCHOR_TOLERANCE_MS,
  parseSegmentList,
  placeSegment,
  placeTruncatedSegment,
  type PlacedSegment,
  type RunTimeline,
  type SegmentListEntry,
} from './recording.rules.js';
import {
  cameraDirectory,
  fileExists,
  fsyncDirectory,
  fsyncDirectoryHandle,
  openDirectory,
  removeFile,
  runListPath,
  sealFile,
  segmentFileOf,
} from './segment-files.js';

/** The part of the logger the recorder uses (pino's Logger fits). */
export interface RecordingLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface IndexerDeps {
  db: Kysely<Database>;
  clock: Clock;
  media: Pick<MediaTools, 'probe'>;
  logger: RecordingLogger;
  recordingsDir: string;
  /** Writes segment rows; default one transaction per row. The recorder batches (SegmentRowBatcher). */
  segmentRows?: SegmentRowWriter;
}

export interface SegmentRowWriter {
  /** Inserts the row; false when a row for its file already exists. */
  insert(record: SegmentRecord): Promise<boolean>;
}

/**
 * Gathers the rows of segments sealed within a few ms of each other (every camera closes a
 * segment at about the same moment) into one transaction (insertSegments). A failed batch is
 * retried row by row, so one bad row fails only its own segment.
 */
export class SegmentRowBatcher implements SegmentRowWriter {
  private queue: { record: SegmentRecord; resolve: (inserted: boolean) => void; reject: (error: unknown) => void }[] =
    [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly windowMs = 20,
  ) {}

  insert(record: SegmentRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    });
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.queue.splice(0);
    try {
      const inserted = await insertSegments(
        this.db,
        batch.map((b) => b.record),
      );
      batch.forEach((b, i) => b.resolve(inserted[i]!));
    } catch {
      for (const b of batch) {
        await insertSegments(this.db, [b.record]).then(
          ([inserted]) => b.resolve(inserted!),
          (error: unknown) => b.reject(error),
        );
      }
    }
  }
}

const singleRows = (db: Kysely<Database>): SegmentRowWriter => ({
  insert: async (record) => (await insertSegments(db, [record]))[0]!,
});

export interface RunIndexerOptions {
  /** Wall-clock ms of the run's stream time 0; defaults to the run stamp in the file names. */
  anchor?: number;
  /**
   * Live: the list is read as ffmpeg writes it, so the moment an entry is first seen bounds
   * the segment's end (anchor correction). Off for runs of earlier processes, read later.
   */
  live: boolean;
  /** Files of this run that already have rows (reconciliation), with their times. */
  indexed?: ReadonlyMap<string, { startAt: number; endAt: number }>;
  /** How far a computed end may lag the moment an entry was read, beyond the pass's own lateness. */
  reanchorToleranceMs?: number;
  /**
   * Called when ffmpeg listed new segments of this run (it closed them), before any is indexed:
   * the camera makes progress even while the database cannot take the rows.
   */
  onListed?: () => void;
}

export interface PollOptions {
  /**
   * At most how long after ffmpeg wrote a list entry this pass reads it: 0 when a change of
   * the list woke it (inotify), the poll interval for a timer's pass, null when unknown (the
   * entries read then bound nothing). A live run only; default null.
   */
  readLatenessMs?: number | null;
}

export interface PollResult {
  indexed: SegmentRecord[];
  /** Unplayable or empty files that were removed instead of indexed. */
  removed: string[];
}

interface PendingEntry extends SegmentListEntry {
  /** When the entry was first read; only for the last entry of a read (see readList). */
  seenAt: number | null;
  /** How late that read could be, beyond the moment ffmpeg wrote the entry. */
  readLatenessMs: number;
}

/** What indexing one closed file did: its new row, or `exists`, `removed` (empty), `missing` (gone). */
type IndexOutcome = SegmentRecord | 'exists' | 'removed' | 'missing';

/** A database that is busy or away: what failed can succeed on a later pass. */
const waitsForDatabase = (error: unknown): boolean => isDatabaseBusy(error) || isDatabaseUnavailable(error);

function nextSegmentName(name: string): string | undefined {
  const parsed = parseSegmentName(name);
  if (!parsed) return undefined;
  return `${parsed.run}-${String(parsed.index + 1).padStart(6, '0')}${SEGMENT_EXTENSION}`;
}

export class RunIndexer {
  readonly directory: string;
  private timeline: RunTimeline;
  private listOffset = 0;
  private readonly pending: PendingEntry[] = [];
  private readonly listed = new Set<string>();
  private lastListedIndex = -1;
  private readonly handled = new Set<string>();
  private ended = false;
  private finished = false;
  /** The segment list, open while the run is indexed: a pass reads what was appended, one call. */
  private listHandle: FileHandle | undefined;
  private listBuffer = Buffer.allocUnsafe(1024);
  /** The camera directory, open for its fsyncs. */
  private directoryHandle: FileHandle | undefined;
  private readonly rows: SegmentRowWriter;

  constructor(
    private readonly deps: IndexerDeps,
    readonly cameraId: string,
    readonly run: string,
    private readonly options: RunIndexerOptions,
  ) {
    this.directory = cameraDirectory(deps.recordingsDir, cameraId);
    const stamp = parseSegmentName(`${run}-000000${SEGMENT_EXTENSION}`);
    if (!stamp) throw new RangeError(`not a run stamp: ${run}`);
    this.timeline = { anchor: options.anchor ?? stamp.runStartedAt, lastEnd: null };
    this.rows = deps.segmentRows ?? singleRows(deps.db);
    for (const name of options.indexed?.keys() ?? []) this.handled.add(name);
  }

  /**
   * A run's first segment never starts before the camera's last indexed segment ends: the
   * previous run's times come from its own anchor (and, after a crash, from probing), so the
   * two time lines can disagree by a few ms, and segments of one camera must never overlap.
   */
  private async startAfterEarlierRuns(): Promise<void> {
    // Only the live run: every other run of the camera is older than it. A run indexed late
    // (reconciliation) keeps its own time line, which a newer run's rows must not push.
    if (!this.options.live || this.timeline.lastEnd !== null) return;
    const latest = await latestSegment(this.deps.db, this.cameraId);
    if (latest && latest.endAt > this.timeline.anchor) this.timeline = { ...this.timeline, lastEnd: latest.endAt };
  }

  /**
   * A live run's segments never start before the run did. ffmpeg reads a clip slightly ahead
   * of real time, so a close seen the moment it is listed (inotify) can come a few ms before
   * its computed end; the anchor then moves back (a segment never ends after it was seen
   * closed) and would put the first segment's start before the run's, over the previous run.
   * A larger difference is a clock set back, which the anchor follows.
   */
  private notBeforeRunStart(placed: PlacedSegment): PlacedSegment {
    const runStart = this.options.live ? this.options.anchor : undefined;
    if (runStart === undefined || placed.startAt >= runStart) return placed;
    if (runStart - placed.startAt > DEFAULT_REANCHOR_TOLERANCE_MS) return placed;
    const endAt = Math.max(placed.endAt, runStart + 1);
    return { startAt: runStart, endAt, timeline: { ...placed.timeline, lastEnd: endAt } };
  }

  /** The process of this run exited: its last file is closed too. */
  markEnded(): void {
    this.ended = true;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** True once the run ended and every file of it was indexed or removed. */
  get isFinished(): boolean {
    return this.finished;
  }

  /** True while list entries wait for their file to close (the next file to appear). */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Reads new list entries and indexes every segment that is closed by now. */
  async poll(options: PollOptions = {}): Promise<PollResult> {
    const result: PollResult = { indexed: [], removed: [] };
    if (this.finished) return result;
    const ended = this.ended; // decided before reading, so no file can close unseen in between
    await this.readList(this.options.live ? (options.readLatenessMs ?? null) : null);
    let synced = false;
    while (this.pending.length > 0) {
      const entry = this.pending[0]!;
      if (!ended) {
        const next = nextSegmentName(entry.name);
        if (!next || !(await fileExists(join(this.directory, next)))) break;
      }
      this.pending.shift();
      const known = this.options.indexed?.get(entry.name);
      if (known) {
        // Already indexed (reconciliation): continue the run's time line from its row.
        this.timeline = { anchor: known.endAt - Math.round(entry.end * 1000), lastEnd: known.endAt };
        continue;
      }
      if (this.handled.has(entry.name)) continue;
      const seenAt = this.options.live ? entry.seenAt : null;
      const toleranceMs = (this.options.reanchorToleranceMs ?? DEFAULT_REANCHOR_TOLERANCE_MS) + entry.readLatenessMs;
      let outcome: IndexOutcome;
      try {
        outcome = await this.indexAt(
          entry.name,
          () => {
            const placed = this.notBeforeRunStart(placeSegment(this.timeline, entry, seenAt, toleranceMs));
            this.reportReanchor(entry, seenAt, placed);
            return placed;
          },
          result,
        );
      } catch (error) {
        // The entry waits for the next pass with the time it was seen (see indexAt).
        if (waitsForDatabase(error)) this.pending.unshift(entry);
        throw error;
      }
      if (outcome !== 'missing') synced = true;
    }
    if (ended && this.pending.length === 0) {
      await this.indexUnlisted(result);
      synced = true;
    }
    if (synced) await this.syncDirectory();
    if (ended && this.pending.length === 0) {
      this.finished = true;
      await this.close();
    }
    return result;
  }

  /** Closes the files a live run keeps open; poll opens them again if called later. */
  async close(): Promise<void> {
    const handles = [this.listHandle, this.directoryHandle];
    this.listHandle = undefined;
    this.directoryHandle = undefined;
    for (const handle of handles) await handle?.close();
  }

  private async syncDirectory(): Promise<void> {
    if (!this.options.live) return fsyncDirectory(this.directory);
    this.directoryHandle ??= await openDirectory(this.directory);
    await fsyncDirectoryHandle(this.directoryHandle);
  }

  /**
   * A moved anchor is the only way segments of one run get apart or overlap (the segment list
   * is contiguous by construction), so it is logged with what decided it: a gap in the index
   * is then either this (camera clock, clock step, a close seen late) or a restart.
   */
  private reportReanchor(entry: PendingEntry, seenAt: number | null, placed: PlacedSegment): void {
    const shiftMs = placed.timeline.anchor - this.timeline.anchor;
    if (shiftMs === 0) return;
    const gapMs = this.timeline.lastEnd === null ? 0 : placed.startAt - this.timeline.lastEnd;
    const details = {
      cameraId: this.cameraId,
      file: entry.name,
      streamStart: entry.start,
      streamEnd: entry.end,
      seenAt,
      computedEndAt: this.timeline.anchor + Math.round(entry.end * 1000),
      shiftMs,
      gapMs,
    };
    if (gapMs > 0) this.deps.logger.warn(details, 'segment time line re-anchored: gap before segment');
    else this.deps.logger.info(details, 'segment time line re-anchored');
  }

  private async readList(readLatenessMs: number | null): Promise<void> {
    if (!this.listHandle) {
      try {
        this.listHandle = await open(runListPath(this.directory, this.run), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
    }
    // What was appended since the last pass: normally one line, one read.
    let length = 0;
    for (;;) {
      if (length === this.listBuffer.length) {
        const grown = Buffer.allocUnsafe(this.listBuffer.length * 2);
        this.listBuffer.copy(grown);
        this.listBuffer = grown;
      }
      const { bytesRead } = await this.listHandle.read(
        this.listBuffer,
        length,
        this.listBuffer.length - length,
        this.listOffset + length,
      );
      length += bytesRead;
      if (length < this.listBuffer.length) break;
    }
    if (length === 0) return;
    // latin1: one character per byte, so `consumed` is a byte count (the list is ASCII).
    const { entries, consumed } = parseSegmentList(this.listBuffer.toString('latin1', 0, length));
    this.listOffset += consumed;
    // Only the newest entry of a read was closed just now; older ones in the same read
    // may have closed earlier (ffmpeg writes the first segments in a burst after probing
    // the stream), so they bound nothing and follow the anchor as it is.
    const seenAt = readLatenessMs === null ? null : this.deps.clock.now();
    const ours = entries.filter((entry) => parseSegmentName(entry.name)?.run === this.run);
    if (ours.length > 0) this.options.onListed?.();
    ours.forEach((entry, i) => {
      this.listed.add(entry.name);
      this.lastListedIndex = Math.max(this.lastListedIndex, parseSegmentName(entry.name)?.index ?? -1);
      this.pending.push({
        ...entry,
        seenAt: i === ours.length - 1 ? seenAt : null,
        readLatenessMs: readLatenessMs ?? 0,
      });
    });
  }

  /**
   * Seals and indexes one closed file. Returns the new row, or what happened instead:
   * `exists` (a row for the file is already there), `removed` (empty), `missing` (gone).
   */
  private async indexFile(name: string, startAt: number, endAt: number): Promise<IndexOutcome> {
    const path = join(this.directory, name);
    let sealed;
    try {
      sealed = await sealFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw error;
    }
    if (sealed.bytes === 0) {
      await removeFile(path);
      this.deps.logger.warn({ cameraId: this.cameraId, file: name }, 'empty segment removed');
      return 'removed';
    }
    const record: SegmentRecord = {
      id: newId(),
      cameraId: this.cameraId,
      file: segmentFileOf(this.cameraId, name),
      startAt,
      endAt,
      bytes: sealed.bytes,
      sha256: sealed.sha256,
      createdAt: this.deps.clock.now(),
      erasingAt: null,
    };
    return (await this.rows.insert(record)) ? record : 'exists';
  }

  /**
   * Places a closed file (`place` runs after the run's start is settled), seals and indexes it,
   * moves the time line on and records the outcome in `result`. The file is handled from then on,
   * also when it failed for a reason of its own (an unreadable file must not hold up the run's
   * later ones); when the database is busy or away it is not, and the next pass tries again.
   */
  private async indexAt(name: string, place: () => PlacedSegment, result: PollResult): Promise<IndexOutcome> {
    let placed: PlacedSegment;
    let outcome: IndexOutcome;
    try {
      await this.startAfterEarlierRuns();
      placed = place();
      outcome = await this.indexFile(name, placed.startAt, placed.endAt);
    } catch (error) {
      if (!waitsForDatabase(error)) this.handled.add(name);
      throw error;
    }
    this.handled.add(name);
    if (typeof outcome === 'object' || outcome === 'exists') this.timeline = placed.timeline;
    if (typeof outcome === 'object') result.indexed.push(outcome);
    else if (outcome === 'removed') result.removed.push(name);
    return outcome;
  }

  /**
   * Files of the ended run without a list entry: the segment that was open when the process
   * died. Probed: one that holds video is indexed with its probed duration, others removed.
   */
  private async indexUnlisted(result: PollResult): Promise<void> {
    for (const file of await this.unlistedCandidates()) {
      if (this.listed.has(file.name) || this.handled.has(file.name)) continue;
      const duration = await this.playableDuration(file.path);
      if (duration === null) {
        this.handled.add(file.name);
        if (await removeFile(file.path)) result.removed.push(file.name);
        this.deps.logger.warn({ cameraId: this.cameraId, file: file.name }, 'unplayable segment removed');
        continue;
      }
      await this.indexAt(file.name, () => placeTruncatedSegment(this.timeline, duration), result);
    }
  }

  /**
   * Files of this run after its last list entry. They are numbered consecutively, so with a
   * list only the next names are tried (no listing of a directory that may hold weeks of
   * segments); without one (it was lost) the directory is listed.
   */
  private async unlistedCandidates(): Promise<{ name: string; path: string }[]> {
    if (this.listed.size > 0) {
      const found = [];
      for (let index = this.lastListedIndex + 1; ; index++) {
        const name = `${this.run}-${String(index).padStart(6, '0')}${SEGMENT_EXTENSION}`;
        const path = join(this.directory, name);
        if (!(await fileExists(path))) return found;
        found.push({ name, path });
      }
    }
    try {
      return (await listSegments(this.directory)).filter((f) => f.run === this.run);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Seconds of video in a file, or null when it holds none (empty, header only, garbage). */
  private async playableDuration(path: string): Promise<number | null> {
    try {
      if ((await stat(path)).size === 0) return null;
      const probe = await this.deps.media.probe(path);
      const video = probe.streams.some((s) => s.codecType === 'video');
      const duration = probe.durationSeconds;
      return video && duration !== undefined && duration > 0 ? duration : null;
    } catch (error) {
      this.deps.logger.warn(
        { cameraId: this.cameraId, file: path, reason: redactText(String((error as Error).message)) },
        'segment probe failed',
      );
      return null;
    }
  }
}
