import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { DomainError } from '../lib/errors.js';
import { redactText } from './redact.js';

/**
 * The ffmpeg and ffprobe adapter: resolving the binaries, probing files, reading the ffmpeg
 * version and building the input arguments that differ between ffmpeg releases.
 */

export interface MediaBinaryOptions {
  /** Overrides the ffmpeg binary; defaults to the `@ffmpeg-installer/ffmpeg` package. */
  ffmpegPath?: string;
  /** Overrides the ffprobe binary; defaults to the `@ffprobe-installer/ffprobe` package. */
  ffprobePath?: string;
  /** Upper bound for one probe or version call. */
  timeoutMs?: number;
}

export interface MediaBinaries {
  ffmpegPath: string;
  ffprobePath: string;
}

const require = createRequire(import.meta.url);

function packagePath(name: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string {
  const mod = require(name) as { path?: unknown };
  if (typeof mod.path !== 'string' || mod.path === '') {
    throw new DomainError('internal', 'media-binary-missing', `The package ${name} does not provide a binary path`);
  }
  return mod.path;
}

export function resolveMediaBinaries(options: MediaBinaryOptions = {}): MediaBinaries {
  return {
    ffmpegPath: options.ffmpegPath ?? packagePath('@ffmpeg-installer/ffmpeg'),
    ffprobePath: options.ffprobePath ?? packagePath('@ffprobe-installer/ffprobe'),
  };
}

/**
 * Environment for the static ffmpeg/ffprobe builds. They link glibc statically, and static
 * glibc's iconv loads the system's gconv modules, which crashes them (SIGSEGV) as soon as an
 * MPEG-TS file carries a service name to convert. Pointing GCONV_PATH at a directory without
 * modules makes iconv fail cleanly instead. TZ=UTC keeps any time that ffmpeg prints in UTC.
 */
export function mediaProcessEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, GCONV_PATH: '/nonexistent-protocam-gconv', TZ: 'UTC' };
}

export interface ProbedStream {
  index: number;
  codecType: string;
  codecName: string;
  profile: string | undefined;
  width: number | undefined;
  height: number | undefined;
  sampleRate: number | undefined;
  channels: number | undefined;
}

export interface ProbeResult {
  formatName: string;
  /** Seconds; undefined when the container does not say. */
  durationSeconds: number | undefined;
  sizeBytes: number | undefined;
  streams: ProbedStream[];
}

export interface FfmpegVersion {
  /** Major release, e.g. 4 for 4.4.2 or for a git snapshot whose libavformat is 58.x. */
  major: number;
  /** The version string as ffmpeg reports it, e.g. `4.4.2` or `N-47683-g0e8eb07980-static`. */
  raw: string;
  /** How `major` was found: from a release number, from libavformat's major, or assumed. */
  source: 'release' | 'libavformat' | 'assumed';
}

/** libavformat major version per ffmpeg release. */
const LIBAVFORMAT_TO_FFMPEG: Record<number, number> = { 57: 3, 58: 4, 59: 5, 60: 6, 61: 7, 62: 8 };

/** The ffmpeg major that is assumed when nothing in the output says: 4.x, the oldest we support. */
export const ASSUMED_FFMPEG_MAJOR = 4;

/**
 * Parses `ffmpeg -version` output. Release builds say `ffmpeg version 4.4.2-0ubuntu1` or
 * `n5.1.2`; git snapshots such as the 2018 static build of `@ffmpeg-installer/ffmpeg` say
 * `N-47683-g0e8eb07980-static`, so their release is derived from the `libavformat 58.x` line
 * (58 is the 4.x series). If neither is there the version is treated as 4.x: its RTSP option
 * (`-stimeout`) is the one that older builds understand.
 */
export function parseFfmpegVersion(output: string): FfmpegVersion {
  const raw = /version\s+(\S+)/.exec(output)?.[1] ?? 'unknown';
  const release = /^n?(\d+)\.\d+/.exec(raw);
  if (release?.[1]) return { major: Number(release[1]), raw, source: 'release' };
  const lavf = /libavformat\s+(\d+)\./.exec(output);
  const fromLavf = lavf?.[1] ? LIBAVFORMAT_TO_FFMPEG[Number(lavf[1])] : undefined;
  if (fromLavf !== undefined) return { major: fromLavf, raw, source: 'libavformat' };
  return { major: ASSUMED_FFMPEG_MAJOR, raw, source: 'assumed' };
}

