import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateService } from '../access/index.js';
import type { Db } from '../db/database.js';
import { MINUTE } from '../lib/clock.js';
import type { DomainError } from '../lib/errors.js';
import { mediaProcessEnv, MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import { addIncident, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb, DIALECTS } from '../../test/db.js';
import { jpegSize, recordRun, testClip } from '../../test/footage.js';
import { FfmpegFrameExtractor } from './frame-extractor.js';
import type { IndexedSegment } from './playback.repository.js';
import { PlaybackService } from './playback.service.js';
import { firstTimestamp } from './ts-timestamps.js';

const media = new MediaTools();
const hm = principal('u-hm', ['huismeester']);
const hm2 = principal('u-hm2', ['huismeester']);
const tech = principal('u-tech', ['technisch-onderhoud']);

async function refusal(promise: Promise<unknown>): Promise<[string, string]> {
  try {
    await promise;
  } catch (error) {
    const e = error as DomainError;
    return [e.kind, e.code];
  }
  throw new Error('expected a refusal');
}

describe.each(DIALECTS)('playback service on %s', (dialect) => {
  let db: Db;
  let gate: GateService;
  let clock: ReturnType<typeof services>['clock'];
  let playback: PlaybackService;
  let cameras: [string, string];
  let run1: IndexedSegment[];
  let run2: IndexedSegment[];
  let other: IndexedSegment[];
  let incidentId: string;
  let t0: number;

  const grant = async (who: typeof hm, ask: Partial<Parameters<GateService['requestAccess']>[1]>) => {
    const out = await gate.requestAccess(who, {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [cameras[0]] },
      from: t0,
      to: t0 + 10 * MINUTE,
      reason: 'Vandalism in the hall (M 3.5)',
      incidentId,
      ...ask,
    });
    if (out.status !== 'granted') throw new Error('expected a grant');
    return out.token;
  };

  beforeAll(async () => {
    db = await createTestDb(dialect);
    const policy = loadPolicy('maaswonen-2024').policy;
    const access = services(db.kysely, policy);
    gate = access.gate;
    clock = access.clock;
    cameras = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    incidentId = await addIncident(db.kysely, clock.now());
    const dir = mkdtempSync(join(tmpdir(), 'protocam-playback-'));
    const recordingsDir = join(dir, 'recordings');
    const clip = await testClip(media.ffmpegPath, dir, 30);
    t0 = clock.now() - 60 * MINUTE;
    // Run 1: 3 x 10 s; a restart 20 s later; run 2: 3 x 10 s. Camera 2: one run.
    run1 = await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[0],
      startAt: t0,
      clip,
      segmentSeconds: 10,
    });
    run2 = await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[0],
      startAt: t0 + 50_000,
      clip,
      segmentSeconds: 10,
    });
    other = await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[1],
      startAt: t0,
      clip,
      segmentSeconds: 10,
    });
    playback = new PlaybackService({
      db: db.kysely,
      clock,
      gate,
      policy: () => policy,
      recordingsDir,
      frames: new FfmpegFrameExtractor(media.ffmpegPath),
    });
  }, 60_000);
  afterAll(async () => {
    await db.close();
  });

  it('serves a VOD playlist of the window: EXTINF per segment, a discontinuity between runs, ids not paths', async () => {
    const token = await grant(hm, {});
    const playlist = await playback.vodPlaylist(hm, token, cameras[0]);
    expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(playlist).toContain('#EXT-X-ENDLIST');
    expect(playlist.match(/#EXTINF:10\.000,/g)).toHaveLength(6);
    expect(playlist.match(/#EXT-X-DISCONTINUITY/g)).toHaveLength(1);
    const uris = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(uris).toEqual([...run1, ...run2].map((s) => `segment/${s.id}.ts`));
    expect(playlist).not.toMatch(/recordings|T\d{9}Z/);

    // A narrower window lists only the segments it overlaps.
    const part = await playback.vodPlaylist(hm, token, cameras[0], { from: t0 + 12_000, to: t0 + 25_000 });
    expect(part.split('\n').filter((l) => l.startsWith('segment/'))).toEqual(
      [run1[1]!, run1[2]!].map((s) => `segment/${s.id}.ts`),
    );
  });

  it('serves segment bytes on one timeline for the grant, so the second segment continues the first', async () => {
    const token = await grant(hm, {});
    const a = await playback.segment(hm, token, cameras[0], run1[0]!.id);
    const b = await playback.segment(hm, token, cameras[0], run1[1]!.id);
    expect(a.length).toBe(run1[0]!.bytes);
    const ta = firstTimestamp(a)!;
    const tb = firstTimestamp(b)!;
    // Each file starts at the same timestamp on disk; served, they are 10 s (900 000 ticks) apart.
    expect(tb - ta).toBe(900_000);
  });

  it('cuts a segment that straddles the edge of the grant to its window, from the keyframe before', async () => {
    const token = await grant(hm, { from: t0 + 2_500, to: t0 + 17_500 });
    const playlist = await playback.vodPlaylist(hm, token, cameras[0]);
    expect(playlist.match(/#EXTINF:[\d.]+,/g)).toEqual(['#EXTINF:7.500,', '#EXTINF:7.500,']);
    const dir = mkdtempSync(join(tmpdir(), 'protocam-cut-'));
    const served = async (segment: IndexedSegment, name: string) => {
      const file = join(dir, name);
      writeFileSync(file, await playback.segment(hm, token, cameras[0], segment.id));
      return (await media.probe(file)).durationSeconds!;
    };
    // Keyframes every second: the first segment is served from 2.0 s (the keyframe before 2.5 s).
    expect(await served(run1[0]!, 'a.ts')).toBeCloseTo(8, 1);
    expect(await served(run1[1]!, 'b.ts')).toBeCloseTo(7.5, 1);
  });

  it('refuses without a valid own grant, for another camera, outside the window and after expiry', async () => {
    const token = await grant(hm, { to: t0 + 20_000 });
    expect(await refusal(playback.vodPlaylist(hm, 'x'.repeat(43), cameras[0]))).toEqual([
      'not-found',
      'grant-not-found',
    ]);
    expect(await refusal(playback.vodPlaylist(hm2, token, cameras[0]))).toEqual(['not-found', 'grant-not-found']);
    expect(await refusal(playback.segment(hm2, token, cameras[0], run1[0]!.id))).toEqual([
      'not-found',
      'grant-not-found',
    ]);
    expect(await refusal(playback.vodPlaylist(hm, token, cameras[1]))).toEqual(['forbidden', 'outside-grant']);
    expect(await refusal(playback.vodPlaylist(hm, token, cameras[0], { from: t0, to: t0 + 60_000 }))).toEqual([
      'forbidden',
      'outside-grant',
    ]);
    // A segment of another camera, or wholly outside the window, is "no such segment".
    const missing = await refusal(playback.segment(hm, token, cameras[0], '00000000-0000-4000-8000-000000000000'));
    expect(missing).toEqual(['not-found', 'segment-not-found']);
    expect(await refusal(playback.segment(hm, token, cameras[1], other[0]!.id))).toEqual(missing);
    expect(await refusal(playback.segment(hm, token, cameras[0], other[0]!.id))).toEqual(missing);
    expect(await refusal(playback.segment(hm, token, cameras[0], run1[2]!.id))).toEqual(missing);
    expect((await playback.segment(hm, token, cameras[0], run1[1]!.id)).length).toBe(run1[1]!.bytes);
    expect(await refusal(playback.frame(hm, token, cameras[0], t0 + 25_000))).toEqual(['forbidden', 'outside-grant']);

    clock.advance(15 * MINUTE);
    expect(await refusal(playback.segment(hm, token, cameras[0], run1[1]!.id))).toEqual([
      'not-found',
      'grant-not-found',
    ]);
    expect(await refusal(playback.vodPlaylist(hm, token, cameras[0]))).toEqual(['not-found', 'grant-not-found']);
  });

  it('decodes a still frame at the asked time as a JPEG of the camera size, or scaled', async () => {
    clock.set(t0 + 60 * MINUTE);
    const token = await grant(hm, {});
    const jpeg = await playback.frame(hm, token, cameras[0], t0 + 14_500);
    expect(jpegSize(jpeg)).toEqual({ width: 320, height: 240 });
    const small = await playback.frame(hm, token, cameras[0], t0 + 14_500, 160);
    expect(jpegSize(small)).toEqual({ width: 160, height: 120 });
    // In the gap between the runs there is nothing to decode.
    expect(await refusal(playback.frame(hm, token, cameras[0], t0 + 40_000))).toEqual([
      'not-found',
      'footage-not-found',
    ]);
  });

  it('live view: a sliding playlist for technical-check (M 6.5), refused for incident-assessment', async () => {
    // "Now" is just after run 2 ended; a technical check may look back 24 hours.
    clock.set(t0 + 81_000);
    const token = await grant(tech, {
      purpose: 'technical-check',
      incidentId: null,
      from: t0 - MINUTE,
      to: clock.now() + 10 * MINUTE,
    });
    const live = await playback.livePlaylist(tech, token, cameras[0]);
    expect(live).not.toContain('#EXT-X-ENDLIST');
    expect(live).not.toContain('PLAYLIST-TYPE');
    expect(live).toContain('#EXT-X-MEDIA-SEQUENCE:0');
    expect(live.split('\n').filter((l) => l.startsWith('segment/'))).toHaveLength(6);
    expect((await playback.segment(tech, token, cameras[0], run2[2]!.id)).length).toBe(run2[2]!.bytes);

    // The assessor's grant covers now as well, but live view is not for incident-assessment.
    const assess = await grant(hm, { from: t0, to: clock.now() + 5 * MINUTE });
    expect(await refusal(playback.livePlaylist(hm, assess, cameras[0]))).toEqual(['forbidden', 'outside-grant']);
  });

  it('ffprobe reads a served segment as MPEG-TS video', async () => {
    clock.set(t0 + 60 * MINUTE);
    const token = await grant(hm, {});
    const bytes = await playback.segment(hm, token, cameras[0], run2[0]!.id);
    const file = join(mkdtempSync(join(tmpdir(), 'protocam-seg-')), 'seg.ts');
    writeFileSync(file, bytes);
    const probed = await media.probe(file);
    expect(probed.formatName).toBe('mpegts');
    expect(probed.durationSeconds).toBeCloseTo(10, 0);
    await new Promise<void>((resolve, reject) =>
      execFile(media.ffmpegPath, ['-v', 'error', '-i', file, '-f', 'null', '-'], { env: mediaProcessEnv() }, (e) =>
        e ? reject(new Error(e.message)) : resolve(),
      ),
    );
  });
});
