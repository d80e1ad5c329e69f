/**
 * The ffmpeg side of exports: keyframe times of a segment, the stream-copy cut of a list of
 * segments into an MP4 with its moov atom in front (faststart), and measuring the result.
 * Segment times come from the MPEG-TS timestamps themselves (ts-timestamps.ts: the same values
 * ffprobe reports, without two process starts and a probe of the stream per export); ffprobe
 * stays the fallback for a file whose timestamps that parser cannot read.
 *
 * The cut reads the segments as one byte stream (ffmpeg's `concat:` protocol) rather than
 * through the concat demuxer, which opens and probes every file on its own (decoding frames of
 * each to learn its parameters): for 90 segments that probing was about two thirds of ffmpeg's
 * CPU time. The recorder starts every segment's timestamps at zero, so the stream jumps back
 * at each joint; ffmpeg takes a DTS more than 0.1 s behind the last one in an MPEG-TS input
 * for a discontinuity and continues the timeline one frame after the last packet, which lays
 * the segments end to end as the concat demuxer does (for the benchmark's 90 segments the two
 * MP4s are byte for byte the same). The edge segments are trimmed first, without decoding.
 * The join also starts a stream with B-frames on the in-point keyframe itself, where the
 * concat demuxer's seek lands a keyframe later. When the join cannot be used or trusted (a
 * path the protocol would split, video on different PIDs, a trim that does not start on the
 * in-point, timestamps ffmpeg had to repair) the concat demuxer cuts instead.
 */
import { spawn } from 'node:child_process';
import { open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DomainError } from '../lib/errors.js';
import { mediaProcessEnv } from '../media/ffmpeg.js';
import { firstTimestamp, trimToWindow, TS_PACKET, tsTiming } from '../playback/ts-timestamps.js';
import { concatScript } from './exports.rules.js';

const TICKS_PER_SECOND = 90_000;
/** Enough of a segment's head to hold the first timestamp of every stream. */
const HEAD_BYTES = 512 * 1024;
/** Longest `concat:` argument passed to ffmpeg, below Linux's 131,072-byte limit per argument. */
export const MAX_JOINED_ARGUMENT_BYTES = 120_000;
/** ffmpeg's warning when it had to repair timestamps that went back in the output. */
const NON_MONOTONIC = /Non-monotonous DTS|non monotonically increasing dts/i;

export interface SegmentTiming {
  /** The file's first timestamp in seconds (MPEG-TS files rarely start at 0). */
  startTime: number;
  /** Keyframe timestamps (seconds, same time base). */
  keyframes: number[];
}

export interface CutResult {
  /** Where the MP4 starts relative to the first in-point, seconds (ffprobe start_time). */
  startTime: number;
  durationSeconds: number;
}

/** One segment of a cut, in playing order. */
export interface CutPart {
  path: string;
  /** Where the cut starts, seconds in the file's own time base (a keyframe); first part only. */
  inpoint?: number;
  /** Where the cut ends, seconds in the file's own time base; last part only. */
  outpoint?: number;
}

export interface ExportCutter {
  /** Start time and keyframes (for an in-point). */
  timing(file: string): Promise<SegmentTiming>;
  /** Start time only (for an out-point): reads the file's header, not its packets. */
  startTime(file: string): Promise<number>;
  /**
   * Cuts the parts into `output` (moov in front), using `workDir` for intermediate files;
   * `onProgress` gets seconds written so far. `expectedSeconds`, when known, lets the cut
   * reserve room for the moov up front.
   */
  write(
    parts: readonly CutPart[],
    output: string,
    workDir: string,
    onProgress: (seconds: number) => void,
    expectedSeconds?: number,
  ): Promise<void>;
  /** Where the written file starts and how long it plays (so it can run while it is hashed). */
  measure(output: string): Promise<CutResult>;
}

