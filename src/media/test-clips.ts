import { execFile } from 'node:child_process';
import { mediaProcessEnv } from './ffmpeg.js';

export interface TestClipOptions {
  seconds: number;
  /** Adds a 1 kHz AAC tone. */
  audio?: boolean;
  /** Frames per second; one keyframe per second. */
  fps?: number;
}

/**
 * Generates a clip from ffmpeg's `testsrc` (and `sine`): 320x240 H.264 Constrained Baseline,
 * one keyframe per second, container from the file extension (.mp4 or .ts). Used by tests and
 * meant for the demo's `file` source.
 */
export function makeTestClip(ffmpegPath: string, file: string, options: TestClipOptions): Promise<void> {
  const fps = options.fps ?? 15;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=${fps}`];
  if (options.audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000');
  args.push('-t', String(options.seconds), '-map', '0:v');
  if (options.audio) args.push('-map', '1:a', '-c:a', 'aac', '-b:a', '64k');
  args.push(
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-profile:v',
    'baseline',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(fps),
    '-keyint_min',
    String(fps),
    '-sc_threshold',
    '0',
    file,
  );
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath, args, { env: mediaProcessEnv(), timeout: 30_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`test clip failed: ${stderr}`)) : resolve(),
    );
  });
}
