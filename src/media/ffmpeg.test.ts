import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDomainError } from '../lib/errors.js';
import { MediaTools, parseFfmpegVersion, rtspInputArgs } from './ffmpeg.js';
import { makeTestClip } from './test-clips.js';

describe('ffmpeg version and options', () => {
  it('parses release numbers, git snapshots by libavformat, and assumes 4.x otherwise', () => {
    expect(parseFfmpegVersion('ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright')).toMatchObject({
      major: 4,
      source: 'release',
    });
    expect(parseFfmpegVersion('ffmpeg version n5.1.2 Copyright')).toMatchObject({ major: 5, source: 'release' });
    expect(parseFfmpegVersion('ffmpeg version 7.0.1-static')).toMatchObject({ major: 7 });
    const snapshot =
      'ffmpeg version N-47683-g0e8eb07980-static https://x\nlibavutil      56. 24.101\nlibavformat    58. 22.100 / 58. 22.100';
    expect(parseFfmpegVersion(snapshot)).toEqual({
      major: 4,
      raw: 'N-47683-g0e8eb07980-static',
      source: 'libavformat',
    });
    expect(parseFfmpegVersion('ffmpeg version N-1-gabc')).toMatchObject({ major: 4, source: 'assumed' });
  });

  it('uses -stimeout on 4.x and -timeout on 5.x and later, both in microseconds, over TCP', () => {
    expect(rtspInputArgs('rtsp://cam/1', 4, { timeoutSeconds: 5 })).toEqual([
      '-rtsp_transport',
      'tcp',
      '-stimeout',
      '5000000',
      '-i',
      'rtsp://cam/1',
    ]);
    expect(rtspInputArgs('rtsp://cam/1', 6)).toEqual([
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '10000000',
      '-i',
      'rtsp://cam/1',
    ]);
  });

  it('reads the version of the installed ffmpeg', async () => {
    const version = await new MediaTools().ffmpegVersion();
    expect(version.major).toBeGreaterThanOrEqual(4);
  });
});

describe('probing', () => {
  const tools = new MediaTools();

  it('generates a 6-second H.264/AAC clip and probes its streams and duration', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'protocam-media-')), 'clip.mp4');
    await makeTestClip(tools.ffmpegPath, file, { seconds: 6, audio: true });
    const probe = await tools.probe(file);
    expect(probe.durationSeconds).toBeGreaterThan(5.8);
    expect(probe.durationSeconds).toBeLessThan(6.3);
    expect(probe.streams.find((s) => s.codecType === 'video')).toMatchObject({ codecName: 'h264', width: 320 });
    expect(probe.streams.find((s) => s.codecType === 'audio')).toMatchObject({ codecName: 'aac' });
  });

  it('probes MPEG-TS (which crashes the static ffprobe without the GCONV_PATH workaround)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'protocam-media-')), 'clip.ts');
    await makeTestClip(tools.ffmpegPath, file, { seconds: 2 });
    const probe = await tools.probe(file);
    expect(probe.formatName).toBe('mpegts');
    expect(probe.streams[0]).toMatchObject({ codecName: 'h264', profile: 'Constrained Baseline' });
  });

  it('fails with a domain error that does not reveal credentials', async () => {
    const error: unknown = await tools.probe('/nonexistent/rtsp://user:topsecret@x/clip.ts').catch((e: unknown) => e);
    expect(isDomainError(error) && error.code).toBe('media-probe-failed');
    expect(String((error as Error).message)).not.toContain('topsecret');
    expect(JSON.stringify((error as { details: unknown }).details)).not.toContain('topsecret');
  });
});
