/**
 * Test support for playback and export: real MPEG-TS segment files cut by ffmpeg's segment muxer
 * (as the recorder writes them: stream copy, `-reset_timestamps 1`), and their index rows.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema.js';
import { newId } from '../src/lib/ids.js';
import { mediaProcessEnv } from '../src/media/ffmpeg.js';
import { listSegments, runStamp } from '../src/media/segment-recorder.js';
import { makeTestClip } from '../src/media/test-clips.js';
import { insertSegments, type IndexedSegment } from '../src/playback/playback.repository.js';

/** The test clip's keyframe interval: one keyframe per second (makeTestClip). */
export const TEST_GOP_MS = 1000;

function run(ffmpegPath: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath, args, { env: mediaProcessEnv(), timeout: 60_000 }, (error, _o, stderr) =>
      error ? reject(new Error(`ffmpeg failed: ${stderr}`)) : resolve(),
    );
  });
}

/** Cuts `clip` into `segmentSeconds` MPEG-TS files named as the recorder names them. */
export async function cutSegments(
  ffmpegPath: string,
  clip: string,
  directory: string,
  runStartedAt: number,
  segmentSeconds: number,
): Promise<string[]> {
  mkdirSync(directory, { recursive: true });
  const pattern = join(directory, `${runStamp(runStartedAt)}-%06d.ts`);
  await run(ffmpegPath, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    clip,
    '-map',
    '0:v:0',
    '-c',
    'copy',
    '-f',
    'segment',
    '-segment_format',
    'mpegts',
    '-segment_time',
    String(segmentSeconds),
    '-reset_timestamps',
    '1',
    '-n',
    pattern,
  ]);
  const prefix = runStamp(runStartedAt);
  return (await listSegments(directory)).filter((f) => f.run === prefix).map((f) => f.path);
}

export interface RecordedRun {
  segments: IndexedSegment[];
}

/**
 * Records one run of `count` segments of `segmentSeconds` for a camera starting at `startAt`:
 * files under `<recordingsDir>/<cameraId>/`, rows in the index (start/end from the run start).
 */
export async function recordRun(
  db: Kysely<Database>,
  ffmpegPath: string,
  options: { recordingsDir: string; cameraId: string; startAt: number; clip: string; segmentSeconds: number },
): Promise<IndexedSegment[]> {
  const dir = join(options.recordingsDir, options.cameraId);
  const files = await cutSegments(ffmpegPath, options.clip, dir, options.startAt, options.segmentSeconds);
  const segments = files.map((path, i): IndexedSegment => {
    const bytes = readFileSync(path);
    return {
      id: newId(),
      cameraId: options.cameraId,
      file: `${options.cameraId}/${path.slice(dir.length + 1)}`,
      startAt: options.startAt + i * options.segmentSeconds * 1000,
      endAt: options.startAt + (i + 1) * options.segmentSeconds * 1000,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  });
  await insertSegments(db, segments, options.startAt);
  return segments;
}

/** A test clip (320x240, 15 fps, one keyframe per second) of `seconds`, made once per path. */
export async function testClip(ffmpegPath: string, directory: string, seconds: number): Promise<string> {
  const file = join(directory, `clip-${seconds}s.mp4`);
  await makeTestClip(ffmpegPath, file, { seconds });
  return file;
}

/** Width and height from a JPEG's SOF marker. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < jpeg.length) {
    if (jpeg[i] !== 0xff) return undefined;
    const marker = jpeg[i + 1]!;
    const length = jpeg.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return undefined;
}
