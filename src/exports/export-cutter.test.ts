import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaTools } from '../media/ffmpeg.js';
import { makeTestClip } from '../media/test-clips.js';
import { cutSegments } from '../../test/footage.js';
import { FfmpegExportCutter, moovReserveBytes } from './export-cutter.js';
import { concatScript } from './exports.rules.js';

const media = new MediaTools();

describe('export cutter: segment times without ffprobe', () => {
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
    const list = join(dir, 'list.ffconcat');
    writeFileSync(list, concatScript(files.map((path) => ({ path }))));

    const roomy = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath);
    const kept = await roomy.cut(list, join(dir, 'kept.mp4'), () => undefined, 6);
    expect(boxes(join(dir, 'kept.mp4')).slice(0, 3)).toEqual(['ftyp', 'moov', 'free']);
    expect(kept.durationSeconds).toBeCloseTo(6, 0);

    const cramped = new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath, 60_000, () => 200);
    const moved = await cramped.cut(list, join(dir, 'moved.mp4'), () => undefined, 6);
    const order = boxes(join(dir, 'moved.mp4'));
    expect(order.slice(0, 2)).toEqual(['ftyp', 'moov']);
    expect(order).toContain('mdat');
    expect(moved.durationSeconds).toBeCloseTo(kept.durationSeconds, 3);
    expect(moovReserveBytes(15 * 60)).toBeLessThan(2_000_000);
  });
});
