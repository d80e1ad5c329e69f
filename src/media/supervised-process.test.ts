import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileLoopInputArgs, mediaProcessEnv, MediaTools } from './ffmpeg.js';
import { backoffDelay, SupervisedProcess, type ProcessLogger, type StateChange } from './supervised-process.js';
import { makeTestClip } from './test-clips.js';

function captureLogger(lines: string[]): ProcessLogger {
  return {
    info: (object, message) => lines.push(JSON.stringify({ ...object, message })),
    warn: (object, message) => lines.push(JSON.stringify({ ...object, message })),
  };
}

function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe('backoff', () => {
  it('grows exponentially and is capped', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2, resetAfterMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('supervised process (real processes)', () => {
  const tools = new MediaTools();
  let clip: string;

  beforeAll(async () => {
    clip = join(mkdtempSync(join(tmpdir(), 'protocam-super-')), 'clip.mp4');
    await makeTestClip(tools.ffmpegPath, clip, { seconds: 6, audio: true });
  });

  it('restarts a process that exits, with growing delays, and never logs the credentials', async () => {
    const logs: string[] = [];
    const changes: StateChange[] = [];
    const stderr: string[] = [];
    // A short-lived real ffmpeg: reads the tiny clip once; the URL-shaped output name carries credentials.
    const process = new SupervisedProcess({
      name: 'cam-test',
      command: tools.ffmpegPath,
      args: ['-hide_banner', '-i', clip, '-t', '0.2', '-f', 'null', '-', '-metadata', 'x=rtsp://bob:pa55word@cam/1'],
      env: mediaProcessEnv(),
      backoff: { initialMs: 50, factor: 3, maxMs: 200, resetAfterMs: 60_000 },
      logger: captureLogger(logs),
    });
    process.on('state', (c) => changes.push(c));
    process.on('stderr', (line) => stderr.push(line));
    process.start();
    await waitFor(() => process.startCount >= 4, 10_000);
    await process.stop();
    const delays = changes.filter((c) => c.state === 'backing-off').map((c) => c.delayMs);
    expect(delays.slice(0, 3)).toEqual([50, 150, 200]);
    expect(changes.filter((c) => c.state === 'running').length).toBeGreaterThanOrEqual(4);
    expect(process.state).toBe('stopped');
    const everything = [...logs, ...stderr].join('\n');
    expect(everything).toContain('rtsp://***@cam/1');
    expect(everything).not.toContain('pa55word');
    expect(everything).not.toContain('bob');
  });

  it('stops a running ffmpeg gently with q', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'protocam-super-'));
    const process = new SupervisedProcess({
      name: 'cam-loop',
      command: tools.ffmpegPath,
      args: [
        '-hide_banner',
        '-loglevel',
        'error',
        ...fileLoopInputArgs(clip),
        '-c',
        'copy',
        '-f',
        'mpegts',
        join(dir, 'out.ts'),
      ],
      env: mediaProcessEnv(),
      stopTimeouts: { quitMs: 3_000, termMs: 1_000, killMs: 1_000 },
    });
    process.start();
    expect(process.state).toBe('running');
    await new Promise((r) => setTimeout(r, 700));
    expect(await process.stop()).toBe('quit');
    expect(process.state).toBe('stopped');
    expect(process.pid).toBeUndefined();
  });

  it('escalates to SIGKILL for a process that ignores q and SIGTERM', async () => {
    // `trap "" TERM` makes the shell ignore SIGTERM, and an ignored signal stays ignored across
    // `exec`, so sleep is one process that ignores both q (it never reads stdin) and SIGTERM.
    const process = new SupervisedProcess({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', 'trap "" TERM; exec sleep 30'],
      stopTimeouts: { quitMs: 200, termMs: 300, killMs: 2_000 },
    });
    const exits: (string | null)[] = [];
    process.on('exit', (info) => exits.push(info.signal));
    process.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(await process.stop()).toBe('SIGKILL');
    expect(exits).toEqual(['SIGKILL']);
    expect(process.state).toBe('stopped');
  });

  it('backs off when the command cannot be started at all', async () => {
    const changes: StateChange[] = [];
    const process = new SupervisedProcess({
      name: 'missing',
      command: '/nonexistent/ffmpeg',
      args: [],
      backoff: { initialMs: 20, maxMs: 40 },
    });
    process.on('state', (c) => changes.push(c));
    process.start();
    await waitFor(() => changes.filter((c) => c.state === 'backing-off').length >= 2, 5_000);
    expect(await process.stop()).toBe('not-running');
    expect(changes.some((c) => c.state === 'running')).toBe(false);
  });
});
