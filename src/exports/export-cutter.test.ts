import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaTools, mediaProcessEnv } from '../media/ffmpeg.js';
import { makeTestClip } from '../media/test-clips.js';
import { firstTimestamp, shiftTimestamps } from '../playback/ts-timestamps.js';
import { cutSegments } from '../../test/footage.js';
import {
  endBefore,
  FfmpegExportCutter,
  MAX_JOINED_ARGUMENT_BYTES,
  moovReserveBytes,
  type CutPart,
} from './export-cutter.js';

const media = new MediaTools();

let works = 0;
const workDir = (dir: string): string => {
  const path = join(dir, `work-${works++}`);
  mkdirSync(path);
  return path;
};

const runMedia = (path: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(path, args, { env: mediaProcessEnv(), timeout: 60_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) =>
      error ? reject(new Error(stderr)) : resolve(stdout),
    ),
  );

/** Every video packet of an MP4 (timestamps, size, flags): equal lists mean the same cut. */
const packets = (file: string): Promise<string> =>
  runMedia(media.ffprobePath, [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts,size,flags'],
    ...['-of', 'csv=p=0', file],
  ]);

/** A clip with B-frames (reordered: DTS before PTS), unlike makeTestClip's baseline profile. */
const reorderedClip = (file: string, seconds: number): Promise<string> =>
  runMedia(media.ffmpegPath, [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25'],
    ...['-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-bf', '2'],
    ...['-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', file],
  ]);

