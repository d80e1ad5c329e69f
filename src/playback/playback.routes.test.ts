import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateService } from '../access/index.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { MINUTE } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { mediaProcessEnv, MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import { addIncident, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb } from '../../test/db.js';
import { jpegSize, recordRun, TEST_GOP_MS, testClip } from '../../test/footage.js';
import { FfmpegFrameExtractor } from './frame-extractor.js';
import type { IndexedSegment } from './playback.repository.js';
import { playbackRoutes } from './playback.routes.js';
import { PlaybackService } from './playback.service.js';

const media = new MediaTools();
const USERS: Record<string, Principal> = {
  hm: principal('u-hm', ['huismeester']),
  hm2: principal('u-hm2', ['huismeester']),
};

describe('playback HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let gate: GateService;
  let cameras: [string, string];
  let segments: IndexedSegment[];
  let other: IndexedSegment[];
  let token: string;
  let t0: number;
  let workDir: string;

  const call = (who: string | null, url: string, grant?: string) =>
    app.inject({
      method: 'GET',
      url: `/api${url}`,
      headers: { ...(who ? { 'x-test-user': who } : {}), ...(grant ? { 'x-protocam-grant': grant } : {}) },
    });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const access = services(db.kysely, policy);
    gate = access.gate;
    const clock = access.clock;
    cameras = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    const incidentId = await addIncident(db.kysely, clock.now());
    workDir = mkdtempSync(join(tmpdir(), 'protocam-playback-http-'));
    const recordingsDir = join(workDir, 'recordings');
    const clip = await testClip(media.ffmpegPath, workDir, 30);
    t0 = clock.now() - 30 * MINUTE;
    segments = await recordRun(db.kysely, media.ffmpegPath, {
      recordingsDir,
      cameraId: cameras[0],
      startAt: t0,
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
    const out = await gate.requestAccess(USERS.hm!, {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [cameras[0]] },
      // The window's edges fall inside the first and the last segment.
      from: t0 + 2_500,
      to: t0 + 27_500,
      reason: 'Bicycle stolen from the storage (M 3.5)',
      incidentId,
    });
    if (out.status !== 'granted') throw new Error('expected a grant');
    token = out.token;
    const playback = new PlaybackService({
      db: db.kysely,
      clock,
      gate,
      policy: () => policy,
      recordingsDir,
      frames: new FfmpegFrameExtractor(media.ffmpegPath),
    });
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (USERS[who] ?? null) : null);
      },
      routes: [playbackRoutes(playback)],
    });
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('serves playlist, segments and frames with the grant header, with HLS and image types', async () => {
    const base = `/playback/cameras/${cameras[0]}`;
    const playlist = await call('hm', `${base}/index.m3u8`, token);
    expect(playlist.statusCode).toBe(200);
    expect(playlist.headers['content-type']).toContain('application/vnd.apple.mpegurl');
    expect(playlist.headers['cache-control']).toBe('no-store');
    expect(playlist.body).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    const uris = playlist.body.split('\n').filter((l) => l.startsWith('segment/'));
    expect(uris).toHaveLength(3);
    const middle = await call('hm', `${base}/${uris[1]}`, token);
    expect(middle.statusCode).toBe(200);
    expect(middle.headers['content-type']).toBe('video/mp2t');
    expect(middle.rawPayload.length).toBe(segments[1]!.bytes);
    // The first segment starts before the window: only what the grant covers is served.
    const first = await call('hm', `${base}/${uris[0]}`, token);
    expect(first.rawPayload.length).toBeLessThan(segments[0]!.bytes);
    const frame = await call('hm', `${base}/frame.jpg?at=${new Date(t0 + 5000).toISOString()}&width=640`, token);
    expect(frame.statusCode).toBe(200);
    expect(frame.headers['content-type']).toBe('image/jpeg');
    expect(jpegSize(frame.rawPayload)).toEqual({ width: 640, height: 480 });
  });

  it('refuses with the same shape as missing: no grant, another user, another camera, bad names', async () => {
    const base = `/playback/cameras/${cameras[0]}`;
    expect((await call(null, `${base}/index.m3u8`, token)).statusCode).toBe(401);
    const none = await call('hm', `${base}/index.m3u8`);
    expect([none.statusCode, none.json().error.code]).toEqual([404, 'grant-not-found']);
    const foreign = await call('hm2', `${base}/segment/${segments[0]!.id}.ts`, token);
    expect([foreign.statusCode, foreign.json().error.code]).toEqual([404, 'grant-not-found']);
    const missing = await call('hm', `${base}/segment/00000000-0000-4000-8000-000000000000.ts`, token);
    expect([missing.statusCode, missing.json()]).toEqual([
      404,
      { error: { code: 'segment-not-found', message: 'No such segment' } },
    ]);
    const otherCamera = await call('hm', `/playback/cameras/${cameras[1]}/segment/${other[0]!.id}.ts`, token);
    expect([otherCamera.statusCode, otherCamera.json()]).toEqual([missing.statusCode, missing.json()]);
    const crossed = await call('hm', `${base}/segment/${other[0]!.id}.ts`, token);
    expect([crossed.statusCode, crossed.json()]).toEqual([missing.statusCode, missing.json()]);
    expect((await call('hm', `${base}/segment/..%2F..%2Fsecrets.json`, token)).statusCode).toBe(400);
    expect((await call('hm', `${base}/frame.jpg?at=yesterday`, token)).statusCode).toBe(400);
    const outside = await call('hm', `/playback/cameras/${cameras[1]}/index.m3u8`, token);
    expect([outside.statusCode, outside.json().error.code]).toEqual([403, 'outside-grant']);
    // The token never travels in the URL: a query parameter is not accepted at all.
    expect((await call('hm', `${base}/index.m3u8?grant=${token}`)).statusCode).toBe(400);
  });

  it('ffmpeg reads the playlist from a listening server with -headers and copies it with the expected duration', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const out = join(workDir, 'copy.mp4');
    const headers = `x-test-user: hm\r\nx-protocam-grant: ${token}\r\n`;
    await new Promise<void>((resolve, reject) =>
      execFile(
        media.ffmpegPath,
        [
          '-v',
          'error',
          '-headers',
          headers,
          '-i',
          `${address}/api/playback/cameras/${cameras[0]}/index.m3u8`,
          '-c',
          'copy',
          '-y',
          out,
        ],
        { env: mediaProcessEnv(), timeout: 60_000 },
        (error, _o, stderr) => (error ? reject(new Error(stderr)) : resolve()),
      ),
    );
    const probed = await media.probe(out);
    // The 25-second window (three segments cut at its edges), continuous on the served timeline;
    // the start moves back at most one keyframe interval.
    expect(Math.abs(probed.durationSeconds! - 25)).toBeLessThanOrEqual(TEST_GOP_MS / 1000);
  }, 60_000);
});