function collect(
  command: string,
  args: string[],
  timeoutMs: number,
  onLine?: (line: string) => void,
  watch?: RegExp,
): Promise<{ stdout: string; stderr: string; watched: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: mediaProcessEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // Whether `watch` appeared anywhere in stderr (only its tail is kept).
    let watched = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (onLine) createInterface({ input: child.stdout }).on('line', onLine);
    else child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = stderr + chunk.toString();
      if (watch && !watched) watched = watch.test(text);
      stderr = text.slice(-4000);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new DomainError('internal', 'export-media-failed', `${command} could not start: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr, watched });
      else {
        const why = signal ? `killed by ${signal}` : `exit ${code}`;
        reject(
          new DomainError(
            'internal',
            'export-media-failed',
            `${why}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
      }
    });
  });
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export class FfmpegExportCutter implements ExportCutter {
  constructor(
    private readonly ffmpegPath: string,
    private readonly ffprobePath: string,
    private readonly timeoutMs = 30 * 60_000,
    /** Bytes kept for the moov of an export of so many seconds (a parameter for tests). */
    private readonly moovRoom: (seconds: number) => number = moovReserveBytes,
    /** Whether to read the segments as one stream when possible (false for comparisons). */
    private readonly join = true,
  ) {}

  async timing(file: string): Promise<SegmentTiming> {
    const parsed = tsTiming(await readFile(file));
    if (parsed && parsed.keyframeTicks.length > 0) {
      return {
        startTime: parsed.startTicks / TICKS_PER_SECOND,
        keyframes: parsed.keyframeTicks.map((t) => t / TICKS_PER_SECOND),
      };
    }
    return this.probeTiming(file);
  }

  async startTime(file: string): Promise<number> {
    const parsed = tsTiming(await readHead(file), false);
    return parsed ? parsed.startTicks / TICKS_PER_SECOND : this.probeStartTime(file);
  }

  /** ffprobe's view, for files the TS parser finds no keyframes in. */
  async probeTiming(file: string): Promise<SegmentTiming> {
    const { stdout } = await collect(
      this.ffprobePath,
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'format=start_time:packet=pts_time,flags',
        '-of',
        'json',
        file,
      ],
      60_000,
    );
    const parsed = JSON.parse(stdout) as {
      format?: { start_time?: string };
      packets?: { pts_time?: string; flags?: string }[];
    };
    const keyframes = (parsed.packets ?? [])
      .filter((p) => p.flags?.startsWith('K') && p.pts_time !== undefined)
      .map((p) => Number(p.pts_time))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    return { startTime: Number(parsed.format?.start_time ?? 0) || 0, keyframes };
  }

  async probeStartTime(file: string): Promise<number> {
    const { stdout } = await collect(
      this.ffprobePath,
      ['-v', 'error', '-show_entries', 'format=start_time', '-of', 'json', file],
      60_000,
    );
    return Number((JSON.parse(stdout) as { format?: { start_time?: string } }).format?.start_time ?? 0) || 0;
  }

  /** Writes the export and measures it: `write`, then `measure`. */
  async cut(
    parts: readonly CutPart[],
    output: string,
    workDir: string,
    onProgress: (seconds: number) => void,
    expectedSeconds?: number,
  ): Promise<CutResult> {
    await this.write(parts, output, workDir, onProgress, expectedSeconds);
    return this.measure(output);
  }

  /** The stream-copy cut into `output`, with the moov in front. */
  async write(
    parts: readonly CutPart[],
    output: string,
    workDir: string,
    onProgress: (seconds: number) => void,
    expectedSeconds?: number,
  ): Promise<void> {
    const reserve = expectedSeconds === undefined ? undefined : this.moovRoom(expectedSeconds);
    /** In the room kept for the moov or, with more frames than reserved for, by faststart. */
    const laidOut = async (input: string[], checkOrder: boolean): Promise<boolean> => {
      try {
        return await this.cutFrom(input, output, onProgress, reserve, checkOrder);
      } catch (error) {
        if (!(error instanceof MoovRoomTooSmall)) throw error;
        await rm(output, { force: true });
        return this.cutFrom(input, output, onProgress, undefined, checkOrder);
      }
    };
    const joined = await this.joinedInput(parts, workDir);
    if (joined) {
      if (await laidOut(joined, true)) return;
      // ffmpeg had to repair the joined stream's timestamps: the concat demuxer cuts instead.
      await rm(output, { force: true });
    }
    const list = join(workDir, 'cut.ffconcat');
    await writeFile(list, concatScript(parts));
    await laidOut(['-f', 'concat', '-safe', '0', '-i', list], false);
  }

  /** Where the written MP4 starts and how long it plays, as ffprobe reads it. */
  async measure(output: string): Promise<CutResult> {
    const { stdout } = await collect(
      this.ffprobePath,
      ['-v', 'error', '-show_entries', 'format=start_time,duration', '-of', 'json', output],
      60_000,
    );
    const format = (JSON.parse(stdout) as { format?: { start_time?: string; duration?: string } }).format ?? {};
    const durationSeconds = Number(format.duration);
    if (!Number.isFinite(durationSeconds)) {
      throw new DomainError('internal', 'export-media-failed', 'ffprobe found no duration in the exported file');
    }
    return { startTime: Number(format.start_time ?? 0) || 0, durationSeconds };
  }

  /**
   * ffmpeg input arguments reading the parts as one MPEG-TS byte stream (see the file comment),
   * with the edge parts trimmed into `workDir`; undefined when the concat demuxer must cut:
   * a path with the protocol's separator `|`, segments whose video is not on one and the same
   * PID, or an in-point the file does not mark as a keyframe.
   */
  private async joinedInput(parts: readonly CutPart[], workDir: string): Promise<string[] | undefined> {
    if (!this.join || parts.length === 0 || parts.some((p) => p.path.includes('|'))) return undefined;
    const edges = (parts.length === 1 ? [0] : [0, parts.length - 1]).filter(
      (i) => parts[i]!.inpoint !== undefined || parts[i]!.outpoint !== undefined,
    );
    const files = parts.map((p) => p.path);
    for (const i of edges) files[i] = join(workDir, i === 0 ? 'first.ts' : 'last.ts');
    const joinedList = `concat:${files.map((f) => `file:${f}`).join('|')}`;
    // One argument of a process may not exceed 128 KiB on Linux (E2BIG): a long window (a day
    // is 8,640 segments) goes through the concat demuxer's list file instead.
    if (Buffer.byteLength(joinedList) > MAX_JOINED_ARGUMENT_BYTES) return undefined;
    // One stream means one video PID: a run whose video sits elsewhere would be left out.
    const pids = new Set(await Promise.all(parts.map((p) => videoPidOf(p.path))));
    if (pids.size !== 1 || pids.has(undefined)) return undefined;
    for (const i of edges) {
      const part = parts[i]!;
      let ts: Buffer = await readFile(part.path);
      if (part.inpoint !== undefined) {
        const from = Math.round(part.inpoint * TICKS_PER_SECOND);
        ts = trimToWindow(ts, from, Number.POSITIVE_INFINITY);
        // The in-point is a keyframe the file marks; if the trim starts elsewhere, let ffmpeg seek.
        if (tsTiming(ts, false)?.startTicks !== from) return undefined;
      }
      if (part.outpoint !== undefined) ts = endBefore(ts, part.outpoint * TICKS_PER_SECOND);
      await writeFile(files[i]!, ts);
    }
    return ['-f', 'mpegts', '-i', joinedList];
  }

  /**
   * One ffmpeg run from `input` into `output`. With `reserveBytes` the MP4 muxer writes the
   * moov into room kept at the start of the file (`-moov_size`) instead of moving every byte
   * of the file behind it afterwards (`+faststart`, a second pass over the whole export); the
   * file is written once, so it is flushed to disk while ffmpeg still writes (the export's
   * fsync then has little left to do). Throws MoovRoomTooSmall when the room is too small.
   * With `checkOrder`, returns false when ffmpeg had to repair decreasing timestamps (a joint
   * it did not recognise), true otherwise.
   */
  private async cutFrom(
    input: string[],
    output: string,
    onProgress: (seconds: number) => void,
    reserveBytes: number | undefined,
    checkOrder: boolean,
  ): Promise<boolean> {
    const layout = reserveBytes === undefined ? ['-movflags', '+faststart'] : ['-moov_size', String(reserveBytes)];
    const flusher = reserveBytes === undefined ? undefined : flushWhileWriting(output);
    try {
      const { stderr, watched } = await collect(
        this.ffmpegPath,
        [
          ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', checkOrder ? 'warning' : 'error'],
          ...input,
          ...['-map', '0:v:0', '-c', 'copy', ...layout],
          ...['-progress', 'pipe:1', '-n', output],
        ],
        this.timeoutMs,
        (line) => {
          // `out_time_ms` is in microseconds, whatever its name says.
          const match = /^out_time_ms=(\d+)$/.exec(line);
          if (match) onProgress(Number(match[1]) / 1_000_000);
        },
        checkOrder ? NON_MONOTONIC : undefined,
      );
      // Some ffmpeg versions exit 0 when the trailer (the moov) could not be written.
      if (/reserved_moov_size is too small|Error writing trailer/i.test(stderr)) {
        throw new MoovRoomTooSmall(stderr.trim().split('\n').slice(-2).join(' | '));
      }
      return !watched;
    } catch (error) {
      const tooSmall = error instanceof Error && error.message.includes('reserved_moov_size is too small');
      throw tooSmall && !(error instanceof MoovRoomTooSmall) ? new MoovRoomTooSmall(error.message) : error;
    } finally {
      await flusher?.stop();
    }
  }
}

