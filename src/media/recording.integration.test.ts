import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../lib/clock.js';
import { RTSP_SKIP_REASON, rtspAvailable, startRtspServer, type RtspServer } from '../../test/rtsp/rtsp-server.js';
import { mediaProcessEnv, MediaTools, rtspInputArgs } from './ffmpeg.js';
import { closedSegmentsIn, runStamp, segmentRecordingArgs } from './segment-recorder.js';
import { SupervisedProcess, type ProcessLogger, type StateChange } from './supervised-process.js';
import { makeTestClip } from './test-clips.js';

const USER = 'recorder-user';
const PASSWORD = 'Zq7-very-secret-pw';

function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(() => void tick(), 100);
    };
    void tick();
  });
}

interface Camera {
  dir: string;
  process: SupervisedProcess;
  run: string | undefined;
  states: StateChange[];
}

describe.skipIf(!rtspAvailable())(`recording from a real RTSP server (${RTSP_SKIP_REASON})`, () => {
  const tools = new MediaTools();
  const logs: string[] = [];
  const logger: ProcessLogger = {
    info: (object, message) => logs.push(JSON.stringify({ ...object, message })),
    warn: (object, message) => logs.push(JSON.stringify({ ...object, message })),
  };
  let server: RtspServer;
  let sourceProfile: string | undefined;
  const cameras: Camera[] = [];

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'protocam-rec-'));
    const clip = join(root, 'clip.ts');
    await makeTestClip(tools.ffmpegPath, clip, { seconds: 6 });
    sourceProfile = (await tools.probe(clip)).streams[0]?.profile;
    server = await startRtspServer({
      clip,
      mounts: [{ path: '/cam1' }, { path: '/cam2', user: USER, password: PASSWORD }],
    });
    const { major } = await tools.ffmpegVersion();
    for (const path of ['/cam1', '/cam2']) {
      const dir = join(root, path.slice(1));
      mkdirSync(dir);
      const camera: Camera = { dir, run: undefined, states: [], process: undefined as unknown as SupervisedProcess };
      camera.process = new SupervisedProcess({
        name: path.slice(1),
        command: tools.ffmpegPath,
        args: () => {
          const runStartedAt = systemClock.now();
          camera.run = runStamp(runStartedAt);
          const inputArgs = rtspInputArgs(server.url(path), major, { timeoutSeconds: 3 });
          return segmentRecordingArgs({ inputArgs, directory: dir, segmentSeconds: 2, runStartedAt });
        },
        env: mediaProcessEnv(),
        backoff: { initialMs: 300, maxMs: 1_000, factor: 2, resetAfterMs: 5_000 },
        stopTimeouts: { quitMs: 3_000, termMs: 1_000, killMs: 1_000 },
        logger,
      });
      camera.process.on('state', (c) => camera.states.push(c));
      camera.process.on('stderr', (line) => logs.push(line));
      cameras.push(camera);
    }
  });

  afterAll(async () => {
    await Promise.all(cameras.map((c) => c.process.stop()));
    await server?.stop();
    const everything = logs.join('\n');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(USER);
  });

  it('records 2-second H.264 segments by stream copy from both cameras, one with credentials', async () => {
    for (const camera of cameras) camera.process.start();
    await new Promise((r) => setTimeout(r, 12_000));
    for (const camera of cameras) {
      expect(camera.process.state).toBe('running');
      const closed = await closedSegmentsIn(camera.dir, camera.run);
      expect(closed.length).toBeGreaterThanOrEqual(4);
      for (const segment of closed) {
        const probe = await tools.probe(segment.path);
        expect(probe.streams).toHaveLength(1);
        // Stream copy: the codec and profile are the source's (a re-encode would say High).
        expect(probe.streams[0]).toMatchObject({ codecName: 'h264', profile: sourceProfile, width: 320 });
        expect(probe.durationSeconds).toBeGreaterThan(1.5);
        expect(probe.durationSeconds).toBeLessThan(3.1);
      }
    }
    expect(logs.join('\n')).toContain('rtsp://***@127.0.0.1');
  }, 20_000);

  it('restarts ffmpeg after kill -9 mid-segment and records new segments', async () => {
    const camera = cameras[1]!;
    const killedRun = camera.run;
    const pid = camera.process.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => camera.process.state === 'running' && camera.process.pid !== pid, 5_000, 'restart');
    expect(camera.run).not.toBe(killedRun);
    await waitFor(
      async () => (await closedSegmentsIn(camera.dir, camera.run)).some((s) => s.run === camera.run),
      8_000,
      'a closed segment from the new run',
    );
  }, 20_000);

  it('backs off while the server is down and recovers when it returns', async () => {
    const camera = cameras[0]!;
    const before = camera.states.length;
    await server.stop();
    await waitFor(() => camera.process.state === 'backing-off', 8_000, 'backing-off');
    await new Promise((r) => setTimeout(r, 1_000));
    await server.start();
    await waitFor(
      () => camera.states.slice(before).some((c) => c.state === 'running') && camera.process.state === 'running',
      8_000,
      'recovery',
    );
    const run = camera.run;
    await waitFor(
      async () => (await closedSegmentsIn(camera.dir, run)).some((s) => s.run === run),
      8_000,
      'a closed segment after recovery',
    );
  }, 20_000);
});
