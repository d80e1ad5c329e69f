/**
 * Recording CPU benchmark (issue 4): Protocam recording N simulated cameras against bare
 * ffmpeg doing the same work (same clip looped in real time, same segment muxer and segment
 * list) in the same run. Protocam's cost = its ffmpeg children + the Node process (indexing:
 * hashing, fsync, database rows, health). Also counts missing segments: every camera's index
 * must be contiguous for the whole run. Target: supervision adds at most 10% CPU; 32 cameras
 * of 2 Mbit/s for 10 minutes on 2 cores with no missing segment.
 *
 * Default is a short run (8 cameras, 60 s). The target run, on a quiet machine:
 *   BENCH_CAMERAS=32 BENCH_SECONDS=600 npm run bench recording-cpu
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { systemClock } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { fileLoopInputArgs, mediaProcessEnv, MediaTools } from '../src/media/ffmpeg.js';
import { runStamp, segmentRecordingArgs } from '../src/media/segment-recorder.js';
import { RecorderManager } from '../src/recording/recorder.manager.js';
import { listSegments } from '../src/recording/recording.repository.js';
import { recordingWorld } from '../test/recording-fixtures.js';

const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const SEGMENT_SECONDS = 10;
const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process in ms, from /proc (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

function makeClip(ffmpeg: string, file: string): Promise<void> {
  // 1280x720, 15 fps, a keyframe per second, about 2 Mbit/s.
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=15'],
    ...['-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '15'],
    ...['-b:v', '2M', '-maxrate', '2M', '-bufsize', '4M', file],
  ];
  return new Promise((resolve, reject) =>
    execFile(ffmpeg, args, { env: mediaProcessEnv() }, (error) =>
      error ? reject(new Error(`clip failed: ${error.message}`)) : resolve(),
    ),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function bareFfmpeg(ffmpeg: string, clip: string, root: string): Promise<{ cpuMs: number }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < CAMERAS; i++) {
    const directory = join(root, `bare-${i}`);
    mkdirSync(directory, { recursive: true });
    const runStartedAt = Date.now();
    const args = segmentRecordingArgs({
      inputArgs: fileLoopInputArgs(clip),
      directory,
      segmentSeconds: SEGMENT_SECONDS,
      runStartedAt,
    });
    args.splice(args.lastIndexOf('-n'), 0, '-segment_list', join(directory, `${runStamp(runStartedAt)}.csv`));
    args.splice(args.lastIndexOf('-n'), 0, '-segment_list_type', 'csv');
    children.push(spawn(ffmpeg, args, { env: mediaProcessEnv(), stdio: ['pipe', 'ignore', 'ignore'] }));
  }
  await sleep(SECONDS * 1000);
  const total = children.reduce((sum, child) => sum + cpuMs(child.pid!), 0);
  for (const child of children) child.kill('SIGKILL');
  return { cpuMs: total };
}

export async function run(): Promise<Record<string, unknown>> {
  const media = new MediaTools();
  const root = mkdtempSync(join(tmpdir(), 'protocam-bench-rec-'));
  const clip = join(root, 'clip.ts');
  await makeClip(media.ffmpegPath, clip);
  const clipBitrate = (await media.probe(clip)).sizeBytes! / 20 / 125_000;
  const db = openDatabase(`sqlite:${join(root, 'bench.db')}`);
  try {
    await migrateToLatest(db);
    const bare = await bareFfmpeg(media.ffmpegPath, clip, root);

    const world = await recordingWorld(db.kysely, systemClock);
    const cameras: string[] = [];
    for (let i = 0; i < CAMERAS; i++) cameras.push(await world.camera({ streamUrl: pathToFileURL(clip).toString() }));
    const manager = new RecorderManager({
      db: db.kysely,
      clock: systemClock,
      audit: world.audit,
      registry: world.registry,
      media,
      logger: createLogger('warn'),
      recordingsDir: join(root, 'recordings'),
      segmentSeconds: SEGMENT_SECONDS,
    });
    const nodeBefore = process.cpuUsage();
    const startedAt = Date.now();
    await manager.start();
    await sleep(SECONDS * 1000);
    const pids = manager.status().map((s) => s.pid!);
    const childrenMs = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const node = process.cpuUsage(nodeBefore);
    const nodeMs = (node.user + node.system) / 1000;
    await manager.stop();
    const stoppedAt = Date.now();

    // Missing segments: gaps in a camera's index, and cameras short of the expected count.
    let gaps = 0;
    let segments = 0;
    const expectedPerCamera = Math.floor((stoppedAt - startedAt) / (SEGMENT_SECONDS * 1000)) - 1;
    let short = 0;
    for (const cameraId of cameras) {
      const rows = await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
      segments += rows.length;
      if (rows.length < expectedPerCamera) short += 1;
      for (let i = 1; i < rows.length; i++) if (rows[i]!.startAt - rows[i - 1]!.endAt > 500) gaps += 1;
    }
    // What SHA-256 of every segment costs (the index requires it; bare ffmpeg does no such thing).
    const hashBefore = process.cpuUsage();
    for (const cameraId of cameras)
      for (const row of await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER))
        createHash('sha256')
          .update(readFileSync(join(root, 'recordings', row.file)))
          .digest('hex');
    const hashed = process.cpuUsage(hashBefore);
    const hashingMs = (hashed.user + hashed.system) / 1000;
    const protocamMs = childrenMs + nodeMs;
    return {
      cameras: CAMERAS,
      seconds: SECONDS,
      segmentSeconds: SEGMENT_SECONDS,
      clipMbitPerSecond: +clipBitrate.toFixed(2),
      bareFfmpegCpuMs: Math.round(bare.cpuMs),
      protocamFfmpegCpuMs: Math.round(childrenMs),
      protocamNodeCpuMs: Math.round(nodeMs),
      hashingCpuMs: Math.round(hashingMs),
      overheadPercent: +((100 * (protocamMs - bare.cpuMs)) / bare.cpuMs).toFixed(1),
      overheadWithoutHashingPercent: +((100 * (protocamMs - hashingMs - bare.cpuMs)) / bare.cpuMs).toFixed(1),
      targetOverheadPercent: 10,
      segmentsIndexed: segments,
      expectedPerCamera,
      camerasShort: short,
      gaps,
      loadavg: loadavg(),
    };
  } finally {
    await db.close();
    rmSync(root, { recursive: true, force: true });
  }
}
