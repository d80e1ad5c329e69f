/**
 * The ffmpeg side of exports: keyframe times of a segment (ffprobe), the stream-copy cut of a
 * concat list into an MP4 with its moov atom in front (faststart), and measuring the result.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DomainError } from '../lib/errors.js';
import { mediaProcessEnv } from '../media/ffmpeg.js';

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
  /** Cuts the concat list into `output`; `onProgress` gets seconds written so far. */
  cut(concatFile: string, output: string, onProgress: (seconds: number) => void): Promise<CutResult>;
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

export class FfmpegExportCutter implements ExportCutter {
  constructor(
    private readonly ffmpegPath: string,
    private readonly ffprobePath: string,
    private readonly timeoutMs = 30 * 60_000,
  ) {}

  async timing(file: string): Promise<SegmentTiming> {
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

  async startTime(file: string): Promise<number> {
    const { stdout } = await collect(
      this.ffprobePath,
      ['-v', 'error', '-show_entries', 'format=start_time', '-of', 'json', file],
      60_000,
    );
    return Number((JSON.parse(stdout) as { format?: { start_time?: string } }).format?.start_time ?? 0) || 0;
  }

  async cut(concatFile: string, output: string, onProgress: (seconds: number) => void): Promise<CutResult> {
    await collect(
      this.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-nostats',
        '-loglevel',
        'error',
        '-f',
        'concat',
        '-safe',
        '0',
        '-i',
        concatFile,
        '-map',
        '0:v:0',
        '-c',
        'copy',
        '-movflags',
        '+faststart',
        '-progress',
        'pipe:1',
        '-n',
        output,
      ],
      this.timeoutMs,
      (line) => {
        // `out_time_ms` is in microseconds, whatever its name says.
        const match = /^out_time_ms=(\d+)$/.exec(line);
        if (match) onProgress(Number(match[1]) / 1_000_000);
      },
    );
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
}
