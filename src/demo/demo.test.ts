import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/recording-fixtures.js';
import { loadConfig } from '../config/config.js';
import { systemClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { resolveMediaBinaries } from '../media/ffmpeg.js';
import { listSegments } from '../recording/index.js';
import { openRuntime, startServer, type Runtime, type Started } from '../server.js';
import { DEMO_CAMERAS, footageRoles, setUpDemo, type DemoDeps } from './demo.js';

describe('protocam demo: four cameras from a generated clip, recording without hardware (issue 4)', () => {
  let dataDir: string;
  let runtime: Runtime;
  let server: Started;
  let deps: DemoDeps;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'protocam-demo-'));
    const config = loadConfig(
      { PROTOCAM_DATA_DIR: dataDir, PROTOCAM_PORT: '0', PROTOCAM_LOG_LEVEL: 'silent', PROTOCAM_SEGMENT_SECONDS: '1' },
      dataDir,
    );
    runtime = await openRuntime(config, systemClock, createLogger('silent'));
    server = await startServer(runtime);
    deps = {
      registry: runtime.registry,
      users: runtime.users,
      policy: () => runtime.loaded.policy,
      ffmpegPath: resolveMediaBinaries().ffmpegPath,
      dataDir,
    };
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sets up four active cameras that record, and users for the roles that may view footage', async () => {
    const demo = await setUpDemo(deps);
    expect(demo.cameraIds).toHaveLength(DEMO_CAMERAS.length);
    const cameras = await runtime.registry.listCameras({ complexId: demo.complexId });
    expect(cameras.items.map((c) => c.status)).toEqual(DEMO_CAMERAS.map(() => 'active'));
    // Every role that may view footage gets a one-time link; the administrator sees no footage.
    expect(demo.users.map((u) => u.role).sort()).toEqual(footageRoles(runtime.loaded.policy).sort());
    expect(demo.users.every((u) => u.signInPath?.startsWith('/'))).toBe(true);

    await runtime.recorder.sync();
    const now = Date.now();
    await waitFor(
      async () => {
        const counts = await Promise.all(
          demo.cameraIds.map(
            async (id) => (await listSegments(runtime.db.kysely, id, now - 60_000, now + 600_000)).length,
          ),
        );
        return counts.every((n) => n >= 2);
      },
      40_000,
      'segments from all four demo cameras',
    );
  }, 60_000);

  it('a second run reuses the complex, cameras and users', async () => {
    const first = await setUpDemo(deps);
    const again = await setUpDemo(deps);
    expect(again.complexId).toBe(first.complexId);
    expect(again.cameraIds.sort()).toEqual(first.cameraIds.sort());
    expect(again.users.every((u) => u.signInPath === null)).toBe(true);
    const complexes = await runtime.registry.listComplexes();
    expect(complexes.items.filter((c) => c.name === 'Democomplex De Linde')).toHaveLength(1);
  });
});
