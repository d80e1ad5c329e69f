/**
 * Recording CPU benchmark (issue 4): Protocam recording N simulated cameras against bare
 * ffmpeg doing the same work (same clip looped in real time, same segment muxer and segment
 * list) in the same run. Protocam's cost = its ffmpeg children + the Node process (indexing:
 * hashing, fsync, database rows, health). Also counts missing segments: every camera's index
 * must be contiguous for the whole run. Target: supervision adds at most 10% CPU; 32 cameras
 * of 2 Mbit/s for 10 minutes on 2 cores with no missing segment.
 *
 * CPU is counted two ways. Per process: bare ffmpeg's children against Protocam's children plus
 * this Node process. That charges Protocam for the kernel's writeback of every segment (its
 * fsync flushes the dirty pages in a thread of this process), while bare ffmpeg's pages are
 * written back by kernel threads that no process is charged for; so the bench also reports
 * the machine-wide busy CPU of each phase (/proc/stat), which counts writeback on both sides
 * and is the fair number on a quiet machine (on a shared one, other work lands in it too).
 * `sealCpuMs` is what reading and hashing every segment costs, measured afterwards with the
 * recorder's own sealFile, for the overhead without it.
 *
 * Default is a short run (8 cameras, 60 s). The target run, on a quiet machine:
 *   RECORDING_BENCH_CAMERAS=32 RECORDING_BENCH_SECONDS=600 npm run bench recording-cpu
 * (BENCH_CAMERAS / BENCH_SECONDS are read too.)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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
import { sealFile } from '../src/recording/segment-files.js';
import { recordingWorld } from '../test/recording-fixtures.js';

const CAMERAS = Number(process.env.RECORDING_BENCH_CAMERAS ?? process.env.BENCH_CAMERAS ?? 8);
const SECONDS = Number(process.env.RECORDING_BENCH_SECONDS ?? process.env.BENCH_SECONDS ?? 60);
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

/** Busy CPU ms of the whole machine since boot (all cores; idle and iowait excluded), from /proc/stat. */
function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return ((total - idle) * 1000) / TICKS;
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

async function bareFfmpeg(ffmpeg: string, clip: string, root: string): Promise<{ cpuMs: number; machineMs: number }> {
  const children: ChildProcess[] = [];
  const machineBefore = machineBusyMs();
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
  const machineMs = machineBusyMs() - machineBefore;
  for (const child of children) child.kill('SIGKILL');
  return { cpuMs: total, machineMs };
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
    const loadBeforeBare = loadavg();
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
    const loadBeforeProtocam = loadavg();
    // Let the bare run's dirty pages reach the disk before measuring the machine again.
    await sleep(10_000);
    const nodeBefore = process.cpuUsage();
    const machineBefore = machineBusyMs();
    const startedAt = Date.now();
    await manager.start();
    await sleep(SECONDS * 1000);
    const pids = manager.status().map((s) => s.pid!);
    const childrenMs = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const machineMs = machineBusyMs() - machineBefore;
    const node = process.cpuUsage(nodeBefore);
    const nodeMs = (node.user + node.system) / 1000;
    await manager.stop();
    const stoppedAt = Date.now();

    // Missing segments and gaps (> 0.5 s between one segment's end and the next one's start), per camera.
    const expectedPerCamera = Math.floor((stoppedAt - startedAt) / (SEGMENT_SECONDS * 1000)) - 1;
    const perCamera: { camera: number; segments: number; missing: number; gaps: number; largestGapMs: number }[] = [];
    const everySegment: string[] = [];
    for (const [index, cameraId] of cameras.entries()) {
      const rows = await listSegments(db.kysely, cameraId, 0, Number.MAX_SAFE_INTEGER);
      let gaps = 0;
      let largestGapMs = 0;
      for (let i = 1; i < rows.length; i++) {
        const gap = rows[i]!.startAt - rows[i - 1]!.endAt;
        if (gap > 500) gaps += 1;
        largestGapMs = Math.max(largestGapMs, gap);
      }
      perCamera.push({
        camera: index,
        segments: rows.length,
        missing: Math.max(0, expectedPerCamera - rows.length),
        gaps,
        largestGapMs,
      });
      for (const row of rows) everySegment.push(join(root, 'recordings', row.file));
    }
    // What reading and hashing every segment costs, the way the recorder does it (sealFile;
    // its fsync finds nothing left to write by now). Bare ffmpeg does no such thing.
    const sealBefore = process.cpuUsage();
    for (const file of everySegment) await sealFile(file);
    const sealed = process.cpuUsage(sealBefore);
    const hashingMs = (sealed.user + sealed.system) / 1000;
    const segments = everySegment.length;
    const protocamMs = childrenMs + nodeMs;
    const percent = (ours: number, bare: number) => +((100 * (ours - bare)) / bare).toFixed(1);
    return {
      cameras: CAMERAS,
      seconds: SECONDS,
      segmentSeconds: SEGMENT_SECONDS,
      clipMbitPerSecond: +clipBitrate.toFixed(2),
      bareFfmpegCpuMs: Math.round(bare.cpuMs),
      protocamFfmpegCpuMs: Math.round(childrenMs),
      protocamNodeCpuMs: Math.round(nodeMs),
      sealCpuMs: Math.round(hashingMs),
      overheadPercent: percent(protocamMs, bare.cpuMs),
      overheadWithoutHashingPercent: percent(protocamMs - hashingMs, bare.cpuMs),
      machineBusyMs: { bare: Math.round(bare.machineMs), protocam: Math.round(machineMs) },
      machineOverheadPercent: percent(machineMs, bare.machineMs),
      targetOverheadPercent: 10,
      segmentsIndexed: segments,
      expectedPerCamera,
      camerasShort: perCamera.filter((c) => c.missing > 0).length,
      missingSegments: perCamera.reduce((sum, c) => sum + c.missing, 0),
      gaps: perCamera.reduce((sum, c) => sum + c.gaps, 0),
      perCamera,
      loadavg: { beforeBare: loadBeforeBare, beforeProtocam: loadBeforeProtocam, end: loadavg() },
    };
  } finally {
    await db.close();
    rmSync(root, { recursive: true, force: true });
  }
}