class MoovRoomTooSmall extends Error {}

/** Frames per second the moov room is sized for; faster cameras get a faststart pass instead. */
export const MAX_RESERVED_FPS = 60;

/**
 * Room for the moov of `seconds` of video: per frame at most a sample size, a chunk offset,
 * a composition offset and a time-to-sample entry (24 bytes), plus the fixed boxes. 15 minutes
 * reserve about 1.4 MB, of which the real moov (about 100 kB at 25 fps) uses a small part.
 */
export function moovReserveBytes(seconds: number): number {
  return Math.ceil(seconds * 1.1 + 10) * MAX_RESERVED_FPS * 24 + 64 * 1024;
}

/**
 * How often the output is flushed while ffmpeg writes it. ffmpeg now writes a 15-minute export
 * in under a second: flushing once a second left most of it (about half a second of disk time)
 * to the final fsync, after ffmpeg; every 100 ms the disk keeps up while ffmpeg writes and the
 * final fsync has tens of milliseconds left (bench/export.bench.ts timeline, "synced").
 */
const FLUSH_INTERVAL_MS = 100;

/** Flushes `path` to disk every FLUSH_INTERVAL_MS until stopped (ignores a file not created yet). */
function flushWhileWriting(path: string): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let handle: FileHandle | undefined;
  const flush = async () => {
    handle ??= await open(path, 'r');
    await handle.datasync();
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = flush()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await handle?.close();
    },
  };
}

