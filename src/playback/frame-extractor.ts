/** The ffmpeg side of still frames: decode one frame of a segment file into a JPEG. */
import { spawn } from 'node:child_process';
import { DomainError } from '../lib/errors.js';
import { mediaProcessEnv } from '../media/ffmpeg.js';

export interface FrameExtractor {
  /** One JPEG frame at `offsetSeconds` into `file`, optionally scaled to `width` (height keeps the aspect). */
  jpegAt(file: string, offsetSeconds: number, width?: number): Promise<Buffer>;
}

/** Largest JPEG accepted from ffmpeg; a frame of a 4K camera is far below this. */
const MAX_JPEG_BYTES = 16 * 1024 * 1024;

export class FfmpegFrameExtractor implements FrameExtractor {
  constructor(
    private readonly ffmpegPath: string,
    private readonly timeoutMs = 15_000,
  ) {}

  jpegAt(file: string, offsetSeconds: number, width?: number): Promise<Buffer> {
    // Input seeking (-ss before -i) jumps to the keyframe before and decodes up to the instant.
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-ss', offsetSeconds.toFixed(3), '-i', file];
    args.push('-map', '0:v:0', '-frames:v', '1');
    if (width !== undefined) args.push('-vf', `scale=${width}:-2`);
    args.push('-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2pipe', 'pipe:1');
    return new Promise((resolve, reject) => {
      const child = spawn(this.ffmpegPath, args, { env: mediaProcessEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let size = 0;
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_JPEG_BYTES) child.kill('SIGKILL');
        else chunks.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new DomainError('internal', 'frame-failed', `ffmpeg could not start: ${error.message}`));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        const jpeg = Buffer.concat(chunks);
        // A JPEG starts with SOI (FF D8); anything else (or nothing) is a failed decode.
        if (code === 0 && jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8) resolve(jpeg);
        else
          reject(new DomainError('internal', 'frame-failed', `ffmpeg gave no frame (exit ${code}): ${stderr.trim()}`));
      });
    });
  }
}