describe('export cutter: segment times without ffprobe, the joined cut', () => {
  const sameAsProbe = async (cutter: FfmpegExportCutter, file: string) => {
    const parsed = await cutter.timing(file);
    const probed = await cutter.probeTiming(file);
    expect(parsed.startTime).toBeCloseTo(probed.startTime, 6);
    expect(parsed.keyframes).toHaveLength(probed.keyframes.length);
    parsed.keyframes.forEach((k, i) => expect(k).toBeCloseTo(probed.keyframes[i]!, 6));
    expect(await cutter.startTime(file)).toBeCloseTo(await cutter.probeStartTime(file), 6);
  };

  it('reads the same start time and keyframes from recorded segments as ffprobe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8 });
    // Segments as the recorder writes them (MPEG-TS, timestamps reset per segment).
    const files = await cutSegments(media.ffmpegPath, clip, join(dir, 'rec'), Date.parse('2026-03-02T09:00:00Z'), 4);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const cutter = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
    for (const file of files) await sameAsProbe(cutter, file);
  });

  it('takes the earliest stream as the start when the segment has audio too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.ts');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 4, audio: true });
    await sameAsProbe(new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath), clip);
  });

  it('falls back to ffprobe for a file without MPEG-TS timestamps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 3 });
    const cutter = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
    const timing = await cutter.timing(clip);
    expect(timing).toEqual(await cutter.probeTiming(clip));
    expect(timing.keyframes.length).toBeGreaterThanOrEqual(3);
  });

  /** Top-level MP4 boxes in file order. */
  const boxes = (file: string): string[] => {
    const bytes = readFileSync(file);
    const found: string[] = [];
    for (let at = 0; at + 8 <= bytes.length;) {
      let size = bytes.readUInt32BE(at);
      if (size === 1) size = Number(bytes.readBigUInt64BE(at + 8));
      found.push(bytes.toString('latin1', at + 4, at + 8));
      if (size < 8) break;
      at += size;
    }
    return found;
  };

  it('writes the moov in front, in room kept for it or, when that is too small, by faststart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 6 });
    const files = await cutSegments(media.ffmpegPath, clip, join(dir, 'rec'), Date.parse('2026-03-02T09:00:00Z'), 2);
    const parts = files.map((path) => ({ path }));

    const roomy = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
    const kept = await roomy.cut(parts, join(dir, 'kept.mp4'), workDir(dir), () => undefined, 6);
    expect(boxes(join(dir, 'kept.mp4')).slice(0, 3)).toEqual(['ftyp', 'moov', 'free']);
    expect(kept.durationSeconds).toBeCloseTo(6, 0);

    const cramped = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath, 60_000, () => 200);
    const moved = await cramped.cut(parts, join(dir, 'moved.mp4'), workDir(dir), () => undefined, 6);
    const order = boxes(join(dir, 'moved.mp4'));
    expect(order.slice(0, 2)).toEqual(['ftyp', 'moov']);
    expect(order).toContain('mdat');
    expect(moved.durationSeconds).toBeCloseTo(kept.durationSeconds, 3);
    expect(moovReserveBytes(15 * 60)).toBeLessThan(2_000_000);
  });

  /**
   * Segments as the recorder writes them (2 s each), cut with an in-point on the second keyframe
   * of the first and an out-point 1.3 s into the last, as the export service asks.
   */
  const cutPlan = async (clip: string, dir: string) => {
    const cutter = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
    const files = await cutSegments(media.ffmpegPath, clip, join(dir, 'rec'), Date.parse('2026-03-02T09:00:00Z'), 2);
    expect(files.length).toBe(4);
    const parts: CutPart[] = files.map((path) => ({ path }));
    parts[0]!.inpoint = (await cutter.timing(files[0]!)).keyframes[1]!;
    parts.at(-1)!.outpoint = (await cutter.startTime(files.at(-1)!)) + 1.3;
    return parts;
  };
  const joining = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
  const demuxing = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath, 60_000, moovReserveBytes, false);
  const decodeAll = (file: string) =>
    runMedia(media.ffmpegPath, ['-v', 'error', '-xerror', '-nostdin', '-i', file, '-f', 'null', '-']).then(
      () => 'decoded',
    );

  it('joins the segments as one stream: the same packets as the concat demuxer, without probing each file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8 });
    const parts = await cutPlan(clip, dir);
    const joinedWork = workDir(dir);
    const joined = await joining.cut(parts, join(dir, 'joined.mp4'), joinedWork, () => undefined, 6);
    // The joined stream was cut: trimmed edges in the work directory, no concat list.
    expect(readdirSync(joinedWork).sort()).toEqual(['first.ts', 'last.ts']);
    const demuxedWork = workDir(dir);
    const demuxed = await demuxing.cut(parts, join(dir, 'demuxed.mp4'), demuxedWork, () => undefined, 6);
    expect(readdirSync(demuxedWork)).toEqual(['cut.ffconcat']);

    const listed = await packets(join(dir, 'joined.mp4'));
    // 15 fps: 1 s of the first segment, two whole ones, the frames before 1.3 s of the last.
    expect(listed.trim().split('\n')).toHaveLength(15 + 30 + 30 + 20);
    expect(listed).toBe(await packets(join(dir, 'demuxed.mp4')));
    expect(joined).toEqual(demuxed);
  }, 60_000);

  it('joins segments with B-frames from the in-point keyframe to the out-point, every frame decodable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await reorderedClip(clip, 8);
    const parts = await cutPlan(clip, dir);
    const out = join(dir, 'joined.mp4');
    const cut = await joining.cut(parts, out, workDir(dir), () => undefined, 6);
    // 1 s of the first segment from its second keyframe, two whole ones, 1.3 s of the last.
    expect(cut.startTime).toBe(0);
    expect(Math.abs(cut.durationSeconds - (1 + 2 + 2 + 1.3))).toBeLessThanOrEqual(0.12);
    expect((await packets(out)).split('\n')[0]).toMatch(/^0,-?\d+,\d+,K/);
    expect(await decodeAll(out)).toBe('decoded');

    // Both edges inside one segment: half a second from its second keyframe.
    const single = join(dir, 'single.mp4');
    const inpoint = parts[0]!.inpoint!;
    const one = await joining.cut(
      [{ path: parts[0]!.path, inpoint, outpoint: inpoint + 0.5 }],
      single,
      workDir(dir),
      () => undefined,
      1,
    );
    expect(one.startTime).toBe(0);
    // Cut in decoding order: the frames decoded before the out-point, two of which show after it.
    expect(Math.abs(one.durationSeconds - 0.5)).toBeLessThanOrEqual(0.12);
    expect(await decodeAll(single)).toBe('decoded');
  }, 60_000);

  it('joins segments that carry audio too: the same video frames, starting on the in-point keyframe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8, audio: true });
    mkdirSync(join(dir, 'rec'));
    await runMedia(media.ffmpegPath, [
      ...['-hide_banner', '-loglevel', 'error', '-i', clip, '-map', '0', '-c', 'copy', '-f', 'segment'],
      ...['-segment_format', 'mpegts', '-segment_time', '2', '-reset_timestamps', '1', join(dir, 'rec', '%03d.ts')],
    ]);
    const files = readdirSync(join(dir, 'rec'))
      .sort()
      .map((f) => join(dir, 'rec', f));
    const parts: CutPart[] = files.map((path) => ({ path }));
    parts[0]!.inpoint = (await joining.timing(files[0]!)).keyframes[1]!;
    parts.at(-1)!.outpoint = (await joining.startTime(files.at(-1)!)) + 1.3;
    const work = workDir(dir);
    const joined = await joining.cut(parts, join(dir, 'joined.mp4'), work, () => undefined, 6);
    expect(readdirSync(work).sort()).toEqual(['first.ts', 'last.ts']);
    await demuxing.cut(parts, join(dir, 'demuxed.mp4'), workDir(dir), () => undefined, 6);
    // Size and flags of every video packet: the same frames (the demuxer shifts their times by
    // the audio it starts with; the join starts the MP4 on the keyframe itself).
    const frames = async (file: string) =>
      (await packets(file))
        .trim()
        .split('\n')
        .map((line) => line.split(',').slice(2).join(','));
    expect(await frames(join(dir, 'joined.mp4'))).toEqual(await frames(join(dir, 'demuxed.mp4')));
    expect((await packets(join(dir, 'joined.mp4'))).split('\n')[0]).toMatch(/^0,0,\d+,K/);
    expect(joined.startTime).toBe(0);
    expect(joined.durationSeconds).toBeCloseTo(1 + 2 + 2 + 1.3, 0);
  }, 60_000);

  it('cuts with the concat demuxer when the joined stream would go back in time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8 });
    const parts = await cutPlan(clip, dir);
    // The second segment moved to start 20 ms before the first one's last frame: too little
    // for ffmpeg to take for a joint, so the output's timestamps would run backwards.
    const dts = (file: string) =>
      runMedia(media.ffprobePath, ['-v', 'error', '-show_entries', 'packet=dts', '-of', 'csv=p=0', file]).then((out) =>
        out
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => parseInt(line, 10)),
      );
    const lastOfFirst = Math.max(...(await dts(parts[0]!.path)));
    const second = readFileSync(parts[1]!.path);
    const overlapping = join(dir, 'overlapping.ts');
    writeFileSync(overlapping, shiftTimestamps(second, lastOfFirst - 1800 - firstTimestamp(second)!));
    parts[1] = { path: overlapping };

    const work = workDir(dir);
    await joining.cut(parts, join(dir, 'out.mp4'), work, () => undefined, 6);
    expect(readdirSync(work)).toContain('cut.ffconcat');
    await demuxing.cut(parts, join(dir, 'reference.mp4'), workDir(dir), () => undefined, 6);
    expect(await packets(join(dir, 'out.mp4'))).toBe(await packets(join(dir, 'reference.mp4')));
  }, 60_000);

  it('cuts with the concat demuxer when a segment carries its video on another PID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8 });
    const parts = await cutPlan(clip, dir);
    // The same frames, remuxed with the video on PID 0x150 instead of 0x100.
    const moved = join(dir, 'moved.ts');
    await runMedia(media.ffmpegPath, [
      ...['-hide_banner', '-loglevel', 'error', '-i', parts[2]!.path, '-map', '0', '-c', 'copy'],
      ...['-mpegts_start_pid', '0x150', '-f', 'mpegts', moved],
    ]);
    parts[2] = { path: moved };
    const work = workDir(dir);
    const cut = await joining.cut(parts, join(dir, 'out.mp4'), work, () => undefined, 6);
    expect(readdirSync(work)).toEqual(['cut.ffconcat']);
    expect(cut.durationSeconds).toBeCloseTo(1 + 2 + 2 + 1.3, 0);
  }, 60_000);

  it('cuts a window too long for one process argument with the concat demuxer (a day is 8,640 segments)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.mp4');
    await makeTestClip(media.ffmpegPath, clip, { seconds: 8 });
    const parts = await cutPlan(clip, dir);
    // A deep directory makes each path about 1,000 bytes: 130 middle segments pass the limit.
    let deep = dir;
    for (let level = 0; level < 4; level++) deep = join(deep, String(level).repeat(240));
    mkdirSync(deep, { recursive: true });
    const middle = join(deep, 'middle.ts');
    writeFileSync(middle, readFileSync(parts[1]!.path));
    const long: CutPart[] = [parts[0]!, ...Array.from({ length: 130 }, () => ({ path: middle })), parts.at(-1)!];
    expect(130 * middle.length).toBeGreaterThan(MAX_JOINED_ARGUMENT_BYTES);

    const work = workDir(dir);
    const cut = await joining.cut(long, join(dir, 'out.mp4'), work, () => undefined, 264);
    expect(readdirSync(work)).toEqual(['cut.ffconcat']);
    // 1 s of the first segment, 130 copies of a 2 s one, 1.3 s of the last.
    expect(cut.durationSeconds).toBeCloseTo(1 + 130 * 2 + 1.3, 0);
  }, 120_000);

  it('ends a segment before the first video frame that decodes at or after the out-point', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cutter-'));
    const clip = join(dir, 'clip.ts');
    await reorderedClip(clip, 2);
    const ts = readFileSync(clip);
    const start = firstTimestamp(ts)!;
    const end = start + 90_000;
    const cut = endBefore(ts, end);
    expect(cut.length % 188).toBe(0);
    const kept = join(dir, 'kept.ts');
    writeFileSync(kept, cut);
    const dts = (
      await runMedia(media.ffprobePath, ['-v', 'error', '-show_entries', 'packet=dts', '-of', 'csv=p=0', kept])
    )
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => parseInt(line, 10));
    // 25 fps: every frame that decodes in the first second (3,600 ticks apart), none after.
    expect(dts).toHaveLength(25);
    expect(Math.max(...dts)).toBeLessThan(end);
    expect(Math.max(...dts)).toBeGreaterThanOrEqual(end - 3600);
    expect(await decodeAll(kept)).toBe('decoded');
    expect(endBefore(ts, start + 10 * 90_000)).toBe(ts);
  }, 60_000);
});