/** Bytes of a segment's head searched for its first video packet (tables come first). */
const PID_HEAD_BYTES = 64 * TS_PACKET;

/** Where a video PES starts in the TS packet at `p`, or -1: the payload's start code and stream id. */
function videoPesAt(ts: Buffer, p: number): number {
  // Only packets that start a payload unit can start a PES.
  if (ts[p] !== 0x47 || !(ts[p + 1]! & 0x40)) return -1;
  const afc = (ts[p + 3]! >> 4) & 0x03;
  const payload = afc & 0x02 ? p + 5 + ts[p + 4]! : p + 4;
  if (!(afc & 0x01) || payload + 4 > p + TS_PACKET) return -1;
  const video = ts[payload] === 0 && ts[payload + 1] === 0 && ts[payload + 2] === 1 && ts[payload + 3]! >> 4 === 0x0e;
  return video ? payload : -1;
}

/** The PID of the first video PES in the segment's head; undefined when there is none. */
async function videoPidOf(file: string): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.allocUnsafe(PID_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, PID_HEAD_BYTES, 0);
    for (let p = 0; p + TS_PACKET <= bytesRead; p += TS_PACKET) {
      if (videoPesAt(head, p) >= 0) return ((head[p + 1]! & 0x1f) << 8) | head[p + 2]!;
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * The bytes of an MPEG-TS segment before its first video access unit that decodes at or after
 * `toTicks` (DTS, else PTS; 90 kHz): the concat demuxer's out-point, cut in decoding order so
 * that every frame kept still has the frames it refers to.
 */
export function endBefore(ts: Buffer, toTicks: number): Buffer {
  for (let p = 0; p + TS_PACKET <= ts.length; p += TS_PACKET) {
    if (videoPesAt(ts, p) < 0) continue;
    const at = firstTimestamp(ts.subarray(p, p + TS_PACKET));
    if (at !== undefined && at >= toTicks) return ts.subarray(0, p);
  }
  return ts;
}
