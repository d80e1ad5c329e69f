/// <reference lib="dom" />
/**
 * hls.js in a real browser (Chromium, as the web UI uses it): the grant travels in a header set
 * by `xhrSetup`, the VOD playlist and its segments load and buffer as one continuous timeline.
 * Skipped, with the install command, where Chromium is missing (as test/e2e does).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { MINUTE } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import { addIncident, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb, testDataDir } from '../../test/db.js';
import { recordRun, TEST_GOP_MS, testClip } from '../../test/footage.js';
import { FfmpegFrameExtractor } from './frame-extractor.js';
import { playbackRoutes } from './playback.routes.js';
import { PlaybackService } from './playback.service.js';

const CHROMIUM = process.env.PROTOCAM_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`hls.js test skipped, no Chromium at ${CHROMIUM}: apt-get install chromium`);

const media = new MediaTools();
const USERS: Record<string, Principal> = { hm: principal('u-hm', ['huismeester']) };

/** A blank page and hls.js from node_modules, same origin as the API (test only). */
const pageRoutes: FastifyPluginAsyncZod = async (app) => {
  const script = readFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'), 'utf8');
  app.get('/test/player.html', { schema: { hide: true } }, (_request, reply) =>
    reply.type('text/html').send('<!doctype html><video id="v" muted></video><script src="hls.js"></script>'),
  );
  app.get('/test/hls.js', { schema: { hide: true } }, (_request, reply) => reply.type('text/javascript').send(script));
};

describe.skipIf(!hasChromium)('playback in hls.js', () => {
  let db: Db;
  let app: FastifyInstance;
  let browser: Browser;
  let address: string;
  let cameraId: string;
  let token: string;

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const { gate, clock } = services(db.kysely, policy);
    [cameraId] = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    const incidentId = await addIncident(db.kysely, clock.now());
    const dir = testDataDir();
    const recordingsDir = join(dir, 'recordings');
    const clip = await testClip(media.ffmpegPath, dir, 30);
    const t0 = clock.now() - 10 * MINUTE;
    await recordRun(db.kysely, media.ffmpegPath, { recordingsDir, cameraId, startAt: t0, clip, segmentSeconds: 10 });
    const out = await gate.requestAccess(USERS.hm!, {
      category: 'footage',
      purpose: 'incident-assessment',
      scope: { cameraIds: [cameraId] },
      from: t0,
      to: t0 + 30_000,
      reason: 'Graffiti in the stairwell (M 3.5)',
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
      routes: [playbackRoutes(playback), pageRoutes],
    });
    address = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.close();
  });

  it('loads the VOD playlist with the grant in xhrSetup and buffers the whole window', async () => {
    const page = await browser.newPage();
    await page.goto(`${address}/api/test/player.html`);
    const result = await page.evaluate(
      async ({ url, grant }) => {
        type HlsLike = {
          isSupported(): boolean;
          new (config: object): {
            loadSource(u: string): void;
            attachMedia(m: HTMLMediaElement): void;
            on(event: string, fn: (e: string, data: { fatal?: boolean; details?: string }) => void): void;
          };
          Events: Record<string, string>;
        };
        const Hls = (window as unknown as { Hls: HlsLike }).Hls;
        if (!Hls.isSupported()) return { error: 'MSE unsupported' };
        const video = document.getElementById('v') as HTMLVideoElement;
        const hls = new Hls({
          xhrSetup: (xhr: XMLHttpRequest) => {
            xhr.setRequestHeader('x-test-user', 'hm');
            xhr.setRequestHeader('x-protocam-grant', grant);
          },
        });
        const errors: string[] = [];
        return new Promise<{ duration?: number; buffered?: number; errors?: string[]; error?: string }>((resolve) => {
          hls.on(Hls.Events.ERROR!, (_e, data) => {
            errors.push(data.details ?? 'error');
            if (data.fatal) resolve({ error: data.details ?? 'fatal', errors });
          });
          const check = () => {
            const end = video.buffered.length ? video.buffered.end(video.buffered.length - 1) : 0;
            if (end >= video.duration - 0.5) resolve({ duration: video.duration, buffered: end, errors });
          };
          video.addEventListener('progress', check);
          hls.on(Hls.Events.FRAG_BUFFERED!, check);
          setTimeout(() => resolve({ error: 'timeout', errors }), 30_000);
          hls.loadSource(url);
          hls.attachMedia(video);
        });
      },
      { url: `/api/playback/cameras/${cameraId}/index.m3u8`, grant: token },
    );
    expect(result.error).toBeUndefined();
    expect(Math.abs(result.duration! - 30)).toBeLessThanOrEqual(TEST_GOP_MS / 1000);
    expect(result.buffered).toBeGreaterThanOrEqual(29);
    expect(result.errors).toEqual([]);
  }, 60_000);
});
