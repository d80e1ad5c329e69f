/**
 * The ffmpeg side of exports: keyframe times of a segment, the stream-copy cut of a concat list
 * into an MP4 with its moov atom in front (faststart), and measuring the result.
 * Segment times come from the MPEG-TS timestamps themselves (ts-timestamps.ts: the same values
 * ffprobe reports, without two process starts and a probe of the stream per export); ffprobe
 * stays the fallback for a file whose timestamps that parser cannot read.
 */
import { spawn } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DomainError } from '../lib/errors.js';
import { mediaProcessEnv } from '../media/ffmpeg.js';
import { tsTiming } from '../playback/ts-timestamps.js';

const TICKS_PER_SECOND = 90_000;
/** Enough of a segment's head to hold the first timestamp of every stream. */
const HEAD_BYTES = 512 * 1024;

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

export interface ExportCutter {
  /** Start time and keyframes (for an in-point). */
  timing(file: string): Promise<SegmentTiming>;
  /** Start time only (for an out-point): reads the file's header, not its packets. */
  startTime(file: string): Promise<number>;
  /**
   * Cuts the concat list into `output` (moov in front); `onProgress` gets seconds written so
   * far. `expectedSeconds`, when known, lets the cut reserve room for the moov up front.
   */
  write(
    concatFile: string,
    output: string,
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
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: mediaProcessEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (onLine) createInterface({ input: child.stdout }).on('line', onLine);
    else child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new DomainError('internal', 'export-media-failed', `${command} could not start: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
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
    concatFile: string,
    output: string,
    onProgress: (seconds: number) => void,
    expectedSeconds?: number,
  ): Promise<CutResult> {
    await this.write(concatFile, output, onProgress, expectedSeconds);
    return this.measure(output);
  }

  /** The stream-copy cut into `output`, with the moov in front. */
  async write(
    concatFile: string,
    output: string,
    onProgress: (seconds: number) => void,
    expectedSeconds?: number,
  ): Promise<void> {
    const reserve = expectedSeconds === undefined ? undefined : this.moovRoom(expectedSeconds);
    try {
      await this.concat(concatFile, output, onProgress, reserve);
    } catch (error) {
      // More frames than reserved for (a camera above MAX_RESERVED_FPS): the classic way.
      const tooSmall =
        error instanceof MoovRoomTooSmall ||
        (error instanceof Error && error.message.includes('reserved_moov_size is too small'));
      if (!tooSmall) throw error;
      await rm(output, { force: true });
      await this.concat(concatFile, output, onProgress, undefined);
    }
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
   * The stream-copy concat. With `reserveBytes` the MP4 muxer writes the moov into room kept
   * at the start of the file (`-moov_size`) instead of moving every byte of the file behind it
   * afterwards (`+faststart`, a second pass over the whole export); the file is written once,
   * so it is flushed to disk while ffmpeg still writes (the export's fsync then has little
   * left to do). ffmpeg fails when the room is too small; the caller then uses faststart.
   */
  private async concat(
    concatFile: string,
    output: string,
    onProgress: (seconds: number) => void,
    reserveBytes: number | undefined,
  ): Promise<void> {
    const layout = reserveBytes === undefined ? ['-movflags', '+faststart'] : ['-moov_size', String(reserveBytes)];
    const flusher = reserveBytes === undefined ? undefined : flushWhileWriting(output);
    try {
      const { stderr } = await collect(
        this.ffmpegPath,
        [
          ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'],
          ...['-f', 'concat', '-safe', '0', '-i', concatFile],
          ...['-map', '0:v:0', '-c', 'copy', ...layout],
          ...['-progress', 'pipe:1', '-n', output],
        ],
        this.timeoutMs,
        (line) => {
          // `out_time_ms` is in microseconds, whatever its name says.
          const match = /^out_time_ms=(\d+)$/.exec(line);
          if (match) onProgress(Number(match[1]) / 1_000_000);
        },
      );
      // Some ffmpeg versions exit 0 when the trailer (the moov) could not be written.
      if (/reserved_moov_size is too small|Error writing trailer/i.test(stderr)) {
        throw new MoovRoomTooSmall(stderr.trim().split('\n').slice(-2).join(' | '));
      }
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

/** Flushes `path` to disk about every second until stopped (ignores a file not created yet). */
function flushWhileWriting(path: string): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const flush = async () => {
    const handle = await open(path, 'r');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = flush()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
