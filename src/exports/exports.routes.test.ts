import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateService } from '../access/index.js';
import { AuditTrail } from '../audit/audit.js';
import type { Db } from '../db/database.js';
import { buildApp } from '../http/app.js';
import type { Principal } from '../http/principal.js';
import { MINUTE } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { loadOrCreateSecrets } from '../lib/secrets.js';
import { MediaTools } from '../media/ffmpeg.js';
import { loadPolicy } from '../policy/index.js';
import { addSubjectRequest, principal, seedRegistry, services } from '../../test/access-fixtures.js';
import { createTestDb, testDataDir } from '../../test/db.js';
import { recordRun, testClip } from '../../test/footage.js';
import { FfmpegExportCutter } from './export-cutter.js';
import { exportRoutes } from './exports.routes.js';
import { ExportService } from './exports.service.js';

const media = new MediaTools();
const USERS: Record<string, Principal> = {
  mkw: principal('u-mkw', ['manager-klant-wonen']),
  mvg: principal('u-mvg', ['manager-vastgoed']),
};

describe('export HTTP routes', () => {
  let db: Db;
  let app: FastifyInstance;
  let gate: GateService;
  let exports: ExportService;
  let cameraId: string;
  let requestId: string;
  let t0: number;

  const call = (who: string | null, method: 'GET' | 'POST', url: string, grant?: string, payload?: object) =>
    app.inject({
      method,
      url: `/api${url}`,
      headers: { ...(who ? { 'x-test-user': who } : {}), ...(grant ? { 'x-protocam-grant': grant } : {}) },
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    db = await createTestDb('sqlite');
    const policy = loadPolicy('maaswonen-2024').policy;
    const access = services(db.kysely, policy);
    gate = access.gate;
    const clock = access.clock;
    [cameraId] = (await seedRegistry(db.kysely, clock.now())).cameraIds;
    requestId = await addSubjectRequest(db.kysely, clock.now(), null);
    const dataDir = testDataDir();
    const recordingsDir = join(dataDir, 'recordings');
    const clip = await testClip(media.ffmpegPath, dataDir, 20);
    t0 = clock.now() - 10 * MINUTE;
    await recordRun(db.kysely, media.ffmpegPath, { recordingsDir, cameraId, startAt: t0, clip, segmentSeconds: 10 });
    const secrets = loadOrCreateSecrets(dataDir);
    exports = new ExportService({
      db: db.kysely,
      clock,
      audit: new AuditTrail(clock),
      gate,
      exportsDir: join(dataDir, 'exports'),
      recordingsDir,
      cutter: new FfmpegExportCutter(media.ffmpegPath, media.ffprobePath),
      signingKey: secrets.signingKey,
      verifyKey: secrets.verifyKey,
    });
    app = await buildApp({
      logger: createLogger('silent'),
      version: 'test',
      authenticate: (request) => {
        const who = request.headers['x-test-user'];
        return Promise.resolve(typeof who === 'string' ? (USERS[who] ?? null) : null);
      },
      routes: [exportRoutes(exports)],
    });
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('start (202), poll, list, download with the grant; others see nothing', async () => {
    const issued = await gate.requestAccess(USERS.mkw!, {
      category: 'footage',
      purpose: 'subject-access',
      scope: { cameraIds: [cameraId] },
      from: t0,
      to: t0 + 20_000,
      reason: 'Copy for the tenant (M 4)',
      requestId,
    });
    if (issued.status !== 'granted') throw new Error('expected a grant');
    const { token } = issued;

    expect((await call('mkw', 'POST', '/exports', undefined, {})).statusCode).toBe(404);
    const bad = await call('mkw', 'POST', '/exports', token, { from: 'yesterday' });
    expect(bad.statusCode).toBe(400);
    const started = await call('mkw', 'POST', '/exports', token, {
      from: new Date(t0 + 3_000).toISOString(),
      to: new Date(t0 + 15_000).toISOString(),
    });
    expect(started.statusCode).toBe(202);
    const id = started.json<{ id: string; status: string }>().id;
    await exports.settled(id);

    const status = await call('mkw', 'GET', `/exports/${id}`);
    expect(status.json()).toMatchObject({ id, status: 'done', progress: 1, purpose: 'subject-access', requestId });
    expect((await call('mvg', 'GET', `/exports/${id}`)).statusCode).toBe(404);
    expect((await call('mkw', 'GET', '/exports')).json<{ items: { id: string }[] }>().items.map((e) => e.id)).toEqual([
      id,
    ]);
    expect((await call('mvg', 'GET', '/exports')).json()).toEqual({ items: [] });

    const name = `camera-${cameraId}.mp4`;
    const file = await call('mkw', 'GET', `/exports/${id}/files/${name}`, token);
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('video/mp4');
    expect(file.headers['content-disposition']).toBe(`attachment; filename="${name}"`);
    const manifest = await call('mkw', 'GET', `/exports/${id}/files/manifest.json`, token);
    const listed = manifest.json<{ files: { name: string; sha256: string }[] }>().files;
    expect(listed).toEqual([
      { name, bytes: file.rawPayload.length, sha256: createHash('sha256').update(file.rawPayload).digest('hex') },
    ]);
    const noGrant = await call('mkw', 'GET', `/exports/${id}/files/${name}`);
    expect([noGrant.statusCode, noGrant.json().error.code]).toEqual([404, 'grant-not-found']);
    expect((await call(null, 'GET', `/exports/${id}/files/${name}`, token)).statusCode).toBe(401);

    const key = await call('mkw', 'GET', '/exports/public-key');
    expect(key.json<{ pem: string }>().pem).toContain('BEGIN PUBLIC KEY');
  }, 60_000);
});
