import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Recording into MPEG-TS segments with stream copy, and telling which segments are closed.
 *
 * Naming: `<run>-<index>.ts`, where `<run>` is the UTC start of this ffmpeg run to the
 * millisecond (from the injected clock, e.g. `20260105T090000123Z`) and `<index>` the segment
 * muxer's six-digit counter. Names sort in recording order across restarts, a restart never
 * overwrites an earlier run's files (a strftime name has one-second resolution and would, and
 * the muxer's counter restarts at 0), and no file name depends on ffmpeg's local time zone.
 * Exact start and end times are not in the name: the index takes them from the file.
 */

export const SEGMENT_EXTENSION = '.ts';

export interface SegmentRecordingOptions {
  /** Input arguments, e.g. from `rtspInputArgs` or `fileLoopInputArgs`. */
  inputArgs: readonly string[];
  /** The directory that receives the segments, their final place. Must exist. */
  directory: string;
  /** Target segment length; segments are cut at the first keyframe after it. */
  segmentSeconds: number;
  /** Start of this run (ms since the epoch, UTC), normally `clock.now()` just before starting. */
  runStartedAt: number;
  /** Keep audio (stream copy) when true. Default false: the protocols record images, not sound. */
  keepAudio?: boolean;
}

/** `20260105T090000123Z`: sortable, UTC, millisecond resolution, safe in file names. */
export function runStamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:.]/g, '');
}

const SEGMENT_NAME = /^(\d{8}T\d{9}Z)-(\d{6})\.ts$/;

export interface SegmentName {
  run: string;
  runStartedAt: number;
  index: number;
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (!match?.[1] || !match[2]) return undefined;
  const r = match[1];
  const iso = `${r.slice(0, 4)}-${r.slice(4, 6)}-${r.slice(6, 8)}T${r.slice(9, 11)}:${r.slice(11, 13)}:${r.slice(13, 15)}.${r.slice(15, 18)}Z`;
  const runStartedAt = Date.parse(iso);
  if (!Number.isFinite(runStartedAt)) return undefined;
  return { run: r, runStartedAt, index: Number(match[2]) };
}

/**
 * ffmpeg arguments: pull the input, copy the video (never decode), and cut MPEG-TS segments
 * straight into `directory`. MPEG-TS is written packet by packet without an index, so a crash
 * costs at most the segment being written. `-reset_timestamps 1` starts every segment at 0,
 * so each file plays on its own. `-n`: never overwrite a file.
 */
export function segmentRecordingArgs(options: SegmentRecordingOptions): string[] {
  if (!(options.segmentSeconds > 0)) throw new RangeError('segmentSeconds must be positive');
  const pattern = join(options.directory, `${runStamp(options.runStartedAt)}-%06d${SEGMENT_EXTENSION}`);
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'warning',
    ...options.inputArgs,
    '-map',
    '0:v:0',
    ...(options.keepAudio ? ['-map', '0:a?'] : ['-an']),
    '-c',
    'copy',
    '-f',
    'segment',
    '-segment_format',
    'mpegts',
    '-segment_time',
    String(options.segmentSeconds),
    '-reset_timestamps',
    '1',
    '-n',
    pattern,
  ];
}

export interface SegmentFile extends SegmentName {
  name: string;
  path: string;
}

/** The segment files in a directory, in recording order; other files are ignored. */
export async function listSegments(directory: string): Promise<SegmentFile[]> {
  const names = await readdir(directory);
  return names
    .flatMap((name) => {
      const parsed = parseSegmentName(name);
      return parsed ? [{ ...parsed, name, path: join(directory, name) }] : [];
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Which segments are closed. A segment is closed when a later one exists (the muxer opens the
 * next file only after closing the previous) or when no ffmpeg is writing it: every file of an
 * earlier run, and the newest file too once `writingRun` is undefined (the process exited).
 * A closed segment of a crashed run may be truncated; whoever indexes it probes it.
 */
export function closedSegments(files: readonly SegmentFile[], writingRun: string | undefined): SegmentFile[] {
  const current = files.filter((f) => f.run === writingRun);
  const open = current.length > 0 ? current[current.length - 1] : undefined;
  return files.filter((f) => f !== open);
}

/** Closed segments with their size, read from the directory. */
export async function closedSegmentsIn(
  directory: string,
  writingRun: string | undefined,
): Promise<(SegmentFile & { bytes: number })[]> {
  const closed = closedSegments(await listSegments(directory), writingRun);
  return Promise.all(closed.map(async (f) => ({ ...f, bytes: (await stat(f.path)).size })));
}