export interface RtspInputOptions {
  /** Socket I/O timeout: a camera that sends nothing for this long ends ffmpeg with an error. */
  timeoutSeconds?: number;
}

/**
 * Input arguments for an RTSP camera over TCP. The socket timeout option changed in ffmpeg 5:
 * 4.x has `-stimeout` (microseconds) and its `-timeout` means "listen for an incoming
 * connection", which would turn the recorder into a server; 5.0 removed `-stimeout` and made
 * `-timeout` the socket timeout, also in microseconds.
 */
export function rtspInputArgs(url: string, ffmpegMajor: number, options: RtspInputOptions = {}): string[] {
  const microseconds = String(Math.round((options.timeoutSeconds ?? 10) * 1_000_000));
  const timeoutOption = ffmpegMajor >= 5 ? '-timeout' : '-stimeout';
  return ['-rtsp_transport', 'tcp', timeoutOption, microseconds, '-i', url];
}

/** Input arguments for a local clip played in real time, looped forever (the `file` source). */
export function fileLoopInputArgs(file: string): string[] {
  return ['-re', '-stream_loop', '-1', '-i', file];
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: mediaProcessEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error as Error, { stderr }));
        else resolve({ stdout, stderr });
      },
    );
  });
}

function optionalNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function describeFailure(error: unknown): string {
  const e = error as { stderr?: unknown; message?: unknown; signal?: unknown; killed?: unknown };
  if (e.killed) return 'timed out';
  const stderr = typeof e.stderr === 'string' ? e.stderr.trim().split('\n').slice(-3).join(' | ') : '';
  if (stderr) return stderr;
  if (typeof e.signal === 'string') return `killed by ${e.signal}`;
  return typeof e.message === 'string' ? e.message : 'unknown error';
}

/** The adapter the recorder, playback and export use; construct once and pass it on. */
export class MediaTools {
  readonly ffmpegPath: string;
  readonly ffprobePath: string;
  private readonly timeoutMs: number;
  private version: Promise<FfmpegVersion> | undefined;

  constructor(options: MediaBinaryOptions = {}) {
    const binaries = resolveMediaBinaries(options);
    this.ffmpegPath = binaries.ffmpegPath;
    this.ffprobePath = binaries.ffprobePath;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Streams, codecs and duration of a media file (or URL) by ffprobe's JSON output. */
  async probe(input: string): Promise<ProbeResult> {
    const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', input];
    let stdout: string;
    try {
      ({ stdout } = await run(this.ffprobePath, args, this.timeoutMs));
    } catch (error) {
      throw new DomainError(
        'internal',
        'media-probe-failed',
        redactText(`Cannot probe ${input}: ${describeFailure(error)}`),
        {
          input: redactText(input),
        },
      );
    }
    let parsed: { format?: Record<string, unknown>; streams?: Record<string, unknown>[] };
    try {
      parsed = JSON.parse(stdout) as typeof parsed;
    } catch {
      throw new DomainError('internal', 'media-probe-failed', redactText(`ffprobe gave no JSON for ${input}`));
    }
    if (!parsed.format) {
      throw new DomainError('internal', 'media-probe-failed', redactText(`ffprobe found no container in ${input}`));
    }
    return {
      formatName: text(parsed.format.format_name),
      durationSeconds: optionalNumber(parsed.format.duration),
      sizeBytes: optionalNumber(parsed.format.size),
      streams: (parsed.streams ?? []).map((s) => ({
        index: Number(s.index),
        codecType: text(s.codec_type),
        codecName: text(s.codec_name),
        profile: typeof s.profile === 'string' ? s.profile : undefined,
        width: optionalNumber(s.width),
        height: optionalNumber(s.height),
        sampleRate: optionalNumber(s.sample_rate),
        channels: optionalNumber(s.channels),
      })),
    };
  }

  /** The ffmpeg version, asked once and cached. */
  ffmpegVersion(): Promise<FfmpegVersion> {
    this.version ??= run(this.ffmpegPath, ['-version'], this.timeoutMs).then(
      ({ stdout }) => parseFfmpegVersion(stdout),
      (error: unknown) => {
        this.version = undefined;
        throw new DomainError('internal', 'media-ffmpeg-unusable', `ffmpeg -version failed: ${describeFailure(error)}`);
      },
    );
    return this.version;
  }
}
